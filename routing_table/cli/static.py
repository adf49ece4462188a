"""``edge-router static``: deploy, roll back and collect static site versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from routing_table.cli.common import JsonOption, TableOption, examples, fail, print_json
from routing_table.lifecycle import static as assets
from routing_table.lifecycle.plan import DeployResult
from routing_table.lifecycle.sync import Environments

app = typer.Typer(
    help="Static sites: atomic version deploys, rollback, garbage collection.", no_args_is_help=True
)

EnvOption = Annotated[str, typer.Option("--env", help="Environment id.")]
ServiceOption = Annotated[str, typer.Option("--service", help="Service (an S3 route).")]
CacheTtlOption = Annotated[
    float, typer.Option("--cache-ttl", help="Edge cache TTL of routes, seconds.")
]
MaxStaleOption = Annotated[
    float, typer.Option("--max-stale", help="How long the edge may serve a stale route, seconds.")
]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    )


@app.command(
    "deploy",
    epilog=examples(
        "edge-router static deploy --env shop-pr-42 --service web --version 3f9a1c2 --source "
        "s3://sites/shop-pr-42/3f9a1c2 --dir dist/ --table preview-routes",
        "edge-router static deploy --env shop-pr-42 --service web --version 3f9a1c2 --source "
        "s3://sites/shop-pr-42/3f9a1c2 --from-s3 --spa-fallback index.html --table preview-routes",
    ),
)
def deploy(
    *,
    env: EnvOption,
    service: ServiceOption,
    version: Annotated[str, typer.Option("--version", help="Version name, e.g. a git sha.")],
    source: Annotated[str, typer.Option("--source", help="s3://bucket/prefix/VERSION")],
    table: TableOption,
    assets_file: Annotated[
        Path | None, typer.Option("--assets-file", help="Asset paths, one per line.")
    ] = None,
    from_s3: Annotated[
        bool, typer.Option("--from-s3", help="List the objects under --source.")
    ] = False,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Upload this directory to --source first.")
    ] = None,
    spa_fallback: Annotated[
        str | None, typer.Option("--spa-fallback", help="Asset served for unknown paths.")
    ] = None,
    cache_ttl: CacheTtlOption = 300.0,
    max_stale: MaxStaleOption = 86_400.0,
    json_out: JsonOption = False,
) -> None:
    """Register a version's assets, then switch visitors to it in one atomic write."""
    chosen = [assets_file is not None, from_s3, directory is not None]
    if sum(chosen) != 1:
        fail("give exactly one of --assets-file FILE, --from-s3 or --dir DIR", code=2)
    location = assets.parse_source(source)
    with _progress() as bar:
        if assets_file is not None:
            paths = assets.read_assets_file(assets_file)
        elif from_s3:
            paths = assets.list_prefix(assets.s3_client(), location)
        else:
            assert directory is not None
            files = assets.list_directory(directory)
            task = bar.add_task("upload", total=len(files))
            assets.upload_directory(
                assets.s3_client(), files, location, progress=lambda n: bar.advance(task, n)
            )
            paths = list(files)
        if not paths:
            fail(f"no assets found for version {version!r}")
        task = bar.add_task("register", total=len(set(paths)))
        envs = Environments(table, cache_ttl=cache_ttl, max_stale=max_stale)
        result = envs.deploy(
            env,
            service,
            version,
            paths,
            source=source,
            spa_fallback=spa_fallback,
            progress=lambda n: bar.advance(task, n),
        )
    _report(result, json_out)


def _report(result: DeployResult, json_out: bool) -> None:
    if json_out:
        print_json(
            {
                "env_id": result.env_id,
                "service": result.service,
                "version": result.version,
                "previous": result.previous,
                "assets": result.assets,
                "unchanged": result.unchanged,
                "collected": [f"{s}/{v}" for s, v in result.collected],
            }
        )
        return
    if result.unchanged:
        typer.echo(f"{result.service} of {result.env_id} already serves {result.version}")
        return
    typer.echo(
        f"{result.service} of {result.env_id} now serves {result.version} "
        f"({result.assets} assets; was {result.previous or 'nothing'})"
    )
    for service, version in result.collected:
        typer.echo(f"  collected {service}/{version}")


@app.command(
    "rollback",
    epilog=examples(
        "edge-router static rollback --env shop-pr-42 --service web --table preview-routes",
        "edge-router static rollback --env shop-pr-42 --service web --version 1b2c3d4 --json "
        "--table preview-routes",
    ),
)
def rollback(
    *,
    env: EnvOption,
    service: ServiceOption,
    table: TableOption,
    version: Annotated[
        str | None, typer.Option("--version", help="Version to go back to (the previous one).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Switch visitors back to the previous version in one atomic write."""
    _report(Environments(table).rollback(env, service, version), json_out)


@app.command(
    "gc",
    epilog=examples(
        "edge-router static gc --env shop-pr-42 --table preview-routes",
    ),
)
def gc(
    *,
    env: EnvOption,
    table: TableOption,
    cache_ttl: CacheTtlOption = 300.0,
    max_stale: MaxStaleOption = 86_400.0,
    json_out: JsonOption = False,
) -> None:
    """Delete the assets of versions no edge cache can still point at."""
    collected = Environments(table, cache_ttl=cache_ttl, max_stale=max_stale).gc(env)
    if json_out:
        print_json({"env_id": env, "collected": [f"{s}/{v}" for s, v in collected]})
        return
    for service, version in collected:
        typer.echo(f"collected {service}/{version}")
    if not collected:
        typer.echo("nothing to collect")
