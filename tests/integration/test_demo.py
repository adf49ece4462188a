"""The demo's scenario as a test: every request answers as expected, the cutover and the deletion
show at the edge, and nothing keeps running afterwards."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from edge_router import demo
from edge_router.local.embedded import processes_mentioning, wait_until_gone

pytestmark = pytest.mark.dynamodb_local

EXPECTED_STEPS = {
    "dynamic service",
    "static site",
    "static: no such asset",
    "unknown host",
    "after cutover",
    "after deletion",
    "other env unaffected",
}


def test_make_demo_runs_standalone_and_leaves_no_process(tmp_path: Path) -> None:
    env = dict(os.environ)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3"):
        env.pop(name, None)  # the demo must start its own DynamoDB Local and S3
    done = subprocess.run(
        [sys.executable, "-m", "edge_router.demo", "--json", "--state-dir", str(tmp_path)],
        env=env,
        stdin=subprocess.DEVNULL,  # as in CI: nothing to read from
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    checks = json.loads(done.stdout)
    assert {c["step"] for c in checks} == EXPECTED_STEPS
    assert all(c["ok"] for c in checks), [c for c in checks if not c["ok"]]
    assert "every local component stopped" in done.stderr
    assert wait_until_gone(str(tmp_path)) == []


def test_demo_scenario_on_configured_endpoints(
    dynamodb_local: str, moto_s3: str, tmp_path: Path
) -> None:
    """With the endpoints set, the demo uses them and starts nothing of its own."""
    before = processes_mentioning("DynamoDBLocal.jar")
    result = demo.run(state_dir=tmp_path, console=Console(file=io.StringIO()))
    assert result.checks
    assert all(c.ok for c in result.checks), [c for c in result.checks if not c.ok]
    by_step = {c.step: c for c in result.checks}
    cutover = by_step["after cutover"]
    assert "web v2" in cutover.body
    assert cutover.route.endswith("(shop-main)")
    assert by_step["dynamic service"].origin.startswith("http://localhost:")
    assert by_step["static site"].origin == f"s3://{demo.BUCKET}"
    assert processes_mentioning("DynamoDBLocal.jar") == before
    assert not (tmp_path / "dynamodb").exists()
