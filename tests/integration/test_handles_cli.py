"""``edge-router handles``: the commands end to end on moto, through the real error boundary."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from routing_table.cli import app
from routing_table.cli.common import run_app
from routing_table.clients import dynamodb_client
from routing_table.schema import create_table


@pytest.fixture
def table(moto_dynamodb: str, table_name: str) -> str:
    create_table(dynamodb_client(), table_name, poll_interval=0.05)
    return table_name


@pytest.fixture
def cli(table: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    def invoke(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["edge-router", "handles", *args, "--table", table])
        with pytest.raises(SystemExit) as stopped:
            run_app(app)
        captured = capsys.readouterr()
        code = stopped.value.code
        return (code if isinstance(code, int) else 1), captured.out, captured.err

    return invoke


def test_add_numbered_and_named_then_list_json(cli: Any) -> None:
    code, out, _ = cli("add", "--pool", "teams", "--prefix", "team", "--count", "3", "oauth")
    assert code == 0
    assert "added 4 handle(s)" in out
    code, out, _ = cli("add", "--pool", "teams", "team1")
    assert "already in the pool: team1" in out
    code, out, _ = cli("list", "--pool", "teams", "--json")
    rows = json.loads(out)
    assert [(r["handle"], r["env_id"]) for r in rows] == [
        ("oauth", None),
        ("team1", None),
        ("team2", None),
        ("team3", None),
    ]


def test_exhaustion_exits_1_with_one_line(cli: Any) -> None:
    cli("add", "--pool", "p", "only")
    code, out, _ = cli("allocate", "--pool", "p", "--env", "e1")
    assert (code, out.strip()) == (0, "only")
    code, out, err = cli("allocate", "--pool", "p", "--env", "e2")
    assert code == 1
    assert (
        err.strip()
        == "error: handle pool 'p' is exhausted (all 1 handles are held or cooling down)"
    )
    code, out, _ = cli("list", "--pool", "p")
    assert out.splitlines()[1].split()[:3] == ["only", "e1", "held"]


def test_remove_refuses_held_handles_naming_the_holder(cli: Any) -> None:
    cli("add", "--pool", "p", "a", "b")
    cli("allocate", "--pool", "p", "--env", "e1", "--handle", "b")
    code, out, err = cli("remove", "--pool", "p", "a", "b")
    assert code == 1
    assert "removed 1 handle(s): a" in out
    assert "'b' is held by environment 'e1'" in err
    _, out, _ = cli("list", "--pool", "p", "--json")
    assert [r["handle"] for r in json.loads(out)] == ["b"]


def test_configure_and_usage_errors(cli: Any) -> None:
    code, out, _ = cli("configure", "--pool", "p", "--cooldown", "3600", "--fallback-random")
    assert (code, out.strip()) == (0, "pool 'p': cooldown 3600s, fallback to random handles on")
    code, _, err = cli("add", "--pool", "p", "--prefix", "team")
    assert code == 2
    assert "--prefix and --count go together" in err
    code, _, err = cli("configure", "--pool", "p", "--cooldown", "-5")
    assert code == 2
    code, _, err = cli("add", "--pool", "p", "Bad_Name")
    assert code == 1
    assert err.count("\n") == 1
    assert "not a DNS label" in err


def test_release_waits_until_the_environment_owns_no_routes(cli: Any, table: str) -> None:
    cli("add", "--pool", "p", "a")
    cli("allocate", "--pool", "p", "--env", "e1")
    route = {
        "pk": {"S": "ROUTE#api-a-x.example.com"},
        "sk": {"S": "PATH#/"},
        "gsi1pk": {"S": "OWNER#e1"},
        "gsi1sk": {"S": "ROUTE#api-a-x.example.com#/"},
    }
    client = dynamodb_client()
    client.put_item(TableName=table, Item=route)
    code, _, err = cli("release", "--pool", "p", "--env", "e1")
    assert code == 1
    assert "still owns 1 route entries" in err
    client.delete_item(TableName=table, Key={"pk": route["pk"], "sk": route["sk"]})
    code, out, _ = cli("release", "--pool", "p", "--env", "e1")
    assert (code, out.strip()) == (0, "released 'a' to pool 'p'")
    code, out, _ = cli("release", "--pool", "p", "--env", "e1")
    assert (code, "nothing to do" in out) == (0, True)
