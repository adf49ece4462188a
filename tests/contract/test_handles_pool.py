"""Contract of handle pools and handle claims: moto and DynamoDB Local, sync and async shells.

One suite, four runs: ``ddb_backend`` picks the server, ``api`` the shell. The async shell is
driven through a small adapter that opens an aioboto3 client per call, so every test below
exercises both shells unchanged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hostnames.handles import HANDLE_ALPHABET, RANDOM_HANDLE_LENGTH
from hostnames.pool_aio import open_pool
from hostnames.pool_plan import Tuning
from hostnames.pool_sync import HandlePool
from routing_table.clients import dynamodb_client
from routing_table.core import keys
from routing_table.errors import (
    HandleError,
    HandleNotInPoolError,
    HandlePoolExhaustedError,
    HandleReleaseBlockedError,
    HandleTakenError,
    InvalidHandleError,
)
from routing_table.schema import create_table

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


class FakeClock:
    """A clock tests move by hand (never sleep to wait for a cooldown)."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class Scripted:
    """A ``secrets.choice`` stand-in that spells out given handles, then falls back to random."""

    def __init__(self, *handles: str) -> None:
        self._chars = list("".join(handles))
        self._rng = random.Random(7)

    def __call__(self, alphabet: str) -> str:
        return self._chars.pop(0) if self._chars else self._rng.choice(alphabet)


class AsyncAdapter:
    """Calls the async shell's methods from sync tests, one client per call."""

    def __init__(self, table: str, **options: Any) -> None:
        self._table = table
        self._options = options

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def invoke(*args: Any, **kwargs: Any) -> Any:
            async def go() -> Any:
                async with open_pool(self._table, **self._options) as pool:
                    return await getattr(pool, name)(*args, **kwargs)

            return asyncio.run(go())

        return invoke


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def chooser() -> Scripted:
    return Scripted()


@pytest.fixture
def client(ddb_backend: str, table_name: str) -> Any:
    made = dynamodb_client()
    create_table(made, table_name, poll_interval=0.05)
    return made


@pytest.fixture(params=["sync", "async"])
def api(
    request: pytest.FixtureRequest,
    client: Any,
    table_name: str,
    clock: FakeClock,
    chooser: Scripted,
) -> Iterator[Any]:
    options: dict[str, Any] = {
        "clock": clock,
        "rng": random.Random(1),
        "choice": chooser,
        "tuning": Tuning(backoff_base=0.0),
    }
    if request.param == "sync":
        yield HandlePool(table_name, client=client, sleep=lambda _s: None, **options)
    else:
        yield AsyncAdapter(table_name, **options)


def _holders(client: Any, table: str, pool: str) -> dict[str, str | None]:
    """handle -> env, read straight from the table (the truth, not the shell's view)."""
    reply = client.query(
        TableName=table,
        KeyConditionExpression="pk = :p AND begins_with(sk, :h)",
        ExpressionAttributeValues={":p": {"S": f"POOL#{pool}"}, ":h": {"S": "HANDLE#"}},
        ConsistentRead=True,
    )
    return {i["handle"]["S"]: i.get("env_id", {}).get("S") for i in reply["Items"]}


def test_add_lists_free_handles_and_ignores_existing(api: Any) -> None:
    first = api.add("teams", ["team2", "Team1"])
    again = api.add("teams", ["team1", "team3"])
    rows = api.list_handles("teams")
    assert first.added == ["team2", "team1"]
    assert again.added == ["team3"]
    assert again.existing == ["team1"]
    assert [(r.handle, r.env_id, r.state) for r in rows] == [
        ("team1", None, "free"),
        ("team2", None, "free"),
        ("team3", None, "free"),
    ]
    assert rows[0].as_json()["env_id"] is None


def test_invalid_handle_is_refused_before_any_write(api: Any) -> None:
    with pytest.raises(InvalidHandleError, match="not a DNS label"):
        api.add("teams", ["ok1", "bad_name!"])
    assert api.list_handles("teams") == []


def test_allocation_is_idempotent_and_listed(api: Any, clock: FakeClock) -> None:
    api.add("teams", ["alpha", "beta"])
    first = api.allocate("teams", "env-1")
    again = api.allocate("teams", "env-1")
    assert (first.handle, first.source) == ("alpha", "pool")
    assert (again.handle, again.source) == ("alpha", "existing")
    row = next(r for r in api.list_handles("teams") if r.handle == "alpha")
    assert (row.env_id, row.state, row.since) == ("env-1", "held", "2024-05-01T12:00:00.000000Z")


def test_exhaustion_says_exhausted_with_pool_size(api: Any) -> None:
    api.add("teams", ["alpha"])
    api.allocate("teams", "env-1")
    with pytest.raises(HandlePoolExhaustedError, match=r"'teams' is exhausted \(all 1 handles"):
        api.allocate("teams", "env-2")


def test_empty_pool_is_exhausted_and_says_how_to_fill_it(api: Any) -> None:
    with pytest.raises(HandlePoolExhaustedError, match=r"exhausted.*handles add"):
        api.allocate("nothing-here", "env-1")


