"""The edge under DynamoDB faults, end to end: the real botocore reader, real sockets.

What must hold whatever the table does: a known host keeps being served from stale facts for
``max_stale_seconds`` (the clock is injected and moved forward, never waited for), an unknown host
gets a 503 that CloudFront will not cache, a failed lookup is never remembered as "not found",
and every request is answered within the configured worst case (``EdgeConfig.worst_case_seconds``,
documented as at most 5 s), even when DynamoDB accepts the connection and never answers.

Elapsed time is measured against that budget with a generous margin for a shared 2-core machine:
it is a correctness bound (an edge function that waits 60 s for botocore's default timeout
breaks CloudFront's 30 s limit), not a performance assertion.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_router.config import EdgeConfig
from edge_router.dynamo import ClientFactory, DynamoRouteReader, botocore_client_factory
from edge_router.fakes import RecordingLogger, recording_telemetry
from edge_router.router import EdgeRouter
from routing_table.clients import ClientSettings, dynamodb_client
from routing_table.core import keys
from routing_table.core.records import RouteRecord
from routing_table.local.dynamodb_local import DynamoDBLocal
from routing_table.schema import create_table
from routing_table.store.sync import RouteStore

from .faults import (
    FORWARD,
    REFUSE,
    SWALLOW,
    THROTTLED,
    FailFirst,
    FaultyProxy,
    OffsetClock,
    PartialBatch,
    Trickle,
    blackhole,
    sends_counter,
)

pytestmark = pytest.mark.dynamodb_local

KNOWN = "api-known-portal.example.com"
UNKNOWN = "api-later-portal.example.com"
DOCUMENTED_WORST_CASE = 5.0  # README: every request is answered within 5 s
MARGIN = 1.5  # scheduling noise on a shared machine; the bound is the budget, not this
TTL = 60.0
MAX_STALE = 600.0


def fast_config(table: str, **overrides: Any) -> EdgeConfig:
    """Short timeouts so a test sees several attempts; no error backoff, so every request
    consults the table and is timed."""
    settings: dict[str, Any] = {
        "cache_ttl_seconds": TTL,
        "negative_cache_ttl_seconds": 10.0,
        "cache_jitter_ratio": 0.0,
        "max_stale_seconds": MAX_STALE,
        "error_backoff_seconds": 0.0,
        "connect_timeout_seconds": 0.2,
        "read_timeout_seconds": 0.3,
        "max_attempts": 3,
        "request_budget_seconds": 1.0,
    }
    settings.update(overrides)
    return EdgeConfig(table, ("us-east-1",), **settings)


def route(host: str, domain: str, owner: str = "env-known") -> RouteRecord:
    return RouteRecord(host, "/", owner, f"https://{domain}", "custom", domain=domain)


def event(host: str, uri: str = "/api/users/42") -> dict[str, Any]:
    request = {
        "clientIp": "203.0.113.9",
        "method": "GET",
        "uri": uri,
        "querystring": "",
        "headers": {"host": [{"key": "Host", "value": host}]},
        "origin": {"custom": {"domainName": "placeholder.example.com", "path": ""}},
    }
    return {"Records": [{"cf": {"config": {"eventType": "origin-request"}, "request": request}}]}


class Edge:
    """A router over the real botocore reader; ``get`` times each request."""

    def __init__(self, config: EdgeConfig, client_factory: ClientFactory | None = None) -> None:
        self.config = config
        self.clock = OffsetClock()
        telemetry, self.logger, self.metrics = recording_telemetry(config)
        self.router = EdgeRouter(
            config,
            clock=self.clock,
            telemetry=telemetry,
            reader_factory=lambda: DynamoRouteReader(
                config, clock=self.clock, client_factory=client_factory
            ),
        )
        self.elapsed: list[float] = []

    def get(self, host: str, uri: str = "/api/users/42") -> dict[str, Any]:
        start = time.monotonic()
        result = self.router.handle(event(host, uri))
        took = time.monotonic() - start
        self.elapsed.append(took)
        assert took <= self.config.worst_case_seconds + MARGIN, (
            f"request took {took:.2f}s, budget {self.config.worst_case_seconds}s"
        )
        return result


def origin_domain(result: dict[str, Any]) -> str:
    assert "status" not in result, result
    domain: str = result["origin"]["custom"]["domainName"]
    return domain


def assert_uncached_503(result: dict[str, Any]) -> None:
    assert result["status"] == "503"
    assert result["headers"]["cache-control"][0]["value"] == "no-store"
    assert result["headers"]["retry-after"][0]["value"].isdigit()


def levels(logger: RecordingLogger) -> list[str]:
    return [level for level, _, _ in logger.lines]


@pytest.fixture
def table(dynamodb_local: str) -> Iterator[str]:
    name = f"edge-faults-{uuid.uuid4().hex[:10]}"
    client = dynamodb_client(region_name="us-east-1")
    create_table(client, name, poll_interval=0.05)
    RouteStore(name, client=client).put_route(route(KNOWN, "alb-known.example.com"))
    yield name
    client.delete_table(TableName=name)


@pytest.fixture
def proxy(dynamodb_local_server: DynamoDBLocal, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Every client built in the test reaches DynamoDB Local through the faulty proxy."""
    server = FaultyProxy(dynamodb_local_server.port)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.url)
    yield server
    server.close()


