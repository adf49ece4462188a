"""Hypothesis over whole origin-request events, as hostile as CloudFront lets them be: hosts of
every shape, URIs up to the 8,192-character limit and hundreds of segments deep, repeated and
read-only headers, any method, long query strings.

For every event the handler must not raise (its 500 is a caught exception, so it counts as a
failure too), must return a request or a 3xx-5xx response that passes both CloudFront checks
(``support.cloudfront_problems``, and the local server's ``decide``), and must answer the same
event identically from its cache (a hit equals the miss that filled it).

Failures found here are minimized by Hypothesis and checked in under ``regressions/`` (replayed
by ``test_regressions.py``) and as ``@example``s.
"""

from __future__ import annotations

import copy
import string
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edge_router.fakes import MemoryTable
from edge_router.local.events import decide
from edge_router.router import EdgeRouter
from routing_table.core import keys

from .support import HOSTS, MAX_URL, cloudfront_problems, make_event, make_router

ROUTER, TABLE, CLOCK = make_router()
# A second environment whose table went down after it had served every routed host once:
# stale answers, 503s and their cache rules get fuzzed too.
DOWN_ROUTER, DOWN_TABLE, DOWN_CLOCK = make_router()
for _host in HOSTS:
    for _uri in ("/", "/api/x", "/files/a", "/docs/"):
        DOWN_ROUTER.handle(make_event([_host], _uri, {}, "GET", ""))
DOWN_TABLE.fail()
DOWN_CLOCK.advance(120)  # past every TTL, well within max_stale

LABELS = st.sampled_from(["a", "s", "h", "zz", "preview", "example", "com", "xn--bcher-kva",
                          "1", "-", "A", "x" * 63, "x" * 64, "*", "_", ""])  # fmt: skip
HOST_VALUES = st.one_of(
    st.sampled_from(HOSTS),
    st.lists(LABELS, min_size=1, max_size=8).map(".".join),
    st.tuples(
        st.sampled_from(HOSTS), st.sampled_from([":", ":443", ":0", ":99999", ":x", "."])
    ).map("".join),
    st.text(max_size=300),
    st.from_regex(r"\A(\d{1,3}\.){3}\d{1,3}(:\d{1,5})?\Z"),
    st.from_regex(r"\A\[[0-9a-f:]{2,39}\](:\d{1,5})?\Z"),
    st.integers(250, 300).map(lambda n: ("a." * n)[:n] + "preview.example.com"),
)
ROUTED_HOST = st.sampled_from(HOSTS).map(lambda h: [h])
# Weighted towards hosts that have routes, so most events reach the lookup and the rewrite.
HOST_HEADER = st.one_of(
    ROUTED_HOST, ROUTED_HOST, ROUTED_HOST, st.none(), st.lists(HOST_VALUES, max_size=3)
)
SEGMENTS = st.one_of(
    st.sampled_from(
        ["api", "files", "docs", "index.html", "app.js", ".", "..", "", "%2e%2e", "%2E", "%2F",
         "%5c", "..;", "%zz", "%", "%2", "%25", "%252e%252e", "%c0%ae", "é", "a b", "~", "%C3%A9",
         "%00", "\x00", "\ud800", "?", "#", "x" * 300, "a%2Fb", "🦄", "\\", ";x=1"]
    ),
    st.text(max_size=16),
)  # fmt: skip
CLEAN = st.sampled_from(["api", "files", "docs", "index.html", "app.js", "a%20b.txt", "x", ""])
URIS = st.one_of(
    st.lists(CLEAN, max_size=12).map(lambda parts: "/" + "/".join(parts)),
    st.lists(CLEAN, max_size=12).map(lambda parts: "/" + "/".join(parts)),
    st.lists(SEGMENTS, max_size=600).map(lambda parts: "/" + "/".join(parts)),
    st.integers(1, 4096).map(lambda n: "/d" * n),  # up to 4,096 segments deep
    st.integers(1, MAX_URL).map(lambda n: "/" + "a" * (n - 1)),  # up to the length limit
    st.tuples(st.sampled_from(["/api", "/files", "/"]), st.integers(0, 8000)).map(
        lambda t: t[0] + "/" + "b/" * (t[1] // 2)
    ),
    st.text(max_size=200),
)
TOKEN = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=20)
HEADER_NAMES = st.one_of(
    st.sampled_from(
        ["user-agent", "accept", "cookie", "x-forwarded-host", "x-forwarded-for", "via",
         "accept-encoding", "if-none-match", "content-length", "x-amz-cf-id", "authorization",
         "x-origin-verify", "forwarded", "origin", "referer", "range"]
    ),
    TOKEN,
)  # fmt: skip
HEADERS = st.dictionaries(
    HEADER_NAMES.filter(lambda n: n != "host"),
    st.lists(st.text(max_size=200), min_size=1, max_size=3),
    max_size=8,
)
METHODS = st.one_of(
    st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
    st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=10),
)
QUERIES = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "=&%+-_.~", max_size=100),
    st.integers(0, 8000).map(lambda n: "q=" + "x" * n),
)


