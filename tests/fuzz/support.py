"""What the fuzzers share: a routing table with every kind of route, and an independent check of
CloudFront's rules for what an origin-request function may return.

``cloudfront_problems`` is written from edge-facts section 1 and CloudFront's documentation on
its own, not from the handler or ``edge_router.local.events.decide`` (which the fuzzers also run),
so a rule both of them got wrong the same way still has a chance to show.
"""

from __future__ import annotations

import json
import re
from typing import Any

from edge_router.config import EdgeConfig, OriginVerifyHeader
from edge_router.fakes import FakeClock, MemoryTable, recording_telemetry
from edge_router.router import EdgeRouter
from routing_table.core import keys
from routing_table.core.records import RouteRecord, StaticSite, route_to_item

MAX_URL = 8192
MAX_BODY = 1024 * 1024
SECRET = "fuzz-origin-verify-secret"
CONFIG = EdgeConfig(
    "routes",
    ("us-east-1", "eu-west-1"),
    cache_max_entries=500,
    origin_verify_header=OriginVerifyHeader("X-Origin-Verify", SECRET),
)
SITE = StaticSite("env-1", "web", "v2", spa_fallback="index.html")
ROUTES = [
    RouteRecord("*.preview.example.com", "/", "env-1", "https://alb", "custom",
                domain="alb.example.com"),
    RouteRecord("a.preview.example.com", "/api", "env-1", "https://alb", "custom",
                domain="api.internal.example.com", port=8443, strip_prefix=True),
    RouteRecord("a.preview.example.com", "/files", "env-1", "s3://b/p", "s3",
                bucket="site-bucket", bucket_region="eu-west-1", key_prefix="p",
                strip_prefix=True),
    RouteRecord("s.preview.example.com", "/", "env-1", "s3://b/site", "s3",
                bucket="site-bucket", bucket_region="eu-west-1", key_prefix="site", static=SITE),
    RouteRecord("h.preview.example.com", "/", "env-2", "http://h", "custom",
                domain="h.example.com", port=80, protocol="http"),
]  # fmt: skip
ASSETS = ["index.html", "app.js", "docs/index.html", "a b.txt", "é.txt"]
HOSTS = [
    "a.preview.example.com",
    "s.preview.example.com",
    "h.preview.example.com",
    "zz.preview.example.com",
    "A.Preview.Example.Com.:443",
    "broken.preview.example.com",
]

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
_S3_DOMAIN = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\.s3\.[a-z0-9-]+\.amazonaws\.com")
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
# Headers a function may not add or change at origin-request (502), and those a generated
# response may not carry.
_READ_ONLY = {"accept-encoding", "content-length", "if-modified-since", "if-none-match",
              "if-range", "if-unmodified-since", "transfer-encoding", "via"}  # fmt: skip
_FORBIDDEN = {"connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization",
              "proxy-connection", "trailer", "upgrade", "x-accel-buffering", "x-accel-charset",
              "x-accel-limit-rate", "x-accel-redirect", "x-cache", "x-forwarded-proto",
              "x-real-ip", "content-length", "transfer-encoding", "via"}  # fmt: skip
_FORBIDDEN_PREFIXES = ("x-amz-cf-", "x-edge-", "x-accel-")


def make_router() -> tuple[EdgeRouter, MemoryTable, FakeClock]:
    table = MemoryTable()
    for route in ROUTES:
        table.put_route(route)
    broken = route_to_item(ROUTES[0])
    pk, sk = keys.route_key("broken.preview.example.com", "/")
    # An origin CloudFront would refuse (an IP and port as domain): the edge must answer 502.
    broken.update(
        {keys.TABLE_PK: {"S": pk}, keys.TABLE_SK: {"S": sk}, "domain": {"S": "10.0.0.1:80"}}
    )
    table.items[(pk, sk)] = broken
    for path in ASSETS:
        table.put_asset(keys.asset_key(SITE.env_id, SITE.service, SITE.active_version, path))
    clock = FakeClock()
    telemetry, _, _ = recording_telemetry(CONFIG)
    return EdgeRouter(CONFIG, reader=table, clock=clock, telemetry=telemetry), table, clock


def make_event(
    host: list[str] | None,
    uri: str,
    headers: dict[str, list[str]],
    method: str,
    query: str,
) -> dict[str, Any]:
    cf_headers = {
        name: [{"key": name.title(), "value": v} for v in values]
        for name, values in headers.items()
    }
    if host is not None:
        cf_headers["host"] = [{"key": "Host", "value": h} for h in host]
    request = {
        "clientIp": "203.0.113.1",
        "method": method,
        "uri": uri,
        "querystring": query,
        "headers": cf_headers,
        "origin": {
            "custom": {
                "domainName": "placeholder.example.com",
                "path": "",
                "port": 443,
                "protocol": "https",
                "readTimeout": 30,
                "keepaliveTimeout": 5,
                "sslProtocols": ["TLSv1.2"],
                "customHeaders": {},
            }
        },
    }
    config = {"distributionId": "EFUZZ", "eventType": "origin-request", "requestId": "r"}
    return {"Records": [{"cf": {"config": config, "request": request}}]}


def cloudfront_problems(sent: dict[str, Any], result: Any) -> list[str]:
    """Every way ``result`` breaks what CloudFront accepts from origin-request (empty: fine)."""
    if not isinstance(result, dict):
        return [f"result is {type(result).__name__}"]
    if "status" in result:
        return _response_problems(result)
    return _request_problems(sent["Records"][0]["cf"]["request"], result)


