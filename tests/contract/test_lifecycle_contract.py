"""The lifecycle's contract, held against moto and DynamoDB Local, sync and async shells."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from hostnames.pool_sync import HandlePool
from routing_table.core import keys
from routing_table.core.records import RouteRecord
from routing_table.errors import (
    EnvironmentNotFoundError,
    HandleTakenError,
    InvalidInputError,
    OwnershipError,
)
from routing_table.lifecycle.records import EnvRecord
from routing_table.store.sync import RouteStore
from tests.stateful.lifecycle_support import Driver, check_invariants

SERVICES = {"api": "https://api.internal", "web": "s3://bucket/site"}


@pytest.fixture(params=["sync", "async"])
def envs(request: pytest.FixtureRequest, ddb_backend: str, table_name: str) -> Iterator[Driver]:
    driver = Driver(request.param, table_name)
    driver.create_table()
    yield driver
    driver.close()


def _create(envs: Driver, env_id: str = "pr-1", **kw: object) -> EnvRecord:
    record: EnvRecord = envs.create(
        env_id, app="portal", domain="example.com", services=SERVICES, **kw
    )
    return record


def test_create_writes_routes_and_converges(envs: Driver) -> None:
    first = _create(envs)
    again = _create(envs)
    assert again == first
    assert set(first.hostnames) == {"api", "web"}
    host = first.hostnames["api"]
    assert host == f"api-{first.handle}-portal.example.com"
    view = envs.show("pr-1")
    assert view.routes["api"].domain == "api.internal"
    check_invariants(envs.items())


def test_create_with_another_spec_is_refused(envs: Driver) -> None:
    _create(envs)
    with pytest.raises(Exception, match="another spec"):
        envs.create("pr-1", app="other", domain="example.com", services=SERVICES)


def test_hostname_owned_by_another_owner_rolls_everything_back(envs: Driver) -> None:
    host = "api-taken-portal.example.com"
    RouteStore(envs.table, client=envs.raw).put_route(_manual_route(host))
    with pytest.raises(OwnershipError, match="manual:someone"):
        _create(envs, handle="taken")
    leftovers = [i for i in envs.items() if i.get("owner", {}).get("S") == "pr-1"]
    assert leftovers == []
    assert envs.get("pr-1") is None
    assert not any(i["pk"]["S"] == keys.handle_claim_key("taken")[0] for i in envs.items())


def _manual_route(host: str) -> RouteRecord:
    return RouteRecord(
        host=host, prefix="/", owner="manual:someone", target="https://x", kind="custom", domain="x"
    )


def test_explicit_handle_held_by_another_env_is_refused(envs: Driver) -> None:
    _create(envs, "pr-1", handle="team1")
    with pytest.raises(HandleTakenError):
        _create(envs, "pr-2", handle="team1")
    assert envs.get("pr-2") is None
    check_invariants(envs.items())


def test_pool_handle_is_released_only_by_delete(envs: Driver) -> None:
    HandlePool(envs.table, client=envs.raw).add("team", ["t1"])
    record = _create(envs, pool="team")
    assert record.handle == "t1"
    envs.delete("pr-1")
    again = _create(envs, "pr-2", pool="team")
    assert again.handle == "t1"


def test_delete_removes_every_item_and_is_idempotent(envs: Driver) -> None:
    _create(envs)
    envs.deploy("pr-1", "web", "v1", ["index.html", "a/b.js"], source="s3://bucket/site/v1")
    envs.deploy("pr-1", "web", "v2", ["index.html"], source="s3://bucket/site/v2")
    result = envs.delete("pr-1")
    assert result.existed
    assert result.assets_removed == 3
    assert envs.items() == []
    assert not envs.delete("pr-1").existed


def test_deploy_flips_atomically_and_rolls_back(envs: Driver) -> None:
    record = _create(envs)
    host = record.hostnames["web"]
    envs.deploy("pr-1", "web", "v1", ["index.html", "old.js"], source="s3://bucket/site/v1")
    result = envs.deploy("pr-1", "web", "v2", ["index.html"], source="s3://bucket/site/v2")
    assert (result.previous, result.version) == ("v1", "v2")
    route = envs.show("pr-1").routes["web"]
    assert route.static.active_version == "v2"
    assert route.host == host
    assert envs.deploy("pr-1", "web", "v2", ["index.html"]).unchanged
    back = envs.rollback("pr-1", "web", "v1")
    assert back.version == "v1"
    assert envs.show("pr-1").routes["web"].static.active_version == "v1"
    with pytest.raises(InvalidInputError):
        envs.deploy("pr-1", "web", "v2", ["other.html"])  # versions are immutable
    check_invariants(envs.items())


def test_retired_versions_are_kept_for_the_grace_period(envs: Driver) -> None:
    _create(envs)
    for version in ("v1", "v2", "v3"):
        envs.deploy("pr-1", "web", version, ["index.html"], source=f"s3://bucket/site/{version}")
    assert envs.gc("pr-1") == []  # v1 retired just now: an edge may still serve it
    envs.clock.advance(660 - 1)
    assert envs.gc("pr-1") == []
    envs.clock.advance(2)
    assert envs.gc("pr-1") == [("web", "v1")]
    assert set(envs.get("pr-1").sites["web"]) == {"v2", "v3"}
    check_invariants(envs.items())


def test_deploy_source_must_match_the_route(envs: Driver) -> None:
    _create(envs)
    with pytest.raises(InvalidInputError, match="does not match"):
        envs.deploy("pr-1", "web", "v1", ["index.html"], source="s3://bucket/other/v1")
    with pytest.raises(InvalidInputError, match="not to S3"):
        envs.deploy("pr-1", "api", "v1", ["index.html"], source="s3://bucket/site/v1")


def test_reroute_switches_the_target(envs: Driver) -> None:
    _create(envs)
    route = envs.reroute("pr-1", "api", "http://new-alb.internal:8080")
    assert (route.domain, route.port, route.protocol) == ("new-alb.internal", 8080, "http")
    assert envs.get("pr-1").services["api"].target == "http://new-alb.internal:8080"
    with pytest.raises(EnvironmentNotFoundError):
        envs.reroute("nope", "api", "https://x")


def test_audit_finds_and_repairs_orphans_and_stuck_envs(envs: Driver) -> None:
    _create(envs, "pr-1")
    _create(envs, "pr-2")
    envs.deploy("pr-2", "web", "v1", ["index.html"], source="s3://bucket/site/v1")
    # pr-1's record vanishes (a bug, a manual delete): its routes, claims and handle are orphans.
    envs.raw.delete_item(TableName=envs.table, Key={"pk": {"S": "ENV#pr-1"}, "sk": {"S": "ENV"}})
    # pr-2 is marked deleting and left there past the timeout.
    record = envs.get("pr-2")
    envs.raw.update_item(
        TableName=envs.table,
        Key={"pk": {"S": "ENV#pr-2"}, "sk": {"S": "ENV"}},
        UpdateExpression="SET #s = :d",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":d": {"S": "deleting"}},
    )
    assert record is not None
    envs.clock.advance(901)
    report = envs.audit()
    kinds = sorted({f.kind for f in report.findings})
    assert kinds == ["orphan-claim", "orphan-handle", "orphan-route", "stuck"]
    repaired = envs.audit(repair=True)
    assert all(f.repaired for f in repaired.findings)
    assert envs.audit().findings == []
    assert envs.items() == []


def test_missing_environment_is_an_error_with_context(envs: Driver) -> None:
    with pytest.raises(EnvironmentNotFoundError, match="nope"):
        envs.deploy("nope", "web", "v1", ["a"])
    assert envs.get(f"x{uuid.uuid4().hex[:4]}") is None
