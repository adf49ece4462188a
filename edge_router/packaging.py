"""Build the Lambda@Edge deployment zip: handler code, its pure dependencies, baked config.

Lambda@Edge takes no environment variables and no layers, so everything the function needs is
inside one zip: the modules the handler really imports (found by walking the import graph from
``edge_router.handler``, not by a hand-kept list), the pure-Python third-party packages among
them, and ``edge_router/edge_config.json``. boto3 and botocore are left out because the Lambda
runtime provides them; control-plane packages (pydantic, aioboto3, the CLI...) fail the build,
since importing them at the edge would cost cold-start time or not work at all.

The zip is deterministic (fixed timestamps and permissions, sorted entries, no bytecode), so
the same sources and configuration give the same bytes, hence the same ``CodeSha256`` and no
spurious new function version.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import os
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from typing import Any, Final, Literal

from routing_table.errors import PackagingError

HANDLER_MODULE: Final = "edge_router.handler"
CONFIG_ARCNAME: Final = "edge_router/edge_config.json"
MAX_PACKAGE_BYTES: Final = 5 * 1024 * 1024

# What the Lambda Python runtime ships: imported at the edge, never bundled.
RUNTIME_PROVIDED: Final = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "awslambdaric"}
)
# Control-plane dependencies. Reaching one from the handler is a bug, not a packaging choice.
FORBIDDEN_TOP_LEVEL: Final = frozenset(
    {
        "pydantic",
        "pydantic_core",
        "aioboto3",
        "aiobotocore",
        "aiohttp",
        "typer",
        "click",
        "rich",
        "slugify",
        "moto",
        "hypothesis",
        "pytest",
    }
)
FIRST_PARTY: Final = frozenset({"edge_router", "routing_table"})
# First-party modules that belong to the control plane or to local tooling, not to the edge.
FORBIDDEN_FIRST_PARTY: Final = (
    "edge_router.packaging",
    "edge_router.serve",
    "edge_router.demo",
    "edge_router.cli",
    "edge_router.local",
    "edge_router.__main__",
    "routing_table.cli",
    "routing_table.local",
)

# 1980-01-01 is the earliest time a zip can record; any fixed value makes builds repeatable.
_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
_FILE_MODE: Final = 0o100644  # regular file, rw-r--r--
_LICENSE_MARKERS: Final = ("LICENSE", "LICENCE", "COPYING", "NOTICE")


@dataclass(frozen=True, slots=True)
class PackageResult:
    """What was written: where, how big, and the hash Lambda reports as ``CodeSha256``."""

    path: Path
    size: int
    code_sha256: str  # base64 of the SHA-256 digest, Lambda's format
    entries: tuple[str, ...]
    modules: tuple[str, ...]
    left_out: tuple[tuple[str, str], ...]  # (lazy import not bundled, module importing it)


@dataclass(frozen=True, slots=True)
class ImportRef:
    """One import statement's target as seen in a module's source."""

    module: str
    names: tuple[str, ...] = ()  # for ``from module import a, b``: candidate submodules
    optional: bool = False  # guarded by ``try``/``except`` or a version check: may be absent
    deferred: bool = False  # inside a function: runs only if that function is called


@dataclass(slots=True)
class ImportGraph:
    """Modules reachable from an entry point, split by who provides them."""

    bundled: dict[str, Path] = field(default_factory=dict)  # module -> source file
    runtime: set[str] = field(default_factory=set)
    skipped: set[tuple[str, str]] = field(default_factory=set)  # (lazy import, importer)
    parents: dict[str, str] = field(default_factory=dict)  # module -> the module importing it

    def chain(self, module: str) -> str:
        """``a -> b -> c``: how the entry point reaches ``module`` (for error messages)."""
        hops = [module]
        while hops[-1] in self.parents:
            hops.append(self.parents[hops[-1]])
        return " -> ".join(reversed(hops))


# --- import analysis -------------------------------------------------------------------------


def imports_of(source: str, module: str, *, is_package: bool) -> list[ImportRef]:
    """The imports a module may execute, resolved to absolute names.

    Imports under ``if TYPE_CHECKING:`` never run and are skipped. Imports inside functions
    are marked deferred, and imports guarded by ``try``/``except`` or by a
    ``sys.version_info`` check are marked optional.
    """
    tree = ast.parse(source, filename=module)
    package = module if is_package else module.rpartition(".")[0]
    return list(_collect(tree.body, package, _Context()))


@dataclass(frozen=True, slots=True)
class _Context:
    optional: bool = False
    deferred: bool = False


def _collect(body: Iterable[ast.stmt], package: str, ctx: _Context) -> Iterator[ImportRef]:
    for node in body:
        yield from _collect_node(node, package, ctx)


def _collect_node(node: ast.stmt, package: str, ctx: _Context) -> Iterator[ImportRef]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield ImportRef(alias.name, optional=ctx.optional, deferred=ctx.deferred)
    elif isinstance(node, ast.ImportFrom):
        base = _absolute(node.module, node.level, package)
        if base != "__future__":
            names = tuple(a.name for a in node.names)
            yield ImportRef(base, names, optional=ctx.optional, deferred=ctx.deferred)
    elif isinstance(node, ast.If) and _is_type_checking(node.test):
        yield from _collect(node.orelse, package, ctx)
    elif isinstance(node, ast.If) and _is_version_check(node.test):
        # Each branch runs on some Python only (the build's is not Lambda's).
        gated = _Context(optional=True, deferred=ctx.deferred)
        yield from _collect([*node.body, *node.orelse], package, gated)
    elif isinstance(node, ast.Try | ast.TryStar):
        guarded = _Context(optional=ctx.optional or bool(node.handlers), deferred=ctx.deferred)
        yield from _collect(node.body, package, guarded)
        for part in (*node.handlers, node.orelse, node.finalbody):
            yield from _collect(_stmts(part), package, ctx)
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        yield from _collect(node.body, package, _Context(ctx.optional, deferred=True))
    else:
        for child in ast.iter_child_nodes(node):
            yield from _collect(_stmts(child), package, ctx)


def _stmts(node: object) -> list[ast.stmt]:
    """The statements in a node, a list of nodes, or the node itself if it is one."""
    if isinstance(node, ast.stmt):
        return [node]
    if isinstance(node, list):
        return [n for n in node if isinstance(n, ast.stmt)]
    if isinstance(node, ast.AST):
        return [n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt)]
    return []


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _is_version_check(test: ast.expr) -> bool:
    return any(
        isinstance(n, ast.Attribute) and n.attr in ("version_info", "hexversion")
        for n in ast.walk(test)
    )


def _absolute(module: str | None, level: int, package: str) -> str:
    if level == 0:
        return module or ""
    parts = package.split(".")
    if level - 1 > len(parts) - 1:
        raise PackagingError(f"relative import beyond top-level package in {package!r}")
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{module}" if module else base


def _find_spec(name: str) -> ModuleSpec | None:
    """Locate a module on sys.path WITHOUT importing it or its parents.

    ``importlib.util.find_spec`` imports parent packages to find a submodule, which would
    run third-party code in the build and hide broken imports behind ImportError.
    """
    parts = name.split(".")
    search: list[str] | None = None  # None: sys.path
    spec: ModuleSpec | None = None
    for depth in range(1, len(parts) + 1):
        spec = PathFinder.find_spec(".".join(parts[:depth]), search)
        if spec is None:
            return None
        if depth < len(parts):
            if spec.submodule_search_locations is None:
                return None
            search = list(spec.submodule_search_locations)
    return spec


def _is_package(spec: ModuleSpec) -> bool:
    return spec.submodule_search_locations is not None


def analyse(entry: str = HANDLER_MODULE) -> ImportGraph:
    """Walk the import graph from ``entry``; fail on anything that must not reach the edge."""
    graph = ImportGraph()
    _walk(graph, set(), [_Pending(entry, None, optional=False)])
    return graph


@dataclass(frozen=True, slots=True)
class _Pending:
    module: str
    importer: str | None
    optional: bool
    soft: bool = False  # a lazy import inside a third-party package: bundled only if clean


def _walk(graph: ImportGraph, seen: set[str], pending: list[_Pending]) -> None:
    while pending:
        item = pending.pop()
        if item.soft:
            _try_branch(graph, seen, item)
            continue
        for module in _with_parents(item.module):
            if module not in seen:
                seen.add(module)
                _admit(graph, module, item.importer, item.optional, pending)


def _try_branch(graph: ImportGraph, seen: set[str], item: _Pending) -> None:
    """Follow a soft import on a copy; keep it only if nothing in it breaks the rules."""
    trial = ImportGraph(
        dict(graph.bundled), set(graph.runtime), set(graph.skipped), dict(graph.parents)
    )
    trial_seen = set(seen)
    try:
        _walk(trial, trial_seen, [_Pending(item.module, item.importer, optional=True)])
    except PackagingError:
        graph.skipped.add((item.module, item.importer or ""))
        return
    graph.bundled, graph.runtime, graph.skipped, graph.parents = (
        trial.bundled,
        trial.runtime,
        trial.skipped,
        trial.parents,
    )
    seen |= trial_seen


def _with_parents(name: str) -> list[str]:
    """``a.b.c`` imports ``a``, ``a.b`` and ``a.b.c`` in that order."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _admit(
    graph: ImportGraph, module: str, importer: str | None, optional: bool, pending: list[_Pending]
) -> None:
    top = module.partition(".")[0]
    if importer is not None:
        graph.parents.setdefault(module, importer)
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return
    if top in RUNTIME_PROVIDED:
        graph.runtime.add(module)
        return
    _reject_forbidden(graph, module, top)
    spec = _find_spec(module)
    if spec is None:
        if optional:
            return
        if importer is None:
            raise PackagingError(f"entry module {module!r} not found on the Python path")
        raise PackagingError(f"cannot find module {module!r} imported by {graph.chain(module)}")
    if spec.origin is None or spec.origin in ("namespace", "built-in", "frozen"):
        return  # namespace package: nothing to copy, its submodules are found on their own
    source = Path(spec.origin)
    if source.suffix != ".py":
        raise PackagingError(
            f"{module!r} ({source.name}) is a compiled extension, reached by "
            f"{graph.chain(module)}: the zip holds pure Python only, since it is built here "
            "but runs on Lambda's own Python and CPU"
        )
    graph.bundled[module] = source
    for ref in imports_of(source.read_text("utf-8"), module, is_package=_is_package(spec)):
        targets = [ref.module, *_submodules(ref)]
        follow = _follow_deferred(module, ref.module) if ref.deferred else "yes"
        if follow == "no":
            graph.skipped.update((target, module) for target in targets)
        else:
            soft = follow == "soft"
            pending.extend(_Pending(t, module, ref.optional, soft=soft) for t in targets)


