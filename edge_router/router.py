"""Routing one origin-request event: cache, longest match, static sites, origin rewrite.

``EdgeRouter.handle(event)`` never raises. A hit is a lookup of (Host header as sent, URI as
sent) in the decision cache. A miss normalises the host and path, lists the candidate route keys
(``routing_table.core.matching``), fetches the ones the cache can't answer in ONE BatchGetItem,
and builds the answer. For a static site the asset keys of the route it presumes will win (the
best one it already knows for this host) ride in the same BatchGetItem, so a new path on a
static host already seen costs one round trip, and the first request to a static host at most
two.

When the table fails, facts up to ``max_stale_seconds`` old are used instead (stale-if-error),
and the stale answer is kept for ``error_backoff_seconds`` so an outage doesn't cost every
request a timeout; with nothing to serve, 503. A failed lookup is never remembered as "absent".
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, unquote

from cachetools import LRUCache

from edge_router import decisions
from edge_router.cache import EdgeCache, Fact
from edge_router.config import EdgeConfig
from edge_router.decisions import CustomOrigin, Decision, Forward, Redirect, Respond, S3Origin
from edge_router.events import CloudFrontRequest
from edge_router.telemetry import Telemetry
from routing_table.core import keys
from routing_table.core.matching import candidate_route_keys, remainder
from routing_table.core.normalize import normalize_host, normalize_path
from routing_table.core.records import Item, RouteRecord, route_from_item
from routing_table.errors import InvalidHostError, InvalidPathError, StoreError

_MAX_SORT_KEY_BYTES = 1024
_MAX_ORIGIN_PATH = 255
_CUSTOM_PORTS = range(1024, 65536)


class RouteReader(Protocol):
    def batch_get(self, wanted: Sequence[keys.Key], *, deadline: float) -> Mapping[keys.Key, Item]:
        """Items that exist among ``wanted``; raises StoreError when the table can't answer."""
        ...


@dataclass(frozen=True, slots=True)
class InvalidRoute:
    """A route item the edge can't use (malformed, or an origin CloudFront would refuse)."""

    reason: str


@dataclass(slots=True)
class _Lookup:
    """One miss being resolved: what it learned, what it used, whether it had to go stale."""

    host: str
    path: str
    candidates: list[keys.Key]  # best first
    now: float
    allow_stale: bool = False
    known: dict[keys.Key, Fact] = field(default_factory=dict)  # learned by this request
    fresh_until: float = float("inf")
    stale: bool = False
    uncertain: bool = False
    route: RouteRecord | None = None


@dataclass(frozen=True, slots=True)
class _Need:
    """Evaluation stopped: these keys must be fetched first."""

    keys: list[keys.Key]


