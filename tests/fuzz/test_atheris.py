"""A short coverage-guided session of ``atheris_edge.py`` (libFuzzer), as a subprocess.

atheris ships Linux x86_64 wheels; elsewhere it is not installed (see pyproject's marker) and
this test is skipped with that reason. The Hypothesis fuzzers cover the same ground everywhere.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris has no wheel for this platform (Linux x86_64 only)",
)
def test_atheris_session_finds_no_crash(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "fuzz.atheris_edge",
            "-runs=30000",
            "-max_len=9000",
            "-seed=1",
            f"-artifact_prefix={tmp_path}/",
        ],
        cwd=TESTS,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    crashes = sorted(p.name for p in tmp_path.glob("crash-*"))
    assert run.returncode == 0, f"{crashes}\n{run.stderr[-3000:]}"
    assert "Done 30000 runs" in run.stderr
