"""``edge-router route``: put, get, delete, list, import and look up routes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, TextIO
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from routing_table.cli.common import JsonOption, TableOption, fail, print_json
from routing_table.cli.table import CLI_SETTINGS, cli_dynamodb_client
from routing_table.core.matching import remainder
from routing_table.core.records import RouteRecord
from routing_table.errors import InvalidInputError
from routing_table.models import DEFAULT_OWNER, AwsTargetResolver, Route, TargetResolver
from routing_table.store.base import LookupResult
from routing_table.store.sync import RouteStore

app = typer.Typer(help="Put, delete, list, import and look up routes.", no_args_is_help=True)

HostOption = Annotated[
    str, typer.Option("--host", help="Host, or *.parent for a wildcard over one label.")
]
PathOption = Annotated[
    str, typer.Option("--path", help="Path prefix; matches on segment boundaries.")
]
OwnerOption = Annotated[
    str,
    typer.Option(
        "--owner", help="Environment id owning the route (routes put by hand: manual:<name>)."
    ),
]


def _examples(*lines: str) -> str:
    return "[bold]Examples[/bold]\n\n" + "\n\n".join(f"  {line}" for line in lines)


def _store(table: str, concurrency: int = 4) -> RouteStore:
    return RouteStore(table, client=cli_dynamodb_client(), concurrency=concurrency)


def _resolver() -> TargetResolver:
    return AwsTargetResolver(config=CLI_SETTINGS.botocore_config())


def record_json(record: RouteRecord) -> dict[str, Any]:
    data = asdict(record)
    if record.static is None:
        data.pop("static")
    return {k: v for k, v in data.items() if v not in (None, "")}


def _describe(record: RouteRecord) -> str:
    flags = " (strip prefix)" if record.strip_prefix else ""
    return f"{record.host}{record.prefix} -> {record.target}{flags} [owner {record.owner}]"


@app.command(
    "put",
    epilog=_examples(
        "edge-router route put --host app.example.com --path /api --target https://api.example.net",
        "edge-router route put --host '*.pr.example.com' --target s3://sites/main --owner env-42",
        "edge-router route put --host a.example.com --path /docs --target s3://docs --strip-prefix",
    ),
)
def put(
    *,
    host: HostOption,
    target: Annotated[str, typer.Option("--target", help="Where matching requests go.")],
    table: TableOption,
    path: PathOption = "/",
    owner: OwnerOption = DEFAULT_OWNER,
    strip_prefix: Annotated[
        bool, typer.Option("--strip-prefix", help="Drop the matched prefix before forwarding.")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Point requests for HOST under PATH at TARGET.

    Targets: s3://bucket/prefix[?region=R], https://host[:port], http://host[:port], or an
    ALB ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID), resolved
    to its DNS name now. A host belongs to one owner: another owner's host is refused.
    """
    route = Route.parse(
        host=host, prefix=path, target=target, owner=owner, strip_prefix=strip_prefix
    )
    record = _store(table).put_route(route.resolved(_resolver()).to_record())
    if json_out:
        print_json(record_json(record))
    else:
        typer.echo(f"put {_describe(record)}")


@app.command(
    "get",
    epilog=_examples("edge-router route get --host app.example.com --path /api --json"),
)
def get(
    host: HostOption, table: TableOption, path: PathOption = "/", json_out: JsonOption = False
) -> None:
    """Show the route stored for exactly HOST and PATH (no matching: see `route lookup`)."""
    record = _store(table).get_route(host, path)
    if record is None:
        fail(f"no route for host {host!r} and path {path!r} in table {table}")
    if json_out:
        print_json(record_json(record))
    else:
        typer.echo(_describe(record))


@app.command(
    "delete",
    epilog=_examples(
        "edge-router route delete --host app.example.com --path /api",
        "edge-router route delete --host pr-7.preview.example.com --owner env-7",
    ),
)
def delete(
    host: HostOption,
    table: TableOption,
    path: PathOption = "/",
    owner: OwnerOption = DEFAULT_OWNER,
    json_out: JsonOption = False,
) -> None:
    """Delete a route owned by OWNER.

    Another owner's route is refused, never deleted. The host is released when its last route
    goes, so another environment may then claim it.
    """
    record = _store(table).delete_route(host, path, owner)
    if json_out:
        print_json(record_json(record))
    else:
        typer.echo(f"deleted {_describe(record)}")


