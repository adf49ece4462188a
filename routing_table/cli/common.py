"""Shared CLI plumbing: options every command takes, output, and the error boundary."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any, NoReturn

import typer

from routing_table.errors import EdgeRouterError

TABLE_ENV = "EDGE_ROUTER_TABLE"

TableOption = Annotated[
    str,
    typer.Option(
        "--table",
        envvar=TABLE_ENV,
        help=f"Routing table name (default: ${TABLE_ENV}).",
        show_envvar=True,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print data as JSON.")]


def examples(*commands: str) -> str:
    """A command's ``--help`` epilog listing example invocations (every command has one)."""
    return "[bold]Examples[/bold]\n\n" + "\n\n".join(f"  {c}" for c in commands)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clear error line on stderr and exit."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def run_app(app: typer.Typer, args: list[str] | None = None) -> None:
    """Run the Typer app; turn every error into one line on stderr and a non-zero exit code.

    Click is run with ``standalone_mode=False`` so that usage errors reach us too: they become
    one line and exit code 2 (Typer would draw a multi-line panel).
    """
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="edge-router", standalone_mode=False)
    except SystemExit:
        raise
    except typer.Abort:
        _die("aborted")
    except typer.TyperException as exc:  # Click's usage and parameter errors (Typer vendors Click)
        _die(_usage_line(exc), getattr(exc, "exit_code", 2))
    except EdgeRouterError as exc:
        _die(str(exc))
    except KeyboardInterrupt:
        _die("interrupted", 130)
    except Exception as exc:  # the last resort: still one line, never a traceback
        if os.environ.get("EDGE_ROUTER_DEBUG"):
            raise
        _die(f"unexpected {type(exc).__name__}: {exc}")
    # A command that returns normally, or ends with typer.Exit(code), lands here.
    sys.exit(result if isinstance(result, int) else 0)


def _usage_line(exc: typer.TyperException) -> str:
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    ctx = getattr(exc, "ctx", None)
    where = getattr(ctx, "command_path", None) or "edge-router"
    return f"{message} (see '{where} --help')"


def _die(message: str, code: int = 1) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)