def _submodules(ref: ImportRef) -> list[str]:
    """The names of ``from package import a, b`` that are submodules (imported as such)."""
    names = (f"{ref.module}.{n}" for n in ref.names if n != "*")
    return [name for name in names if _is_submodule(name)]


def _follow_deferred(importer: str, target: str) -> Literal["yes", "soft", "no"]:
    """Whether an import inside a function is bundled.

    Our own lazy imports are followed (the code calling them is ours and runs at the edge),
    except into control-plane code: ``routing_table.clients`` builds aioboto3 clients lazily
    and the edge never calls that. A third-party package's lazy imports of its own modules
    are followed softly: bundled when they stay pure and allowed, dropped when they reach,
    say, pydantic (powertools' model helpers). Its lazy imports of other packages serve
    optional features (powertools' X-Ray tracer) and are left out. Every dropped import is
    listed, and the clean-virtualenv test proves the request path needs none of them.
    """
    source_top, target_top = importer.partition(".")[0], target.partition(".")[0]
    if target_top in sys.stdlib_module_names or target_top in RUNTIME_PROVIDED:
        return "yes"
    if target_top in FORBIDDEN_TOP_LEVEL or _forbidden_first_party(target):
        return "no"
    if source_top in FIRST_PARTY:
        return "yes"
    return "soft" if source_top == target_top else "no"


