"""Audit and repair: find what no live environment accounts for, and converge it.

Findings (``classify``, pure):

* ``orphan-route`` / ``orphan-claim``: a route entry or host claim owned by an env id whose
  record is gone (routes put by hand, owner ``manual:...``, are not environments' and are left).
* ``orphan-handle``: a pool handle or handle claim held by an env id whose record is gone.
* ``orphan-assets``: asset entries of an environment that is gone, or of a version its record
  does not list.
* ``stuck``: an environment in ``creating`` or ``deleting`` for longer than ``stuck_after``.

Repair re-checks every finding with a consistent read before touching anything (a Scan is not a
snapshot: a record may have been written after its page was read), deletes orphans with
owner conditions, and finishes stuck environments with the ordinary delete plan, which is
idempotent. Running the audit again after a repair finds nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from hostnames import pool_plan
from routing_table.core import keys
from routing_table.lifecycle.plan import (
    Lifecycle,
    delete_transactions,
    purge_version_plan,
)
from routing_table.lifecycle.records import ACTIVE, EnvRecord, parse_iso
from routing_table.store.base import Plan, key_of, paginate

Item = dict[str, Any]
FindingKind = Literal["orphan-route", "orphan-claim", "orphan-handle", "orphan-assets", "stuck"]


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    env_id: str
    detail: str
    key: keys.Key | None = None  # the entry, for routes, claims and handles
    version: tuple[str, str] | None = None  # (service, version), for assets
    pool: str | None = None
    handle: str | None = None
    repaired: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "env_id": self.env_id,
            "detail": self.detail,
            "key": list(self.key) if self.key else None,
            "repaired": self.repaired,
        }


@dataclass(frozen=True, slots=True)
class AuditReport:
    scanned: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings

    def as_json(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "clean": self.clean,
            "findings": [f.as_json() for f in self.findings],
        }


@dataclass(frozen=True, slots=True)
class _EnvSeen:
    state: str
    state_since: str
    versions: frozenset[tuple[str, str]]


def _str(item: Item, name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value.get("S"))


def _env_seen(item: Item) -> _EnvSeen:
    sites = item.get("sites", {}).get("M", {})
    versions = frozenset((svc, ver) for svc, av in sites.items() for ver in av.get("M", {}))
    return _EnvSeen(_str(item, "state") or "", _str(item, "state_since") or "", versions)


def parse_asset_partition(pk: str) -> tuple[str, str, str] | None:
    """(env_id, service, version) of an asset partition key (env ids and names hold no '#')."""
    parts = pk.removeprefix(keys.ASSET_PREFIX).split("#")
    if not pk.startswith(keys.ASSET_PREFIX) or len(parts) != 4:
        return None
    return parts[0], parts[1], parts[2]


def classify(items: Iterable[Item], now: dt.datetime, stuck_after: float) -> list[Finding]:
    """Findings in a full set of the table's items (attribute-value form). Pure."""
    envs: dict[str, _EnvSeen] = {}
    others: list[Item] = []
    for item in items:
        pk, sk = key_of(item)
        if pk.startswith(keys.ENV_PREFIX) and sk == keys.ENV_SK:
            envs[pk.removeprefix(keys.ENV_PREFIX)] = _env_seen(item)
        else:
            others.append(item)
    findings: list[Finding] = []
    assets: set[tuple[str, str, str]] = set()
    for item in others:
        pk, sk = key_of(item)
        if pk.startswith(keys.ASSET_PREFIX):
            parsed = parse_asset_partition(pk)
            if parsed is not None:
                assets.add(parsed)
            continue
        finding = _entry_finding(item, pk, sk, envs)
        if finding is not None:
            findings.append(finding)
    for env_id, service, version in sorted(assets):
        env = envs.get(env_id)
        if env is None or (service, version) not in env.versions:
            why = "environment is gone" if env is None else "version not on the record"
            findings.append(
                Finding(
                    "orphan-assets",
                    env_id,
                    f"assets of {service}/{version}: {why}",
                    version=(service, version),
                )
            )
    cutoff = now - dt.timedelta(seconds=stuck_after)
    for env_id, env in sorted(envs.items()):
        if env.state != ACTIVE and env.state_since and parse_iso(env.state_since) <= cutoff:
            detail = f"{env.state} since {env.state_since}"
            findings.append(Finding("stuck", env_id, detail))
    return findings


