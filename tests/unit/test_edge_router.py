"""The edge router with an injected in-memory table and clock: routing, rewrite, responses,
cache semantics, stale-if-error, logging. No I/O, no sleeping."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from edge_router.config import EdgeConfig, OriginVerifyHeader
from edge_router.fakes import (
    FakeClock,
    MemoryTable,
    RecordingLogger,
    RecordingMetrics,
    recording_telemetry,
)
from edge_router.router import EdgeRouter
from routing_table.core import keys
from routing_table.core.records import RouteRecord, StaticSite

EVENTS = Path(__file__).resolve().parent.parent / "events"
API_HOST = "api-t9yhp25-portal.preview.example.com"
WEB_HOST = "web-t9yhp25-portal.preview.example.com"
CONFIG = EdgeConfig(
    "routes",
    ("us-east-1",),
    cache_ttl_seconds=60,
    negative_cache_ttl_seconds=10,
    cache_jitter_ratio=0,
    max_stale_seconds=300,
    error_backoff_seconds=5,
    not_found_max_age=7,
    retry_after_seconds=3,
)


def event(name: str = "origin_request_custom", **request: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    req = data["Records"][0]["cf"]["request"]
    host = request.pop("host", None)
    if host is not None:
        req["headers"]["host"] = [{"key": "Host", "value": host}]
    req.update(request)
    return data


def custom_route(host: str = API_HOST, prefix: str = "/", **kw: Any) -> RouteRecord:
    base = RouteRecord(
        host=host,
        prefix=prefix,
        owner="env-1",
        target="https://alb-1.example.com",
        kind="custom",
        domain="alb-1.example.com",
    )
    return replace(base, **kw)


def s3_route(host: str = WEB_HOST, prefix: str = "/", **kw: Any) -> RouteRecord:
    base = RouteRecord(
        host=host,
        prefix=prefix,
        owner="env-1",
        target="s3://site-bucket/envs/env-1",
        kind="s3",
        bucket="site-bucket",
        bucket_region="eu-west-1",
        key_prefix="envs/env-1",
    )
    return replace(base, **kw)


SITE = StaticSite(env_id="env-1", service="web", active_version="v7")


def asset(path: str, site: StaticSite = SITE) -> keys.Key:
    return keys.asset_key(site.env_id, site.service, site.active_version, path)


class Harness:
    def __init__(self, config: EdgeConfig = CONFIG, rng: Callable[[], float] = lambda: 0.0):
        self.table = MemoryTable()
        self.clock = FakeClock()
        telemetry, self.logger, self.metrics = recording_telemetry(config)
        self.router = EdgeRouter(
            config, reader=self.table, clock=self.clock, rng=rng, telemetry=telemetry
        )

    def get(self, uri: str, host: str = API_HOST, **request: Any) -> dict[str, Any]:
        return self.router.handle(event(uri=uri, host=host, **request))


@pytest.fixture
def h() -> Harness:
    return Harness()


def header(result: dict[str, Any], name: str) -> str:
    value: str = result["headers"][name][0]["value"]
    return value


# -- routing and origin rewrite ---------------------------------------------------------------


def test_custom_origin_keeps_viewer_host_query_and_headers(h: Harness) -> None:
    h.table.put_route(custom_route(prefix="/api", port=8443, protocol="https"))
    sent = event()
    before = copy.deepcopy(sent["Records"][0]["cf"]["request"])
    result = h.router.handle(sent)
    assert result["uri"] == "/api/users/42"
    assert result["querystring"] == before["querystring"]
    assert result["origin"] == {
        "custom": {
            "domainName": "alb-1.example.com",
            "port": 8443,
            "protocol": "https",
            "path": "",
            "sslProtocols": ["TLSv1.2"],
            "readTimeout": 30,
            "keepaliveTimeout": 5,
            "customHeaders": {},
        }
    }
    assert result["headers"] == before["headers"], "viewer Host and every other header kept"


def test_origin_verify_header_goes_to_custom_origins_only() -> None:
    config = replace(CONFIG, origin_verify_header=OriginVerifyHeader("X-Origin-Verify", "s3cr3t"))
    h = Harness(config)
    h.table.put_route(custom_route())
    h.table.put_route(s3_route())
    custom = h.get("/x")["origin"]["custom"]
    assert custom["customHeaders"] == {
        "x-origin-verify": [{"key": "X-Origin-Verify", "value": "s3cr3t"}]
    }
    assert h.get("/x", host=WEB_HOST)["origin"]["s3"]["customHeaders"] == {}


def test_s3_origin_rewrite_sets_bucket_host(h: Harness) -> None:
    h.table.put_route(s3_route())
    result = h.get("/docs/a%20b.html", host=WEB_HOST)
    assert result["origin"] == {
        "s3": {
            "domainName": "site-bucket.s3.eu-west-1.amazonaws.com",
            "path": "/envs/env-1",
            "authMethod": "origin-access-identity",
            "region": "eu-west-1",
            "customHeaders": {},
        }
    }
    assert result["uri"] == "/docs/a%20b.html", "object = origin.path + uri"
    assert header(result, "host") == "site-bucket.s3.eu-west-1.amazonaws.com"


def test_prefix_stays_in_uri_unless_route_strips_it(h: Harness) -> None:
    h.table.put_route(custom_route(prefix="/api"))
    h.table.put_route(custom_route(prefix="/svc", strip_prefix=True))
    assert h.get("/api/x")["uri"] == "/api/x"
    assert h.get("/svc/x/y")["uri"] == "/x/y"
    assert h.get("/svc")["uri"] == "/"


def test_uri_is_sent_in_normal_form(h: Harness) -> None:
    h.table.put_route(custom_route())
    assert h.get("/a//b/./c/../%7Euser")["uri"] == "/a/b/~user"


def test_longest_prefix_on_segment_boundary(h: Harness) -> None:
    h.table.put_route(custom_route(prefix="/", domain="root.example.com"))
    h.table.put_route(custom_route(prefix="/api", domain="api.example.com"))
    h.table.put_route(custom_route(prefix="/api/v2", domain="v2.example.com"))

    def domain(uri: str) -> str:
        value: str = h.get(uri)["origin"]["custom"]["domainName"]
        return value

    assert domain("/api/v2/x") == "v2.example.com"
    assert domain("/api/v1") == "api.example.com"
    assert domain("/api") == "api.example.com"
    assert domain("/apiary") == "root.example.com"


def test_exact_host_beats_wildcard(h: Harness) -> None:
    h.table.put_route(custom_route(host="*.preview.example.com", prefix="/api/deep"))
    h.table.put_route(custom_route(prefix="/", domain="exact.example.com"))
    assert h.get("/api/deep/x")["origin"]["custom"]["domainName"] == "exact.example.com"
    other = h.get("/api/deep/x", host="other.preview.example.com")
    assert other["origin"]["custom"]["domainName"] == "alb-1.example.com"


def test_wildcard_covers_exactly_one_label(h: Harness) -> None:
    h.table.put_route(custom_route(host="*.preview.example.com"))
    assert "origin" in h.get("/", host="a.preview.example.com")
    assert h.get("/", host="a.b.preview.example.com")["status"] == "404"


def test_host_is_normalised_and_x_forwarded_host_ignored(h: Harness) -> None:
    h.table.put_route(custom_route(host="evil.example.net", domain="evil.example.com"))
    h.table.put_route(custom_route())
    result = h.get("/", host=API_HOST.upper() + ".:443")
    assert result["origin"]["custom"]["domainName"] == "alb-1.example.com"


# -- static sites -----------------------------------------------------------------------------


def static_harness(**site: Any) -> Harness:
    h = Harness()
    h.table.put_route(s3_route(static=replace(SITE, **site)))
    for path in ("index.html", "docs/index.html", "app.js", "img/a b.png"):
        h.table.put_asset(asset(path))
    return h


def test_static_asset_resolves_to_the_active_version() -> None:
    h = static_harness()
    result = h.get("/app.js", host=WEB_HOST)
    assert result["origin"]["s3"]["path"] == "/envs/env-1/v7"
    assert result["uri"] == "/app.js"
    assert h.get("/img/a%20b.png", host=WEB_HOST)["uri"] == "/img/a%20b.png"


def test_static_directory_indexes() -> None:
    h = static_harness()
    assert h.get("/", host=WEB_HOST)["uri"] == "/index.html"
    assert h.get("/docs/", host=WEB_HOST)["uri"] == "/docs/index.html"
    redirect = h.get("/docs", host=WEB_HOST, querystring="q=1")
    assert redirect["status"] == "301"
    assert header(redirect, "location") == "/docs/?q=1"
    assert header(redirect, "cache-control") == "max-age=7"


def test_static_unknown_path_is_404_or_spa_fallback() -> None:
    h = static_harness()
    assert h.get("/missing.js", host=WEB_HOST)["status"] == "404"
    spa = static_harness(spa_fallback="index.html")
    assert spa.get("/app/route/42", host=WEB_HOST)["uri"] == "/index.html"


def test_static_route_without_version_passes_every_path_through(h: Harness) -> None:
    h.table.put_route(s3_route())
    assert h.get("/anything/at/all.txt", host=WEB_HOST)["uri"] == "/anything/at/all.txt"


def test_static_round_trips_first_request_then_one_per_new_path() -> None:
    h = static_harness()
    h.get("/app.js", host=WEB_HOST)
    assert h.table.round_trips <= 2
    for n, uri in enumerate(["/docs/", "/img/a%20b.png", "/a/b/c/d/e/f/missing.css"], start=1):
        before = h.table.round_trips
        h.get(uri, host=WEB_HOST)
        assert h.table.round_trips - before == 1, f"request {n} ({uri})"


# -- generated responses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["", "203.0.113.10", "[2001:db8::1]:443", "a" * 254, "bad_host.example.com", "ex ample.com"],
)
def test_bad_hosts_get_400(h: Harness, host: str) -> None:
    result = h.get("/", host=host)
    assert result["status"] == "400"
    assert h.table.round_trips == 0


def test_missing_host_gets_400(h: Harness) -> None:
    assert h.router.handle(event("origin_request_no_host"))["status"] == "400"


@pytest.mark.parametrize(
    "uri", ["/api/..%2F..%2Fadmin", "/api/%2e%2e%5cadmin", "/a/..;/b", "/%zz", "/a/%252e%252e/x"]
)
def test_smuggled_traversal_gets_400(h: Harness, uri: str) -> None:
    h.table.put_route(custom_route(prefix="/api"))
    assert h.get(uri)["status"] == "400"


def test_plain_traversal_is_resolved_inside_the_root(h: Harness) -> None:
    h.table.put_route(custom_route(prefix="/public", strip_prefix=True))
    assert h.get("/public/../public/x")["uri"] == "/x"
    assert h.get("/public/%2e%2e/secret")["status"] == "404"


def test_not_found_is_cacheable_html(h: Harness) -> None:
    result = h.get("/nothing")
    assert result["status"] == "404"
    assert result["statusDescription"] == "Not Found"
    assert header(result, "cache-control") == "max-age=7"
    assert header(result, "content-type").startswith("text/html")
    assert "<h1>404 Not Found</h1>" in result["body"]
    assert result["bodyEncoding"] == "text"


def test_hosts_outside_allowed_domains_are_404_without_lookup() -> None:
    h = Harness(replace(CONFIG, allowed_domains=("preview.example.com",)))
    assert h.get("/", host="elsewhere.example.org")["status"] == "404"
    assert h.table.round_trips == 0
    h.get("/", host=API_HOST)
    assert h.table.round_trips == 1


def test_unusable_route_items_answer_502(h: Harness) -> None:
    h.table.put_route(custom_route(port=8))
    h.table.items[keys.route_key(WEB_HOST, "/")] = {"pk": {"S": "x"}, "sk": {"S": "y"}}
    assert h.get("/")["status"] == "502"
    bad = h.get("/", host=WEB_HOST)
    assert bad["status"] == "502"
    assert header(bad, "cache-control") == "no-store"


def test_uri_too_long_after_rewrite_is_414(h: Harness) -> None:
    h.table.put_route(custom_route())
    result = h.get("/" + "é" * 1500, querystring="q=" + "x" * 4000)
    assert result["status"] == "414"


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"Records": []},
        {"Records": [{"cf": {}}]},
        {"Records": [{"cf": {"request": {"uri": 7, "headers": {}}}}]},
        {"Records": [{"cf": {"request": {"uri": "/", "headers": {"host": "x"}}}}]},
    ],
)
def test_malformed_events_never_raise(h: Harness, broken: dict[str, Any]) -> None:
    result = h.router.handle(broken)
    assert result["status"] == "500"
    assert h.logger.lines[-1][0] == "exception"


# -- cache ------------------------------------------------------------------------------------


def test_hits_need_no_round_trip_and_no_log_line(h: Harness) -> None:
    h.table.put_route(custom_route())
    h.get("/a")
    lines, trips = len(h.logger.lines), h.table.round_trips
    for _ in range(5):
        h.get("/a")
    assert h.table.round_trips == trips
    assert len(h.logger.lines) == lines


def test_positive_entries_live_for_their_ttl(h: Harness) -> None:
    h.table.put_route(custom_route())
    h.get("/a")
    h.table.put_route(custom_route(domain="new.example.com"))
    h.clock.advance(59)
    assert h.get("/a")["origin"]["custom"]["domainName"] == "alb-1.example.com"
    h.clock.advance(2)
    assert h.get("/a")["origin"]["custom"]["domainName"] == "new.example.com"


def test_negative_entries_expire_sooner(h: Harness) -> None:
    assert h.get("/a")["status"] == "404"
    h.table.put_route(custom_route())
    h.clock.advance(9)
    assert h.get("/a")["status"] == "404"
    h.clock.advance(2)
    assert "origin" in h.get("/a")


def test_jitter_shortens_ttls_within_the_ratio() -> None:
    h = Harness(replace(CONFIG, cache_jitter_ratio=0.5), rng=lambda: 1.0)
    h.table.put_route(custom_route())
    h.get("/a")
    h.clock.advance(29)
    h.get("/a")
    assert h.table.round_trips == 1
    h.clock.advance(2)
    h.get("/a")
    assert h.table.round_trips == 2


def test_cache_is_bounded_by_lru() -> None:
    h = Harness(replace(CONFIG, cache_max_entries=100))
    h.table.put_route(custom_route())
    for n in range(500):
        h.get(f"/item/{n}")
    facts, decisions = h.router.cache.sizes
    assert facts <= 100
    assert decisions <= 100


def test_new_path_under_known_route_is_one_round_trip_at_any_depth(h: Harness) -> None:
    h.table.put_route(custom_route(host="*.preview.example.com"))
    for depth in (1, 2, 8, 32, 33, 200):
        before = h.table.round_trips
        h.get(f"/d{depth}" * depth)
        assert h.table.round_trips - before == 1, depth
        assert len(h.table.calls[-1]) <= keys.MAX_BATCH_GET_KEYS


# -- stale-if-error ---------------------------------------------------------------------------


def test_table_failure_serves_stale_route_then_503_after_max_stale(h: Harness) -> None:
    h.table.put_route(custom_route())
    h.get("/a")
    h.clock.advance(61)
    h.table.fail()
    stale = h.get("/a")
    assert stale["origin"]["custom"]["domainName"] == "alb-1.example.com"
    assert h.logger.lines[-1][0] == "warning"
    assert h.metrics.total("StaleServed") == 1
    h.clock.advance(300)
    gone = h.get("/a")
    assert gone["status"] == "503"
    assert header(gone, "cache-control") == "no-store"
    assert header(gone, "retry-after") == "3"
    assert h.logger.lines[-1][0] == "error"


def test_failed_lookup_is_never_cached_as_not_found(h: Harness) -> None:
    h.table.put_route(custom_route())
    h.table.fail()
    assert h.get("/a")["status"] == "503"
    h.table.recover()
    assert "origin" in h.get("/a")


def test_outage_costs_one_lookup_per_url_per_backoff(h: Harness) -> None:
    h.table.put_route(custom_route())
    h.get("/a")
    h.clock.advance(61)
    h.table.fail()
    for _ in range(10):
        h.get("/a")
    assert h.table.round_trips == 2
    h.clock.advance(6)
    h.get("/a")
    assert h.table.round_trips == 3


def test_stale_answers_a_new_path_when_its_route_is_known(h: Harness) -> None:
    h.table.put_route(custom_route())
    h.get("/a")
    h.table.fail()
    result = h.get("/brand/new/path")
    assert result["origin"]["custom"]["domainName"] == "alb-1.example.com"


# -- telemetry --------------------------------------------------------------------------------


def test_hit_counts_reach_metrics_with_the_next_miss(h: Harness) -> None:
    h.table.put_route(custom_route())
    h.get("/a")
    for _ in range(3):
        h.get("/a")
    h.get("/b")
    assert h.metrics.total("Hits") == 3
    assert h.metrics.total("Misses") == 2
    assert h.metrics.total("RoundTrips") == 2


def test_hit_only_traffic_flushes_once_per_interval(h: Harness) -> None:
    h.table.put_route(custom_route())
    h.get("/a")
    flushes = len(h.metrics.flushes)
    for _ in range(100):
        h.get("/a")
        h.clock.advance(1)
    assert 1 <= len(h.metrics.flushes) - flushes <= 2


def test_powertools_logger_writes_one_json_line_per_miss(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import io
    import logging

    from aws_lambda_powertools.logging import Logger

    from edge_router.telemetry import Telemetry

    stream = io.StringIO()
    logger = Logger(service="edge-router-test-json", logger_handler=logging.StreamHandler(stream))
    telemetry = Telemetry(logger=logger, metrics=RecordingMetrics(), flush_seconds=60)
    table, clock = MemoryTable(), FakeClock()
    table.put_route(custom_route())
    router = EdgeRouter(CONFIG, reader=table, clock=clock, telemetry=telemetry)
    router.handle(event(uri="/a"))
    router.handle(event(uri="/a"))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["service"] == "edge-router-test-json"
    assert record["route"] == f"{API_HOST}/"
    assert record["round_trips"] == 1


def test_recording_logger_is_a_logger(h: Harness) -> None:
    assert isinstance(h.logger, RecordingLogger)


def test_first_request_for_root_with_index_fallback_asks_each_key_once() -> None:
    h = static_harness(spa_fallback="index.html")
    assert h.get("/", host=WEB_HOST)["uri"] == "/index.html"
    assert all(len(set(call)) == len(call) for call in h.table.calls)
