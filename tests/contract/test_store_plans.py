"""The store's pure plans, driven by hand with canned replies: no backend, no SDK.

These pin down the rules both shells inherit (retries, backoff, refusals) in isolation from
any server; the contract suite checks the same behaviour end to end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing_table.core.records import RouteRecord
from routing_table.errors import (
    OwnershipError,
    ThrottledError,
    TransactionCanceledError,
    TransactionConflictError,
)
from routing_table.store.base import (
    BATCH_WRITE_LIMIT,
    Backoff,
    Call,
    Parallel,
    Plan,
    Report,
    Sleep,
    import_plan,
    put_route_plan,
    write_batch_plan,
)

TABLE = "routes"


def _route(host: str, prefix: str, owner: str = "env-a") -> RouteRecord:
    return RouteRecord(
        host=host,
        prefix=prefix,
        owner=owner,
        target="https://o.example.com",
        kind="custom",
        domain="o.example.com",
    )


def drive(plan: Plan[Any], answer: Callable[[Call], Any]) -> tuple[Any, list[Any]]:
    """Run a plan with ``answer`` replying to calls; return its result and every step seen.

    ``answer`` may return an exception to have it thrown into the plan. Parallel sub-plans are
    run one after the other.
    """
    steps: list[Any] = []
    reply: Any = None
    while True:
        try:
            step = plan.throw(reply) if isinstance(reply, BaseException) else plan.send(reply)
        except StopIteration as done:
            return done.value, steps
        steps.append(step)
        if isinstance(step, Call):
            reply = answer(step)
        elif isinstance(step, Parallel):
            results = []
            for sub in step.plans:
                result, sub_steps = drive(sub, answer)
                results.append(result)
                steps.extend(sub_steps)
            reply = results
        else:
            reply = None


@given(st.integers(1, 30), st.floats(0, 1))
def test_backoff_is_full_jitter_under_an_exponential_cap(attempt: int, draw: float) -> None:
    backoff = Backoff(base=0.05, cap=5.0, rand=lambda: draw)
    delay = backoff.delay(attempt)
    assert 0 <= delay <= min(5.0, 0.05 * 2 ** (attempt - 1))
    assert delay == pytest.approx(draw * min(5.0, 0.05 * 2 ** (attempt - 1)))


def test_unprocessed_items_are_resent_with_growing_backoff() -> None:
    batch = [_route("a.example.com", f"/p{n}") for n in range(5)]
    leftovers = iter([4, 3, 2, 1, 0])

    def answer(call: Call) -> Any:
        sent = call.params["RequestItems"][TABLE]
        left = next(leftovers)
        return {"UnprocessedItems": {TABLE: sent[len(sent) - left :]} if left else {}}

    written, steps = drive(write_batch_plan(TABLE, batch, Backoff(rand=lambda: 1.0)), answer)
    assert written == 5
    assert [s.seconds for s in steps if isinstance(s, Sleep)] == [0.05, 0.1, 0.2, 0.4]
    assert sum(s.count for s in steps if isinstance(s, Report)) == 5
    sizes = [len(s.params["RequestItems"][TABLE]) for s in steps if isinstance(s, Call)]
    assert sizes == [5, 4, 3, 2, 1]


def test_unprocessed_items_give_up_after_max_attempts() -> None:
    batch = [_route("a.example.com", "/x")]

    def answer(call: Call) -> Any:
        return {"UnprocessedItems": call.params["RequestItems"]}

    with pytest.raises(ThrottledError, match="left 1 items unprocessed"):
        drive(write_batch_plan(TABLE, batch, Backoff(max_attempts=3)), answer)


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 40), st.sampled_from("abc"))))
def test_import_writes_each_key_once_and_each_host_for_one_owner(
    lines: list[tuple[int, int, str]],
) -> None:
    routes = [_route(f"h{h}.example.com", f"/p{p}", f"env-{o}") for h, p, o in lines]

    def answer(call: Call) -> Any:
        if call.operation == "batch_get_item":
            return {"Responses": {}}
        return {}

    report, steps = drive(import_plan(TABLE, routes, Backoff(), 4), answer)
    written = [
        item["PutRequest"]["Item"]
        for s in steps
        if isinstance(s, Call) and s.operation == "batch_write_item"
        for item in s.params["RequestItems"][TABLE]
    ]
    keys_written = [(i["pk"]["S"], i["sk"]["S"]) for i in written]
    assert len(keys_written) == len(set(keys_written))
    owners: dict[str, set[str]] = {}
    for item in written:
        owners.setdefault(item["pk"]["S"], set()).add(item["owner"]["S"])
    assert all(len(o) == 1 for o in owners.values())
    assert report.written + len(report.refused) == len(routes)
    assert report.written == len(written)
    batches = [s for s in steps if isinstance(s, Call) and s.operation == "batch_write_item"]
    assert all(len(b.params["RequestItems"][TABLE]) <= BATCH_WRITE_LIMIT for b in batches)


def test_put_retries_transaction_conflicts_then_succeeds() -> None:
    replies: list[Any] = [
        TransactionConflictError("conflict", table=TABLE),
        TransactionConflictError("conflict", table=TABLE),
        {},
    ]
    result, steps = drive(
        put_route_plan(TABLE, _route("a.example.com", "/"), Backoff(rand=lambda: 1.0)),
        lambda call: replies.pop(0),
    )
    assert result.host == "a.example.com"
    assert [s.seconds for s in steps if isinstance(s, Sleep)] == [0.05, 0.1]


def test_put_names_the_owner_even_without_the_blocking_item() -> None:
    cancelled = TransactionCanceledError("cancelled", table=TABLE)
    cancelled.reasons = ["ConditionalCheckFailed", None]
    cancelled.items = [None, None]
    replies: list[Any] = [cancelled, {"Item": {"owner": {"S": "env-z"}}}]
    with pytest.raises(OwnershipError, match=r"host 'a\.example\.com' is owned by 'env-z'"):
        drive(
            put_route_plan(TABLE, _route("a.example.com", "/"), Backoff()),
            lambda call: replies.pop(0),
        )
