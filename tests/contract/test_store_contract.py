"""The store's contract: the same assertions for sync and async, moto and DynamoDB Local."""

from __future__ import annotations

from typing import Any

import pytest

from routing_table.core import keys
from routing_table.core.records import RouteRecord
from routing_table.errors import OwnershipError, RouteNotFoundError, SchemaMismatchError
from tests.contract.harness import ForcedLeftovers, Shell, route

# --- table ------------------------------------------------------------------------------------


def test_create_table_is_idempotent(shell: Shell) -> None:
    again = shell.create_table()
    assert again.created is False
    assert again.status == "ACTIVE"
    assert set(again.indexes) == {keys.GSI_BY_OWNER, keys.GSI_BY_LIST}
    assert shell.calls == ["DescribeTable"]


def test_create_table_refuses_a_table_with_another_schema(shell: Shell) -> None:
    other = Shell(shell.kind, shell.table + "-other")
    try:
        other._do(
            other.client.create_table(
                TableName=other.table,
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
        )
        with pytest.raises(SchemaMismatchError, match="primary key is"):
            other.create_table()
    finally:
        other.close()


# --- put / get / delete -----------------------------------------------------------------------


def test_put_then_get_round_trips(shell: Shell) -> None:
    put = shell.put_route(route("App.Example.com", "/api/", strip_prefix=True))
    assert (put.host, put.prefix) == ("app.example.com", "/api")
    assert put.updated_at.endswith("Z")
    assert shell.get_route("app.example.com", "/api") == put
    assert shell.get_route("app.example.com", "/other") is None


def test_put_replaces_own_route(shell: Shell) -> None:
    shell.put_route(route("a.example.com", "/", domain="one.example.com"))
    shell.put_route(route("a.example.com", "/", domain="two.example.com"))
    got = shell.get_route("a.example.com", "/")
    assert got is not None
    assert got.domain == "two.example.com"


def test_another_owner_cannot_take_a_claimed_host(shell: Shell) -> None:
    shell.put_route(route("a.example.com", "/api", owner="env-a"))
    with pytest.raises(OwnershipError, match="owned by 'env-a'") as err:
        shell.put_route(route("a.example.com", "/web", owner="env-b"))
    assert err.value.owner == "env-a"
    assert err.value.requested_by == "env-b"
    assert err.value.table == shell.table
    assert shell.get_route("a.example.com", "/web") is None


def test_another_owner_cannot_overwrite_or_delete_a_route(shell: Shell) -> None:
    original = shell.put_route(route("a.example.com", "/api", owner="env-a"))
    with pytest.raises(OwnershipError) as err:
        shell.put_route(route("a.example.com", "/api", owner="env-b", domain="evil.example.com"))
    assert err.value.owner == "env-a"
    with pytest.raises(OwnershipError, match="owned by 'env-a', not 'env-b'"):
        shell.delete_route("a.example.com", "/api", "env-b")
    assert shell.get_route("a.example.com", "/api") == original


def test_delete_missing_route_is_not_found(shell: Shell) -> None:
    with pytest.raises(RouteNotFoundError, match=r"no route for host 'a\.example\.com'"):
        shell.delete_route("a.example.com", "/nope", "env-a")


def test_deleting_the_last_route_releases_the_host(shell: Shell) -> None:
    shell.put_route(route("a.example.com", "/one", owner="env-a"))
    shell.put_route(route("a.example.com", "/two", owner="env-a"))
    shell.delete_route("a.example.com", "/one", "env-a")
    # One route left: the host is still env-a's.
    with pytest.raises(OwnershipError):
        shell.put_route(route("a.example.com", "/three", owner="env-b"))
    deleted = shell.delete_route("a.example.com", "/two", "env-a")
    assert deleted.prefix == "/two"
    # Released: another environment may take the host now.
    shell.put_route(route("a.example.com", "/", owner="env-b"))
    assert [r.owner for r in shell.list_by_host("a.example.com")] == ["env-b"]


# --- listing ----------------------------------------------------------------------------------


def test_list_by_host_and_by_owner(shell: Shell) -> None:
    for prefix in ("/b", "/a", "/"):
        shell.put_route(route("a.example.com", prefix, owner="env-a"))
    shell.put_route(route("b.example.com", "/x", owner="env-a"))
    shell.put_route(route("c.example.com", "/", owner="env-c"))
    assert [r.prefix for r in shell.list_by_host("A.example.com")] == ["/", "/a", "/b"]
    owned = shell.list_by_owner("env-a")
    assert sorted((r.host, r.prefix) for r in owned) == [
        ("a.example.com", "/"),
        ("a.example.com", "/a"),
        ("a.example.com", "/b"),
        ("b.example.com", "/x"),
    ]
    assert shell.list_by_owner("env-nobody") == []


# --- lookup -----------------------------------------------------------------------------------


def test_lookup_prefers_longest_prefix_then_exact_host(shell: Shell) -> None:
    shell.put_route(route("*.preview.example.com", "/", owner="wild", domain="w.example.com"))
    shell.put_route(route("*.preview.example.com", "/api", owner="wild", domain="wa.example.com"))
    shell.put_route(route("a.preview.example.com", "/", owner="env-a", domain="a.example.com"))
    cases = {
        ("a.preview.example.com", "/api/x"): "a.example.com",  # exact host beats longer wildcard
        ("b.preview.example.com", "/api/x"): "wa.example.com",
        ("b.preview.example.com", "/apiary"): "w.example.com",  # segment boundary
        ("B.Preview.Example.com:443", "/api"): "wa.example.com",
    }
    for (host, path), domain in cases.items():
        found = shell.lookup(host, path)
        assert found.route is not None
        assert found.route.domain == domain, (host, path)
    miss = shell.lookup("other.example.com", "/api")
    assert miss.route is None
    assert miss.winner is None


def test_lookup_explains_its_choice(shell: Shell) -> None:
    shell.put_route(route("a.example.com", "/api"))
    shell.put_route(route("a.example.com", "/"))
    result = shell.lookup("a.example.com", "/api/v1/users")
    assert [c.prefix for c in result.candidates[:4]] == ["/api/v1/users", "/api/v1", "/api", "/"]
    assert [k[1] for k in result.found] == ["PATH#/api", "PATH#/"]
    assert result.winner is not None
    assert result.winner.prefix == "/api"
    assert result.round_trips == 1


@pytest.mark.parametrize("depth", [1, 2, 8, 16, 32, 33, 40])
def test_lookup_is_one_round_trip_at_any_depth(shell: Shell, depth: int) -> None:
    segments = [f"s{n}" for n in range(depth)]
    shell.put_route(route("a.example.com", "/"))
    shell.put_route(route("*.example.com", "/" + "/".join(segments[: min(depth, 32)])))
    shell.calls.clear()
    result = shell.lookup("a.example.com", "/" + "/".join(segments))
    assert shell.calls == ["BatchGetItem"]
    assert result.round_trips == 1
    assert result.route is not None
    assert result.route.host == "a.example.com"  # the exact host's "/" beats any wildcard


def test_every_depth_from_1_to_40_takes_one_call(shell: Shell) -> None:
    shell.put_route(route("a.example.com", "/"))
    for depth in range(1, 41):
        shell.calls.clear()
        shell.lookup("a.example.com", "/x" * depth)
        assert shell.calls == ["BatchGetItem"], depth


def test_lookup_retries_unprocessed_keys(shell: Shell) -> None:
    shell.put_route(route("a.example.com", "/"))
    leftovers = ForcedLeftovers(shell.client, shell.table, "BatchGetItem", per_call=3, times=1)
    shell.calls.clear()
    result = shell.lookup("a.example.com", "/deep/er/path")
    assert leftovers.held_total == 3
    assert shell.calls == ["BatchGetItem", "BatchGetItem"]
    assert result.round_trips == 2
    assert shell.sleeps == [0.05]
    assert result.route is not None  # "/" was among the held-back keys and still found
    assert result.route.prefix == "/"


# --- bulk import ------------------------------------------------------------------------------


def _many(count: int, owner: str = "env-a", hosts: int = 5) -> list[RouteRecord]:
    return [route(f"h{n % hosts}.example.com", f"/p{n}", owner=owner) for n in range(count)]


def test_import_writes_everything_and_reports_progress(shell: Shell) -> None:
    done: list[int] = []
    report = shell.import_routes(_many(120), progress=done.append)
    assert report.written == 120
    assert report.refused == []
    assert sum(done) == 120
    assert shell.calls.count("BatchWriteItem") == 5  # 120 / 25, rounded up
    assert len(shell.list_by_owner("env-a")) == 120
    # Hosts are claimed: another owner cannot add routes to them.
    with pytest.raises(OwnershipError):
        shell.put_route(route("h0.example.com", "/new", owner="env-b"))


def test_import_resends_unprocessed_items_with_backoff(shell: Shell) -> None:
    leftovers = ForcedLeftovers(shell.client, shell.table, "BatchWriteItem", per_call=5, times=3)
    records = _many(60, hosts=2)
    done: list[int] = []
    report = shell.import_routes(records, progress=done.append)
    assert leftovers.held_total == 15
    assert report.written == 60
    assert sum(done) == 60
    assert shell.calls.count("BatchWriteItem") == 3 + 3  # three batches, three resends
    assert all(0 < s <= 0.05 for s in shell.sleeps)
    stored = {(r.host, r.prefix) for r in shell.list_by_owner("env-a")}
    assert stored == {(r.host, r.prefix) for r in records}


def test_import_refuses_lines_owned_by_others(shell: Shell) -> None:
    theirs = shell.put_route(route("taken.example.com", "/", owner="env-b"))
    records = [
        route("free.example.com", "/a"),
        route("taken.example.com", "/x"),  # host claimed by env-b
        route("free.example.com", "/b"),
        route("free.example.com", "/a", domain="dup.example.com"),  # repeats input #0
        route("free.example.com", "/c", owner="env-z"),  # host already given to env-a
    ]
    report = shell.import_routes(records)
    assert report.written == 2
    refused = {r.index: r for r in report.refused}
    assert sorted(refused) == [1, 3, 4]
    assert refused[1].owner == "env-b"
    assert "owned by 'env-b'" in refused[1].reason
    assert "duplicate of input #0" in refused[3].reason
    assert "given to owner 'env-a'" in refused[4].reason
    assert shell.get_route("taken.example.com", "/") == theirs
    assert shell.get_route("taken.example.com", "/x") is None
    assert [r.prefix for r in shell.list_by_host("free.example.com")] == ["/a", "/b"]


def test_import_refuses_a_route_entry_held_by_another_owner(shell: Shell) -> None:
    # A route entry without the host's claim (as a writer predating claims would leave it).
    foreign = route("legacy.example.com", "/x", owner="env-old")
    shell._do(shell.client.put_item(TableName=shell.table, Item=_item(foreign)))
    report = shell.import_routes(
        [route("legacy.example.com", "/x"), route("legacy.example.com", "/y")]
    )
    assert [r.index for r in report.refused] == [0]
    assert report.refused[0].owner == "env-old"
    got = shell.get_route("legacy.example.com", "/x")
    assert got is not None
    assert got.owner == "env-old"


def _item(record: RouteRecord) -> dict[str, Any]:
    from routing_table.core.records import route_to_item

    return route_to_item(record)
