"""Host claims under real concurrency: threads racing against DynamoDB Local.

Claims are what keep one environment's routes out of another's hostname, so they are tested
where conditions and transactions behave as in DynamoDB (moto serialises everything).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import pytest

from routing_table.clients import dynamodb_client
from routing_table.core import keys
from routing_table.core.records import RouteRecord
from routing_table.errors import OwnershipError, RouteNotFoundError
from routing_table.schema import create_table
from routing_table.store.sync import RouteStore

pytestmark = pytest.mark.dynamodb_local
T = TypeVar("T")
WORKERS = 8


def _route(host: str, prefix: str, owner: str) -> RouteRecord:
    return RouteRecord(
        host=host,
        prefix=prefix,
        owner=owner,
        target="https://o.example.com",
        kind="custom",
        domain="o.example.com",
    )


@pytest.fixture
def store(dynamodb_local: str, table_name: str) -> RouteStore:
    client = dynamodb_client()
    create_table(client, table_name)
    return RouteStore(table_name, client=client)


def _race(jobs: Sequence[Callable[[], T]]) -> list[T | Exception]:
    """Run the jobs on threads released together by a barrier; return results or errors."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], T]) -> T | Exception:
        barrier.wait()
        try:
            return job()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def test_one_owner_wins_a_contested_host(store: RouteStore) -> None:
    for round_ in range(5):
        host = f"contested-{round_}.example.com"
        outcomes = _race(
            [partial(store.put_route, _route(host, f"/p{n}", f"env-{n}")) for n in range(WORKERS)]
        )
        winners = [o for o in outcomes if isinstance(o, RouteRecord)]
        losers = [o for o in outcomes if isinstance(o, OwnershipError)]
        assert len(winners) == 1, outcomes
        assert len(losers) == WORKERS - 1
        owner = winners[0].owner
        assert all(err.owner == owner for err in losers)
        assert [r.owner for r in store.list_by_host(host)] == [owner]


def test_claim_survives_a_put_racing_the_last_delete(store: RouteStore) -> None:
    """Deleting a host's last route while the same owner adds another must never leave a
    route without its claim (another environment could then take the host)."""
    host = "busy.example.com"
    for round_ in range(15):
        store.put_route(_route(host, "/old", "env-a"))
        outcomes = _race(
            [
                partial(store.delete_route, host, "/old", "env-a"),
                partial(store.put_route, _route(host, f"/new{round_}", "env-a")),
            ]
        )
        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
        claim = _claim_owner(store, host)
        routes = store.list_by_host(host)
        assert routes, "the new route must exist"
        assert claim == "env-a", f"round {round_}: route {routes} left without a claim"
        with pytest.raises(OwnershipError):
            store.put_route(_route(host, "/intruder", "env-b"))
        for r in routes:
            store.delete_route(host, r.prefix, "env-a")
        assert _claim_owner(store, host) is None


def test_claim_survives_a_put_landing_between_count_and_release(store: RouteStore) -> None:
    """The same race, made deterministic: a second writer's put is run exactly when the
    deleting store is about to delete the claim (after it counted no routes left)."""
    host = "window.example.com"
    store.put_route(_route(host, "/old", "env-a"))
    other = RouteStore(store.table, client=dynamodb_client())
    claim_pk, claim_sk = keys.host_claim_key(host)

    def put_in_the_window(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") == {"pk": {"S": claim_pk}, "sk": {"S": claim_sk}}:
            other.put_route(_route(host, "/new", "env-a"))

    store.client.meta.events.register(
        "before-parameter-build.dynamodb.DeleteItem", put_in_the_window
    )
    try:
        store.delete_route(host, "/old", "env-a")
    finally:
        store.client.meta.events.unregister(
            "before-parameter-build.dynamodb.DeleteItem", put_in_the_window
        )
    assert [r.prefix for r in store.list_by_host(host)] == ["/new"]
    assert _claim_owner(store, host) == "env-a"


def test_concurrent_deletes_of_one_route_delete_it_once(store: RouteStore) -> None:
    store.put_route(_route("d.example.com", "/x", "env-a"))
    outcomes = _race([lambda: store.delete_route("d.example.com", "/x", "env-a")] * WORKERS)
    assert sum(isinstance(o, RouteRecord) for o in outcomes) == 1
    assert sum(isinstance(o, RouteNotFoundError) for o in outcomes) == WORKERS - 1


def _claim_owner(store: RouteStore, host: str) -> str | None:
    pk, sk = keys.host_claim_key(host)
    item: dict[str, Any] = store.client.get_item(
        TableName=store.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    ).get("Item", {})
    owner = item.get("owner", {}).get("S")
    return str(owner) if owner else None
