"""The ``edge-router`` command line (Typer). Each command group lives in its own module here.

Errors: the project's own exceptions become one line on stderr and exit code 1; usage errors
exit 2 (Typer/Click's convention); nothing prints a traceback.
"""

from __future__ import annotations

import typer

from routing_table.cli.common import run_app

app = typer.Typer(
    name="edge-router",
    help="Routing layer for ephemeral preview environments: table, routes, handles, "
    "environments, static deploys, the local edge server and packaging.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Command groups register themselves here, one line each.
from routing_table.cli.table import app as table_app  # noqa: E402

app.add_typer(table_app, name="table")
from routing_table.cli.route import app as route_app  # noqa: E402

app.add_typer(route_app, name="route")
from routing_table.cli.package import EPILOG as PACKAGE_EPILOG  # noqa: E402
from routing_table.cli.package import package_cmd  # noqa: E402

app.command("package", epilog=PACKAGE_EPILOG)(package_cmd)
from routing_table.cli.handles import app as handles_app  # noqa: E402

app.add_typer(handles_app, name="handles")
from routing_table.cli.env import app as env_app  # noqa: E402

app.add_typer(env_app, name="env")
from routing_table.cli.static import app as static_app  # noqa: E402

app.add_typer(static_app, name="static")
from routing_table.cli.audit import EPILOG as AUDIT_EPILOG  # noqa: E402
from routing_table.cli.audit import audit as audit_cmd  # noqa: E402

app.command("audit", epilog=AUDIT_EPILOG)(audit_cmd)
from routing_table.cli import serve as serve_cli  # noqa: E402

app.command("serve", help=serve_cli.HELP, epilog=serve_cli.EPILOG)(serve_cli.serve_cmd)


def main() -> None:
    """Console-script entry point."""
    run_app(app)