def _forbidden_first_party(module: str) -> bool:
    return any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN_FIRST_PARTY)


def _is_submodule(name: str) -> bool:
    parent = name.rpartition(".")[0]
    parent_spec = _find_spec(parent)
    if parent_spec is None or not _is_package(parent_spec):
        return False
    return _find_spec(name) is not None


def _reject_forbidden(graph: ImportGraph, module: str, top: str) -> None:
    if top in FORBIDDEN_TOP_LEVEL:
        raise PackagingError(
            f"the edge handler must not import {top!r} (control-plane dependency), "
            f"reached by {graph.chain(module)}"
        )
    if _forbidden_first_party(module):
        raise PackagingError(
            f"the edge handler must not import {module!r} (CLI/local tooling), "
            f"reached by {graph.chain(module)}"
        )


# --- zip assembly ----------------------------------------------------------------------------


def archive_name(module: str, source: Path) -> str:
    """Path of a module's source inside the zip, as the import system will look for it."""
    parts = module.split(".")
    if source.name == "__init__.py":
        return "/".join([*parts, "__init__.py"])
    return "/".join(parts) + ".py"


def license_entries(top_levels: Iterable[str]) -> dict[str, bytes]:
    """License files of the bundled third-party distributions (their licenses ask for it)."""
    by_package = metadata.packages_distributions()
    entries: dict[str, bytes] = {}
    for top in sorted(set(top_levels)):
        for dist_name in sorted(set(by_package.get(top, ()))):
            dist = metadata.distribution(dist_name)
            for file in dist.files or ():
                if any(marker in file.name.upper() for marker in _LICENSE_MARKERS):
                    arcname = f"THIRD_PARTY_LICENSES/{dist_name}/{file.name}"
                    entries[arcname] = Path(str(file.locate())).read_bytes()
    return entries


