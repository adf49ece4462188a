"""A failing branch of a ``Parallel`` step reaches the plan as itself in both shells.

The sync shell's thread pool re-raises the first failure; the async shell's TaskGroup would
wrap it in an ExceptionGroup, which neither the plan (``plan.throw`` takes project errors)
nor a caller catching ``EdgeRouterError`` would recognise.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from routing_table.errors import EdgeRouterError, ThrottledError
from routing_table.store import aio, sync
from routing_table.store.base import Parallel, Plan, Report


def _branch(fail: bool) -> Plan[str]:
    yield Report(1)
    if fail:
        raise ThrottledError("slow down", table="t")
    return "ok"


def _plan(failing: int) -> Plan[str]:
    try:
        yield Parallel([_branch(n == failing) for n in range(6)], concurrency=3)
    except EdgeRouterError as exc:  # what a plan does with a project error: decide
        return f"caught {type(exc).__name__}"
    return "all done"


def _run(shell: str, plan: Plan[Any]) -> Any:
    if shell == "sync":
        return sync.run(plan, None, "t")
    return asyncio.run(aio.run(plan, None, "t"))


@pytest.mark.parametrize("shell", ["sync", "async"])
def test_a_failing_branch_is_thrown_into_the_plan_as_itself(shell: str) -> None:
    assert _run(shell, _plan(failing=4)) == "caught ThrottledError"
    assert _run(shell, _plan(failing=-1)) == "all done"


@pytest.mark.parametrize("shell", ["sync", "async"])
def test_a_failing_branch_reaches_the_caller_as_itself(shell: str) -> None:
    def plan() -> Plan[list[str]]:
        replies: list[str] = yield Parallel([_branch(n == 2) for n in range(4)], concurrency=2)
        return replies

    with pytest.raises(ThrottledError, match="slow down"):
        _run(shell, plan())
