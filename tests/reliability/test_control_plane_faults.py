"""The control plane under DynamoDB faults: it retries to completion with bounded backoff and
writes nothing twice, or gives up with the project's error after a bounded number of tries.

Faults are injected at botocore's HTTP layer (event hooks) in front of DynamoDB Local, so the
SDK's real error parsing and retry policy run. Pauses are recorded, never slept: botocore's
(``BotocoreSleeps``) and the store's own (its injected ``sleep``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.endpoint
import pytest

from routing_table.clients import CONTROL_PLANE, dynamodb_client
from routing_table.core import keys
from routing_table.core.records import RouteRecord
from routing_table.errors import (
    OwnershipError,
    ThrottledError,
    TransactionConflictError,
)
from routing_table.lifecycle import Environments
from routing_table.schema import create_table
from routing_table.store.base import TRANSACT_RETRIES, Backoff
from routing_table.store.sync import RouteStore

from .faults import (
    INTERNAL,
    THROTTLED,
    UNAVAILABLE,
    BotocoreSleeps,
    FailFirst,
    LoseReply,
    PartialBatch,
    conflict_reasons,
)

pytestmark = pytest.mark.dynamodb_local

HOST = "api-faults-portal.example.com"


class Sleeps:
    """The store's injected sleep: records each backoff."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def botocore_sleeps(monkeypatch: pytest.MonkeyPatch) -> BotocoreSleeps:
    sleeps = BotocoreSleeps()
    monkeypatch.setattr(botocore.endpoint, "time", sleeps)
    return sleeps


@pytest.fixture
def client(dynamodb_local: str) -> Any:
    return dynamodb_client(region_name="us-east-1")


@pytest.fixture
def table(client: Any) -> Iterator[str]:
    name = f"cp-faults-{uuid.uuid4().hex[:10]}"
    create_table(client, name, poll_interval=0.05)
    yield name
    client.delete_table(TableName=name)


def route(host: str = HOST, prefix: str = "/", owner: str = "env-1") -> RouteRecord:
    domain = f"alb-{owner}.example.com"
    return RouteRecord(host, prefix, owner, f"https://{domain}", "custom", domain=domain)