def _entry_finding(item: Item, pk: str, sk: str, envs: dict[str, _EnvSeen]) -> Finding | None:
    if pk.startswith(keys.ROUTE_PREFIX):
        owner = _str(item, "owner")
        # Owners with ':' (``manual:cli``) are people, not environments: not ours to judge.
        if owner is None or ":" in owner or owner in envs:
            return None
        kind: FindingKind = "orphan-claim" if sk == keys.HOST_CLAIM_SK else "orphan-route"
        host = pk.removeprefix(keys.ROUTE_PREFIX)
        return Finding(kind, owner, f"{host} {sk}: environment is gone", key=(pk, sk))
    holder = _str(item, "env_id")
    if holder is None or holder in envs:
        return None
    if pk.startswith(keys.POOL_PREFIX) and sk.startswith(keys.POOL_HANDLE_PREFIX):
        pool = pk.removeprefix(keys.POOL_PREFIX)
        handle = sk.removeprefix(keys.POOL_HANDLE_PREFIX)
        detail = f"handle {handle} of pool {pool} held by a gone environment"
        return Finding("orphan-handle", holder, detail, (pk, sk), pool=pool, handle=handle)
    if pk.startswith(keys.HANDLE_CLAIM_PREFIX) and sk == keys.HANDLE_CLAIM_SK:
        handle = pk.removeprefix(keys.HANDLE_CLAIM_PREFIX)
        detail = f"handle claim {handle} held by a gone environment"
        return Finding("orphan-handle", holder, detail, (pk, sk), handle=handle)
    return None


_PROJECTION = "#pk, #sk, #o, env_id, #st, state_since, sites"


def scan_plan(table: str) -> Plan[list[Item]]:
    """Every item of the table (the attributes the audit needs), following pages."""
    params: Item = {
        "ProjectionExpression": _PROJECTION,
        "ExpressionAttributeNames": {
            "#pk": keys.TABLE_PK,
            "#sk": keys.TABLE_SK,
            "#o": "owner",
            "#st": "state",
        },
    }
    replies = yield from paginate("scan", table, params, table)
    return [item for reply in replies for item in reply.get("Items", [])]


def audit_plan(lifecycle: Lifecycle, *, repair: bool) -> Plan[AuditReport]:
    items = yield from scan_plan(lifecycle.table)
    findings = classify(items, lifecycle.clock(), lifecycle.stuck_after)
    if repair:
        findings = yield from _repair(lifecycle, findings)
    return AuditReport(scanned=len(items), findings=findings)


def _repair(lifecycle: Lifecycle, findings: list[Finding]) -> Plan[list[Finding]]:
    by_env: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_env[finding.env_id].append(finding)
    done: list[Finding] = []
    for env_id, found in sorted(by_env.items()):
        record = yield from lifecycle.read(env_id)
        for finding in _ordered(found):
            fixed = yield from _repair_one(lifecycle, finding, record)
            done.append(replace(finding, repaired=fixed))
    return done


def _ordered(found: list[Finding]) -> list[Finding]:
    # Routes and claims before handles: a handle goes back only when its hostnames are free.
    order = {"stuck": 0, "orphan-route": 1, "orphan-claim": 2, "orphan-assets": 3}
    return sorted(found, key=lambda f: order.get(f.kind, 4))


def _repair_one(lifecycle: Lifecycle, finding: Finding, record: EnvRecord | None) -> Plan[bool]:
    table = lifecycle.table
    if finding.kind == "stuck":
        current = yield from lifecycle.read(finding.env_id)
        if current is None or current.state == ACTIVE or record is None:
            return False  # it moved on since the scan
        if current.state_since != record.state_since:
            return False
        yield from lifecycle.delete(finding.env_id)
        return True
    if finding.kind == "orphan-assets":
        assert finding.version is not None
        service, version = finding.version
        if record is not None and version in record.versions(service):
            return False
        yield from purge_version_plan(
            table,
            finding.env_id,
            service,
            version,
            backoff=lifecycle.backoff,
            concurrency=lifecycle.concurrency,
        )
        return True
    if record is not None:
        return False  # the environment exists (created after the scan read its entries)
    if finding.kind in {"orphan-route", "orphan-claim"}:
        assert finding.key is not None
        for items in delete_transactions(table, finding.env_id, [finding.key]):
            yield from lifecycle.tolerant_transact(items)
        return True
    ctx = lifecycle.handles.ctx
    if finding.pool is not None:
        result = yield from pool_plan.release(
            ctx, finding.pool, finding.env_id, require_absent=(), handle=finding.handle
        )
    else:
        result = yield from pool_plan.release_claim(
            ctx, finding.env_id, require_absent=(), handle=finding.handle
        )
    return result.released
