"""What CloudFront does around the function, as pure code: request -> event -> checked result.

``serve`` turns each HTTP request into the origin-request event CloudFront would build, runs the
real handler on it, and then checks the handler's answer the way CloudFront does before acting on
it (an answer CloudFront would reject with a 502 is rejected here too, so a handler bug shows on a
laptop and not first in production). No I/O here: the server in ``server.py`` is the shell.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from routing_table.errors import InvalidResultError, MalformedRequestError

MAX_URL_LENGTH = 8192  # URI plus query string (CloudFront's limit)
MAX_GENERATED_BODY = 1024 * 1024  # generated body at origin-request
DISTRIBUTION_DOMAIN = "local.cloudfront.net"
DISTRIBUTION_ID = "EDGEROUTERLOCAL"
VIA = "1.1 local.cloudfront.net (edge-router serve)"

# Hop-by-hop headers end at the first hop: CloudFront never puts them in the event.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# A function that adds or changes one of these makes CloudFront answer 502.
_DISALLOWED = frozenset(
    {
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "trailer",
        "upgrade",
        "x-cache",
        "x-forwarded-proto",
        "x-real-ip",
    }
)
_DISALLOWED_PREFIXES = ("x-accel-", "x-amz-cf-", "x-edge-")
_READ_ONLY = frozenset(
    {
        "accept-encoding",
        "content-length",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "transfer-encoding",
        "via",
    }
)
_S3_DOMAIN = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])\.s3(?:[.-](?P<region>[a-z0-9-]+))?"
    r"\.amazonaws\.com$"
)
_URI_CHARS = re.compile(r"^/[\x21-\x7e]*$")  # printable ASCII, no spaces: already percent-encoded

Headers = dict[str, list[dict[str, str]]]
"""CloudFront's header form: lowercase name -> list of {key, value}."""


@dataclass(frozen=True, slots=True)
class ViewerRequest:
    """An incoming HTTP request, as far as the event needs it."""

    method: str
    uri: str  # the path as received (percent-encoded), starting with "/"
    querystring: str  # without the leading "?"
    headers: tuple[tuple[str, str], ...]  # in arrival order, names as sent
    client_ip: str

    @property
    def host(self) -> str:
        return next((v for k, v in self.headers if k.lower() == "host"), "")


@dataclass(frozen=True, slots=True)
class CustomOrigin:
    """Forward to ``url``; ``headers`` are the ones to send, in (name, value) pairs."""

    url: str
    headers: list[tuple[str, str]]
    read_timeout: float
    keepalive_timeout: float
    domain: str