def _response_problems(result: dict[str, Any]) -> list[str]:
    out = []
    status = result["status"]
    if not (isinstance(status, str) and status.isdigit() and len(status) == 3):
        out.append(f"status {status!r} is not a 3-digit string")
    elif not 300 <= int(status) <= 599:
        out.append(f"generated status {status} outside 3xx-5xx")
    if status == "500":
        out.append("500: the handler's last-resort answer (it caught an exception)")
    body = result.get("body", "")
    if not isinstance(body, str):
        out.append("body is not a string")
    elif status == "204" and body:
        out.append("a 204 with a body")
    elif len(body.encode("utf-8")) > MAX_BODY:
        out.append("body over 1 MB")
    if result.get("bodyEncoding", "text") not in ("text", "base64"):
        out.append("bad bodyEncoding")
    if not isinstance(result.get("statusDescription", ""), str):
        out.append("statusDescription is not a string")
    headers = result.get("headers", {})
    out += _header_shape(headers, "response")
    for name in headers:
        if name in _FORBIDDEN or name.startswith(_FORBIDDEN_PREFIXES):
            out.append(f"generated response sets forbidden header {name}")
    if "cache-control" not in headers:
        out.append("generated response without Cache-Control (CloudFront caches it by default)")
    elif status in ("500", "502", "503") and headers["cache-control"][0]["value"] != "no-store":
        out.append(f"{status} is cacheable: an outage would be remembered")
    if status.startswith("3") and "location" not in headers:
        out.append("redirect without Location")
    if SECRET in json.dumps(result):
        out.append("the origin-verify secret in a generated response")
    return out


def _request_problems(sent: dict[str, Any], result: dict[str, Any]) -> list[str]:
    out = []
    uri = result.get("uri")
    query = result.get("querystring", "")
    if not isinstance(uri, str) or not uri.startswith("/"):
        return [f"uri {uri!r} does not start with '/'"]
    if any(not 0x21 <= ord(c) <= 0x7E for c in uri):
        out.append("uri holds characters that are not printable ASCII")
    if len(uri) + len(query) >= MAX_URL:
        out.append("uri + querystring reach 8,192 characters")
    if query != sent.get("querystring", ""):
        out.append("querystring changed")
    for field in ("method", "clientIp"):
        if result.get(field) != sent.get(field):
            out.append(f"{field} changed")
    out += _origin_problems(result.get("origin"))
    headers = result.get("headers", {})
    out += _header_shape(headers, "request")
    for name in set(headers) | set(sent["headers"]):
        if headers.get(name) == sent["headers"].get(name):
            continue
        if name == "host" and "s3" in (result.get("origin") or {}):
            domain = result["origin"]["s3"]["domainName"]
            if headers["host"] != [{"key": "Host", "value": domain}]:
                out.append("S3 origin without the bucket's Host")
            continue
        out.append(f"viewer header {name} changed")
    return out


def _origin_problems(origin: Any) -> list[str]:
    if not isinstance(origin, dict) or len(origin) != 1 or not origin.keys() <= {"custom", "s3"}:
        return ["origin must hold exactly one of custom or s3"]
    if "custom" in origin:
        spec = origin["custom"]
        out = _path_problems(spec.get("path"))
        domain = spec.get("domainName", "")
        if not (isinstance(domain, str) and len(domain) <= 253 and _DNS.fullmatch(domain)):
            out.append(f"custom domainName {domain!r} is not a DNS name")
        if spec.get("port") not in (80, 443) and not 1024 <= spec.get("port", 0) <= 65535:
            out.append(f"port {spec.get('port')!r}")
        if spec.get("protocol") not in ("http", "https"):
            out.append("protocol")
        if not set(spec.get("sslProtocols", [])) <= {"SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2"}:
            out.append("sslProtocols")
        for name in ("readTimeout", "keepaliveTimeout"):
            if not (isinstance(spec.get(name), int) and 1 <= spec[name] <= 180):
                out.append(f"{name} {spec.get(name)!r}")
        headers = spec.get("customHeaders", {})
        out += _header_shape(headers, "customHeaders")
        if headers.get("x-origin-verify") != [{"key": "X-Origin-Verify", "value": SECRET}]:
            out.append("custom origin without the origin-verify header")
        return out
    spec = origin["s3"]
    out = _path_problems(spec.get("path"))
    if not _S3_DOMAIN.fullmatch(str(spec.get("domainName", ""))):
        out.append(f"s3 domainName {spec.get('domainName')!r}")
    if spec.get("authMethod") not in ("origin-access-identity", "none"):
        out.append("authMethod")
    if spec.get("authMethod") == "origin-access-identity" and not spec.get("region"):
        out.append("OAI without region")
    if spec.get("customHeaders"):
        out.append("S3 origin given custom headers (the secret is for custom origins only)")
    return out


def _path_problems(path: Any) -> list[str]:
    if path == "":
        return []
    if not isinstance(path, str) or not path.startswith("/") or path.endswith("/"):
        return [f"origin path {path!r}"]
    return ["origin path over 255 characters"] if len(path) > 255 else []


def _header_shape(headers: Any, where: str) -> list[str]:
    if not isinstance(headers, dict):
        return [f"{where} headers are not an object"]
    out = []
    for name, entries in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            out.append(f"{where} header name {name!r} is not lowercase token")
        if not isinstance(entries, list) or not entries:
            out.append(f"{where} header {name} is not a non-empty list")
            continue
        for entry in entries:
            if not (isinstance(entry, dict) and isinstance(entry.get("value"), str)):
                out.append(f"{where} header {name} entry {entry!r}")
            elif "key" in entry and entry["key"].lower() != name:
                out.append(f"{where} header key {entry['key']!r} does not match {name}")
    return out
