"""The zip builder: import analysis, forbidden imports, determinism, the size budget."""

from __future__ import annotations

import io
import json
import textwrap
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_router import packaging
from edge_router.packaging import ImportRef, imports_of
from routing_table.errors import PackagingError


def _refs(source: str, module: str = "pkg.mod", *, is_package: bool = False) -> list[ImportRef]:
    return imports_of(textwrap.dedent(source), module, is_package=is_package)


# --- import analysis (pure) ------------------------------------------------------------------


def test_plain_and_from_imports_are_absolute() -> None:
    refs = _refs(
        """
        import json, os.path
        from collections import abc
        from . import sibling
        from .. import top
        from .sub import thing
        """,
        module="pkg.inner.mod",
    )
    assert [(r.module, r.names) for r in refs] == [
        ("json", ()),
        ("os.path", ()),
        ("collections", ("abc",)),
        ("pkg.inner", ("sibling",)),
        ("pkg", ("top",)),
        ("pkg.inner.sub", ("thing",)),
    ]


def test_relative_imports_in_a_package_init_resolve_against_the_package() -> None:
    (ref,) = _refs("from .core import keys", module="pkg", is_package=True)
    assert ref.module == "pkg.core"


def test_type_checking_imports_never_run_and_are_skipped() -> None:
    refs = _refs(
        """
        from typing import TYPE_CHECKING
        import typing
        if TYPE_CHECKING:
            import pydantic
        if typing.TYPE_CHECKING:
            import aioboto3
        else:
            import cachetools
        """
    )
    assert [r.module for r in refs] == ["typing", "typing", "cachetools"]


def test_guarded_and_version_gated_imports_are_optional() -> None:
    refs = _refs(
        """
        import sys
        try:
            import orjson
        except ImportError:
            orjson = None
        if sys.version_info >= (3, 14):
            import annotationlib
        """
    )
    assert {r.module: r.optional for r in refs} == {
        "sys": False,
        "orjson": True,
        "annotationlib": True,
    }


def test_imports_inside_functions_are_deferred() -> None:
    refs = _refs(
        """
        import os
        def build():
            import aioboto3
        class Client:
            async def go(self):
                from boto3 import session
        """
    )
    assert {r.module: r.deferred for r in refs} == {
        "os": False,
        "aioboto3": True,
        "boto3": True,
    }


def test_future_imports_are_ignored() -> None:
    assert _refs("from __future__ import annotations") == []


def test_relative_import_beyond_the_top_level_is_an_error() -> None:
    with pytest.raises(PackagingError, match="beyond top-level"):
        _refs("from ... import x", module="pkg.mod")


# --- the graph over real and synthetic packages ---------------------------------------------


