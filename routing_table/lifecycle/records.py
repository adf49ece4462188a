"""The environment record: what an environment is, where it is in its life, what it holds.

Pure: dataclasses, their DynamoDB attribute-value form and the state transitions, no I/O.
The record is the source of truth for delete and garbage collection (GSIs are eventually
consistent, the record is read with a consistent GetItem): it lists every hostname the
environment may own and every static version whose assets may exist.

Every change is a compare-and-swap on ``rev`` (``put_record`` writes ``rev + 1`` on condition
``rev = <read rev>``), so two writers never lose each other's changes: the loser re-reads and
re-plans.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from routing_table.core import keys

Item = dict[str, Any]
EnvState = Literal["creating", "active", "deleting"]
HandleMode = Literal["random", "pool", "explicit"]
VersionState = Literal["pending", "active", "previous", "retired", "collecting"]

CREATING: EnvState = "creating"
ACTIVE: EnvState = "active"
DELETING: EnvState = "deleting"
ENV_KIND = "env"


def iso(moment: dt.datetime) -> str:
    """ISO-8601 UTC with seconds, the form every timestamp of the table uses."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class Service:
    """One service of an environment: where it routes, and its hostname once the handle is known."""

    target: str
    hostname: str | None = None


@dataclass(frozen=True, slots=True)
class Version:
    """One registered static version of a service.

    ``retired_at`` is when it stopped being the active version: an edge cache may keep
    serving it until ``retired_at + cache TTL + max stale``, so it is collected only after.
    ``digest`` identifies the asset list, so a re-run of the same deploy is recognised.
    """

    state: VersionState
    since: str  # when it entered ``state``
    count: int
    digest: str
    retired_at: str | None = None


@dataclass(frozen=True, slots=True)
class EnvSpec:
    """What a caller asks for; re-running create with the same spec converges."""

    env_id: str
    app: str
    domain: str
    services: Mapping[str, str]  # service -> canonical target string
    handle_mode: HandleMode = "random"
    pool: str | None = None
    handle: str | None = None  # the explicit handle
    branch: str | None = None

    def describe_difference(self, record: EnvRecord) -> str | None:
        """Why ``record`` was not made from this spec (None when it was)."""
        mine = (self.app, self.domain, self.handle_mode, self.pool, self.branch)
        theirs = (record.app, record.domain, record.handle_mode, record.pool, record.branch)
        if mine != theirs:
            names = ("app", "domain", "handle mode", "pool", "branch")
            diffs = [
                f"{n} {a!r} (recorded {b!r})"
                for n, a, b in zip(names, mine, theirs, strict=True)
                if a != b
            ]
            return ", ".join(diffs)
        if self.handle_mode == "explicit" and self.handle != record.handle:
            return f"explicit handle differs (asked {self.handle!r}, recorded {record.handle!r})"
        if set(self.services) != set(record.services):
            return (
                f"services differ (asked {sorted(self.services)}, recorded "
                f"{sorted(record.services)})"
            )
        return None


