"""``edge-router serve``: the real edge handler behind a local CloudFront stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from routing_table.cli.common import TABLE_ENV

EPILOG = (
    "[bold]Examples[/bold]\n\n"
    "  edge-router serve --table preview-routes\n\n"
    "  curl -H 'Host: api-t9yhp25-portal.example.com' http://127.0.0.1:8080/health\n\n"
    "  AWS_ENDPOINT_URL_DYNAMODB=http://localhost:8000 edge-router serve --port 9000\n\n"
    "  AWS_PROFILE=staging edge-router serve --table preview-routes --cache-ttl 60"
)


HELP = (
    "Serve HTTP like CloudFront in front of the real Lambda@Edge handler.\n\n"
    "Each request becomes an origin-request event for edge_router.handler; its answer is then "
    "forwarded to the custom origin (streamed), fetched from S3, or returned as generated. One "
    "access-log line per request on stderr (host, path, matched route, origin, status, ms).\n\n"
    "Without AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_S3, DynamoDB Local (data under the "
    "state folder, table created if missing) and a moto S3 server are started, and stopped on "
    "exit. Stop with Ctrl-C."
)


def serve_cmd(
    *,
    table: Annotated[
        str | None,
        typer.Option(
            "--table",
            envvar=TABLE_ENV,
            show_envvar=True,
            help="Routing table (default: the table named in the edge config).",
        ),
    ] = None,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port (0: any free one).")
    ] = 8080,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            file_okay=False,
            help="Folder for DynamoDB Local's data and serve's files (default: .state/ in a "
            "checkout, else ~/.local/state/edge-router).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            exists=True,
            dir_okay=False,
            help="Base edge config JSON (default: the baked edge_router/edge_config.json).",
        ),
    ] = None,
    cache_ttl: Annotated[
        float,
        typer.Option(
            "--cache-ttl",
            min=1,
            max=86_400,
            help="Seconds the handler caches a route; production's value shows caching as "
            "deployed, the default shows route changes within a second.",
        ),
    ] = 1.0,
) -> None:
    """Serve HTTP like CloudFront in front of the real edge handler (see HELP)."""
    from edge_router.local.run import ServeOptions, serve

    serve(
        ServeOptions(
            table=table,
            host=host,
            port=port,
            state_dir=state_dir,
            config=config,
            cache_ttl=cache_ttl,
        )
    )
