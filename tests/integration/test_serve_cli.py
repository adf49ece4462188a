"""``edge-router serve`` as a user runs it: a subprocess that starts its own DynamoDB Local and
moto S3 (no endpoint configured), answers HTTP, and leaves no process behind on SIGTERM, even
when the signal arrives while DynamoDB Local is still booting."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_router.local.embedded import processes_mentioning, wait_until_gone

pytestmark = pytest.mark.dynamodb_local

EDGE_ROUTER = str(Path(sys.executable).with_name("edge-router"))  # the installed console script
BANNER = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@pytest.fixture
def embedded_env() -> dict[str, str]:
    """The test settings without any endpoint: serve must start its own components."""
    env = dict(os.environ)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3"):
        env.pop(name, None)
    return env


@pytest.fixture
def serve_process(tmp_path: Path, embedded_env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    cmd = [
        EDGE_ROUTER,
        "serve",
        "--port",
        "0",
        "--table",
        "serve-cli-routes",
        "--state-dir",
        str(tmp_path / "state"),
    ]
    proc = subprocess.Popen(
        cmd, env=embedded_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.communicate()  # drains and closes the pipe
    for pid in processes_mentioning(str(tmp_path)):  # never leak a JVM from a failed test
        os.kill(pid, signal.SIGKILL)


def read_banner(proc: subprocess.Popen[str], timeout: float = 90.0) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if match := BANNER.search(line):
            return match.group(1)
    pytest.fail(f"serve did not start: {''.join(seen)[-2000:]}")


def test_serve_answers_and_stops_everything_on_sigterm(
    serve_process: subprocess.Popen[str], tmp_path: Path
) -> None:
    url = read_banner(serve_process)
    assert processes_mentioning(str(tmp_path / "state" / "dynamodb")), "no DynamoDB Local"
    request = urllib.request.Request(url + "/", headers={"Host": "nobody-pr1-app.example.com"})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    answer.value.close()
    assert answer.value.code == 404  # the table was created; the handler found no route
    serve_process.send_signal(signal.SIGTERM)
    assert serve_process.wait(timeout=30) == 0
    assert wait_until_gone(str(tmp_path)) == []
    assert (tmp_path / "state" / "dynamodb" / "shared-local-instance.db").exists()


def test_sigterm_while_dynamodb_local_boots_leaves_no_process(
    serve_process: subprocess.Popen[str], tmp_path: Path
) -> None:
    marker = str(tmp_path / "state" / "dynamodb")
    deadline = time.monotonic() + 60
    while not processes_mentioning(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert processes_mentioning(marker), "DynamoDB Local never started"
    serve_process.send_signal(signal.SIGTERM)
    serve_process.wait(timeout=30)
    assert wait_until_gone(str(tmp_path)) == []


def test_second_serve_on_the_same_state_folder_is_refused(
    serve_process: subprocess.Popen[str], tmp_path: Path, embedded_env: dict[str, str]
) -> None:
    read_banner(serve_process)
    second = subprocess.run(
        [EDGE_ROUTER, "serve", "--port", "0", "--state-dir", str(tmp_path / "state")],
        env=embedded_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 1
    assert second.stderr.strip().startswith("error: state folder")
    assert len(second.stderr.strip().splitlines()) == 1