def config_bytes(config: Mapping[str, Any]) -> bytes:
    """The baked configuration, serialised canonically so equal configs give equal bytes."""
    return (json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def collect_entries(
    config: Mapping[str, Any], *, entry: str = HANDLER_MODULE
) -> tuple[dict[str, bytes], ImportGraph]:
    """Every file of the zip (archive name -> bytes) and the import graph behind it."""
    graph = analyse(entry)
    files = {archive_name(m, src): src.read_bytes() for m, src in graph.bundled.items()}
    third_party = {m.partition(".")[0] for m in graph.bundled} - FIRST_PARTY
    files.update(license_entries(third_party))
    files[CONFIG_ARCNAME] = config_bytes(config)
    return files, graph


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A deterministic zip: sorted entries, fixed time and mode, maximum deflate."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so external_attr carries the permission bits
            info.external_attr = _FILE_MODE << 16
            archive.writestr(info, files[name], compresslevel=9)
    return buffer.getvalue()


def code_sha256(data: bytes) -> str:
    """Lambda's ``CodeSha256``: base64 of the SHA-256 digest of the zip."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def build_package(
    config: Mapping[str, Any],
    out: Path,
    *,
    entry: str = HANDLER_MODULE,
    max_bytes: int = MAX_PACKAGE_BYTES,
) -> PackageResult:
    """Build the zip for an already validated ``config`` and write it to ``out`` atomically."""
    if not out.parent.is_dir():
        raise PackagingError(f"output folder {str(out.parent)!r} does not exist")
    files, graph = collect_entries(config, entry=entry)
    data = zip_bytes(files)
    if len(data) > max_bytes:
        raise PackagingError(
            f"package is {len(data):,} bytes, over the {max_bytes:,}-byte budget; "
            f"largest modules: {_largest(graph)}"
        )
    _write_atomically(out, data)
    return PackageResult(
        path=out,
        size=len(data),
        code_sha256=code_sha256(data),
        entries=tuple(sorted(files)),
        modules=tuple(sorted(graph.bundled)),
        left_out=tuple(sorted(graph.skipped)),
    )


def _largest(graph: ImportGraph, count: int = 5) -> str:
    sizes = sorted(((p.stat().st_size, m) for m, p in graph.bundled.items()), reverse=True)
    return ", ".join(f"{m} ({s:,} B)" for s, m in sizes[:count])


def _write_atomically(out: Path, data: bytes) -> None:
    """Write beside the target, then rename: a failed build never leaves half a zip."""
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
