"""``edge-router table``: create and describe the routing table."""

from __future__ import annotations

import typer

app = typer.Typer(help="Create and inspect the routing table.", no_args_is_help=True)