def check(
    host: list[str] | None,
    uri: str,
    headers: dict[str, list[str]],
    method: str,
    query: str,
    *,
    router: EdgeRouter = ROUTER,
    table: MemoryTable = TABLE,
) -> None:
    uri = uri[: max(1, MAX_URL - 1 - len(query))]  # CloudFront refuses longer URLs itself
    event = make_event(host, uri, headers, method, query)
    sent = copy.deepcopy(event)
    calls_before = len(table.calls)
    first = router.handle(copy.deepcopy(event))
    problems = cloudfront_problems(sent, first)
    assert not problems, (problems, first)
    decide(sent, first)  # the local server's CloudFront check: raises where CloudFront 502s
    new_calls = table.calls[calls_before:]
    assert len(new_calls) <= 2, "more than two round trips for one request"
    assert all(len(c) <= keys.MAX_BATCH_GET_KEYS for c in new_calls)
    again = router.handle(copy.deepcopy(event))
    assert again == first, "a cache hit answered differently from the miss that filled it"


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(HOST_HEADER, URIS, HEADERS, METHODS, QUERIES)
@example(["s.preview.example.com"], "/", {}, "GET", "")  # SPA fallback == index (7244e52)
@example(["a.preview.example.com"], "/api/%C0%AE%C0%AE/admin", {}, "GET", "")
@example(["a.preview.example.com"], "/files/" + "x/" * 4000, {}, "GET", "")
@example(["a.preview.example.com"], "/api/x", {"via": ["1.1 evil"]}, "GET", "q=" + "x" * 8100)
def test_any_event_gets_an_answer_cloudfront_accepts(
    host: list[str] | None, uri: str, headers: dict[str, list[str]], method: str, query: str
) -> None:
    check(host, uri, headers, method, query)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(HOST_HEADER, URIS, HEADERS, METHODS, QUERIES)
def test_any_event_during_an_outage_gets_an_answer_cloudfront_accepts(
    host: list[str] | None, uri: str, headers: dict[str, list[str]], method: str, query: str
) -> None:
    check(host, uri, headers, method, query, router=DOWN_ROUTER, table=DOWN_TABLE)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                     max_size=3),
        max_leaves=20,
    ),
    st.sampled_from(["Records", "cf", "request", "uri", "headers", "host"]),
)  # fmt: skip
def test_malformed_events_get_a_500_not_an_exception(junk: Any, where: str) -> None:
    """Events not shaped like CloudFront's (which CloudFront never sends) still get an answer."""
    event = make_event(["a.preview.example.com"], "/api", {}, "GET", "")
    request = event["Records"][0]["cf"]["request"]
    targets = {"Records": (event, "Records"), "cf": (event["Records"][0], "cf"),
               "request": (event["Records"][0]["cf"], "request"), "uri": (request, "uri"),
               "headers": (request, "headers"), "host": (request["headers"], "host")}  # fmt: skip
    holder, key = targets[where]
    holder[key] = junk
    result = ROUTER.handle(event)
    assert isinstance(result, dict)
    assert result.get("status") in (None, "400", "404", "500", "502", "503") or "origin" in result
