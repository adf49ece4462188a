"""The edge router against AWS's DynamoDB Local through the real botocore client.

Round trips are counted at the HTTP layer (botocore's ``before-send`` event), so SDK retries
would show up too. Endpoints come from the standard AWS_ENDPOINT_URL_DYNAMODB setting (the
``dynamodb_local`` fixture); only the deliberately dead replica gets an explicit endpoint.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from edge_router.config import CONFIG_ENV, EdgeConfig
from edge_router.dynamo import DynamoRouteReader, botocore_client_factory
from edge_router.fakes import FakeClock, recording_telemetry
from edge_router.router import EdgeRouter
from routing_table import schema
from routing_table.clients import dynamodb_client
from routing_table.core import keys
from routing_table.core.records import RouteRecord, StaticSite, route_to_item
from routing_table.local.dynamodb_local import free_port

pytestmark = pytest.mark.dynamodb_local

HOST = "pr-7.preview.example.com"
SITE = StaticSite("env-7", "web", "v3")


class Counter:
    def __init__(self) -> None:
        self.sends = 0

    def __call__(self, **_: Any) -> None:
        self.sends += 1


@pytest.fixture
def table(dynamodb_local: str, table_name: str) -> str:
    client = dynamodb_client()
    schema.create_table(client, table_name, poll_interval=0.05)
    routes = [
        RouteRecord("*.preview.example.com", "/", "env-7", "https://alb", "custom",
                    domain="alb-7.example.com"),
        RouteRecord(HOST, "/api", "env-7", "https://api", "custom", domain="api-7.example.com",
                    strip_prefix=True),
        RouteRecord("web.preview.example.com", "/", "env-7", "s3://site-bucket/sites", "s3",
                    bucket="site-bucket", bucket_region="eu-west-1", key_prefix="sites",
                    static=SITE),
    ]  # fmt: skip
    for route in routes:
        client.put_item(TableName=table_name, Item=route_to_item(route))
    for path in ("index.html", "app.js", "docs/index.html"):
        pk, sk = keys.asset_key(SITE.env_id, SITE.service, SITE.active_version, path)
        client.put_item(TableName=table_name, Item={"pk": {"S": pk}, "sk": {"S": sk}})
    return table_name


def event(host: str, uri: str) -> dict[str, Any]:
    request = {
        "clientIp": "203.0.113.9",
        "method": "GET",
        "uri": uri,
        "querystring": "",
        "headers": {"host": [{"key": "Host", "value": host}]},
        "origin": {"custom": {"domainName": "placeholder.example.com"}},
    }
    return {"Records": [{"cf": {"config": {"eventType": "origin-request"}, "request": request}}]}


def build(
    table: str, *, regions: tuple[str, ...] = ("us-east-1",), dead: set[str] | None = None
) -> tuple[EdgeRouter, Counter, FakeClock]:
    config = EdgeConfig(table, regions, cache_jitter_ratio=0, read_timeout_seconds=2.0)
    counter, clock = Counter(), FakeClock()
    real = botocore_client_factory(config)
    dead_url = f"http://127.0.0.1:{free_port()}"

    def factory(region: str) -> Any:
        if region in (dead or set()):
            import botocore.session
            from botocore.config import Config

            client = botocore.session.get_session().create_client(
                "dynamodb",
                region_name=region,
                endpoint_url=dead_url,
                config=Config(connect_timeout=0.2, retries={"total_max_attempts": 1}),
            )
        else:
            client = real(region)
        client.meta.events.register("before-send.dynamodb.BatchGetItem", counter)
        return client

    reader = DynamoRouteReader(config, clock=clock, client_factory=factory, aws_region=regions[0])
    telemetry, _, _ = recording_telemetry(config)
    router = EdgeRouter(config, reader=reader, clock=clock, telemetry=telemetry)
    return router, counter, clock


def test_routes_through_dynamodb_local(table: str) -> None:
    router, _, _ = build(table)
    api = router.handle(event(HOST, "/api/v1/users"))
    assert api["origin"]["custom"]["domainName"] == "api-7.example.com"
    assert api["uri"] == "/v1/users"
    other = router.handle(event("pr-8.preview.example.com", "/api/v1"))
    assert other["origin"]["custom"]["domainName"] == "alb-7.example.com"
    assert router.handle(event("nobody.example.org", "/"))["status"] == "404"


def test_one_round_trip_per_miss_at_any_depth(table: str) -> None:
    router, counter, _ = build(table)
    for depth in (1, 2, 4, 8, 16, 32, 33, 64, 300):
        before = counter.sends
        result = router.handle(event(HOST, f"/d{depth}" * depth))
        assert "origin" in result
        assert counter.sends - before == 1, f"depth {depth}"


def test_static_site_round_trips(table: str) -> None:
    router, counter, _ = build(table)
    first = router.handle(event("web.preview.example.com", "/"))
    assert first["uri"] == "/index.html"
    assert first["origin"]["s3"]["path"] == "/sites/v3"
    assert counter.sends <= 2
    for uri, expected in (("/app.js", "/app.js"), ("/docs/", "/docs/index.html")):
        before = counter.sends
        assert router.handle(event("web.preview.example.com", uri))["uri"] == expected
        assert counter.sends - before == 1
    before = counter.sends
    assert router.handle(event("web.preview.example.com", "/nope.js"))["status"] == "404"
    assert counter.sends - before == 1


def test_fails_over_to_the_next_replica_on_errors(table: str) -> None:
    router, counter, _ = build(table, regions=("eu-west-1", "us-east-1"), dead={"eu-west-1"})
    result = router.handle(event(HOST, "/api/x"))
    assert result["origin"]["custom"]["domainName"] == "api-7.example.com"
    assert counter.sends == 2


def test_unreachable_table_is_503_then_stale_serves(table: str) -> None:
    router, _, clock = build(table)
    assert "origin" in router.handle(event(HOST, "/api/warm"))
    dead_router, _, _ = build(table, dead={"us-east-1"})
    assert dead_router.handle(event(HOST, "/api/x"))["status"] == "503"
    # The warm router's reader goes dead too: it keeps serving what it knew.
    router._reader = build(table, dead={"us-east-1"})[0]._reader
    clock.advance(120)
    stale = router.handle(event(HOST, "/api/warm"))
    assert stale["origin"]["custom"]["domainName"] == "api-7.example.com"


def test_missing_table_is_503_not_404(dynamodb_local: str) -> None:
    router, _, _ = build("no-such-table")
    result = router.handle(event(HOST, "/"))
    assert result["status"] == "503"


def test_lambda_entry_point_with_a_config_file(
    table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = EdgeConfig(table, ("us-east-1",))
    path = tmp_path / "edge_config.json"
    path.write_text(json.dumps(replace(config, service_name="edge-router-it").to_dict()))
    monkeypatch.setenv(CONFIG_ENV, str(path))
    import edge_router.handler as module

    fresh = importlib.reload(module)
    try:
        result = fresh.handler(event(HOST, "/api/v2/items"), None)
        assert result["uri"] == "/v2/items"
        assert fresh.router().config.table_name == table
    finally:
        monkeypatch.delenv(CONFIG_ENV)
        importlib.reload(module)
