"""Hostile requests at the edge (in-memory table, injected clock): path traversal in every
encoding, Host spoofing, domains outside ``allowed_domains``, the origin-verify secret.

Path containment is checked the way an origin could misread the forwarded URI: up to three
rounds of percent-decoding, backslashes as separators, ``;`` path parameters dropped, overlong
UTF-8 dots (``%c0%ae``) read as dots, dot segments resolved. After every such reading, a request
forwarded under route ``/api`` must still be under ``/api``, and an S3 key under the route's
prefix and version. A request that can't be kept inside is refused (400/404), never forwarded.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from contextlib import redirect_stdout
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edge_router.config import EdgeConfig, OriginVerifyHeader
from edge_router.fakes import FakeClock, MemoryTable, recording_telemetry
from edge_router.local.events import parse_viewer_request
from edge_router.router import EdgeRouter
from edge_router.telemetry import Telemetry
from routing_table.core import keys
from routing_table.core.records import RouteRecord, StaticSite
from routing_table.errors import MalformedRequestError

API = "api-t9yhp25-portal.preview.example.com"
OTHER = "api-other-portal.preview.example.com"
SITE_HOST = "web-t9yhp25-portal.preview.example.com"
SECRET = "s3cr3t-0r1g1n-v3r1fy-7f9c2a"
VERIFY = OriginVerifyHeader("X-Origin-Verify", SECRET)
CONFIG = EdgeConfig(
    "routes",
    ("us-east-1",),
    cache_jitter_ratio=0,
    origin_verify_header=VERIFY,
    allowed_domains=("preview.example.com",),
)
SITE = StaticSite("env-1", "web", "v3", spa_fallback="index.html")
ROUTES = [
    RouteRecord(API, "/api", "env-1", "https://alb", "custom", domain="alb-1.example.com"),
    RouteRecord(API, "/files", "env-1", "s3://b/envs/env-1", "s3", bucket="site-bucket",
                bucket_region="eu-west-1", key_prefix="envs/env-1", strip_prefix=True),
    RouteRecord(OTHER, "/", "env-2", "https://alb", "custom", domain="alb-2.example.com"),
    RouteRecord(SITE_HOST, "/", "env-1", "s3://b/sites", "s3", bucket="site-bucket",
                bucket_region="eu-west-1", key_prefix="sites", static=SITE),
    # A route someone wrote for a host outside the allowed domains: never served.
    RouteRecord("evil.example.net", "/", "env-3", "https://x", "custom", domain="x.example.net"),
]  # fmt: skip
ASSETS = ["index.html", "app.js", "admin/index.html"]


def make_router(config: EdgeConfig = CONFIG) -> tuple[EdgeRouter, MemoryTable]:
    table = MemoryTable()
    for record in ROUTES:
        table.put_route(record)
    for path in ASSETS:
        table.put_asset(keys.asset_key(SITE.env_id, SITE.service, SITE.active_version, path))
    telemetry, _, _ = recording_telemetry(config)
    return EdgeRouter(config, reader=table, clock=FakeClock(), telemetry=telemetry), table


def request(
    uri: str, host: str | list[str] | None = API, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    headers: dict[str, list[dict[str, str]]] = {}
    hosts = [host] if isinstance(host, str) else host or []
    if hosts:
        headers["host"] = [{"key": "Host", "value": h} for h in hosts]
    for name, value in (extra or {}).items():
        headers[name.lower()] = [{"key": name, "value": value}]
    cf = {
        "clientIp": "198.51.100.7",
        "method": "GET",
        "uri": uri,
        "querystring": "",
        "headers": headers,
        "origin": {"custom": {"domainName": "placeholder.example.com", "path": ""}},
    }
    return {"Records": [{"cf": {"config": {}, "request": cf}}]}


# -- path traversal ---------------------------------------------------------------------------

_OVERLONG = re.compile(r"\xc0\xae|\xe0\x80\xae", re.I)  # overlong UTF-8 '.' read as latin-1
_OVERLONG_SLASH = re.compile(r"\xc0\xaf|\xe0\x80\xaf|\xc1\x9c", re.I)


def readings(path: str) -> list[str]:
    """Every path an origin might resolve ``path`` to (see the module docstring)."""
    out = []
    current = path
    for _ in range(4):
        text = _OVERLONG_SLASH.sub("/", _OVERLONG.sub(".", current.replace("\\", "/")))
        out.append(resolve(text))
        decoded = unquote(current, encoding="latin-1")
        if decoded == current:
            break
        current = decoded
    return out


def resolve(path: str) -> str:
    stack: list[str] = []
    for segment in path.split("/"):
        name = segment.split(";", 1)[0]
        if name in ("", "."):
            continue
        if name == "..":
            if stack:
                stack.pop()
            continue
        stack.append(name)
    return "/" + "/".join(stack)


def under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def assert_contained(result: dict[str, Any], host: str) -> None:
    """Forwarded results stay inside the route that matched; refusals are 4xx."""
    if "status" in result:
        assert result["status"] in {"301", "400", "404", "414"}, result["status"]
        return
    origin = result["origin"]
    if host == API and "custom" in origin:
        for reading in readings(result["uri"]):
            assert under(reading, "/api"), (result["uri"], reading)
    elif "s3" in origin:
        base = "/envs/env-1" if host == API else f"/sites/{SITE.active_version}"
        assert origin["s3"]["path"] == base
        for reading in readings(base + result["uri"]):
            assert under(reading, base), (result["uri"], reading)
    else:
        raise AssertionError(f"unexpected origin {origin}")


TRAVERSALS = [
    "/api/../admin",
    "/api/./../admin",
    "/api/%2e%2e/admin",
    "/api/%2E%2e/admin",
    "/api/.%2e/admin",
    "/api/%2e./admin",
    "/api/%252e%252e/admin",
    "/api/%25252e%25252e/admin",
    "/api/..%2fadmin",
    "/api/..%2Fadmin",
    "/api/%2e%2e%2fadmin",
    "/api%2f..%2fadmin",
    "/api/x%2f..%2f..%2fadmin",
    "/api/..%5cadmin",
    "/api/..%5Cadmin",
    "/api/..\\admin",
    "/api\\..\\admin",
    "/api/%5c..%5cadmin",
    "/api/%c0%ae%c0%ae/admin",
    "/api/%C0%AE%C0%AE%C0%AFadmin",
    "/api/%e0%80%ae%e0%80%ae/admin",
    "/api/%c0%ae%c0%ae%c0%afadmin",
    "/api/..%c0%afadmin",
    "/api/..%c1%9cadmin",
    "/api/..;/admin",
    "/api/..;jsessionid=1/admin",
    "/api/%2e%2e;/admin",
    "/api/%252e%252e%252fadmin",
    "/api/%%32%65%%32%65/admin",
    "/api/.%252e/admin",
    "/api/x/../../admin",
    "/api/..%00/admin",
    "/api/%2e%2e%00/admin",
]


@pytest.mark.parametrize("uri", TRAVERSALS)
@pytest.mark.parametrize("base", ["/api", "/files", ""])
def test_traversal_never_leaves_the_route_prefix(uri: str, base: str) -> None:
    router, _ = make_router()
    path = uri if base == "/api" else base + uri.removeprefix("/api")
    host = SITE_HOST if base == "" else API
    result = router.handle(request(path or "/", host))
    assert_contained(result, host)


TRAVERSAL_PIECES = st.sampled_from(
    ["..", ".", "%2e", "%2E", "%252e", "%25", "%2f", "%2F", "%5c", "%5C", "\\", "/", ";",
     "%c0%ae", "%C0%AF", "%e0%80%ae", "%00", "admin", "x", "%3b", "%u002e", "%%32%65"]
)  # fmt: skip


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(["/api/", "/files/", "/"]), st.lists(TRAVERSAL_PIECES, max_size=24))
@example("/api/", ["%c0%ae", "%c0%ae", "/", "admin"])
@example("/api/", ["%25", "2e", "%25", "2e", "%2f"])
def test_traversal_property(base: str, pieces: list[str]) -> None:
    router, _ = make_router()
    host = SITE_HOST if base == "/" else API
    result = router.handle(request(base + "".join(pieces), host))
    assert_contained(result, host)


# -- Host spoofing ----------------------------------------------------------------------------

SPOOF_HEADERS = ["X-Forwarded-Host", "X-Original-Host", "X-Host", "Forwarded", "X-Forwarded-Server"]


@pytest.mark.parametrize("name", SPOOF_HEADERS)
def test_forwarding_headers_never_choose_the_route(name: str) -> None:
    router, table = make_router()
    value = f"host={OTHER}" if name == "Forwarded" else OTHER
    result = router.handle(request("/api/x", API, {name: value}))
    assert result["origin"]["custom"]["domainName"] == "alb-1.example.com"
    unknown = "nobody-here-portal.preview.example.com"
    assert router.handle(request("/x", unknown, {name: value}))["status"] == "404"
    assert not any(keys.route_partition(OTHER) == k[0] for call in table.calls for k in call)


def test_duplicate_host_values_never_let_the_second_decide() -> None:
    router, _ = make_router()
    unknown = "nobody-here-portal.preview.example.com"
    assert router.handle(request("/x", [unknown, OTHER]))["status"] == "404"
    first = router.handle(request("/api/x", [API, OTHER]))
    assert first["origin"]["custom"]["domainName"] == "alb-1.example.com"
    # The cached decision is keyed by the first value only, so the spoofed order can't poison it.
    again = router.handle(request("/x", [unknown, API]))
    assert again["status"] == "404"


def test_viewer_requests_with_two_host_headers_are_rejected_before_the_handler() -> None:
    with pytest.raises(MalformedRequestError, match="exactly one"):
        parse_viewer_request("GET", "/api/x", [("Host", API), ("host", OTHER)], "127.0.0.1")


@pytest.mark.parametrize(
    "host",
    [
        f"{OTHER}@{API}",
        f"{API}@{OTHER}",
        f"{API}\x00{OTHER}",
        f"{API}/{OTHER}",
        f"{API} {OTHER}",
        f"{API},{OTHER}",
        f"{API}:443:{OTHER}",
        f"{API}%2e",
        "",
    ],
)
def test_smuggled_host_values_are_refused(host: str) -> None:
    router, table = make_router()
    assert router.handle(request("/api/x", host))["status"] == "400"
    assert table.round_trips == 0


def test_only_the_lowercase_host_key_is_read() -> None:
    router, _ = make_router()
    event = request("/api/x", None)
    event["Records"][0]["cf"]["request"]["headers"]["Host"] = [{"key": "Host", "value": API}]
    assert router.handle(event)["status"] == "400"


# -- allowed_domains --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "evil.example.net",
        "preview.example.com.evil.example.net",
        "xpreview.example.com",
        "api-t9yhp25-portal.xpreview.example.com",
        "preview-example.com",
        "example.com",
    ],
)
def test_hosts_outside_allowed_domains_are_never_looked_up(host: str) -> None:
    router, table = make_router()
    result = router.handle(request("/", host))
    assert result["status"] == "404"
    assert table.round_trips == 0


@pytest.mark.parametrize("host", [API, API.upper(), API + ".", API + ":443"])
def test_hosts_under_allowed_domains_are_routed(host: str) -> None:
    router, _ = make_router()
    assert router.handle(request("/api/x", host))["origin"]["custom"]["domainName"] == (
        "alb-1.example.com"
    )


def test_without_allowed_domains_every_valid_host_is_looked_up() -> None:
    config = EdgeConfig("routes", ("us-east-1",), origin_verify_header=VERIFY)
    router, _ = make_router(config)
    assert router.handle(request("/", "evil.example.net"))["origin"]["custom"]["domainName"] == (
        "x.example.net"
    )


# -- the origin-verify secret -----------------------------------------------------------------


def test_origin_verify_header_goes_to_custom_origins_only() -> None:
    router, _ = make_router()
    custom = router.handle(request("/api/x", API, {"X-Origin-Verify": "forged"}))
    assert custom["origin"]["custom"]["customHeaders"] == {
        "x-origin-verify": [{"key": "X-Origin-Verify", "value": SECRET}]
    }
    s3 = router.handle(request("/files/a.txt", API))
    assert s3["origin"]["s3"]["customHeaders"] == {}
    assert SECRET not in json.dumps(s3)


def all_kinds_of_answers(router: EdgeRouter, table: MemoryTable, clock: FakeClock) -> list[Any]:
    """Hits, misses, generated responses, stale serves, 503s and a crash."""
    answers = [
        router.handle(request("/api/x")),
        router.handle(request("/api/x")),  # hit
        router.handle(request("/nothing")),  # 404
        router.handle(request("/x", "bad_host!")),  # 400
        router.handle(request("/api/" + "a" * 8190)),  # 414
        router.handle(request("/admin", SITE_HOST)),  # 301 to /admin/
        router.handle({"Records": [{"cf": {"request": {"uri": 7}}}]}),  # crash -> 500
    ]
    table.fail()
    clock.advance(CONFIG.cache_ttl_seconds + 1)
    answers.append(router.handle(request("/api/y")))  # stale
    answers.append(router.handle(request("/", OTHER + "x")))  # 503
    return answers


def test_the_secret_never_reaches_logs_metrics_or_generated_responses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    table = MemoryTable()
    for record in ROUTES:
        table.put_route(record)
    clock = FakeClock()
    # A service name of its own: Powertools keeps one stdlib logger (and its handler, bound to
    # the stdout of the moment it was made) per service, so a shared name would log elsewhere.
    config = EdgeConfig(
        "routes",
        ("us-east-1",),
        origin_verify_header=VERIFY,
        log_level="DEBUG",
        service_name=f"edge-router-secrets-{uuid.uuid4().hex[:8]}",
    )
    router = EdgeRouter(config, reader=table, clock=clock, telemetry=Telemetry.from_config(config))
    stdout = io.StringIO()
    with redirect_stdout(stdout):
        answers = all_kinds_of_answers(router, table, clock)
    logged = stdout.getvalue() + "".join(capsys.readouterr())
    assert logged.count("\n") >= 5, "the logger wrote nothing: the check would prove nothing"
    assert '"level":"WARNING"' in logged.replace(" ", "")  # the stale serve was logged
    assert SECRET not in logged
    generated = [a for a in answers if "status" in a]
    assert len(generated) >= 5
    assert all(SECRET not in json.dumps(a) for a in generated)


def test_the_secret_is_not_in_the_config_repr() -> None:
    assert SECRET not in repr(CONFIG)
    assert SECRET not in str(VERIFY)