def test_reuse_order_is_least_recently_released_first(api: Any, clock: FakeClock) -> None:
    api.add("teams", ["a", "b", "c", "d"])
    for env in ("e1", "e2", "e3"):
        api.allocate("teams", env)  # a, b, c: name order while fresh
    clock.advance(10)
    api.release("teams", "e3", require_absent=())  # c released first
    clock.advance(10)
    api.release("teams", "e1", require_absent=())  # then a
    order = [api.allocate("teams", env).handle for env in ("n1", "n2", "n3")]
    assert order == ["d", "c", "a"]  # never used, then oldest release, then newest


def test_cooldown_keeps_released_handle_out_until_it_passes(api: Any, clock: FakeClock) -> None:
    api.add("teams", ["a"])
    settings = api.configure("teams", cooldown_seconds=3600)
    assert settings.cooldown_seconds == 3600
    api.allocate("teams", "e1")
    api.release("teams", "e1", require_absent=())
    clock.advance(3599)
    assert [r.state for r in api.list_handles("teams")] == ["cooling"]
    with pytest.raises(HandlePoolExhaustedError, match="exhausted"):
        api.allocate("teams", "e2")
    clock.advance(1)
    assert api.allocate("teams", "e2").handle == "a"


def test_fallback_random_when_exhausted(api: Any, chooser: Scripted) -> None:
    api.add("teams", ["a"])
    api.configure("teams", fallback_random=True)
    api.allocate("teams", "e1")
    got = api.allocate("teams", "e2")
    again = api.allocate("teams", "e2")
    assert got.source == "random"
    assert got.pool is None
    assert len(got.handle) == RANDOM_HANDLE_LENGTH
    assert set(got.handle) <= set(HANDLE_ALPHABET)
    assert (again.handle, again.source) == (got.handle, "existing")
    assert api.settings("teams").fallback_random is True


def test_explicit_handle_taken_refused_without_touching_holder(
    api: Any, client: Any, table_name: str
) -> None:
    api.add("teams", ["a", "b"])
    api.allocate("teams", "holder", handle="b")
    with pytest.raises(HandleTakenError, match="'b' in pool 'teams' is held by environment"):
        api.allocate("teams", "intruder", handle="b")
    with pytest.raises(HandleNotInPoolError, match="'zzz' is not in pool"):
        api.allocate("teams", "intruder", handle="zzz")
    assert _holders(client, table_name, "teams") == {"a": None, "b": "holder"}
    assert api.allocate("teams", "holder", handle="b").source == "existing"
    with pytest.raises(HandleError, match="already holds handle 'b'"):
        api.allocate("teams", "holder", handle="a")


def test_release_twice_and_by_strangers_is_harmless(api: Any, client: Any, table_name: str) -> None:
    api.add("teams", ["a"])
    api.allocate("teams", "e1")
    assert api.release("teams", "stranger", require_absent=(), handle="a").released is False
    assert _holders(client, table_name, "teams") == {"a": "e1"}
    assert api.release("teams", "e1", require_absent=()).released is True
    assert api.release("teams", "e1", require_absent=()).released is False
    api.allocate("teams", "e2")
    assert api.release("teams", "e1", require_absent=(), handle="a").released is False
    assert _holders(client, table_name, "teams") == {"a": "e2"}


def test_release_waits_for_routes_to_be_gone(api: Any, client: Any, table_name: str) -> None:
    api.add("teams", ["a"])
    api.allocate("teams", "e1")
    claim = keys.host_claim_key("api-a-portal.example.com")
    client.put_item(
        TableName=table_name,
        Item={"pk": {"S": claim[0]}, "sk": {"S": claim[1]}, "owner": {"S": "e1"}},
    )
    with pytest.raises(HandleReleaseBlockedError, match="delete the environment's routes first"):
        api.release("teams", "e1", require_absent=[claim])
    assert _holders(client, table_name, "teams") == {"a": "e1"}
    client.delete_item(TableName=table_name, Key={"pk": {"S": claim[0]}, "sk": {"S": claim[1]}})
    assert api.release("teams", "e1", require_absent=[claim]).released is True
    assert api.release("teams", "e1", require_absent=[claim], handle="a").released is False


def test_remove_only_free_handles(api: Any, client: Any, table_name: str) -> None:
    api.add("teams", ["a", "b"])
    api.allocate("teams", "e1", handle="b")
    result = api.remove("teams", ["a", "b", "ghost"])
    assert result.removed == ["a"]
    assert result.held == {"b": "e1"}
    assert result.missing == ["ghost"]
    assert _holders(client, table_name, "teams") == {"b": "e1"}


def test_random_claim_draws_again_on_collision(api: Any, chooser: Scripted) -> None:
    chooser._chars = list("aaaaaaa" + "aaaaaaa" + "bbbbbbb")
    first = api.claim_random("e1")
    second = api.claim_random("e2")
    assert (first.handle, first.conflicts) == ("aaaaaaa", 0)
    assert (second.handle, second.conflicts) == ("bbbbbbb", 1)
    assert api.claim_random("e1").handle == "aaaaaaa"  # idempotent


def test_explicit_claim_outside_pools(api: Any) -> None:
    assert api.claim_handle("e1", "demo").source == "explicit"
    with pytest.raises(HandleTakenError, match="held by environment 'e1'"):
        api.claim_handle("e2", "demo")
    assert api.release_claim("e2", require_absent=(), handle="demo").released is False
    assert api.release_claim("e1", require_absent=()).released is True
    assert api.claim_handle("e2", "demo").source == "explicit"