@app.command(
    "list",
    epilog=_examples(
        "edge-router route list --host app.example.com",
        "edge-router route list --owner env-42 --json",
    ),
)
def list_(
    table: TableOption,
    host: Annotated[str | None, typer.Option("--host", help="Every route of this host.")] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Every route this owner holds.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """List the routes of one host, or of one owner (environment)."""
    if (host is None) == (owner is None):
        fail("give exactly one of --host or --owner", code=2)
    store = _store(table)
    records = store.list_by_host(host) if host is not None else store.list_by_owner(owner or "")
    if json_out:
        print_json([record_json(r) for r in records])
        return
    if not records:
        typer.echo("no routes")
    for record in records:
        typer.echo(_describe(record))


# --- import ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    route: Route


def parse_lines(stream: TextIO, default_owner: str) -> tuple[list[Line], list[str]]:
    """Parse JSON lines; returns the routes and one error per bad line (``line N: ...``)."""
    lines: list[Line] = []
    errors: list[str] = []
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            lines.append(Line(number, _parse_line(text, default_owner)))
        except InvalidInputError as exc:
            errors.append(f"line {number}: {exc}")
    return lines, errors


_LINE_FIELDS = {"host", "path", "target", "owner", "strip_prefix"}


def _parse_line(text: str, default_owner: str) -> Route:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(data, dict):
        raise InvalidInputError('expected an object like {"host": ..., "path": ..., "target": ...}')
    missing = sorted({"host", "target"} - set(data))
    unknown = sorted(set(data) - _LINE_FIELDS)
    if missing or unknown:
        parts = [f"missing {', '.join(missing)}"] if missing else []
        parts += [f"unknown field(s) {', '.join(unknown)}"] if unknown else []
        raise InvalidInputError("; ".join(parts))
    if not all(isinstance(data.get(k, ""), str) for k in ("host", "path", "target", "owner")):
        raise InvalidInputError("host, path, target and owner must be strings")
    return Route.parse(
        host=data["host"],
        prefix=data.get("path", "/"),
        target=data["target"],
        owner=data.get("owner", default_owner),
        strip_prefix=bool(data.get("strip_prefix", False)),
    )


def _open(file: str) -> Iterator[TextIO]:
    if file == "-":
        yield sys.stdin
        return
    try:
        with Path(file).open(encoding="utf-8") as stream:
            yield stream
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")


@app.command(
    "import",
    epilog=_examples(
        "edge-router route import routes.jsonl",
        "generate-routes | edge-router route import - --owner env-42",
        'routes.jsonl holds one route per line: {"host": "app.example.com", "path": "/api", '
        '"target": "https://api.example.com", "owner": "env-42"}',
    ),
)
def import_(
    file: Annotated[str, typer.Argument(help="JSON-lines file, or - for stdin.")],
    table: TableOption,
    owner: Annotated[
        str, typer.Option("--owner", help="Owner of lines that name none.")
    ] = DEFAULT_OWNER,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=32, help="Batches written at once.")
    ] = 4,
    json_out: JsonOption = False,
) -> None:
    """Import routes from a JSON-lines file, with a progress bar.

    Every line is checked first: one bad line and nothing is written. Lines whose host or
    route another owner holds are refused and reported; the rest are written with
    BatchWriteItem, 25 per call.
    """
    for stream in _open(file):
        lines, errors = parse_lines(stream, owner)
    for error in errors:
        typer.echo(f"error: {error}", err=True)
    if errors:
        fail(f"{len(errors)} bad line(s) in {file}; nothing was imported")
    resolver = _resolver()
    records = [line.route.resolved(resolver).to_record() for line in lines]
    report = _import_with_progress(_store(table, concurrency), records, quiet=json_out)
    refused = [
        {
            "line": lines[r.index].number,
            "host": r.record.host,
            "path": r.record.prefix,
            "reason": r.reason,
            "owner": r.owner,
        }
        for r in report.refused
    ]
    if json_out:
        print_json({"written": report.written, "refused": refused})
    else:
        typer.echo(f"imported {report.written} route(s) into {table}")
    for item in refused:
        typer.echo(f"error: line {item['line']}: refused: {item['reason']}", err=True)
    if refused:
        fail(f"{len(refused)} line(s) refused because another owner holds them")


def _import_with_progress(store: RouteStore, records: list[RouteRecord], *, quiet: bool) -> Any:
    console = Console(stderr=True)
    columns = (
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=quiet or not records) as progress:
        task = progress.add_task("import", total=len(records))
        return store.import_routes(records, lambda n: progress.advance(task, n))


