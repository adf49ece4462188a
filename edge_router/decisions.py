"""Answers the handler gives CloudFront: a rewritten request, or a generated response.

A decision is immutable and cached; ``apply`` builds fresh dicts on every request so nothing
shared with the cache ever leaves the handler (CloudFront, the local server or a test may
mutate what it gets back). Every generated response respects CloudFront's rules: status as a
string, no body on 204 (we never generate one), small bodies, only ordinary headers, and no user
input echoed into HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol

# CloudFront refuses (502) a returned request whose URI plus query string reach 8,192 chars.
MAX_URL_LENGTH: Final = 8192

_TITLES: Final = {
    301: "Moved Permanently",
    400: "Bad Request",
    404: "Not Found",
    414: "URI Too Long",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_MESSAGES: Final = {
    301: "This page has moved.",
    400: "The request's host or path is not valid.",
    404: "Nothing is deployed at this address.",
    414: "The request's address is too long.",
    500: "The router failed to handle this request.",
    502: "The route for this address is misconfigured.",
    503: "The routing table is unreachable; try again shortly.",
}


class Decision(Protocol):
    @property
    def stale(self) -> bool:
        """Whether the answer was built from stale facts while the table was failing."""
        ...

    def apply(self, request: dict[str, Any]) -> dict[str, Any]:
        """The answer for ``request`` (the event's request dict, modified in place if forwarded)."""
        ...


def _header(name: str, value: str) -> list[dict[str, str]]:
    return [{"key": name, "value": value}]


@dataclass(frozen=True, slots=True)
class Respond:
    """A generated response (never a 204, so a body is always allowed)."""

    status: int
    cache_control: str
    extra_headers: tuple[tuple[str, str], ...] = ()
    stale: bool = False

    def apply(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.response()

    def response(self) -> dict[str, Any]:
        title = f"{self.status} {_TITLES[self.status]}"
        headers = {
            "content-type": _header("Content-Type", "text/html; charset=utf-8"),
            "cache-control": _header("Cache-Control", self.cache_control),
        }
        for name, value in self.extra_headers:
            headers[name.lower()] = _header(name, value)
        body = (
            f"<!doctype html><html><head><title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>{_MESSAGES[self.status]}</p></body></html>"
        )
        return {
            "status": str(self.status),
            "statusDescription": _TITLES[self.status],
            "headers": headers,
            "body": body,
            "bodyEncoding": "text",
        }


@dataclass(frozen=True, slots=True)
class Redirect:
    """301 to ``location`` (a path on the same host), keeping the viewer's query string."""

    location: str
    cache_control: str
    stale: bool = False

    def apply(self, request: dict[str, Any]) -> dict[str, Any]:
        query = request.get("querystring") or ""
        location = f"{self.location}?{query}" if query else self.location
        if len(location) >= MAX_URL_LENGTH:
            return uri_too_long()
        return Respond(301, self.cache_control, (("Location", location),)).response()


@dataclass(frozen=True, slots=True)
class S3Origin:
    domain: str  # <bucket>.s3.<region>.amazonaws.com
    path: str  # "" or "/prefix" (no trailing '/')
    region: str
    auth_method: str

    def build(self) -> dict[str, Any]:
        return {
            "s3": {
                "domainName": self.domain,
                "path": self.path,
                "authMethod": self.auth_method,
                "region": self.region,
                "customHeaders": {},
            }
        }


@dataclass(frozen=True, slots=True)
class CustomOrigin:
    domain: str
    port: int
    protocol: str
    path: str
    ssl_protocols: tuple[str, ...]
    read_timeout: int
    keepalive_timeout: int
    verify_header: tuple[str, str] | None  # (name, value)

    def build(self) -> dict[str, Any]:
        custom_headers = {}
        if self.verify_header is not None:
            name, value = self.verify_header
            custom_headers[name.lower()] = _header(name, value)
        return {
            "custom": {
                "domainName": self.domain,
                "port": self.port,
                "protocol": self.protocol,
                "path": self.path,
                "sslProtocols": list(self.ssl_protocols),
                "readTimeout": self.read_timeout,
                "keepaliveTimeout": self.keepalive_timeout,
                "customHeaders": custom_headers,
            }
        }


@dataclass(frozen=True, slots=True)
class Forward:
    """Send the request to ``origin`` as ``uri``; the object fetched is origin.path + uri.

    For S3 the Host header becomes the bucket's domain (S3 would refuse another host); for
    custom origins the viewer's Host is kept so an ingress behind an ALB can match on it.
    Query string and all other headers are left as CloudFront sent them.
    """

    origin: S3Origin | CustomOrigin
    uri: str
    stale: bool = False

    def apply(self, request: dict[str, Any]) -> dict[str, Any]:
        if len(self.uri) + len(request.get("querystring") or "") >= MAX_URL_LENGTH:
            return uri_too_long()
        request["origin"] = self.origin.build()
        request["uri"] = self.uri
        if isinstance(self.origin, S3Origin):
            request["headers"]["host"] = _header("Host", self.origin.domain)
        return request


def max_age(seconds: int) -> str:
    return f"max-age={seconds}"


NO_STORE: Final = "no-store"


def bad_request(max_age_seconds: int) -> Respond:
    return Respond(400, max_age(max_age_seconds))


def not_found(max_age_seconds: int) -> Respond:
    return Respond(404, max_age(max_age_seconds))


def unavailable(retry_after: int) -> Respond:
    return Respond(503, NO_STORE, (("Retry-After", str(retry_after)),))


def bad_gateway() -> Respond:
    return Respond(502, NO_STORE)


def internal_error() -> dict[str, Any]:
    return Respond(500, NO_STORE).response()


def uri_too_long() -> dict[str, Any]:
    return Respond(414, NO_STORE).response()
