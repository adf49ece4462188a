"""``edge-router audit``: find (and with ``--repair`` fix) entries no live environment owns."""

from __future__ import annotations

from typing import Annotated

import typer

from routing_table.cli.common import JsonOption, TableOption, examples, print_json
from routing_table.lifecycle.sync import Environments

EPILOG = examples(
    "edge-router audit --table preview-routes",
    "edge-router audit --table preview-routes --repair --json",
)


def audit(
    table: TableOption,
    repair: Annotated[
        bool, typer.Option("--repair", help="Delete orphans and finish stuck environments.")
    ] = False,
    stuck_after: Annotated[
        float,
        typer.Option("--stuck-after", help="Seconds after which creating/deleting is stuck."),
    ] = 900.0,
    json_out: JsonOption = False,
) -> None:
    """Orphan routes, claims, handles and assets; environments stuck creating or deleting."""
    report = Environments(table, stuck_after=stuck_after).audit(repair=repair)
    if json_out:
        print_json(report.as_json())
    else:
        for finding in report.findings:
            fixed = " [repaired]" if finding.repaired else ""
            typer.echo(f"{finding.kind}\t{finding.env_id}\t{finding.detail}{fixed}")
        typer.echo(f"scanned {report.scanned} items, {len(report.findings)} finding(s)")
    if report.findings and not repair:
        raise typer.Exit(1)
