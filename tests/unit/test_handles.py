"""Handle rules (pure) and the pool plans driven by scripted replies, without any server."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostnames.handles import (
    HANDLE_ALPHABET,
    MAX_HANDLE_LENGTH,
    RANDOM_HANDLE_LENGTH,
    cooldown_cutoff,
    format_timestamp,
    normalize_handle,
    numbered_handles,
    random_handle,
    validate_pool_name,
)
from hostnames.names import is_valid_label
from hostnames.pool_plan import PlanContext, Tuning, allocate, release
from routing_table.core import keys
from routing_table.core.keys import validate_env_id
from routing_table.errors import (
    ConditionFailedError,
    EdgeRouterError,
    HandleContentionError,
    HandlePoolExhaustedError,
    HandleReleaseBlockedError,
    InvalidHandleError,
    InvalidInputError,
    TransactionCanceledError,
)
from routing_table.store.base import Call, Plan, Sleep

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
utc_datetimes = st.datetimes(
    min_value=dt.datetime(2000, 1, 1),
    max_value=dt.datetime(2999, 12, 31),
    timezones=st.just(dt.UTC),
)


# ------------------------------------------------------------------ rules


@given(st.randoms(use_true_random=False))
def test_random_handles_are_seven_lowercase_alphanumerics(rnd: random.Random) -> None:
    handle = random_handle(rnd.choice)
    assert len(handle) == RANDOM_HANDLE_LENGTH
    assert set(handle) <= set(HANDLE_ALPHABET)
    assert is_valid_label(handle)


def test_random_handles_come_from_secrets_by_default() -> None:
    drawn = {random_handle() for _ in range(200)}
    assert len(drawn) == 200  # 36^7 names: a repeat here would mean a broken source


@given(st.text(max_size=40))
def test_normalized_handles_are_short_labels_and_stable(text: str) -> None:
    try:
        handle = normalize_handle(text)
    except InvalidHandleError:
        return
    assert is_valid_label(handle)
    assert "--" not in handle
    assert len(handle) <= MAX_HANDLE_LENGTH
    assert normalize_handle(handle) == handle


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("team_1", "not a DNS label"),
        ("-team", "not a DNS label"),
        ("te--am", "not a DNS label"),
        ("x" * 33, "at most 32"),
    ],
)
def test_bad_handles(name: str, message: str) -> None:
    with pytest.raises(InvalidHandleError, match=message):
        normalize_handle(name)


def test_numbered_handles() -> None:
    assert numbered_handles("Team", 3) == ["team1", "team2", "team3"]
    assert numbered_handles("qa-", 2, start=9) == ["qa-9", "qa-10"]
    with pytest.raises(InvalidInputError, match="count must be between"):
        numbered_handles("team", 0)
    with pytest.raises(InvalidHandleError):
        numbered_handles("bad_", 2)


@pytest.mark.parametrize("pool", ["", "a#b", "with space", "-x", "x" * 65])
def test_bad_pool_names(pool: str) -> None:
    with pytest.raises(InvalidHandleError, match="pool name"):
        validate_pool_name(pool)


@pytest.mark.parametrize("env_id", ["", " padded", "a#b", "-lead", "x" * 129, "a b"])
def test_bad_env_ids(env_id: str) -> None:
    with pytest.raises(InvalidInputError, match="environment id"):
        validate_env_id(env_id)


@given(utc_datetimes, utc_datetimes)
def test_timestamps_sort_as_text_in_time_order(a: dt.datetime, b: dt.datetime) -> None:
    ta, tb = format_timestamp(a), format_timestamp(b)
    assert (ta < tb) == (a < b)
    assert len(ta) == len(tb)


@given(utc_datetimes, st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True))
def test_fresh_handles_sort_before_released_ones(moment: dt.datetime, handle: str) -> None:
    assert keys.free_list_sk("", handle) < keys.free_list_sk(format_timestamp(moment), "a")


def test_cooldown_cutoff_and_naive_clock() -> None:
    assert cooldown_cutoff(T0, 3600) == "2024-05-01T11:00:00.000000Z"
    with pytest.raises(InvalidInputError, match="naive"):
        format_timestamp(dt.datetime(2024, 1, 1))


# ------------------------------------------------------------------ plans, scripted

Responder = Callable[[Call], Any]


def drive(plan: Plan[Any], respond: Responder) -> tuple[Any, list[Call]]:
    """Run a plan against a function that answers (or raises for) each call."""
    calls: list[Call] = []
    reply: Any = None
    error: EdgeRouterError | None = None
    while True:
        try:
            step = plan.throw(error) if error is not None else plan.send(reply)
        except StopIteration as done:
            return done.value, calls
        reply, error = None, None
        if isinstance(step, Sleep):
            continue
        assert isinstance(step, Call)
        calls.append(step)
        try:
            reply = respond(step)
        except EdgeRouterError as exc:
            error = exc


def _failed(item: dict[str, Any] | None) -> ConditionFailedError:
    exc = ConditionFailedError("condition failed", table="t")
    exc.item = item
    return exc


def _items(*handles: str) -> dict[str, Any]:
    return {"Items": [{"handle": {"S": h}} for h in handles]}


def _ctx(**tuning: Any) -> PlanContext:
    return PlanContext("t", clock=lambda: T0, rng=random.Random(3), tuning=Tuning(**tuning))


def pool_responder(free: list[str], taken: set[str]) -> Responder:
    """Serves a stale free list (``free`` never shrinks) and refuses handles in ``taken``."""

    def respond(call: Call) -> Any:
        params = call.params
        if call.operation == "get_item":
            return {}
        if call.operation == "query" and params.get("IndexName") == keys.GSI_BY_OWNER:
            return {"Items": []}
        if call.operation == "query" and params.get("Select") == "COUNT":
            return {"Count": len(free)}
        if call.operation == "query":
            return _items(*free[: params["Limit"]])
        if call.operation == "update_item":
            handle = params["Key"]["sk"]["S"].removeprefix("HANDLE#")
            if handle in taken:
                raise _failed({"env_id": {"S": "someone-else"}})
            return {}
        raise AssertionError(call)

    return respond


def test_plan_takes_the_head_when_uncontended() -> None:
    result, calls = drive(allocate(_ctx(), "p", "e1"), pool_responder(["a", "b", "c"], set()))
    assert (result.handle, result.conflicts) == ("a", 0)
    update = next(c for c in calls if c.operation == "update_item")
    assert "attribute_not_exists(env_id)" in update.params["ConditionExpression"]
    assert "REMOVE gsi2pk, gsi2sk" in update.params["UpdateExpression"]


def test_plan_never_retries_a_handle_it_lost_even_if_the_index_is_stale() -> None:
    free = [f"h{n}" for n in range(12)]
    taken = set(free[:7])
    result, calls = drive(allocate(_ctx(), "p", "e1"), pool_responder(free, taken))
    tried = [c.params["Key"]["sk"]["S"] for c in calls if c.operation == "update_item"]
    assert len(tried) == len(set(tried))
    assert result.handle not in taken
    assert result.conflicts == len(tried) - 1


def test_plan_reports_exhaustion_when_every_candidate_is_lost() -> None:
    respond = pool_responder(["a", "b"], {"a", "b"})
    with pytest.raises(HandlePoolExhaustedError, match=r"exhausted \(all 2 handles"):
        drive(allocate(_ctx(), "p", "e1"), respond)


def test_plan_gives_up_after_its_attempt_bound() -> None:
    free = [f"h{n}" for n in range(50)]
    with pytest.raises(HandleContentionError, match="after 5 attempts"):
        drive(allocate(_ctx(max_attempts=5), "p", "e1"), pool_responder(free, set(free)))


def test_plan_cooldown_is_a_sort_key_upper_bound() -> None:
    def respond(call: Call) -> Any:
        if call.operation == "get_item":
            return {"Item": {"cooldown_seconds": {"N": "60"}}}
        return pool_responder(["a"], set())(call)

    _, calls = drive(allocate(_ctx(), "p", "e1"), respond)
    free_query = next(c for c in calls if c.params.get("IndexName") == keys.GSI_BY_LIST)
    assert free_query.params["KeyConditionExpression"] == "gsi2pk = :f AND gsi2sk <= :u"
    assert free_query.params["ExpressionAttributeValues"][":u"] == {
        "S": "2024-05-01T11:59:00.000000Z#~"
    }


def test_release_with_checks_is_one_transaction_and_names_the_blocker() -> None:
    claim = keys.host_claim_key("api-a-x.example.com")

    def respond(call: Call) -> Any:
        assert call.operation == "transact_write_items"
        items = call.params["TransactItems"]
        assert [next(iter(i)) for i in items] == ["ConditionCheck", "Update"]
        exc = TransactionCanceledError("cancelled", table="t")
        exc.reasons = ["ConditionalCheckFailed", None]
        raise exc

    plan = release(_ctx(), "p", "e1", require_absent=[claim], handle="a")
    with pytest.raises(HandleReleaseBlockedError, match=re.escape("ROUTE#api-a-x.example.com")):
        drive(plan, respond)


def test_explicit_claim_recognises_its_holder_even_when_the_index_lags() -> None:
    def respond(call: Call) -> Any:
        if call.operation == "query":
            return {"Items": []}  # the owner index has not caught up with our earlier claim
        raise _failed({"env_id": {"S": "e1"}, "handle": {"S": "a"}})

    result, calls = drive(allocate(_ctx(), "p", "e1", handle="a"), respond)
    assert (result.handle, result.source) == ("a", "existing")
    assert [c.operation for c in calls] == ["query", "update_item"]