def all_items(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items.extend(page["Items"])
    return items


def claim_generation(client: Any, table: str, host: str) -> int | None:
    pk, sk = keys.host_claim_key(host)
    item = client.get_item(
        TableName=table,
        Key={keys.TABLE_PK: {"S": pk}, keys.TABLE_SK: {"S": sk}},
        ConsistentRead=True,
    ).get("Item")
    return None if item is None else int(item["generation"]["N"])


def botocore_bound(retries: int) -> float:
    """The most botocore's standard mode may pause over ``retries`` retries (full jitter,
    2^(n-1) s capped at 20 s)."""
    return sum(min(2.0 ** (n - 1), 20.0) for n in range(1, retries + 1))


# -- transient errors: retried by the SDK, bounded, written once ------------------------------


@pytest.mark.parametrize(
    "fault", [THROTTLED, INTERNAL, UNAVAILABLE], ids=["throttled", "500", "503"]
)
def test_transient_errors_are_retried_to_completion_and_write_once(
    client: Any, table: str, botocore_sleeps: BotocoreSleeps, fault: tuple[int, str]
) -> None:
    failures = CONTROL_PLANE.max_attempts - 1  # the last attempt is the one that lands
    hook = FailFirst(*fault, times=failures)
    client.meta.events.register("before-send.dynamodb.TransactWriteItems", hook)
    RouteStore(table, client=client).put_route(route())
    assert hook.sends == failures + 1
    assert len(botocore_sleeps.delays) == failures
    assert sum(botocore_sleeps.delays) <= botocore_bound(failures)
    assert claim_generation(client, table, HOST) == 1
    assert len(all_items(client, table)) == 2  # one claim, one route


def test_endless_throttling_gives_up_with_context_and_writes_nothing(
    client: Any, table: str, botocore_sleeps: BotocoreSleeps
) -> None:
    hook = FailFirst(*THROTTLED, times=None)
    client.meta.events.register("before-send.dynamodb.TransactWriteItems", hook)
    with pytest.raises(ThrottledError) as caught:
        RouteStore(table, client=client).put_route(route())
    assert caught.value.table == table
    assert caught.value.key == keys.route_key(HOST, "/")
    assert hook.sends == CONTROL_PLANE.max_attempts
    assert sum(botocore_sleeps.delays) <= botocore_bound(CONTROL_PLANE.max_attempts - 1)
    assert all_items(client, table) == []


# -- a write that landed but whose reply was lost ---------------------------------------------


def test_lost_transaction_reply_is_retried_idempotently(
    client: Any, table: str, botocore_sleeps: BotocoreSleeps
) -> None:
    """The retry reuses botocore's ClientRequestToken: the claim's generation counter, bumped by
    every applied put, shows the transaction applied once."""
    lose = LoseReply(times=1)
    client.meta.events.register("before-send.dynamodb.TransactWriteItems", lose)
    RouteStore(table, client=client).put_route(route())
    assert lose.sends == 2
    assert claim_generation(client, table, HOST) == 1


def test_lost_batch_write_reply_during_import_lands_each_route_once(
    client: Any, table: str, botocore_sleeps: BotocoreSleeps
) -> None:
    lose = LoseReply(times=2)
    client.meta.events.register("before-send.dynamodb.BatchWriteItem", lose)
    routes = [route(prefix=f"/svc-{n}") for n in range(60)]
    report = RouteStore(table, client=client, concurrency=1).import_routes(routes)
    assert report.written == 60
    assert report.refused == []
    items = all_items(client, table)
    route_keys = [(i[keys.TABLE_PK]["S"], i[keys.TABLE_SK]["S"]) for i in items]
    assert len(route_keys) == len(set(route_keys)) == 61  # 60 routes + one host claim
    assert claim_generation(client, table, HOST) == 1


@pytest.mark.parametrize("operation", ["PutItem", "TransactWriteItems"])  # what creation writes
def test_environment_create_survives_lost_replies_without_double_allocation(
    client: Any, table: str, botocore_sleeps: BotocoreSleeps, operation: str
) -> None:
    """Every write of ``operation`` during an environment's creation lands but loses its first
    reply. A conditional create retried after its own write must not be mistaken for a lost race
    (which would allocate a second handle or leave an orphan)."""
    lose = LoseReply(times=1)
    client.meta.events.register(f"before-send.dynamodb.{operation}", lose)
    envs = Environments(table, client=client, resolver=_Resolver(), sleep=lambda _: None)
    env = envs.create(
        "pr-7", app="portal", domain="example.com", services={"api": "https://api.internal"}
    )
    assert lose.lost == 1, f"creation made no {operation} call to lose"
    assert env.handle is not None
    again = Environments(table, client=dynamodb_client(region_name="us-east-1")).get("pr-7")
    assert again == env
    items = all_items(client, table)
    owned_hosts = {
        i["host"]["S"] for i in items if i.get("owner", {}).get("S") == "pr-7" and "host" in i
    }
    assert owned_hosts == set(env.hostnames.values())
    # The table is fresh: every handle claim in it was made by this creation.
    claims = [i for i in items if i[keys.TABLE_PK]["S"].startswith(keys.HANDLE_CLAIM_PREFIX)]
    assert [(i[keys.TABLE_PK]["S"], i[keys.TABLE_SK]["S"], i["env_id"]["S"]) for i in claims] == [
        (*keys.handle_claim_key(env.handle), "pr-7")
    ], "exactly one handle, the environment's own"


class _Resolver:
    def alb_dns_name(self, arn: str, region: str) -> str:
        return "alb.example.com"

    def bucket_region(self, bucket: str) -> str:
        return "us-east-1"


# -- partial batches: the store's own bounded backoff ------------------------------------------


def test_unprocessed_items_are_resent_with_bounded_backoff(client: Any, table: str) -> None:
    partial = PartialBatch(keep=10, times=None).install(client, "BatchWriteItem")
    sleeps = Sleeps()
    store = RouteStore(table, client=client, sleep=sleeps, concurrency=2)
    report = store.import_routes([route(prefix=f"/p{n}") for n in range(100)])
    assert report.written == 100
    assert partial.withheld_total > 0
    assert len(all_items(client, table)) == 101
    cap = Backoff().cap
    assert sleeps.delays
    assert all(0 <= d <= cap for d in sleeps.delays)


def test_unprocessed_items_forever_gives_up_after_max_attempts(client: Any, table: str) -> None:
    # One item per call: a batch of 25 needs more calls than the backoff allows.
    PartialBatch(keep=1, times=None).install(client, "BatchWriteItem")
    sleeps = Sleeps()
    store = RouteStore(table, client=client, sleep=sleeps, concurrency=1)
    with pytest.raises(ThrottledError, match="unprocessed"):
        store.import_routes([route(prefix=f"/p{n}") for n in range(25)])
    backoff = Backoff()
    assert len(sleeps.delays) == backoff.max_attempts - 1
    assert sum(sleeps.delays) <= sum(backoff.delay(n) for n in range(1, backoff.max_attempts))


def test_unprocessed_keys_are_refetched_by_lookup(client: Any, table: str) -> None:
    store = RouteStore(table, client=client, sleep=Sleeps())
    store.put_route(route(prefix="/a"))
    PartialBatch(keep=1, times=2).install(client, "BatchGetItem")
    found = store.lookup(HOST, "/a/b/c/d")
    assert found.route is not None
    assert found.route.prefix == "/a"
    assert found.round_trips == 3


# -- transaction conflicts --------------------------------------------------------------------


def _conflicts(times: int | None) -> FailFirst:
    return FailFirst(400, "TransactionCanceledException", times=times, extra=conflict_reasons(2))


def test_transaction_conflicts_are_retried_with_backoff_and_write_once(
    client: Any, table: str, botocore_sleeps: BotocoreSleeps
) -> None:
    hook = _conflicts(times=2)
    client.meta.events.register("before-send.dynamodb.TransactWriteItems", hook)
    sleeps = Sleeps()
    RouteStore(table, client=client, sleep=sleeps, rand=lambda: 1.0).put_route(route())
    assert hook.failed == 2
    assert sleeps.delays == [Backoff().delay(1), Backoff().delay(2)]
    assert claim_generation(client, table, HOST) == 1


def test_endless_conflicts_give_up_after_bounded_retries(
    client: Any, table: str, botocore_sleeps: BotocoreSleeps
) -> None:
    client.meta.events.register("before-send.dynamodb.TransactWriteItems", _conflicts(None))
    sleeps = Sleeps()
    with pytest.raises(TransactionConflictError):
        RouteStore(table, client=client, sleep=sleeps).put_route(route())
    assert len(sleeps.delays) == TRANSACT_RETRIES - 1
    assert all_items(client, table) == []


# -- conditional-check races (real threads) ---------------------------------------------------


@pytest.mark.slow
def test_racing_owners_for_one_host_leave_exactly_one_owner(client: Any, table: str) -> None:
    owners = [f"env-{n}" for n in range(8)]
    for round_no in range(4):
        host = f"race-{round_no}-portal.example.com"
        barrier = threading.Barrier(len(owners))
        results: dict[str, object] = {}

        def claim(
            owner: str,
            host: str = host,
            barrier: threading.Barrier = barrier,
            results: dict[str, object] = results,
        ) -> None:
            store = RouteStore(table, client=client)
            barrier.wait()
            try:
                results[owner] = store.put_route(route(host, f"/{owner}", owner))
            except OwnershipError as exc:
                results[owner] = exc

        threads = [threading.Thread(target=claim, args=(o,)) for o in owners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        winners = [o for o, r in results.items() if isinstance(r, RouteRecord)]
        assert len(results) == len(owners)
        assert len(winners) == 1, results
        routes = RouteStore(table, client=client).list_by_host(host)
        assert {r.owner for r in routes} == set(winners)
