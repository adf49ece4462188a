"""CLI polish across every command: an example in ``--help``, ``--json`` where data is printed,
shell completion from Typer, one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from routing_table.cli import app, main

# Commands that print no data: a server's only output is its log.
NO_DATA = {"serve"}


def leaf_commands() -> Iterator[tuple[str, ...]]:
    def walk(command: object, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                yield from walk(child, (*path, name))
        else:
            yield path

    yield from walk(typer.main.get_command(app), ())


COMMANDS = sorted(leaf_commands())


def test_the_walk_finds_every_group() -> None:
    groups = {path[0] for path in COMMANDS}
    assert {"table", "route", "handles", "env", "static", "serve", "package", "audit"} <= groups


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_shows_an_example_of_the_command(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Examples" in result.output
    examples = result.output.split("Examples", 1)[1]
    assert f"edge-router {' '.join(path)}" in examples


@pytest.mark.parametrize("path", [p for p in COMMANDS if p[0] not in NO_DATA], ids=" ".join)
def test_data_commands_offer_json(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert "--json" in result.output


def test_shell_completion_script_is_available() -> None:
    result = CliRunner().invoke(app, ["--show-completion", "bash"])
    assert result.exit_code == 0
    assert "complete" in result.output
    assert "edge-router" in result.output or "edge_router" in result.output


def test_bad_edge_config_is_one_error_line_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "edge.json"
    bad.write_text('{"table_name": "x", "regions": []}')
    monkeypatch.setattr(sys, "argv", ["edge-router", "serve", "--config", str(bad)])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: invalid edge config")
    assert len(err.splitlines()) == 1
