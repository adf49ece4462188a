"""``edge-router table``: create and describe the routing table."""

from __future__ import annotations

from typing import Any

import typer
from botocore.exceptions import NoRegionError

from routing_table.cli.common import JsonOption, TableOption, print_json
from routing_table.clients import ClientSettings, dynamodb_client
from routing_table.errors import ConfigurationError
from routing_table.schema import TableInfo, create_table, describe_table

app = typer.Typer(help="Create and inspect the routing table.", no_args_is_help=True)

# A person waits at the terminal: answer within seconds when DynamoDB is down, instead of
# botocore's minutes of retries. Bulk work stays fast because calls overlap, not because
# they wait longer.
CLI_SETTINGS = ClientSettings(connect_timeout=1.0, read_timeout=5.0, max_attempts=3)


def cli_dynamodb_client() -> Any:
    """A DynamoDB client for CLI commands, from the standard AWS settings."""
    try:
        return dynamodb_client(settings=CLI_SETTINGS)
    except NoRegionError:
        raise ConfigurationError(
            "no AWS region: set AWS_REGION (or a region in the AWS_PROFILE's config)"
        ) from None


def _show(info: TableInfo, json_out: bool) -> None:
    if json_out:
        print_json(info.as_dict())
        return
    verb = "created" if info.created else "exists"
    typer.echo(f"table {info.name} {verb}: {info.status}, billing {info.billing_mode or '-'}")
    for name, status in sorted(info.indexes.items()):
        typer.echo(f"  index {name}: {status}")
    if info.item_count is not None:
        typer.echo(f"  items (approximate): {info.item_count}")


@app.command(
    "create",
    epilog="[bold]Examples[/bold]\n\n"
    "  edge-router table create --table preview-routes\n\n"
    "  EDGE_ROUTER_TABLE=preview-routes edge-router table create --json",
)
def create(table: TableOption, json_out: JsonOption = False) -> None:
    """Create the routing table and wait until it is ACTIVE.

    PAY_PER_REQUEST, with the indexes by-owner and by-list. Running it again is harmless; a
    table of that name with another schema is an error.
    """
    _show(create_table(cli_dynamodb_client(), table), json_out)


@app.command(
    "describe",
    epilog="[bold]Examples[/bold]\n\n  edge-router table describe --table preview-routes --json",
)
def describe(table: TableOption, json_out: JsonOption = False) -> None:
    """Show the table's status, indexes and approximate item count."""
    _show(describe_table(cli_dynamodb_client(), table), json_out)
