"""Minimized failures found by the fuzzers and the security tests, replayed as explicit cases.

Each ``regressions/<name>.json`` holds ``why`` (what went wrong and where it was found), a
compact ``event`` (Host values, URI, query string; optional headers and method) and what the
handler must answer: a generated ``status``, or a forward to ``origin_domain`` with ``uri``,
within ``max_round_trips``. Every answer must also pass both CloudFront checks.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from edge_router.local.events import decide

from .support import cloudfront_problems, make_event, make_router

REGRESSIONS = sorted((Path(__file__).parent / "regressions").glob("*.json"))


def test_there_are_regression_cases() -> None:
    assert len(REGRESSIONS) >= 5


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_regression(path: Path) -> None:
    case: dict[str, Any] = json.loads(path.read_text())
    assert case["why"]
    spec, expect = case["event"], case["expect"]
    router, table, _ = make_router()
    event = make_event(
        spec["host"],
        spec["uri"],
        spec.get("headers", {}),
        spec.get("method", "GET"),
        spec["querystring"],
    )
    sent = copy.deepcopy(event)
    result = router.handle(event)
    assert cloudfront_problems(sent, result) == []
    decide(sent, result)
    if "status" in expect:
        assert result.get("status") == expect["status"]
        return
    assert "status" not in result, result.get("status")
    origin = next(iter(result["origin"].values()))
    assert origin["domainName"] == expect["origin_domain"]
    assert result["uri"] == expect["uri"]
    assert len(table.calls) <= expect["max_round_trips"]
