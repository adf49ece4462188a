"""``edge-router package``: build the Lambda@Edge zip with its configuration baked in.

Lambda@Edge has no environment variables, so every setting the function reads is decided here
and written to ``edge_router/edge_config.json`` inside the zip. Settings come from the edge
defaults, then an optional ``--config`` JSON file, then the flags; the result is validated by
the function's own loader (``EdgeConfig.from_dict``) before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from edge_router.config import EdgeConfig
from edge_router.packaging import MAX_PACKAGE_BYTES, PackageResult, build_package
from routing_table.cli.common import JsonOption, TableOption, examples, print_json
from routing_table.errors import ConfigurationError

_MIB = 1024 * 1024

EPILOG = examples(
    "edge-router package --table preview-routes --region us-east-1 --out edge.zip",
    "edge-router package --table preview-routes --region us-east-1 --regions "
    "eu-west-1,ap-southeast-2 --config edge.json --json",
)


def package_cmd(
    *,
    table: TableOption,
    region: Annotated[
        str,
        typer.Option(
            "--region",
            help="Primary region of the table: read when the function runs far from replicas.",
        ),
    ],
    regions: Annotated[
        str | None,
        typer.Option(
            "--regions",
            help="Comma-separated regions holding a replica (the primary is added first). "
            "The function reads the replica of the region it runs in when there is one.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the zip.")] = Path("edge.zip"),
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="JSON file of further edge settings (keys of edge_router/edge_config.json); "
            "flags override it.",
        ),
    ] = None,
    cache_ttl: Annotated[
        float | None, typer.Option("--cache-ttl", help="Seconds a found route is cached.")
    ] = None,
    negative_cache_ttl: Annotated[
        float | None,
        typer.Option("--negative-cache-ttl", help="Seconds a missing route is cached."),
    ] = None,
    max_stale: Annotated[
        float | None,
        typer.Option(
            "--max-stale", help="Seconds a cached route may still serve while the table fails."
        ),
    ] = None,
    not_found_max_age: Annotated[
        int | None,
        typer.Option("--not-found-max-age", help="Cache-Control max-age of generated 404s."),
    ] = None,
    connect_timeout: Annotated[
        float | None, typer.Option("--connect-timeout", help="DynamoDB connect timeout (s).")
    ] = None,
    read_timeout: Annotated[
        float | None, typer.Option("--read-timeout", help="DynamoDB read timeout (s).")
    ] = None,
    max_attempts: Annotated[
        int | None, typer.Option("--max-attempts", help="DynamoDB attempts per lookup.")
    ] = None,
    allowed_domains: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-domain",
            help="Only route hosts under this domain (repeatable; default: any host).",
        ),
    ] = None,
    origin_verify_header: Annotated[
        str | None,
        typer.Option(
            "--origin-verify-header",
            help="Name of a secret header sent to custom origins (needs the secret).",
        ),
    ] = None,
    origin_verify_secret: Annotated[
        str | None,
        typer.Option(
            "--origin-verify-secret",
            envvar="EDGE_ROUTER_ORIGIN_VERIFY_SECRET",
            show_envvar=True,
            help="Value of that header (prefer the environment variable to the command line).",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="List bundled modules and left-out lazy imports.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Build the Lambda@Edge zip: handler code, pure dependencies and baked configuration."""
    settings = _read_config_file(config_file) if config_file else {}
    settings.update(
        _flags(
            table=table,
            regions=_region_list(region, regions),
            cache_ttl_seconds=cache_ttl,
            negative_cache_ttl_seconds=negative_cache_ttl,
            max_stale_seconds=max_stale,
            not_found_max_age=not_found_max_age,
            connect_timeout_seconds=connect_timeout,
            read_timeout_seconds=read_timeout,
            max_attempts=max_attempts,
            allowed_domains=allowed_domains or None,
            origin_verify_header=_verify_header(origin_verify_header, origin_verify_secret),
        )
    )
    config = EdgeConfig.from_dict(settings, source="edge-router package")
    result = build_package(config.to_dict(), out)
    _report(result, as_json=as_json, verbose=verbose)


def _flags(*, table: str, **values: Any) -> dict[str, Any]:
    """The settings given as flags (absent flags leave the file's or the default value)."""
    given = {name: value for name, value in values.items() if value is not None}
    return {"table_name": table, **given}


def _region_list(primary: str, replicas: str | None) -> list[str]:
    """Primary first (the fallback when no replica is local), then each replica once."""
    listed = [r.strip() for r in (replicas or "").split(",") if r.strip()]
    return [primary, *(r for r in dict.fromkeys(listed) if r != primary)]


def _verify_header(name: str | None, secret: str | None) -> dict[str, str] | None:
    if name is None and secret is None:
        return None
    if name is None or secret is None:
        raise ConfigurationError(
            "--origin-verify-header and --origin-verify-secret "
            "(or $EDGE_ROUTER_ORIGIN_VERIFY_SECRET) go together"
        )
    return {"name": name, "value": secret}


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigurationError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} must hold a JSON object of edge settings")
    return data


def _report(result: PackageResult, *, as_json: bool, verbose: bool) -> None:
    if as_json:
        print_json(
            {
                "path": str(result.path),
                "size": result.size,
                "max_size": MAX_PACKAGE_BYTES,
                "code_sha256": result.code_sha256,
                "entries": list(result.entries),
                "left_out": [f"{m} (from {by})" for m, by in result.left_out],
            }
        )
        return
    share = result.size / _MIB
    typer.echo(
        f"wrote {result.path}: {result.size:,} bytes ({share:.2f} MiB of the "
        f"{MAX_PACKAGE_BYTES // _MIB} MiB budget), {len(result.entries)} files"
    )
    typer.echo(f"CodeSha256: {result.code_sha256}")
    if verbose:
        for module in result.modules:
            typer.echo(f"  bundled   {module}")
        for module, importer in result.left_out:
            typer.echo(f"  left out  {module} (lazy import in {importer})")
    elif result.left_out:
        typer.echo(f"{len(result.left_out)} lazy imports of unused features left out (--verbose)")