# -- DynamoDB stops answering mid-test --------------------------------------------------------


@pytest.mark.parametrize("fault", [SWALLOW, REFUSE])
def test_outage_serves_known_hosts_stale_and_unknown_hosts_503_within_budget(
    table: str, proxy: FaultyProxy, fault: str
) -> None:
    edge = Edge(fast_config(table))
    assert origin_domain(edge.get(KNOWN)) == "alb-known.example.com"

    proxy.set_mode(fault)
    edge.clock.advance(TTL + 1)  # every fact is expired: the router must ask the table
    for uri in ("/api/users/42", "/a/path/never/seen", "/"):
        assert origin_domain(edge.get(KNOWN, uri)) == "alb-known.example.com"
    for _ in range(3):  # every time: a failed lookup is never remembered as absent
        assert_uncached_503(edge.get(UNKNOWN))
    assert "warning" in levels(edge.logger)  # stale serves are logged
    assert "error" in levels(edge.logger)  # so are 503s

    edge.clock.advance(MAX_STALE)  # past the stale window: nothing left to serve
    assert_uncached_503(edge.get(KNOWN))

    proxy.set_mode(FORWARD)
    RouteStore(table, client=dynamodb_client(region_name="us-east-1")).put_route(
        route(UNKNOWN, "alb-later.example.com", owner="env-later")
    )
    assert origin_domain(edge.get(KNOWN)) == "alb-known.example.com"
    assert origin_domain(edge.get(UNKNOWN)) == "alb-later.example.com"


def test_a_hung_request_in_flight_is_cut_at_the_budget(table: str, proxy: FaultyProxy) -> None:
    """The proxy swallows bytes on a keep-alive connection the reader already holds."""
    edge = Edge(fast_config(table, max_attempts=5, request_budget_seconds=1.2))
    edge.get(UNKNOWN)  # opens the pooled connection (404, cached for the negative TTL)
    proxy.set_mode(SWALLOW)
    edge.clock.advance(TTL + 1)
    assert_uncached_503(edge.get(UNKNOWN, "/other"))
    assert edge.elapsed[-1] >= edge.config.read_timeout_seconds  # it really waited for the table


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # the shipped defaults: 0.5 s connect + 0.5 s read, 3 attempts, 3 s budget
        {"max_attempts": 5, "request_budget_seconds": 1.0, "read_timeout_seconds": 0.3},
        {
            "max_attempts": 2,
            "request_budget_seconds": 0.6,
            "read_timeout_seconds": 0.5,
            "connect_timeout_seconds": 0.1,
        },
    ],
    ids=["defaults", "many-short-attempts", "budget-of-one-attempt"],
)
def test_never_answering_endpoint_costs_at_most_the_budget(
    monkeypatch: pytest.MonkeyPatch, overrides: dict[str, Any]
) -> None:
    config = EdgeConfig("routes-blackhole", ("us-east-1", "us-west-2"), **overrides)
    assert config.worst_case_seconds <= DOCUMENTED_WORST_CASE
    with blackhole() as hole:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", hole.url)
        edge = Edge(config)
        assert_uncached_503(edge.get(UNKNOWN))
        assert_uncached_503(edge.get(UNKNOWN, "/second/fetch"))  # the client is reused
    assert all(took <= config.worst_case_seconds + MARGIN for took in edge.elapsed)


def test_trickling_endpoint_costs_at_most_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    config = fast_config("routes-trickle", request_budget_seconds=1.0)
    server = Trickle(interval=config.read_timeout_seconds / 3)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.url)
    router = EdgeRouter(config, telemetry=recording_telemetry(config)[0])
    answers: list[dict[str, Any]] = []
    worker = threading.Thread(
        target=lambda: answers.append(router.handle(event(UNKNOWN))), daemon=True
    )
    try:
        worker.start()
        worker.join(timeout=config.worst_case_seconds + MARGIN)
        finished = not worker.is_alive()
    finally:
        server.close()  # ends the trickle, so the stuck request (if any) ends too
        worker.join(timeout=10)
    assert finished, f"no answer within {config.worst_case_seconds + MARGIN:g} s"
    assert_uncached_503(answers[0])


# -- throttling and partial answers at the edge -----------------------------------------------