@dataclass(frozen=True, slots=True)
class EnvRecord:
    env_id: str
    app: str
    domain: str
    state: EnvState
    state_since: str
    created_at: str
    handle_mode: HandleMode
    services: Mapping[str, Service]
    pool: str | None = None
    handle: str | None = None
    branch: str | None = None
    sites: Mapping[str, Mapping[str, Version]] = field(default_factory=dict)
    rev: int = 0

    @classmethod
    def new(cls, spec: EnvSpec, now: dt.datetime) -> EnvRecord:
        stamp = iso(now)
        return cls(
            env_id=spec.env_id,
            app=spec.app,
            domain=spec.domain,
            state=CREATING,
            state_since=stamp,
            created_at=stamp,
            handle_mode=spec.handle_mode,
            pool=spec.pool,
            handle=spec.handle if spec.handle_mode == "explicit" else None,
            branch=spec.branch,
            services={name: Service(target) for name, target in spec.services.items()},
        )

    # --- views ---------------------------------------------------------------------------

    @property
    def hostnames(self) -> dict[str, str]:
        return {n: s.hostname for n, s in sorted(self.services.items()) if s.hostname}

    def versions(self, service: str) -> Mapping[str, Version]:
        return self.sites.get(service, {})

    def version_in(self, service: str, state: VersionState) -> str | None:
        for name, version in self.versions(service).items():
            if version.state == state:
                return name
        return None

    # --- transitions (each returns a new record; the caller CASes it in) ---------------------

    def with_state(self, state: EnvState, now: dt.datetime) -> EnvRecord:
        return replace(self, state=state, state_since=iso(now))

    def with_handle(self, handle: str, hostnames: Mapping[str, str]) -> EnvRecord:
        services = {
            name: replace(svc, hostname=hostnames[name]) for name, svc in self.services.items()
        }
        return replace(self, handle=handle, services=services)

    def with_target(self, service: str, target: str) -> EnvRecord:
        services = dict(self.services)
        services[service] = replace(services[service], target=target)
        return replace(self, services=services)

    def with_version(self, service: str, name: str, version: Version | None) -> EnvRecord:
        site = dict(self.versions(service))
        if version is None:
            site.pop(name, None)
        else:
            site[name] = version
        sites = dict(self.sites)
        sites[service] = site
        return replace(self, sites=sites)

    def with_pending(
        self, service: str, name: str, count: int, digest: str, now: dt.datetime
    ) -> EnvRecord:
        return self.with_version(service, name, Version("pending", iso(now), count, digest))

    def with_active(self, service: str, name: str, now: dt.datetime) -> EnvRecord:
        """``name`` becomes active, the active one previous, the previous one retired.

        Only the version that stops being active gets a new ``retired_at``: a previous version
        stopped being active earlier and keeps that time.
        """
        stamp = iso(now)

        def step(ver_name: str, ver: Version) -> Version:
            if ver_name == name:
                return replace(ver, state="active", since=stamp, retired_at=None)
            if ver.state == "active":
                return replace(ver, state="previous", since=stamp, retired_at=stamp)
            if ver.state == "previous":
                return replace(ver, state="retired", since=stamp)
            return ver

        return self._with_versions(service, step)

    def with_site_retired(self, service: str, now: dt.datetime) -> EnvRecord:
        """The service stops being a static site (rerouted): every version may be collected
        after the grace period, counted from now for the active one."""
        stamp = iso(now)

        def step(_name: str, ver: Version) -> Version:
            if ver.state == "active":
                return replace(ver, state="retired", since=stamp, retired_at=stamp)
            if ver.state == "previous":
                return replace(ver, state="retired", since=stamp)
            return ver

        return self._with_versions(service, step)

    def _with_versions(self, service: str, step: Callable[[str, Version], Version]) -> EnvRecord:
        """The record with every version of ``service`` passed through ``step``."""
        site = {name: step(name, ver) for name, ver in self.versions(service).items()}
        return replace(self, sites={**self.sites, service: site})

    def bumped(self) -> EnvRecord:
        return replace(self, rev=self.rev + 1)


def asset_digest(paths: Iterable[str]) -> str:
    """A stable digest of an asset list (order and duplicates do not matter)."""
    sha = hashlib.sha256()
    for path in sorted(set(paths)):
        sha.update(path.encode("utf-8"))
        sha.update(b"\n")
    return sha.hexdigest()[:32]


# --- attribute-value form ------------------------------------------------------------------


def _s(value: str) -> Item:
    return {"S": value}


def _opt(item: Item, name: str, value: str | None) -> None:
    if value is not None:
        item[name] = _s(value)


def _version_av(version: Version) -> Item:
    attrs: Item = {
        "state": _s(version.state),
        "since": _s(version.since),
        "count": {"N": str(version.count)},
        "digest": _s(version.digest),
    }
    _opt(attrs, "retired_at", version.retired_at)
    return {"M": attrs}


def _service_av(service: Service) -> Item:
    attrs: Item = {"target": _s(service.target)}
    _opt(attrs, "hostname", service.hostname)
    return {"M": attrs}