def _write_tree(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path for synthetic packages (unique names avoid import caches)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_graph_bundles_first_party_and_pure_third_party(tree: Path) -> None:
    _write_tree(
        tree,
        {
            "appx/__init__.py": "",
            "appx/handler.py": "from appx import util\nimport cachetools\nimport boto3\n",
            "appx/util.py": "import json\n",
        },
    )
    graph = packaging.analyse("appx.handler")
    assert {"appx", "appx.handler", "appx.util", "cachetools"} <= set(graph.bundled)
    assert "boto3" in graph.runtime
    assert not any(m.startswith(("boto3", "botocore")) for m in graph.bundled)


def test_module_level_control_plane_import_fails_with_the_chain(tree: Path) -> None:
    _write_tree(
        tree,
        {
            "appy/__init__.py": "",
            "appy/handler.py": "from appy import models\n",
            "appy/models.py": "import pydantic\n",
        },
    )
    with pytest.raises(PackagingError, match=r"'pydantic'.*appy.handler -> appy.models"):
        packaging.analyse("appy.handler")


def test_lazy_control_plane_import_of_our_own_code_is_left_out() -> None:
    # routing_table.clients builds aioboto3 clients inside a function the edge never calls.
    graph = packaging.analyse("routing_table.clients")
    assert "routing_table.clients" in graph.bundled
    assert ("aioboto3", "routing_table.clients") in graph.skipped
    assert not any(m.startswith("aio") for m in graph.bundled)


def test_third_party_lazy_imports_that_reach_pydantic_are_dropped() -> None:
    graph = packaging.analyse("aws_lambda_powertools.logging")
    assert "aws_lambda_powertools.logging.logger" in graph.bundled
    assert not any(m.startswith(("pydantic", "aws_xray_sdk", "wrapt")) for m in graph.bundled)
    assert any(m.startswith("aws_xray_sdk") for m, _ in graph.skipped)


def test_compiled_extension_fails_the_build(tree: Path) -> None:
    _write_tree(tree, {"appz/__init__.py": "from appz import fast\n"})
    (tree / "appz" / "fast.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    with pytest.raises(PackagingError, match="compiled extension"):
        packaging.analyse("appz")


def test_missing_required_module_fails_but_optional_one_does_not(tree: Path) -> None:
    _write_tree(
        tree,
        {
            "appw/__init__.py": "try:\n    import no_such_mod_1\nexcept ImportError:\n    pass\n",
            "appv/__init__.py": "import no_such_mod_2\n",
        },
    )
    assert "appw" in packaging.analyse("appw").bundled
    with pytest.raises(PackagingError, match="cannot find module 'no_such_mod_2'"):
        packaging.analyse("appv")


@pytest.mark.parametrize("entry", ["edge_router.packaging", "routing_table.cli"])
def test_cli_and_tooling_modules_never_reach_the_edge(entry: str) -> None:
    with pytest.raises(PackagingError, match="must not import"):
        packaging.analyse(entry)


def test_archive_names_follow_the_import_system() -> None:
    assert packaging.archive_name("a.b", Path("/x/a/b/__init__.py")) == "a/b/__init__.py"
    assert packaging.archive_name("a.b.c", Path("/x/a/b/c.py")) == "a/b/c.py"


# --- the zip ---------------------------------------------------------------------------------

_NAMES = st.lists(
    st.from_regex(r"[a-z_]{1,8}(/[a-z_]{1,8}){0,3}\.(py|json)", fullmatch=True),
    min_size=1,
    max_size=12,
    unique=True,
)


@given(_NAMES, st.data())
def test_zip_is_independent_of_insertion_order_and_round_trips(
    names: list[str], data: st.DataObject
) -> None:
    files = {n: data.draw(st.binary(max_size=200)) for n in names}
    shuffled = dict(data.draw(st.permutations(list(files.items()))))
    first, second = packaging.zip_bytes(files), packaging.zip_bytes(shuffled)
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == sorted(files)
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644
            assert archive.read(info) == files[info.filename]


@given(st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=10), max_size=8))
def test_config_bytes_are_canonical(config: dict[str, object]) -> None:
    reordered = dict(reversed(list(config.items())))
    assert packaging.config_bytes(config) == packaging.config_bytes(reordered)
    assert json.loads(packaging.config_bytes(config)) == config


def test_code_sha256_is_lambdas_base64_digest() -> None:
    # Known value: base64(sha256(b"")).
    assert packaging.code_sha256(b"") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def _entry_tree(tree: Path, name: str) -> str:
    _write_tree(tree, {f"{name}/__init__.py": "", f"{name}/handler.py": "import cachetools\n"})
    return f"{name}.handler"


def test_build_writes_config_code_and_licenses_without_bytecode(tree: Path) -> None:
    entry = _entry_tree(tree, "appu")
    result = packaging.build_package({"table_name": "routes"}, tree / "edge.zip", entry=entry)
    with zipfile.ZipFile(result.path) as archive:
        names = archive.namelist()
        assert json.loads(archive.read(packaging.CONFIG_ARCNAME)) == {"table_name": "routes"}
    assert "appu/handler.py" in names
    assert "cachetools/__init__.py" in names
    assert any(n.startswith("THIRD_PARTY_LICENSES/cachetools/") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert result.size == result.path.stat().st_size
    assert result.code_sha256 == packaging.code_sha256(result.path.read_bytes())


def test_build_is_byte_identical_across_runs(tree: Path) -> None:
    entry = _entry_tree(tree, "appt")
    config = {"table_name": "routes", "regions": ["us-east-1"]}
    first = packaging.build_package(config, tree / "a.zip", entry=entry)
    second = packaging.build_package(dict(reversed(config.items())), tree / "b.zip", entry=entry)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.code_sha256 == second.code_sha256


def test_build_over_budget_fails_and_leaves_no_file(tree: Path) -> None:
    entry = _entry_tree(tree, "apps")
    out = tree / "edge.zip"
    with pytest.raises(PackagingError, match="over the 1,000-byte budget"):
        packaging.build_package({"table_name": "routes"}, out, entry=entry, max_bytes=1000)
    assert list(tree.glob("*.zip")) == []
    assert list(tree.glob(".edge.zip.*")) == []


def test_build_into_a_missing_folder_fails_clearly(tree: Path) -> None:
    entry = _entry_tree(tree, "appr")
    with pytest.raises(PackagingError, match="does not exist"):
        packaging.build_package({}, tree / "nope" / "edge.zip", entry=entry)