class EdgeRouter:
    def __init__(
        self,
        config: EdgeConfig,
        *,
        reader: RouteReader | None = None,
        reader_factory: Callable[[], RouteReader] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.config = config
        self._reader = reader
        self._reader_factory = reader_factory
        self._clock = clock
        self.cache = EdgeCache(
            max_entries=config.cache_max_entries,
            ttl=config.cache_ttl_seconds,
            negative_ttl=config.negative_cache_ttl_seconds,
            jitter_ratio=config.cache_jitter_ratio,
            max_stale=config.max_stale_seconds,
            rng=rng,
        )
        self._telemetry = telemetry or Telemetry.from_config(config)
        self._not_found = decisions.not_found(config.not_found_max_age)
        self._bad_request = decisions.bad_request(config.not_found_max_age)
        self._unavailable = decisions.unavailable(config.retry_after_seconds)
        self._generated_cache = decisions.max_age(config.not_found_max_age)
        self._allowed = config.allowed_domains
        verify = config.origin_verify_header
        self._verify = None if verify is None else (verify.name, verify.value)
        # Every URL served by one route shares its origin object: with tens of thousands of
        # cached decisions, a copy per URL would be a fifth of the cache's memory.
        self._origins: LRUCache[RouteRecord, S3Origin | CustomOrigin | InvalidRoute] = LRUCache(
            maxsize=1024
        )

    # -- the handler ----------------------------------------------------------------------

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The answer to one origin-request event. Never raises."""
        now = self._clock()
        try:
            request = CloudFrontRequest.of(event)
            host, uri = request.host, request.uri
            cached = self.cache.decision((host, uri), now)
            if cached is not None:
                self._telemetry.hit(now, stale=cached.decision.stale)
                return cached.decision.apply(request.raw)
            return self._miss(request.raw, host, uri, now)
        except Exception:
            # A bug, or an event not shaped like CloudFront's. Raising would make CloudFront
            # answer a bare 503 with no log context; answer 500 and log the traceback.
            with contextlib.suppress(Exception):
                self._telemetry.crash(now, "handle")
            return decisions.internal_error()

    def _miss(
        self, request: dict[str, Any], host: str | None, uri: str, now: float
    ) -> dict[str, Any]:
        started = time.perf_counter()
        trips_before = self._trips()
        decision, fresh_until, lookup, error = self._decide(host, uri, now)
        if fresh_until is not None:
            self.cache.put_decision((host, uri), decision, fresh_until)
        result = decision.apply(request)
        fields: dict[str, Any] = {
            "host": host if host is None else host[:253],
            "uri": uri[:256],
            "status": result.get("status", "forward"),
        }
        if lookup is not None and lookup.route is not None:
            fields["route"] = f"{lookup.route.host}{lookup.route.prefix}"
            fields["owner"] = lookup.route.owner
        if "origin" in result and "status" not in result:
            spec = next(iter(result["origin"].values()))
            fields["origin"] = spec["domainName"] + spec["path"]
        self._telemetry.miss(
            now,
            fields=fields,
            latency_ms=(time.perf_counter() - started) * 1000,
            round_trips=self._trips() - trips_before,
            stale=decision.stale,
            error=error,
            unavailable=isinstance(decision, Respond) and decision.status == 503,
        )
        return result

    def _trips(self) -> int:
        return int(getattr(self._reader, "round_trips", 0))

    # -- deciding a miss ------------------------------------------------------------------

    def _decide(
        self, host_raw: str | None, uri: str, now: float
    ) -> tuple[Decision, float | None, _Lookup | None, str | None]:
        """(decision, cache it until or None, the lookup, error text) for one URL."""
        if host_raw is None:
            return self._bad_request, None, None, None
        try:
            host = normalize_host(host_raw)
            path = normalize_path(uri)
        except (InvalidHostError, InvalidPathError):
            return self._bad_request, None, None, None
        if self._allowed and not any(host == d or host.endswith("." + d) for d in self._allowed):
            return self._not_found, None, None, None  # not ours: no table lookup for it
        lookup = _Lookup(host, path, candidate_route_keys(host, path), now)
        deadline = now + self.config.request_budget_seconds
        wanted = self._first_fetch(lookup)
        error: str | None = None
        for _ in range(2):
            if wanted:
                try:
                    self._learn(
                        lookup, wanted, self._get_reader().batch_get(wanted, deadline=deadline)
                    )
                except StoreError as exc:
                    error = str(exc)
                    break
            outcome = self._evaluate(lookup)
            if isinstance(outcome, _Need):
                # An asset may be wanted twice (the SPA fallback is often index.html) and
                # DynamoDB refuses a BatchGetItem with duplicate keys.
                wanted = list(dict.fromkeys(outcome.keys))
                continue
            return outcome, lookup.fresh_until, lookup, None
        return self._degraded(lookup, error or "lookup did not converge")

    def _degraded(
        self, lookup: _Lookup, error: str
    ) -> tuple[Decision, float | None, _Lookup | None, str | None]:
        """The table failed: answer from stale facts if they decide the request, else 503."""
        lookup.allow_stale = True
        lookup.fresh_until = float("inf")
        outcome = self._evaluate(lookup)
        if isinstance(outcome, _Need) or (lookup.uncertain and lookup.route is None):
            return self._unavailable, None, lookup, error
        # Keep the degraded answer briefly so an outage costs one timeout per URL per backoff,
        # not one per request.
        until = lookup.now + self.config.error_backoff_seconds
        return _with_stale(outcome), until, lookup, error

    def _get_reader(self) -> RouteReader:
        if self._reader is None:
            if self._reader_factory is not None:
                self._reader = self._reader_factory()
            else:
                from edge_router.dynamo import DynamoRouteReader

                self._reader = DynamoRouteReader(self.config, clock=self._clock)
        return self._reader

    def _fact(self, lookup: _Lookup, key: keys.Key) -> Fact | None:
        """The fact ``lookup`` may use for ``key``: fresh, or stale when the table failed."""
        fact = lookup.known.get(key) or self.cache.fact(key, lookup.now)
        if fact is None:
            return None
        if lookup.now < fact.fresh_until:
            return fact
        if lookup.allow_stale and lookup.now < fact.stale_until:
            lookup.stale = True
            return fact
        return None

    def _first_fetch(self, lookup: _Lookup) -> list[keys.Key]:
        """Route keys the cache can't answer, plus the assets of the presumed static route."""
        wanted: list[keys.Key] = []
        presumed: Any = None
        for candidate in lookup.candidates:
            fact = self._fact(lookup, candidate)
            if fact is None:
                wanted.append(candidate)
                old = self.cache.fact(candidate, lookup.now)
                if presumed is None and old is not None and isinstance(old.value, RouteRecord):
                    presumed = old.value  # expired, but likely still right: a good guess
                continue
            if fact.value is not None:
                presumed = presumed or fact.value
                break
        if isinstance(presumed, RouteRecord) and presumed.static is not None:
            for key, _ in self._asset_wants(presumed, lookup.path):
                if key is not None and self._fact(lookup, key) is None:
                    wanted.append(key)
        return list(dict.fromkeys(wanted))

    def _learn(
        self, lookup: _Lookup, wanted: list[keys.Key], items: Mapping[keys.Key, Item]
    ) -> None:
        for key in wanted:
            item = items.get(key)
            if key[0].startswith(keys.ASSET_PREFIX):
                value: Any = item is not None
            else:
                value = None if item is None else _parse_route(item)
            lookup.known[key] = self.cache.learn(key, value, found=item is not None, now=lookup.now)

    def _evaluate(self, lookup: _Lookup) -> Decision | _Need:
        """Decide from facts alone, or say which keys are missing."""
        unknown: list[keys.Key] = []
        for candidate in lookup.candidates:
            fact = self._fact(lookup, candidate)
            if fact is None:
                if lookup.allow_stale:
                    lookup.uncertain = True  # degraded: treat as absent, remember the doubt
                    continue
                unknown.append(candidate)
                continue
            lookup.fresh_until = min(lookup.fresh_until, fact.fresh_until)
            if fact.value is None:
                continue
            if unknown:
                return _Need(unknown)
            return self._route_decision(lookup, fact)
        if unknown:
            return _Need(unknown)
        return self._not_found

    def _route_decision(self, lookup: _Lookup, fact: Fact) -> Decision | _Need:
        # A found route is fresh as long as its own record (and its assets) are; the negative
        # facts about longer prefixes don't shorten it (a new longer route shows within TTL).
        lookup.fresh_until = fact.fresh_until
        route = fact.value
        if isinstance(route, InvalidRoute):
            return decisions.bad_gateway()
        lookup.route = route
        uri = remainder(route.prefix, lookup.path) if route.strip_prefix else lookup.path
        origin = self._origins.get(route)
        if origin is None:
            origin = self._origins[route] = self._origin(route)
        if isinstance(origin, InvalidRoute):
            return decisions.bad_gateway()
        if route.static is None or route.kind != "s3":
            return Forward(origin, uri)
        return self._static_decision(lookup, route, origin, uri)

    def _static_decision(
        self, lookup: _Lookup, route: RouteRecord, origin: S3Origin | CustomOrigin, uri: str
    ) -> Decision | _Need:
        wants = self._asset_wants(route, lookup.path)
        missing = []
        for key, _ in wants:
            if key is None:
                continue
            fact = self._fact(lookup, key)
            if fact is None and not lookup.allow_stale:
                missing.append(key)
        if missing:
            return _Need(missing)
        for key, kind in wants:
            if key is None:
                continue
            fact = self._fact(lookup, key)
            if fact is None:
                lookup.uncertain = True
                continue
            lookup.fresh_until = min(lookup.fresh_until, fact.fresh_until)
            if not fact.value:
                continue
            if kind == "file":
                return Forward(origin, uri)
            if kind == "index":
                return Forward(origin, uri + "index.html")
            if kind == "directory":
                return Redirect(lookup.path + "/", self._generated_cache)
            return Forward(origin, "/" + quote(key[1], safe="/"))
        if lookup.uncertain:
            return _Need([k for k, _ in wants if k is not None])
        return self._not_found

    def _asset_wants(self, route: RouteRecord, path: str) -> list[tuple[keys.Key | None, str]]:
        """Asset keys that would answer ``path`` on a static route, best first, with their role.

        ``/dir/`` -> ``dir/index.html``; ``/a.js`` -> ``a.js``, else ``a.js/index.html`` (a
        redirect to ``/a.js/`` so relative links work); then the SPA fallback. A key that
        cannot exist (sort key over 1,024 bytes) is None.
        """
        site = route.static
        assert site is not None
        uri = remainder(route.prefix, path) if route.strip_prefix else path
        base = unquote(uri[1:])
        names = (
            [(base + "index.html", "index")]
            if uri.endswith("/")
            else [(base, "file"), (base + "/index.html", "directory")]
        )
        if site.spa_fallback:
            names.append((site.spa_fallback, "fallback"))
        out: list[tuple[keys.Key | None, str]] = []
        for name, kind in names:
            fits = 0 < len(name.encode("utf-8", "surrogatepass")) <= _MAX_SORT_KEY_BYTES
            key = keys.asset_key(site.env_id, site.service, site.active_version, name)
            out.append((key if fits else None, kind))
        return out

    def _origin(self, route: RouteRecord) -> S3Origin | CustomOrigin | InvalidRoute:
        config = self.config
        if route.kind == "s3":
            if not route.bucket:
                return InvalidRoute("s3 route without a bucket")
            parts = [p for p in (route.key_prefix.strip("/"),) if p]
            if route.static is not None:
                parts.append(route.static.active_version)
            path = "/" + "/".join(parts) if parts else ""
            if len(path) > _MAX_ORIGIN_PATH:
                return InvalidRoute(f"origin path longer than {_MAX_ORIGIN_PATH} characters")
            region = route.bucket_region or config.default_bucket_region
            domain = f"{route.bucket}.s3.{region}.amazonaws.com"
            return S3Origin(domain, path, region, config.s3_auth_method)
        if not route.domain or ":" in route.domain or len(route.domain) > 253:
            return InvalidRoute(f"custom origin domain {route.domain!r} is not a DNS name")
        if route.port not in (80, 443) and route.port not in _CUSTOM_PORTS:
            return InvalidRoute(f"custom origin port {route.port} is not allowed by CloudFront")
        return CustomOrigin(
            domain=route.domain,
            port=route.port,
            protocol=route.protocol,
            path="",
            ssl_protocols=config.custom_origin_ssl_protocols,
            read_timeout=config.custom_origin_read_timeout,
            keepalive_timeout=config.custom_origin_keepalive_timeout,
            verify_header=self._verify,
        )


def _parse_route(item: Item) -> RouteRecord | InvalidRoute:
    try:
        return route_from_item(item)
    except (KeyError, TypeError, ValueError) as exc:
        return InvalidRoute(f"malformed route item: {exc!r}")


def _with_stale(decision: Decision) -> Decision:
    if isinstance(decision, Forward | Redirect | Respond):
        from dataclasses import replace

        return replace(decision, stale=True)
    return decision
