"""Hypothesis over whole origin-request events: the handler never raises and always answers
something CloudFront accepts (checked by the local server's CloudFront rules), a request or a
generated response; lookups never exceed one BatchGetItem of at most 100 keys per fetch."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_router.config import EdgeConfig
from edge_router.fakes import FakeClock, MemoryTable, recording_telemetry
from edge_router.local.events import decide
from edge_router.router import EdgeRouter
from routing_table.core import keys
from routing_table.core.records import RouteRecord, StaticSite

CONFIG = EdgeConfig("routes", ("us-east-1",), cache_max_entries=200)
SITE = StaticSite("env-1", "web", "v1", spa_fallback="index.html")
ROUTES = [
    RouteRecord("*.preview.example.com", "/", "env-1", "https://alb", "custom", domain="alb.x.io"),
    RouteRecord("a.preview.example.com", "/api", "env-1", "s3://b", "s3", bucket="site-bucket",
                bucket_region="eu-west-1", key_prefix="p", strip_prefix=True),
    RouteRecord("s.preview.example.com", "/", "env-1", "s3://b", "s3", bucket="site-bucket",
                bucket_region="eu-west-1", key_prefix="site", static=SITE),
]  # fmt: skip

LABEL = st.sampled_from(["a", "s", "x", "preview", "example", "com", "xn--bcher-kva", "1", "-"])
HOSTS = st.one_of(
    st.lists(LABEL, min_size=1, max_size=6).map(".".join),
    st.sampled_from(
        ["a.preview.example.com", "S.Preview.Example.Com.:443", "s.preview.example.com"]
    ),
    st.text(max_size=300),
    st.from_regex(r"\A(\d{1,3}\.){3}\d{1,3}(:\d{1,5})?\Z"),
    st.from_regex(r"\A\[[0-9a-f:]{2,39}\](:\d{1,5})?\Z"),
)
SEGMENT = st.one_of(
    st.sampled_from(
        ["api", "index.html", "app.js", ".", "..", "", "%2e%2e", "%2F", "%5c", "..;", "%zz",
         "%25", "é", "a b", "~", "%C3%A9", "x" * 300]
    ),
    st.text(max_size=12),
)  # fmt: skip
URIS = st.one_of(
    st.lists(SEGMENT, max_size=400).map(lambda parts: ("/" + "/".join(parts))[:8192]),
    st.text(max_size=100),
    st.integers(1, 2000).map(lambda n: "/d" * n),
)
HEADER_NAMES = st.sampled_from(["user-agent", "accept", "x-forwarded-host", "cookie", "x-y"])
HEADERS = st.dictionaries(HEADER_NAMES, st.text(max_size=40), max_size=4)
METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"])


def make_event(
    host: str | None, uri: str, headers: dict[str, str], method: str, query: str
) -> dict[str, Any]:
    cf_headers = {name: [{"key": name.title(), "value": value}] for name, value in headers.items()}
    if host is not None:
        cf_headers["host"] = [{"key": "Host", "value": host}]
    return {
        "Records": [
            {
                "cf": {
                    "config": {"distributionId": "E1", "eventType": "origin-request"},
                    "request": {
                        "clientIp": "203.0.113.1",
                        "method": method,
                        "uri": uri,
                        "querystring": query,
                        "headers": cf_headers,
                        "origin": {"custom": {"domainName": "placeholder.example.com"}},
                    },
                }
            }
        ]
    }


def make_router() -> tuple[EdgeRouter, MemoryTable]:
    table = MemoryTable()
    for route in ROUTES:
        table.put_route(route)
    for path in ("index.html", "app.js", "api/index.html"):
        table.put_asset(keys.asset_key("env-1", "web", "v1", path))
    telemetry, _, _ = recording_telemetry(CONFIG)
    return EdgeRouter(CONFIG, reader=table, clock=FakeClock(), telemetry=telemetry), table


# No deadline: speed is measured in benchmarks/, never asserted (a loaded machine would flake).
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(st.none(), HOSTS),
    URIS,
    HEADERS,
    METHODS,
    st.text(alphabet="abc=&%20", max_size=50),
)
def test_handler_always_answers_what_cloudfront_accepts(
    host: str | None, uri: str, headers: dict[str, str], method: str, query: str
) -> None:
    # A fresh router per example keeps failures reproducible; the second pass is a cache hit.
    router, table = make_router()
    for attempt in ("miss", "hit"):
        event = make_event(host, uri, headers, method, query)
        sent = copy.deepcopy(event)
        calls_before = len(table.calls)
        result = router.handle(event)
        assert "status" in result or "origin" in result
        assert result.get("status") != "500", f"{attempt}: the last-resort answer means a bug"
        decide(sent, result)  # raises InvalidResultError where CloudFront would answer 502
        new_calls = table.calls[calls_before:]
        assert len(new_calls) <= 2
        assert all(len(call) <= keys.MAX_BATCH_GET_KEYS for call in new_calls)
        if "status" not in result:
            assert result["uri"].startswith("/")
            assert result["querystring"] == query
            for name, value in headers.items():
                assert result["headers"][name] == [{"key": name.title(), "value": value}]
    assert len(table.calls) <= 2, "the second request is answered from the cache"