def hooked(config: EdgeConfig, install: Callable[[Any], object]) -> ClientFactory:
    """The edge's own client factory, with a fault hook installed on each client."""
    real = botocore_client_factory(config)

    def build(region: str) -> Any:
        client = real(region)
        install(client)
        return client

    return build


def test_throttled_table_serves_stale_and_recovers(table: str, dynamodb_local: str) -> None:
    config = fast_config(table)
    throttle = FailFirst(*THROTTLED, times=0)
    edge = Edge(
        config,
        hooked(config, lambda c: c.meta.events.register("before-send.dynamodb.BatchGetItem",
                                                        throttle)),
    )  # fmt: skip
    assert origin_domain(edge.get(KNOWN)) == "alb-known.example.com"
    throttle.times = None  # from now on every call is throttled
    edge.clock.advance(TTL + 1)
    assert origin_domain(edge.get(KNOWN, "/new")) == "alb-known.example.com"
    assert_uncached_503(edge.get(UNKNOWN))
    assert throttle.failed >= 2  # it did ask, and retried within the budget
    throttle.times = throttle.failed  # the throttling ends
    assert origin_domain(edge.get(KNOWN, "/new")) == "alb-known.example.com"
    assert edge.get(UNKNOWN)["status"] == "404"


def test_unprocessed_keys_twice_is_a_failure_never_a_miss(table: str, dynamodb_local: str) -> None:
    config = fast_config(table)
    partial = PartialBatch(keep=1, times=None)
    edge = Edge(config, hooked(config, lambda c: partial.install(c, "BatchGetItem")))
    # The candidates of a deep path overflow what one call processes: the edge retries the
    # leftovers once, then treats the lookup as failed (503), never as "no route".
    assert_uncached_503(edge.get(KNOWN, "/a/b/c"))
    partial.times = partial.calls  # DynamoDB catches up
    assert origin_domain(edge.get(KNOWN, "/a/b/c")) == "alb-known.example.com"


# -- DynamoDB Local stopped and restarted -----------------------------------------------------


@pytest.mark.slow
def test_dynamodb_local_restart_edge_degrades_and_control_plane_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dedicated DynamoDB Local (data on disk, same port) is stopped under a running edge
    and a control-plane write, then restarted: the edge serves stale / 503 within its budget,
    the write retries with bounded backoff until the table is back and lands exactly once."""
    import threading

    ddb = DynamoDBLocal(db_path=tmp_path / "ddb").start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", ddb.endpoint_url)
        name = "restart-routes"
        create_table(dynamodb_client(region_name="us-east-1"), name, poll_interval=0.05)
        RouteStore(name).put_route(route(KNOWN, "alb-known.example.com"))
        edge = Edge(fast_config(name))
        assert origin_domain(edge.get(KNOWN)) == "alb-known.example.com"

        ddb.stop()
        edge.clock.advance(TTL + 1)
        assert origin_domain(edge.get(KNOWN, "/while/down")) == "alb-known.example.com"
        assert_uncached_503(edge.get(UNKNOWN))

        # A patient control-plane client: the write must outlive the restart.
        client = dynamodb_client(
            region_name="us-east-1",
            settings=ClientSettings(connect_timeout=0.5, read_timeout=5.0, max_attempts=12),
        )
        sends = sends_counter(client, "TransactWriteItems")
        outcome: list[object] = []
        writer = threading.Thread(
            target=lambda: outcome.append(
                _put(RouteStore(name, client=client), route(UNKNOWN, "alb-later.example.com"))
            )
        )
        writer.start()
        while sends() == 0:  # the first attempt has failed against the stopped table
            time.sleep(0.01)
        ddb.start()
        writer.join(timeout=120)
        assert not writer.is_alive()
        assert len(outcome) == 1
        assert not isinstance(outcome[0], Exception), outcome
        assert sends() >= 2  # it did retry

        claim = client.get_item(
            TableName=name,
            Key={
                keys.TABLE_PK: {"S": keys.host_claim_key(UNKNOWN)[0]},
                keys.TABLE_SK: {"S": keys.host_claim_key(UNKNOWN)[1]},
            },
            ConsistentRead=True,
        )["Item"]
        assert claim["generation"] == {"N": "1"}  # written once, however many attempts

        assert origin_domain(edge.get(KNOWN)) == "alb-known.example.com"
        assert origin_domain(edge.get(UNKNOWN)) == "alb-later.example.com"
        edge.clock.advance(MAX_STALE + TTL)
        ddb.stop()
        assert_uncached_503(edge.get(KNOWN, "/past/the/stale/window"))
    finally:
        ddb.stop()


def _put(store: RouteStore, record: RouteRecord) -> object:
    try:
        return store.put_route(record)
    except Exception as exc:  # handed to the test thread, which asserts on it
        return exc
