"""The route entry as stored: a pure record and its DynamoDB attribute-value form.

Shared by the writers (store, lifecycle) and the reader (edge handler), so the item format is
defined once. Pure: plain dataclasses and dicts, no boto3 or pydantic (the edge imports this).
Items use DynamoDB's low-level form (``{"S": "..."}``) because the edge talks to the low-level
client and a serializer on the hot path would cost more than the lookup logic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from routing_table.core import keys

OriginKind = Literal["s3", "custom"]
Item = dict[str, Any]
"""A DynamoDB item in attribute-value form."""


@dataclass(frozen=True, slots=True)
class StaticSite:
    """A static site whose visitors see only one registered version's assets.

    Asset ``a/b.js`` of version ``V`` is the object ``<key_prefix>/V/a/b.js`` of the route's
    bucket; its entry is ``keys.asset_key(env_id, service, V, "a/b.js")``.
    """

    env_id: str
    service: str
    active_version: str
    spa_fallback: str | None = None  # asset path served for unknown paths, e.g. "index.html"


@dataclass(frozen=True, slots=True)
class RouteRecord:
    """One route entry: requests for ``host`` under ``prefix`` go to this origin."""

    host: str  # normalised host, or "*.parent" for a wildcard route
    prefix: str  # normalised path prefix: "/" or "/a/b"
    owner: str  # env id, or "manual:<name>" for routes put by hand
    target: str  # the target as given, canonicalised (e.g. "s3://bucket/site", an ARN)
    kind: OriginKind
    # s3 origins
    bucket: str | None = None
    bucket_region: str | None = None
    key_prefix: str = ""  # object key prefix without leading or trailing "/"
    # custom origins (ALB or any http(s) server); an ALB ARN is resolved to its DNS name
    domain: str | None = None
    protocol: Literal["http", "https"] = "https"
    port: int = 443
    strip_prefix: bool = False  # drop the matched prefix from the URI sent to the origin
    static: StaticSite | None = None
    updated_at: str = ""

    @property
    def key(self) -> keys.Key:
        return keys.route_key(self.host, self.prefix)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def route_to_item(route: RouteRecord) -> Item:
    """The item written for a route, including its ``by-owner`` index attributes."""
    pk, sk = route.key
    item: Item = {
        keys.TABLE_PK: _s(pk),
        keys.TABLE_SK: _s(sk),
        "kind": _s("route"),
        "host": _s(route.host),
        "prefix": _s(route.prefix),
        "owner": _s(route.owner),
        "target": _s(route.target),
        "origin": _s(route.kind),
        "strip": {"BOOL": route.strip_prefix},
        keys.GSI_BY_OWNER_PK: _s(keys.owner_index_pk(route.owner)),
        keys.GSI_BY_OWNER_SK: _s(f"ROUTE#{route.host}#{route.prefix}"),
    }
    if route.updated_at:
        item["updated_at"] = _s(route.updated_at)
    if route.kind == "s3":
        item["bucket"] = _s(route.bucket or "")
        item["bucket_region"] = _s(route.bucket_region or "")
        if route.key_prefix:
            item["key_prefix"] = _s(route.key_prefix)
    else:
        item["domain"] = _s(route.domain or "")
        item["protocol"] = _s(route.protocol)
        item["port"] = {"N": str(route.port)}
    if route.static is not None:
        item.update(static_attributes(route.static))
    return item


def static_attributes(site: StaticSite) -> Item:
    """Attributes that make an S3 route a versioned static site (the cutover writes these)."""
    attrs: Item = {
        "site_env": _s(site.env_id),
        "site_service": _s(site.service),
        "active_version": _s(site.active_version),
    }
    if site.spa_fallback:
        attrs["spa_fallback"] = _s(site.spa_fallback)
    return attrs


def route_from_item(item: Item) -> RouteRecord:
    """Parse a route item (attribute-value form). Raises KeyError on a malformed item."""
    get = _reader(item)
    static = None
    if "active_version" in item:
        static = StaticSite(
            env_id=get("site_env"),
            service=get("site_service"),
            active_version=get("active_version"),
            spa_fallback=get("spa_fallback", None),
        )
    kind: OriginKind = "s3" if get("origin") == "s3" else "custom"
    protocol: Literal["http", "https"] = "http" if get("protocol", "https") == "http" else "https"
    return RouteRecord(
        host=get("host"),
        prefix=get("prefix"),
        owner=get("owner"),
        target=get("target"),
        kind=kind,
        bucket=get("bucket", None),
        bucket_region=get("bucket_region", None),
        key_prefix=get("key_prefix", ""),
        domain=get("domain", None),
        protocol=protocol,
        port=int(item["port"]["N"]) if "port" in item else 443,
        strip_prefix=bool(item.get("strip", {}).get("BOOL", False)),
        static=static,
        updated_at=get("updated_at", ""),
    )


_MISSING: Any = object()


def _reader(item: Item) -> Any:
    def get(name: str, default: Any = _MISSING) -> Any:
        attr = item.get(name)
        if attr is None:
            if default is _MISSING:
                raise KeyError(name)
            return default
        return attr["S"]

    return get