@dataclass(frozen=True, slots=True)
class S3Origin:
    """Fetch ``key`` (decoded) from ``bucket``."""

    bucket: str
    key: str
    region: str | None
    headers: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Generated:
    """A response the function generated; returned to the viewer as is."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class Decision:
    """The checked outcome of one function call."""

    action: CustomOrigin | S3Origin | Generated
    uri: str = ""

    @property
    def origin_label(self) -> str:
        """Short origin description for the access log."""
        action = self.action
        if isinstance(action, CustomOrigin):
            return action.url.split("?", 1)[0].removesuffix(self.uri) or action.url
        if isinstance(action, S3Origin):
            return f"s3://{action.bucket}"
        return "generated"


def parse_viewer_request(
    method: str, raw_target: str, headers: Iterable[tuple[str, str]], client_ip: str
) -> ViewerRequest:
    """Check a request line and headers the way CloudFront's front door does.

    Raises ``MalformedRequestError`` (answered 400) for what CloudFront would not accept: no
    Host, a target that is not an origin-form path, control characters, an over-long URL.
    """
    if len(raw_target) > MAX_URL_LENGTH:
        raise MalformedRequestError(
            f"URL is {len(raw_target)} characters, over CloudFront's {MAX_URL_LENGTH}",
            field="url",
        )
    uri, _, querystring = raw_target.partition("?")
    if not _URI_CHARS.match(uri):
        raise MalformedRequestError(
            f"request target {raw_target[:100]!r} is not a path starting with '/'", field="uri"
        )
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in querystring):
        raise MalformedRequestError("query string holds spaces or control characters")
    pairs = tuple((name, value) for name, value in headers)
    request = ViewerRequest(method.upper(), uri, querystring, pairs, client_ip)
    hosts = [v for k, v in pairs if k.lower() == "host"]
    if len(hosts) != 1 or not hosts[0].strip():
        raise MalformedRequestError("request needs exactly one non-empty Host header", field="host")
    return request


def cloudfront_headers(request: ViewerRequest) -> Headers:
    """The viewer's headers in the event's form, plus those CloudFront adds on its way."""
    out: Headers = {}
    for name, value in request.headers:
        lower = name.lower()
        if lower in HOP_BY_HOP:
            continue
        out.setdefault(lower, []).append({"key": name, "value": value})
    forwarded = out.get("x-forwarded-for")
    if forwarded:
        forwarded[-1]["value"] = f"{forwarded[-1]['value']}, {request.client_ip}"
    else:
        out["x-forwarded-for"] = [{"key": "X-Forwarded-For", "value": request.client_ip}]
    out["via"] = [{"key": "Via", "value": VIA}]
    return out


def build_event(request: ViewerRequest, *, request_id: str) -> dict[str, Any]:
    """The origin-request event CloudFront would hand the function for this request.

    The origin is the distribution's placeholder default origin: the function picks the real one.
    """
    cf_request = {
        "clientIp": request.client_ip,
        "method": request.method,
        "uri": request.uri,
        "querystring": request.querystring,
        "headers": cloudfront_headers(request),
        "origin": {
            "custom": {
                "domainName": "placeholder.invalid",
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
    config = {
        "distributionDomainName": DISTRIBUTION_DOMAIN,
        "distributionId": DISTRIBUTION_ID,
        "eventType": "origin-request",
        "requestId": request_id,
    }
    return {"Records": [{"cf": {"config": config, "request": cf_request}}]}


def decide(event: Mapping[str, Any], result: object) -> Decision:
    """Check the function's answer like CloudFront and say what to do with it.

    Raises ``InvalidResultError`` for an answer CloudFront would turn into a 502.
    """
    if not isinstance(result, dict):
        raise InvalidResultError(f"function returned {type(result).__name__}, not an object")
    if "status" in result:
        return Decision(_generated(result))
    sent: Headers = event["Records"][0]["cf"]["request"]["headers"]
    return _forward(result, sent)


def _generated(result: dict[str, Any]) -> Generated:
    status_text = str(result.get("status", ""))
    if not status_text.isdigit() or not 100 <= int(status_text) <= 599:
        raise InvalidResultError(f"generated response has invalid status {status_text!r}")
    status = int(status_text)
    body = _generated_body(result)
    if status == 204 and body:
        raise InvalidResultError("a generated 204 response must not have a body")
    headers = _flatten(_header_dict(result.get("headers") or {}, "generated response"))
    reason = str(result.get("statusDescription") or "")
    return Generated(status, reason, headers, body)


def _generated_body(result: dict[str, Any]) -> bytes:
    raw = result.get("body") or ""
    if not isinstance(raw, str):
        raise InvalidResultError("generated response body must be a string")
    encoding = result.get("bodyEncoding") or "text"
    if encoding == "text":
        body = raw.encode("utf-8")
    elif encoding == "base64":
        try:
            body = base64.b64decode(raw, validate=True)
        except binascii.Error as exc:
            raise InvalidResultError(f"generated body is not valid base64: {exc}") from exc
    else:
        raise InvalidResultError(f"bodyEncoding must be 'text' or 'base64', not {encoding!r}")
    if len(body) > MAX_GENERATED_BODY:
        raise InvalidResultError(
            f"generated body is {len(body)} bytes, over the {MAX_GENERATED_BODY} limit"
        )
    return body


def _forward(result: dict[str, Any], sent: Headers) -> Decision:
    uri = result.get("uri")
    if not isinstance(uri, str) or not uri.startswith("/"):
        raise InvalidResultError(f"returned request has invalid uri {uri!r}")
    querystring = str(result.get("querystring") or "")
    if len(uri) + len(querystring) + 1 > MAX_URL_LENGTH:
        raise InvalidResultError("returned uri and query string exceed 8,192 characters")
    headers = _header_dict(result.get("headers") or {}, "returned request")
    _check_header_changes(sent, headers)
    origin = result.get("origin")
    if not isinstance(origin, dict) or len(origin) != 1 or not origin.keys() <= {"custom", "s3"}:
        raise InvalidResultError("returned request must hold exactly one of origin.custom/s3")
    if "custom" in origin:
        return Decision(_custom(origin["custom"], uri, querystring, headers), uri=uri)
    return Decision(_s3(origin["s3"], uri, headers), uri=uri)


def _check_header_changes(sent: Headers, returned: Headers) -> None:
    for name in set(sent) | set(returned):
        if sent.get(name) == returned.get(name):
            continue
        if name in _READ_ONLY:
            raise InvalidResultError(f"function changed read-only header {name!r}")
        if name in _DISALLOWED or name.startswith(_DISALLOWED_PREFIXES):
            raise InvalidResultError(f"function set disallowed header {name!r}")


def _custom(spec: Any, uri: str, querystring: str, headers: Headers) -> CustomOrigin:
    if not isinstance(spec, dict):
        raise InvalidResultError("origin.custom must be an object")
    domain = str(spec.get("domainName") or "")
    if not domain or ":" in domain or len(domain) > 253:
        raise InvalidResultError(f"origin.custom.domainName {domain!r} is not a DNS name")
    protocol = spec.get("protocol")
    if protocol not in ("http", "https"):
        raise InvalidResultError(f"origin.custom.protocol {protocol!r} is not http or https")
    port = spec.get("port")
    if not isinstance(port, int) or not (port in (80, 443) or 1024 <= port <= 65535):
        raise InvalidResultError(f"origin.custom.port {port!r} is not 80, 443 or 1024-65535")
    path = _origin_path(spec.get("path"), "custom")
    url = f"{protocol}://{domain}:{port}{path}{uri}" + (f"?{querystring}" if querystring else "")
    custom = _header_dict(spec.get("customHeaders") or {}, "origin.custom.customHeaders")
    return CustomOrigin(
        url=url,
        headers=_with_custom(headers, custom),
        read_timeout=float(spec.get("readTimeout") or 30),
        keepalive_timeout=float(spec.get("keepaliveTimeout") or 5),
        domain=domain,
    )


def _s3(spec: Any, uri: str, headers: Headers) -> S3Origin:
    if not isinstance(spec, dict):
        raise InvalidResultError("origin.s3 must be an object")
    domain = str(spec.get("domainName") or "")
    match = _S3_DOMAIN.match(domain)
    if match is None:
        raise InvalidResultError(
            f"origin.s3.domainName {domain!r} is not <bucket>.s3.<region>.amazonaws.com"
        )
    auth = spec.get("authMethod", "none")
    if auth not in ("none", "origin-access-identity"):
        raise InvalidResultError(f"origin.s3.authMethod {auth!r} is not supported")
    if auth == "origin-access-identity" and not spec.get("region"):
        raise InvalidResultError("origin.s3.region is required with origin-access-identity")
    path = _origin_path(spec.get("path"), "s3")
    key = unquote_key(path + uri)
    custom = _header_dict(spec.get("customHeaders") or {}, "origin.s3.customHeaders")
    region = spec.get("region") or match.group("region")
    return S3Origin(match.group("bucket"), key, region, _with_custom(headers, custom))


def _origin_path(path: Any, kind: str) -> str:
    path = path or ""
    if not isinstance(path, str) or (path and (not path.startswith("/") or path.endswith("/"))):
        raise InvalidResultError(
            f"origin.{kind}.path {path!r} must be empty or start with '/' and not end with '/'"
        )
    if len(path) > 255:
        raise InvalidResultError(f"origin.{kind}.path is longer than 255 characters")
    return path


def unquote_key(path: str) -> str:
    """The S3 object key for a fetched path: CloudFront asks S3 for ``origin.path + uri``,
    which S3 decodes; keys have no leading slash."""
    from urllib.parse import unquote

    return unquote(path.lstrip("/"))


def _header_dict(value: Any, where: str) -> Headers:
    if not isinstance(value, dict):
        raise InvalidResultError(f"{where} headers must be an object")
    for name, entries in value.items():
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("value"), str) for e in entries
        ):
            raise InvalidResultError(f"{where} header {name!r} must be a list of {{key, value}}")
        if name != name.lower():
            raise InvalidResultError(f"{where} header name {name!r} must be lowercase")
    return value


def _with_custom(headers: Headers, custom: Headers) -> list[tuple[str, str]]:
    # An origin custom header replaces a viewer header of the same name (CloudFront's rule).
    kept = {name: entries for name, entries in headers.items() if name not in custom}
    return _flatten(kept) + _flatten(custom)


def _flatten(headers: Headers) -> list[tuple[str, str]]:
    return [
        (entry.get("key") or name, entry["value"])
        for name, entries in headers.items()
        for entry in entries
    ]
