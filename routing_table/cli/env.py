"""``edge-router env``: create, inspect, reroute and delete preview environments."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from routing_table.cli.common import JsonOption, TableOption, examples, print_json
from routing_table.lifecycle.records import EnvRecord, record_to_json
from routing_table.lifecycle.specs import default_env_id, parse_service_options
from routing_table.lifecycle.sync import Environments

app = typer.Typer(
    help="Preview environments: create, list, show, reroute, delete.", no_args_is_help=True
)

ServiceOption = Annotated[
    list[str],
    typer.Option(
        "--service",
        help="NAME=TARGET (s3://bucket/prefix, https://host, ALB ARN); repeat for each service.",
    ),
]
EnvArgument = Annotated[str, typer.Argument(help="Environment id.")]


def environments(table: str) -> Environments:
    """The manager the commands use (one boto3 client per process)."""
    return Environments(table)


@app.command(
    "create",
    epilog=examples(
        "edge-router env create --app shop --domain preview.example.com --branch pr-42 --pool "
        "oauth --service api=http://localhost:9000 --service web=s3://sites/shop-pr-42 --table "
        "preview-routes",
        "edge-router env create --app shop --domain preview.example.com --branch main --service "
        "api=arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop/"
        "50dc6c495c0c9188 "
        "--json --table preview-routes",
    ),
)
def create(
    *,
    app_name: Annotated[str, typer.Option("--app", help="Application name (in hostnames).")],
    domain: Annotated[str, typer.Option("--domain", help="Domain the hostnames live under.")],
    service: ServiceOption,
    table: TableOption,
    pool: Annotated[str | None, typer.Option("--pool", help="Take the handle from a pool.")] = None,
    handle: Annotated[str | None, typer.Option("--handle", help="Use this handle.")] = None,
    branch: Annotated[str | None, typer.Option("--branch", help="Git branch (recorded).")] = None,
    env_id: Annotated[
        str | None, typer.Option("--env-id", help="Environment id (default: <app>-<branch>).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Create an environment (or converge to it: re-running with the same spec is safe)."""
    services = parse_service_options(service)
    ident = env_id or default_env_id(app_name, branch)
    record = environments(table).create(
        ident,
        app=app_name,
        domain=domain,
        services=services,
        pool=pool,
        handle=handle,
        branch=branch,
    )
    if json_out:
        print_json(_summary(record))
        return
    typer.echo(f"environment {record.env_id} is {record.state} (handle {record.handle})")
    for name, host in record.hostnames.items():
        typer.echo(f"  {name}: https://{host}")


def _summary(record: EnvRecord) -> dict[str, Any]:
    return {
        "env_id": record.env_id,
        "handle": record.handle,
        "hostnames": record.hostnames,
        "state": record.state,
    }


@app.command(
    "delete",
    epilog=examples(
        "edge-router env delete shop-pr-42 --table preview-routes",
    ),
)
def delete(env_id: EnvArgument, table: TableOption, json_out: JsonOption = False) -> None:
    """Delete everything of an environment, then release its handle. Idempotent."""
    result = environments(table).delete(env_id)
    if json_out:
        print_json(
            {
                "env_id": env_id,
                "existed": result.existed,
                "routes_removed": result.routes_removed,
                "assets_removed": result.assets_removed,
            }
        )
    elif result.existed:
        typer.echo(
            f"deleted environment {env_id} ({result.routes_removed} route entries, "
            f"{result.assets_removed} asset entries)"
        )
    else:
        typer.echo(f"environment {env_id} does not exist (nothing left to delete)")


@app.command(
    "list",
    epilog=examples(
        "edge-router env list --table preview-routes",
        "edge-router env list --json --table preview-routes",
    ),
)
def list_(table: TableOption, json_out: JsonOption = False) -> None:
    """List environments (from an index: a create of the last second may be missing)."""
    found = environments(table).list_envs()
    if json_out:
        print_json([_summary(r) | {"app": r.app, "branch": r.branch} for r in found])
        return
    if not found:
        typer.echo("no environments")
    for record in found:
        typer.echo(
            f"{record.env_id}\t{record.state}\t{record.handle or '-'}\t{record.app}\t"
            f"{', '.join(record.hostnames.values())}"
        )


@app.command(
    "show",
    epilog=examples(
        "edge-router env show shop-pr-42 --table preview-routes --json",
    ),
)
def show(env_id: EnvArgument, table: TableOption, json_out: JsonOption = False) -> None:
    """Show an environment: state, handle, services with their routes, static versions."""
    view = environments(table).show(env_id)
    data = record_to_json(view.record)
    data["routes"] = {
        svc: None
        if route is None
        else {
            "host": route.host,
            "target": route.target,
            "active_version": route.static.active_version if route.static else None,
        }
        for svc, route in view.routes.items()
    }
    if json_out:
        print_json(data)
        return
    record = view.record
    typer.echo(f"environment {record.env_id}: {record.state} since {record.state_since}")
    typer.echo(f"  app {record.app}, handle {record.handle} ({record.handle_mode})")
    for svc, route in view.routes.items():
        if route is None:
            typer.echo(f"  {svc}: (no route)")
            continue
        active = f" @ {route.static.active_version}" if route.static else ""
        typer.echo(f"  {svc}: https://{route.host} -> {route.target}{active}")
    for svc, versions in data["versions"].items():
        listed = ", ".join(f"{v} ({info['state']})" for v, info in versions.items())
        typer.echo(f"  {svc} versions: {listed}")


@app.command(
    "reroute",
    epilog=examples(
        "edge-router env reroute shop-pr-42 --service api=https://api-canary.internal.example.net "
        "--table preview-routes",
    ),
)
def reroute(
    env_id: EnvArgument,
    service: Annotated[str, typer.Option("--service", help="NAME=TARGET")],
    table: TableOption,
    json_out: JsonOption = False,
) -> None:
    """Switch a service to a new target in one conditional write (e.g. a new ALB)."""
    ((name, target),) = parse_service_options([service]).items()
    route = environments(table).reroute(env_id, name, target)
    if json_out:
        print_json({"env_id": env_id, "service": name, "host": route.host, "target": route.target})
        return
    typer.echo(f"{name}: https://{route.host} -> {route.target}")