def record_to_item(record: EnvRecord) -> Item:
    pk, sk = keys.env_key(record.env_id)
    item: Item = {
        keys.TABLE_PK: _s(pk),
        keys.TABLE_SK: _s(sk),
        "kind": _s(ENV_KIND),
        "env_id": _s(record.env_id),
        "app": _s(record.app),
        "domain": _s(record.domain),
        "state": _s(record.state),
        "state_since": _s(record.state_since),
        "created_at": _s(record.created_at),
        "handle_mode": _s(record.handle_mode),
        "rev": {"N": str(record.rev)},
        "services": {"M": {n: _service_av(s) for n, s in record.services.items()}},
        "sites": {
            "M": {
                svc: {"M": {name: _version_av(v) for name, v in versions.items()}}
                for svc, versions in record.sites.items()
            }
        },
        # Indexed: the environment shows in its owner listing and in the environment list.
        keys.GSI_BY_OWNER_PK: _s(keys.owner_index_pk(record.env_id)),
        keys.GSI_BY_OWNER_SK: _s(ENV_KIND.upper()),
        keys.GSI_BY_LIST_PK: _s(keys.ENV_LIST_PK),
        keys.GSI_BY_LIST_SK: _s(record.env_id),
        # The owner of an environment record is the environment itself, like its other items.
        "owner": _s(record.env_id),
    }
    _opt(item, "pool", record.pool)
    _opt(item, "handle", record.handle)
    _opt(item, "branch", record.branch)
    return item


def _get(attrs: Item, name: str) -> str | None:
    value = attrs.get(name)
    return None if value is None else str(value["S"])


def _req(attrs: Item, name: str) -> str:
    return str(attrs[name]["S"])


def _version_from(attrs: Item) -> Version:
    state: VersionState = attrs["state"]["S"]
    return Version(
        state=state,
        since=_req(attrs, "since"),
        count=int(attrs["count"]["N"]),
        digest=_req(attrs, "digest"),
        retired_at=_get(attrs, "retired_at"),
    )


def record_from_item(item: Item) -> EnvRecord:
    """Parse an environment record; raises KeyError on a malformed item."""
    services = {
        name: Service(_req(av["M"], "target"), _get(av["M"], "hostname"))
        for name, av in item["services"]["M"].items()
    }
    sites = {
        svc: {name: _version_from(v["M"]) for name, v in av["M"].items()}
        for svc, av in item.get("sites", {"M": {}})["M"].items()
    }
    state: EnvState = item["state"]["S"]
    mode: HandleMode = item["handle_mode"]["S"]
    return EnvRecord(
        env_id=_req(item, "env_id"),
        app=_req(item, "app"),
        domain=_req(item, "domain"),
        state=state,
        state_since=_req(item, "state_since"),
        created_at=_req(item, "created_at"),
        handle_mode=mode,
        services=services,
        pool=_get(item, "pool"),
        handle=_get(item, "handle"),
        branch=_get(item, "branch"),
        sites=sites,
        rev=int(item["rev"]["N"]),
    )


def record_to_json(record: EnvRecord) -> dict[str, Any]:
    """The record as plain JSON data (CLI output, logs)."""
    return {
        "env_id": record.env_id,
        "app": record.app,
        "domain": record.domain,
        "branch": record.branch,
        "state": record.state,
        "state_since": record.state_since,
        "created_at": record.created_at,
        "handle": record.handle,
        "handle_mode": record.handle_mode,
        "pool": record.pool,
        "hostnames": record.hostnames,
        "services": {
            n: {"target": s.target, "hostname": s.hostname}
            for n, s in sorted(record.services.items())
        },
        "versions": {
            svc: {
                name: {
                    "state": v.state,
                    "since": v.since,
                    "retired_at": v.retired_at,
                    "assets": v.count,
                }
                for name, v in sorted(versions.items())
            }
            for svc, versions in sorted(record.sites.items())
            if versions
        },
    }
