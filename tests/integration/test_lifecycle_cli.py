"""The env/static/audit commands end to end on moto (DynamoDB and S3 servers)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from routing_table.cli import app
from routing_table.clients import dynamodb_client
from routing_table.schema import create_table

runner = CliRunner()


@pytest.fixture
def table(moto_dynamodb: str, moto_s3: str, table_name: str) -> str:
    create_table(dynamodb_client(), table_name, poll_interval=0.05)
    boto3.client("s3").create_bucket(Bucket="sites")
    return table_name


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_env_and_static_commands(table: str, tmp_path: Path) -> None:
    out = _run(
        "env",
        "create",
        "--table",
        table,
        "--app",
        "portal",
        "--domain",
        "example.com",
        "--branch",
        "feature/Login",
        "--service",
        "web=s3://sites/portal",
        "--service",
        "api=https://api.internal",
        "--json",
    )
    created = json.loads(out)
    assert created["env_id"] == "portal-feature-login"
    assert set(created["hostnames"]) == {"api", "web"}
    site = tmp_path / "dist"
    (site / "assets").mkdir(parents=True)
    (site / "index.html").write_text("<h1>v1</h1>")
    (site / "assets" / "app.3f9a1c2b.js").write_text("console.log(1)")
    env = created["env_id"]
    _run(
        "static",
        "deploy",
        "--table",
        table,
        "--env",
        env,
        "--service",
        "web",
        "--version",
        "v1",
        "--source",
        "s3://sites/portal/v1",
        "--dir",
        str(site),
    )
    s3 = boto3.client("s3")
    head = s3.head_object(Bucket="sites", Key="portal/v1/assets/app.3f9a1c2b.js")
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert head["ContentType"].startswith("application/javascript") or head[
        "ContentType"
    ].startswith("text/javascript")
    html = s3.head_object(Bucket="sites", Key="portal/v1/index.html")
    assert html["CacheControl"] == "public, max-age=0, must-revalidate"
    s3.put_object(Bucket="sites", Key="portal/v2/index.html", Body=b"v2")
    out = _run(
        "static",
        "deploy",
        "--table",
        table,
        "--env",
        env,
        "--service",
        "web",
        "--version",
        "v2",
        "--source",
        "s3://sites/portal/v2",
        "--from-s3",
        "--json",
    )
    assert json.loads(out)["previous"] == "v1"
    listing = tmp_path / "assets.txt"
    listing.write_text("# v3\nindex.html\n\n")
    _run(
        "static",
        "deploy",
        "--table",
        table,
        "--env",
        env,
        "--service",
        "web",
        "--version",
        "v3",
        "--source",
        "s3://sites/portal/v3",
        "--assets-file",
        str(listing),
    )
    _run("static", "rollback", "--table", table, "--env", env, "--service", "web")
    shown = json.loads(_run("env", "show", env, "--table", table, "--json"))
    assert shown["routes"]["web"]["active_version"] == "v2"
    assert env in _run("env", "list", "--table", table)
    _run("env", "reroute", env, "--table", table, "--service", "api=http://other:8080")
    assert json.loads(_run("audit", "--table", table, "--json"))["clean"]
    _run("env", "delete", env, "--table", table)
    assert "does not exist" in _run("env", "delete", env, "--table", table)


def test_usage_errors_exit_2(table: str) -> None:
    result = runner.invoke(
        app,
        [
            "static",
            "deploy",
            "--table",
            table,
            "--env",
            "e",
            "--service",
            "web",
            "--version",
            "v1",
            "--source",
            "s3://sites/p/v1",
        ],
    )
    assert result.exit_code == 2
    assert "exactly one of" in result.output
