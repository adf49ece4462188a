"""Hostname hijack attempts against DynamoDB Local: one environment (or a manual route owner)
trying to take, overwrite or delete what another holds. Every attempt is refused with the
project's error naming the holder, and the victim's items are byte-for-byte unchanged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from routing_table.clients import dynamodb_client
from routing_table.core.records import RouteRecord
from routing_table.errors import HandleTakenError, OwnershipError
from routing_table.lifecycle import Environments
from routing_table.schema import create_table
from routing_table.store.sync import RouteStore

pytestmark = pytest.mark.dynamodb_local

VICTIM = "env-victim"
ATTACKER = "env-attacker"
HOST = "api-victim-portal.example.com"


class _Resolver:
    def alb_dns_name(self, arn: str, region: str) -> str:
        return "alb.example.com"

    def bucket_region(self, bucket: str) -> str:
        return "us-east-1"


@pytest.fixture
def client(dynamodb_local: str) -> Any:
    return dynamodb_client(region_name="us-east-1")


@pytest.fixture
def table(client: Any) -> Iterator[str]:
    name = f"hijack-{uuid.uuid4().hex[:10]}"
    create_table(client, name, poll_interval=0.05)
    yield name
    client.delete_table(TableName=name)


def route(host: str, prefix: str, owner: str, domain: str) -> RouteRecord:
    return RouteRecord(host, prefix, owner, f"https://{domain}", "custom", domain=domain)


def snapshot(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items.extend(page["Items"])
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


@pytest.fixture
def victim(client: Any, table: str) -> list[dict[str, Any]]:
    store = RouteStore(table, client=client)
    store.put_route(route(HOST, "/", VICTIM, "victim.example.com"))
    store.put_route(route(HOST, "/api", VICTIM, "victim-api.example.com"))
    return snapshot(client, table)


SPELLINGS = [HOST, HOST.upper(), HOST + ".", f" {HOST} "]


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("prefix", ["/", "/api", "/new", "/api/deeper"])
def test_another_owner_cannot_put_a_route_on_a_claimed_host(
    client: Any, table: str, victim: list[dict[str, Any]], spelling: str, prefix: str
) -> None:
    store = RouteStore(table, client=client)
    with pytest.raises(OwnershipError, match=VICTIM):
        store.put_route(route(spelling, prefix, ATTACKER, "attacker.example.net"))
    assert snapshot(client, table) == victim


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("prefix", ["/", "/api", "api/", "//api"])
def test_another_owner_cannot_delete_the_routes(
    client: Any, table: str, victim: list[dict[str, Any]], spelling: str, prefix: str
) -> None:
    with pytest.raises(OwnershipError, match=VICTIM):
        RouteStore(table, client=client).delete_route(spelling, prefix, ATTACKER)
    assert snapshot(client, table) == victim


def test_bulk_import_refuses_claimed_hosts_and_writes_the_rest(
    client: Any, table: str, victim: list[dict[str, Any]]
) -> None:
    mine = "api-attacker-portal.example.com"
    report = RouteStore(table, client=client).import_routes(
        [
            route(HOST, "/", ATTACKER, "attacker.example.net"),
            route(HOST.upper(), "/x", ATTACKER, "attacker.example.net"),
            route(mine, "/", ATTACKER, "attacker.example.net"),
        ]
    )
    assert report.written == 1
    assert [(r.index, r.owner) for r in report.refused] == [(0, VICTIM), (1, VICTIM)]
    after = snapshot(client, table)
    assert [i for i in after if i in victim] == victim
    assert {i["pk"]["S"] for i in after if i not in victim} == {f"ROUTE#{mine}"}


def test_wildcard_route_never_takes_over_a_claimed_exact_host(
    client: Any, table: str, victim: list[dict[str, Any]]
) -> None:
    """A wildcard over the victim's parent domain is another host entry; the exact host still
    wins every lookup (the edge and the store choose the same way)."""
    store = RouteStore(table, client=client)
    store.put_route(route("*.portal.example.com", "/", ATTACKER, "attacker.example.net"))
    found = store.lookup(HOST, "/api/anything")
    assert found.route is not None
    assert found.route.owner == VICTIM


def test_environment_cannot_take_another_environments_handle_or_hostnames(
    client: Any, table: str
) -> None:
    def envs() -> Environments:
        return Environments(table, client=client, resolver=_Resolver(), sleep=lambda _: None)

    services = {"api": "https://victim.internal", "web": "https://web.internal"}
    victim_env = envs().create(
        VICTIM, app="portal", domain="example.com", services=services, handle="vic"
    )
    before = snapshot(client, table)

    with pytest.raises((HandleTakenError, OwnershipError)):
        envs().create(
            ATTACKER,
            app="portal",
            domain="example.com",
            services={"api": "https://attacker.internal"},
            handle="vic",
        )
    assert [i for i in snapshot(client, table) if i.get("owner", {}).get("S") == ATTACKER] == []

    # The attacker's own environment, then everything it may do to itself.
    envs().create(
        ATTACKER, app="portal", domain="example.com", services={"api": "https://a.internal"}
    )
    envs().reroute(ATTACKER, "api", "https://elsewhere.internal")
    envs().delete(ATTACKER)
    assert snapshot(client, table) == before
    assert envs().get(VICTIM) == victim_env


def test_manual_route_owner_cannot_claim_an_environment_hostname(client: Any, table: str) -> None:
    env = Environments(table, client=client, resolver=_Resolver(), sleep=lambda _: None).create(
        VICTIM, app="portal", domain="example.com", services={"api": "https://v.internal"}
    )
    before = snapshot(client, table)
    with pytest.raises(OwnershipError, match=VICTIM):
        RouteStore(table, client=client).put_route(
            route(env.hostnames["api"], "/admin", "manual:attacker", "attacker.example.net")
        )
    assert snapshot(client, table) == before
