"""``edge-router table`` and ``edge-router route`` through the real error boundary.

Commands run in-process with typer's CliRunner, but through ``run_app`` (the console script's
entry point), so what is checked is what a person sees: one ``error:`` line on stderr, exit
code 1 (2 for usage), never a traceback. Backends: moto and DynamoDB Local.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from routing_table.cli import app
from routing_table.cli.common import run_app
from routing_table.local.dynamodb_local import free_port

ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/gone/50dc6c495c0c9188"


class _EntryPoint:
    """What CliRunner invokes: the console script's ``run_app(app)`` with the given args."""

    name = "edge-router"

    def main(self, args: list[str], prog_name: str, **_: Any) -> None:
        saved = sys.argv
        sys.argv = [prog_name, *args]
        try:
            run_app(app)
        finally:
            sys.argv = saved


def cli(*args: str, stdin: str | None = None) -> Result:
    # click's CliRunner (typer.testing.CliRunner is the same runner plus a Typer->click
    # conversion that would bypass the entry point's error boundary).
    return CliRunner().invoke(_EntryPoint(), list(args), input=stdin)  # type: ignore[arg-type]


def assert_one_line_error(result: Result, *fragments: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert lines, "no error message"
    assert lines[-1].startswith("error: "), lines
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]


@pytest.fixture
def table(ddb_backend: str, table_name: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("EDGE_ROUTER_TABLE", table_name)
    result = cli("table", "create")
    assert result.exit_code == 0, result.output
    return table_name


# --- table -----------------------------------------------------------------------------------


def test_table_create_is_idempotent_and_describes(table: str) -> None:
    again = cli("table", "create", "--json")
    assert again.exit_code == 0
    info = json.loads(again.stdout)
    assert info["name"] == table
    assert info["created"] is False
    assert info["indexes"] == {"by-list": "ACTIVE", "by-owner": "ACTIVE"}
    described = cli("table", "describe", "--table", table)
    assert described.exit_code == 0
    assert f"table {table} exists: ACTIVE" in described.stdout


def test_unknown_table_is_one_line(ddb_backend: str) -> None:
    result = cli("route", "lookup", "https://a.example.com/", "--table", "no-such-table")
    assert_one_line_error(result, "table 'no-such-table' not found", "edge-router table create")
    result = cli("table", "describe", "--table", "no-such-table")
    assert_one_line_error(result, "not found")


def test_unreachable_dynamodb_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")
    result = cli("route", "get", "--host", "a.example.com", "--table", "routes")
    assert_one_line_error(result, "DynamoDB is unreachable")
    result = cli("table", "create", "--table", "routes")
    assert_one_line_error(result, "DynamoDB is unreachable")


def test_missing_table_option_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGE_ROUTER_TABLE", raising=False)
    result = cli("route", "lookup", "https://a.example.com/")
    assert result.exit_code == 2
    assert "--table" in result.stderr


# --- put / get / delete / list ---------------------------------------------------------------


def test_put_get_list_delete(table: str) -> None:
    put = cli(
        "route", "put", "--host", "App.Example.com", "--path", "/api/",
        "--target", "https://api.example.net:8443", "--json",
    )  # fmt: skip
    assert put.exit_code == 0, put.output
    stored = json.loads(put.stdout)
    assert stored["host"] == "app.example.com"
    assert stored["prefix"] == "/api"
    assert stored["domain"] == "api.example.net"
    assert stored["port"] == 8443
    assert stored["owner"] == "manual:cli"
    got = cli("route", "get", "--host", "app.example.com", "--path", "/api")
    assert (
        got.stdout.strip()
        == "app.example.com/api -> https://api.example.net:8443 [owner manual:cli]"
    )
    listed = cli("route", "list", "--host", "app.example.com", "--json")
    assert [r["prefix"] for r in json.loads(listed.stdout)] == ["/api"]
    by_owner = cli("route", "list", "--owner", "manual:cli")
    assert "app.example.com/api" in by_owner.stdout
    deleted = cli("route", "delete", "--host", "app.example.com", "--path", "/api")
    assert deleted.exit_code == 0
    assert deleted.stdout.startswith("deleted app.example.com/api")
    assert_one_line_error(
        cli("route", "get", "--host", "app.example.com", "--path", "/api"), "no route for host"
    )


def test_ownership_is_one_line_naming_the_owner(table: str) -> None:
    cli("route", "put", "--host", "a.example.com", "--target", "https://o.example.com",
        "--owner", "env-1")  # fmt: skip
    taken = cli("route", "put", "--host", "a.example.com", "--path", "/x",
                "--target", "https://o.example.com", "--owner", "env-2")  # fmt: skip
    assert_one_line_error(taken, "owned by 'env-1'", "not 'env-2'")
    refused = cli("route", "delete", "--host", "a.example.com", "--owner", "env-2")
    assert_one_line_error(refused, "owned by 'env-1'")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--host", "a.example.com", "--target", "s3://Bad_Bucket"], "bucket name"),
        (["--host", "a.example.com", "--target", "https://o.example.com/path"], "takes no path"),
        (["--host", "a.example.com", "--target", "ftp://o.example.com"], "unsupported scheme"),
        (["--host", "a.example.com", "--target", ARN.replace("app/", "net/")], "Application"),
        (["--host", "bad_host!", "--target", "https://o.example.com"], "invalid host"),
        (["--host", "1.2.3.4", "--target", "https://o.example.com"], "IP literals"),
        (
            ["--host", "a.example.com", "--path", "/a/../b", "--target", "https://o.example.com"],
            "'.' and '..'",
        ),
        (
            ["--host", "a.example.com", "--target", "https://o.example.com", "--owner", "a#b"],
            "invalid owner",
        ),
    ],
)
def test_bad_input_is_one_line(table: str, args: list[str], fragment: str) -> None:
    assert_one_line_error(cli("route", "put", *args), fragment)


