"""What importing the handler loads: no pydantic, no aioboto3, no boto3, no botocore client
machinery (it comes with the first miss), nothing of the control plane. Timing lives in the
benchmarks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "aioboto3", "aiobotocore", "boto3", "botocore", "typer", "rich", "moto")
CONTROL_PLANE = ("routing_table.store", "routing_table.cli", "routing_table.lifecycle")

PROBE = """
import json, sys
import edge_router.handler
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_handler_import_is_light() -> None:
    loaded = _modules_after(PROBE)
    assert "edge_router.router" in loaded
    # Powertools' user-agent hook imports the bare ``botocore`` package (well under a
    # millisecond); sessions, clients and service models must wait for the first miss.
    heavy = sorted(m for m in loaded if m.partition(".")[0] in HEAVY and m != "botocore")
    assert heavy == []
    assert sorted(m for m in loaded if m.startswith(CONTROL_PLANE)) == []


def test_core_imports_without_sdk_or_pydantic() -> None:
    loaded = _modules_after(
        "import json, sys\n"
        "import routing_table.core.normalize, routing_table.core.matching\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    assert sorted(m for m in loaded if m.partition(".")[0] in HEAVY) == []
