"""The built zip works on its own: unpacked next to nothing but boto3, in a clean virtualenv,
it imports and routes events against DynamoDB Local with only its baked configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from edge_router.config import EdgeConfig
from edge_router.packaging import CONFIG_ARCNAME
from routing_table.cli import app
from routing_table.clients import dynamodb_client
from routing_table.core.records import RouteRecord
from routing_table.schema import create_table
from routing_table.store.sync import RouteStore

ROUTED_HOST = "api-t9yhp25-portal.example.com"
UNKNOWN_HOST = "web-zz99zz9-portal.example.com"
UPSTREAM = "upstream.example.net"
STATIC_HOST = "docs-t9yhp25-portal.example.com"
BUCKET = "preview-assets"

# Runs inside the clean interpreter: argv = [unpacked zip, results file], events on stdin.
# Lambda puts the unpacked zip first on sys.path (/var/task); the checks prove nothing of the
# development environment leaks in.
_DRIVER = """
import importlib.util, json, sys
root = sys.argv[1]
sys.path.insert(0, root)
for absent in ("pydantic", "aioboto3", "typer", "routing_table.cli", "edge_router.packaging"):
    try:
        found = importlib.util.find_spec(absent) is not None
    except ModuleNotFoundError:
        found = False
    assert not found, f"{absent} must not be importable at the edge"
from edge_router.handler import handler
import edge_router, routing_table
for module in (edge_router, routing_table):
    assert module.__file__.startswith(root), module.__file__
events = json.load(sys.stdin)
results = [handler(event, None) for event in events]
# stdout carries the function's structured logs, as on Lambda; results go to a file.
with open(sys.argv[2], "w") as out:
    json.dump(results, out)
"""


@pytest.fixture(scope="session")
def clean_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv holding only boto3 (the version of this environment) and its dependencies,
    like the Lambda runtime: no project code, no cachetools, no powertools, no pydantic."""
    venv = tmp_path_factory.mktemp("clean-venv")
    python = venv / "bin" / "python"
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            f"boto3=={metadata.version('boto3')}",
            f"botocore=={metadata.version('botocore')}",
        ],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, check=False, timeout=300)
        if result.returncode != 0:
            pytest.fail(f"cannot build the clean virtualenv: {' '.join(step)}\n{result.stderr}")
    return python


def _event(host: str, uri: str) -> dict[str, Any]:
    request = {
        "clientIp": "203.0.113.178",
        "method": "GET",
        "uri": uri,
        "querystring": "v=2",
        "headers": {
            "host": [{"key": "Host", "value": host}],
            "user-agent": [{"key": "User-Agent", "value": "curl/8.5.0"}],
        },
        "origin": {
            "custom": {
                "domainName": "placeholder.example.com",
                "path": "",
                "port": 443,
                "protocol": "https",
                "readTimeout": 30,
                "keepaliveTimeout": 5,
                "sslProtocols": ["TLSv1.2"],
                "customHeaders": {},
            }
        },
    }
    config = {
        "distributionDomainName": "d111111abcdef8.cloudfront.net",
        "distributionId": "EDFDVBD6EXAMPLE",
        "eventType": "origin-request",
        "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
    }
    return {"Records": [{"cf": {"config": config, "request": request}}]}


def _seed(table: str) -> None:
    create_table(dynamodb_client(), table)
    RouteStore(table).put_route(
        RouteRecord(
            host=ROUTED_HOST,
            prefix="/",
            owner="env-t9yhp25",
            target=f"https://{UPSTREAM}",
            kind="custom",
            domain=UPSTREAM,
        )
    )
    RouteStore(table).put_route(
        RouteRecord(
            host=STATIC_HOST,
            prefix="/",
            owner="env-t9yhp25",
            target=f"s3://{BUCKET}/site",
            kind="s3",
            bucket=BUCKET,
            bucket_region="eu-west-1",
            key_prefix="site",
        )
    )


def _build(out: Path, table: str) -> Path:
    result = CliRunner().invoke(
        app,
        ["package", "--table", table, "--region", "us-east-1", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    return out


def _run_in_clean_env(python: Path, unpacked: Path, events: list[dict[str, Any]]) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "EDGE_ROUTER"))}
    results = unpacked.parent / "results.json"
    result = subprocess.run(
        [str(python), "-I", "-c", _DRIVER, str(unpacked), str(results)],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        cwd=unpacked.parent,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(results.read_text())


@pytest.mark.dynamodb_local
def test_zip_routes_in_a_clean_virtualenv_with_its_baked_config(
    dynamodb_local: str, table_name: str, clean_python: Path, tmp_path: Path
) -> None:
    assert "EDGE_ROUTER_CONFIG" not in os.environ
    _seed(table_name)
    unpacked = tmp_path / "task"
    with zipfile.ZipFile(_build(tmp_path / "edge.zip", table_name)) as archive:
        archive.extractall(unpacked)

    routed, static, unknown = _run_in_clean_env(
        clean_python,
        unpacked,
        [_event(ROUTED_HOST, "/a/b.js"), _event(STATIC_HOST, "/i.html"), _event(UNKNOWN_HOST, "/")],
    )

    assert routed["origin"]["custom"]["domainName"] == UPSTREAM
    assert routed["uri"] == "/a/b.js"
    bucket_domain = f"{BUCKET}.s3.eu-west-1.amazonaws.com"
    assert static["origin"]["s3"]["domainName"] == bucket_domain
    assert static["origin"]["s3"]["authMethod"] == "origin-access-identity"
    assert static["headers"]["host"] == [{"key": "Host", "value": bucket_domain}]
    assert unknown["status"] == "404"


def test_cli_builds_the_same_bytes_twice(tmp_path: Path) -> None:
    first = _build(tmp_path / "first.zip", "routes")
    second = _build(tmp_path / "second.zip", "routes")
    assert first.read_bytes() == second.read_bytes()


def test_baked_config_is_the_validated_full_config(tmp_path: Path) -> None:
    with zipfile.ZipFile(_build(tmp_path / "edge.zip", "routes")) as archive:
        baked = json.loads(archive.read(CONFIG_ARCNAME))
        names = archive.namelist()
    expected = EdgeConfig.from_dict({"table_name": "routes", "regions": ["us-east-1"]})
    assert baked == expected.to_dict()
    assert "edge_router/handler.py" in names
    assert not any(n.startswith(("boto3/", "botocore/", "pydantic", "aioboto3")) for n in names)
    assert not any(n.startswith(("edge_router/packaging", "routing_table/cli/")) for n in names)
