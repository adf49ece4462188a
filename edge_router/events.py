"""Typed, read-only views of a CloudFront origin-request event (Powertools data-class style).

Powertools ships no CloudFront / Lambda@Edge event class, so this is our own, in its manner: a
thin wrapper over the raw dict with one ``@property`` per field. Nothing is copied or validated
up front (the hit path reads three fields); a field missing from a malformed event raises
``KeyError``/``TypeError`` where it is read, and the handler's boundary turns that into an
answer. The raw request dict stays reachable (``raw``) because the handler answers CloudFront by
returning that very dict, modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Headers = dict[str, list[dict[str, str]]]
"""CloudFront's header form: lowercase name -> list of ``{"key": ..., "value": ...}``."""


class CloudFrontConfig:
    """``Records[0].cf.config``: which distribution and event fired."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    @property
    def distribution_domain_name(self) -> str:
        """The distribution's ``dxxxx.cloudfront.net`` name."""
        return str(self._data.get("distributionDomainName", ""))

    @property
    def distribution_id(self) -> str:
        """The distribution's id."""
        return str(self._data.get("distributionId", ""))

    @property
    def event_type(self) -> str:
        """``origin-request`` for this handler's trigger."""
        return str(self._data.get("eventType", ""))

    @property
    def request_id(self) -> str:
        """CloudFront's id of the viewer request (``x-amz-cf-id``), for log correlation."""
        return str(self._data.get("requestId", ""))


class CloudFrontRequest:
    """``Records[0].cf.request``: the request CloudFront is about to send to the origin."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> CloudFrontRequest:
        """The request of a whole event, without wrapping the event first (the hot path)."""
        request = event["Records"][0]["cf"]["request"]
        if not isinstance(request, dict):
            raise TypeError("cf.request is not an object")
        return cls(request)

    @property
    def raw(self) -> dict[str, Any]:
        """The underlying dict; the handler returns it (modified) to forward the request."""
        return self._data

    @property
    def client_ip(self) -> str:
        """The viewer's IP address."""
        return str(self._data.get("clientIp", ""))

    @property
    def method(self) -> str:
        """The HTTP method."""
        return str(self._data.get("method", ""))

    @property
    def uri(self) -> str:
        """The path as the viewer sent it (percent-encoded, no query string)."""
        uri = self._data["uri"]
        if uri.__class__ is not str:
            raise TypeError(f"request.uri is {type(uri).__name__}, not a string")
        return uri

    @property
    def querystring(self) -> str:
        """The query string without ``?`` (may be empty)."""
        return str(self._data.get("querystring") or "")

    @property
    def headers(self) -> Headers:
        """All headers in CloudFront's form."""
        headers: Headers = self._data["headers"]
        return headers

    def header_value(self, name: str) -> str | None:
        """The first value of header ``name`` (lowercase), or None when absent."""
        values = self._data["headers"].get(name)
        if not values:
            return None
        value = values[0]["value"]
        return value if value.__class__ is str else None

    @property
    def host(self) -> str | None:
        """The Host header as sent; the only input that decides the host (never X-Forwarded-*)."""
        return self.header_value("host")

    @property
    def origin(self) -> dict[str, Any]:
        """The origin CloudFront would use (the distribution's placeholder until rewritten)."""
        origin: dict[str, Any] = self._data.get("origin") or {}
        return origin


class CloudFrontRequestEvent:
    """A whole origin-request event: ``{"Records": [{"cf": {"config": ..., "request": ...}}]}``."""

    __slots__ = ("_cf", "_data")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data
        self._cf: Mapping[str, Any] = data["Records"][0]["cf"]

    @property
    def raw_event(self) -> Mapping[str, Any]:
        """The event as received."""
        return self._data

    @property
    def config(self) -> CloudFrontConfig:
        """Distribution and event metadata."""
        return CloudFrontConfig(self._cf.get("config") or {})

    @property
    def request(self) -> CloudFrontRequest:
        """The request to route."""
        request = self._cf["request"]
        if not isinstance(request, dict):
            raise TypeError("cf.request is not an object")
        return CloudFrontRequest(request)