# --- lookup ----------------------------------------------------------------------------------


def split_url(url: str) -> tuple[str, str]:
    """Host and raw path of a URL (``https://host/path``, ``host/path`` or ``host``)."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https"):
        raise InvalidInputError(f"invalid URL {url!r}: use http:// or https://")
    if not parts.netloc:
        raise InvalidInputError(f"invalid URL {url!r}: no host")
    return parts.netloc.rpartition("@")[2], parts.path or "/"


def forwarded(record: RouteRecord, path: str) -> dict[str, Any]:
    """How the edge forwards a request matched by ``record``: origin, URI and Host header."""
    uri = remainder(record.prefix, path) if record.strip_prefix else path
    if record.kind == "s3":
        domain = f"{record.bucket}.s3.{record.bucket_region}.amazonaws.com"
        origin_path = f"/{record.key_prefix}" if record.key_prefix else ""
        out: dict[str, Any] = {
            "origin": f"s3://{domain}",
            "origin_path": origin_path,
            "uri": uri,
            "host_header": domain,
            "object": f"{origin_path}{uri}",
        }
        if record.static is not None:
            out["static_site"] = asdict(record.static)
        return out
    return {
        "origin": f"{record.protocol}://{record.domain}:{record.port}",
        "origin_path": "",
        "uri": uri,
        "host_header": "the viewer's Host (kept for ingress host rules)",
    }


def explain(result: LookupResult) -> dict[str, Any]:
    """The lookup as data: candidates in the order tried, which exist, the winner and why."""
    candidates = [
        {
            "host": c.host,
            "prefix": c.prefix,
            "wildcard": c.wildcard,
            "exists": c.key in result.found,
            "winner": result.winner is not None and c.key == result.winner.key,
        }
        for c in result.candidates
    ]
    out: dict[str, Any] = {
        "host": result.host,
        "path": result.path,
        "round_trips": result.round_trips,
        "candidates": candidates,
        "matched": None,
    }
    if result.route is not None and result.winner is not None:
        kind = "wildcard host" if result.winner.wildcard else "exact host"
        out["matched"] = record_json(result.route)
        out["why"] = (
            f"{kind} {result.winner.host}, longest existing prefix {result.winner.prefix!r} "
            f"(candidate {[c['winner'] for c in candidates].index(True) + 1} of {len(candidates)})"
        )
        out["forward"] = forwarded(result.route, result.path)
    else:
        out["why"] = "no candidate exists: the edge answers 404"
    return out


@app.command(
    "lookup",
    epilog=_examples(
        "edge-router route lookup https://app.example.com/api/v1/users",
        "edge-router route lookup pr-7.preview.example.com/assets/app.js --json",
    ),
)
def lookup(
    url: Annotated[str, typer.Argument(help="Request URL, e.g. https://app.example.com/a/b.")],
    table: TableOption,
    json_out: JsonOption = False,
) -> None:
    """Show which route serves URL, and why.

    Lists every candidate in the order the edge tries them, which exist, the winner, and the
    request the edge sends to the origin. Costs one DynamoDB call.
    """
    host, path = split_url(url)
    data = explain(_store(table).lookup(host, path))
    if json_out:
        print_json(data)
    else:
        _print_explanation(data)
    if data["matched"] is None:
        raise typer.Exit(1)


def _print_explanation(data: dict[str, Any]) -> None:
    console = Console(highlight=False, markup=False)
    console.print(f"lookup {data['host']}{data['path']} ({data['round_trips']} DynamoDB call)")
    shown = [c for c in data["candidates"] if c["exists"]]
    table = Table("#", "host", "prefix", "exists", "")
    for number, c in enumerate(data["candidates"], start=1):
        if c["exists"] or number <= 6 or c is data["candidates"][-1]:
            table.add_row(
                str(number),
                c["host"],
                c["prefix"],
                "yes" if c["exists"] else "-",
                "winner" if c["winner"] else "",
            )
    console.print(table)
    hidden = len(data["candidates"]) - table.row_count
    if hidden:
        console.print(f"({hidden} more candidates tried, none exist)")
    console.print(f"why: {data['why']}")
    if data["matched"] is not None:
        console.print(f"route: {data['matched']['target']} [owner {data['matched']['owner']}]")
        for name, value in data["forward"].items():
            console.print(f"  {name}: {value}")
    elif not shown:
        console.print("no route matches")