def test_list_needs_exactly_one_filter(table: str) -> None:
    assert_one_line_error(cli("route", "list"), "exactly one of", code=2)
    assert_one_line_error(
        cli("route", "list", "--host", "a.example.com", "--owner", "x"), "exactly one of", code=2
    )


# --- lookup ----------------------------------------------------------------------------------


def test_lookup_explains_candidates_and_winner(table: str) -> None:
    cli("route", "put", "--host", "*.pr.example.com", "--path", "/docs", "--strip-prefix",
        "--target", "s3://docs-bucket/site?region=eu-west-1", "--owner", "env-1")  # fmt: skip
    cli("route", "put", "--host", "*.pr.example.com", "--target", "https://web.example.net",
        "--owner", "env-1")  # fmt: skip
    result = cli("route", "lookup", "https://X.pr.example.com:443/docs/guide/a.html?q=1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["host"] == "x.pr.example.com"
    assert data["round_trips"] == 1
    order = [(c["host"], c["prefix"]) for c in data["candidates"]]
    assert order[:4] == [
        ("x.pr.example.com", "/docs/guide/a.html"),
        ("x.pr.example.com", "/docs/guide"),
        ("x.pr.example.com", "/docs"),
        ("x.pr.example.com", "/"),
    ]
    existing = [(c["host"], c["prefix"]) for c in data["candidates"] if c["exists"]]
    assert existing == [("*.pr.example.com", "/docs"), ("*.pr.example.com", "/")]
    assert [c["prefix"] for c in data["candidates"] if c["winner"]] == ["/docs"]
    assert "wildcard host *.pr.example.com" in data["why"]
    assert data["forward"] == {
        "origin": "s3://docs-bucket.s3.eu-west-1.amazonaws.com",
        "origin_path": "/site",
        "uri": "/guide/a.html",
        "host_header": "docs-bucket.s3.eu-west-1.amazonaws.com",
        "object": "/site/guide/a.html",
    }
    text = cli("route", "lookup", "https://x.pr.example.com/docs/guide/a.html")
    assert "winner" in text.stdout
    assert "route: s3://docs-bucket/site [owner env-1]" in text.stdout


def test_lookup_without_a_match_exits_1(table: str) -> None:
    result = cli("route", "lookup", "nothing.example.com/x", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["matched"] is None


def test_lookup_of_a_bad_url_is_one_line(table: str) -> None:
    assert_one_line_error(cli("route", "lookup", "ftp://a.example.com/"), "invalid URL")
    assert_one_line_error(cli("route", "lookup", "https://a.example.com/..%2f.."), "invalid path")


# --- import ----------------------------------------------------------------------------------


def test_import_reports_every_bad_line_and_writes_nothing(table: str, tmp_path: Path) -> None:
    lines = [
        '{"host": "a.example.com", "path": "/ok", "target": "https://o.example.com"}',
        "not json",
        '{"host": "a.example.com"}',
        "",
        '{"host": "a.example.com", "target": "s3://x"}',
        '{"host": "a.example.com", "target": "https://o.example.com", "colour": "red"}',
        "[1, 2]",
    ]
    source = tmp_path / "routes.jsonl"
    source.write_text("\n".join(lines) + "\n")
    result = cli("route", "import", str(source))
    assert result.exit_code == 1
    errors = result.stderr.strip().splitlines()
    assert [e.split(":")[1].strip() for e in errors[:-1]] == [
        "line 2", "line 3", "line 5", "line 6", "line 7",
    ]  # fmt: skip
    assert "missing target" in errors[1]
    assert "bucket name" in errors[2]
    assert "unknown field(s) colour" in errors[3]
    assert errors[-1] == f"error: 5 bad line(s) in {source}; nothing was imported"
    assert "no routes" in cli("route", "list", "--owner", "manual:cli").stdout


def test_import_refuses_lines_of_other_owners(table: str) -> None:
    cli("route", "put", "--host", "taken.example.com", "--target", "https://o.example.com",
        "--owner", "env-1")  # fmt: skip
    stdin = "\n".join(
        json.dumps(line)
        for line in [
            {"host": "free.example.com", "path": "/a", "target": "https://o.example.com"},
            {"host": "taken.example.com", "path": "/b", "target": "https://o.example.com"},
            {"host": "free.example.com", "path": "/c", "target": "s3://b-1/x?region=us-east-1",
             "owner": "manual:cli"},
        ]
    )  # fmt: skip
    result = cli("route", "import", "-", "--json", stdin=stdin)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["written"] == 2
    assert [(r["line"], r["owner"]) for r in report["refused"]] == [(2, "env-1")]
    assert "error: line 2: refused: host is owned by 'env-1'" in result.stderr
    listed = json.loads(cli("route", "list", "--host", "free.example.com", "--json").stdout)
    assert [r["prefix"] for r in listed] == ["/a", "/c"]


def test_import_of_a_missing_file_is_one_line(table: str, tmp_path: Path) -> None:
    assert_one_line_error(cli("route", "import", str(tmp_path / "nope.jsonl")), "cannot read")


@pytest.mark.dynamodb_local
@pytest.mark.slow
def test_import_of_10000_routes_shows_progress(
    dynamodb_local: str, table_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGE_ROUTER_TABLE", table_name)
    assert cli("table", "create").exit_code == 0
    source = tmp_path / "routes.jsonl"
    with source.open("w") as out:
        for n in range(10_000):
            line = {
                "host": f"svc-{n % 100}.pr.example.com",
                "path": f"/p/{n}",
                "target": "https://origin.example.net",
                "owner": f"env-{n % 100}",
            }
            out.write(json.dumps(line) + "\n")
    result = cli("route", "import", str(source), "--concurrency", "8")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"imported 10000 route(s) into {table_name}"
    assert "10000/10000" in result.stderr  # the progress bar's last frame
    owned = json.loads(cli("route", "list", "--owner", "env-42", "--json").stdout)
    assert len(owned) == 100
    found = json.loads(cli("route", "lookup", "svc-7.pr.example.com/p/9907/x", "--json").stdout)
    assert found["matched"]["owner"] == "env-7"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["route", "put", "--host", "a.example.com"], "Missing option"),
        (["no-such-command"], "No such command"),
        (["handles", "add", "--pool", "p", "--count", "many"], "--count"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        run_app(app, [*argv, "--table", "routes-usage"])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.count("\n") == 1, err
    assert err.startswith("error: ")
    assert needle in err
