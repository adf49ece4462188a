"""The lifecycle of an environment as pure plans: create, delete, reroute, deploy, rollback, gc.

Plans are generators in ``store.base``'s protocol (they yield ``Call``/``Sleep``/``Parallel``/
``Report`` steps and receive replies), so the sync (boto3) and async (aioboto3) shells of
``store`` execute them unchanged: the logic lives here once.

Every plan re-reads the environment record (consistent read) and decides from what it sees, so
a plan interrupted at any write is completed by running it again:

* create: record ``creating`` (desired services) -> handle -> hostnames on the record -> routes and
  host claims in transactions, each also checking the record is still ``creating`` -> ``active``.
  A hostname owned by another environment rolls everything of the new one back.
* delete: record ``deleting`` -> routes and claims (record's hostnames + ``by-owner`` index,
  confirmed by consistent reads) -> assets of every version -> handle -> record.
* deploy: version ``pending`` on the record -> assets (BatchWriteItem) -> ONE transaction flips the
  route's ``active_version`` and CASes the record -> gc of versions no edge cache can still need.

The record changes by compare-and-swap on ``rev`` only, so concurrent writers never lose updates.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from hostnames import pool_plan
from hostnames.handles import random_handle
from hostnames.names import generate_hostname
from routing_table.core import keys, records
from routing_table.core.keys import validate_env_id
from routing_table.core.records import RouteRecord
from routing_table.errors import (
    ConditionFailedError,
    EnvironmentNotFoundError,
    EnvironmentStateError,
    HandleError,
    HandleTakenError,
    InvalidInputError,
    NotFoundError,
    TransactionCanceledError,
    TransactionConflictError,
)
from routing_table.lifecycle.records import (
    ACTIVE,
    CREATING,
    DELETING,
    EnvRecord,
    EnvSpec,
    Version,
    asset_digest,
    iso,
    parse_iso,
    record_from_item,
    record_to_item,
)
from routing_table.store.base import (
    BATCH_GET_LIMIT,
    BATCH_WRITE_LIMIT,
    Backoff,
    Call,
    Parallel,
    Plan,
    Sleep,
    av_key,
    batch_get_plan,
    bulk_write_plan,
    claim_update,
    key_of,
    owner_of,
    ownership_error,
    query_all,
    utc_now,
    write_requests_plan,
)

T = TypeVar("T")
Item = dict[str, Any]
Clock = Callable[[], dt.datetime]

TRANSACT_LIMIT = 100
# Rounds of read-decide-write before a plan gives up on a record that keeps changing under it.
MAX_ROUNDS = 20
# Each transaction of a create checks the record is still ``creating``, and writes a claim and a
# route per service: 1 + 2 * 49 = 99 items, under DynamoDB's 100.
SERVICES_PER_TRANSACTION = (TRANSACT_LIMIT - 1) // 2
ROOT_PREFIX = "/"

_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_OWNER = {"#o": "owner", "#pk": keys.TABLE_PK}


# --- inputs ----------------------------------------------------------------------------------


def validate_service(name: str) -> str:
    """Service names become part of a DNS label and of asset keys: lowercase, digits, '-'."""
    if not _NAME.match(name) or "--" in name:
        raise InvalidInputError(
            f"service name {name!r} is invalid: 1-40 characters of a-z, 0-9 and single '-', "
            "not starting or ending with '-'",
            field="service",
            value=name,
        )
    return name


def validate_version(version: str) -> str:
    if not _VERSION.match(version) or version in {".", ".."}:
        raise InvalidInputError(
            f"version {version!r} is invalid: 1-128 characters of letters, digits, '.', '_', '-'",
            field="version",
            value=version,
        )
    return version


def normalize_asset_path(path: str) -> str:
    """An asset path relative to the version's root, as the edge looks it up (no leading '/').

    Refuses what could escape the version's prefix or never be requested: ``..``, empty
    segments, control characters.
    """
    text = path.strip().removeprefix("./").lstrip("/")
    segments = text.split("/")
    bad = (
        not text
        or any(s in {"", ".", ".."} for s in segments)
        or any(ord(c) < 32 or c == "\x7f" for c in text)
        or len(text.encode("utf-8")) > 1024
    )
    if bad:
        raise InvalidInputError(
            f"asset path {path!r} is invalid: a relative path without empty, '.' or '..' "
            "segments, at most 1024 bytes",
            field="asset",
            value=path,
        )
    return text


def normalize_assets(paths: Iterable[str]) -> list[str]:
    """Validated, de-duplicated, sorted asset paths."""
    return sorted({normalize_asset_path(p) for p in paths})


# --- request builders (pure) -------------------------------------------------------------------


def get_record_call(table: str, env_id: str) -> Call:
    key = keys.env_key(env_id)
    return Call("get_item", {"TableName": table, "Key": av_key(key), "ConsistentRead": True}, key)


def record_put(table: str, record: EnvRecord) -> Item:
    """Put the record as revision ``record.rev``: new (rev 0) or replacing ``rev - 1``."""
    params: Item = {"TableName": table, "Item": record_to_item(record)}
    if record.rev == 0:
        params["ConditionExpression"] = "attribute_not_exists(#pk)"
        params["ExpressionAttributeNames"] = {"#pk": keys.TABLE_PK}
    else:
        params["ConditionExpression"] = "#rev = :rev"
        params["ExpressionAttributeNames"] = {"#rev": "rev"}
        params["ExpressionAttributeValues"] = {":rev": {"N": str(record.rev - 1)}}
    return params


def record_delete(table: str, record: EnvRecord) -> Item:
    return {
        "TableName": table,
        "Key": av_key(keys.env_key(record.env_id)),
        "ConditionExpression": "#rev = :rev AND #st = :deleting",
        "ExpressionAttributeNames": {"#rev": "rev", "#st": "state"},
        "ExpressionAttributeValues": {
            ":rev": {"N": str(record.rev)},
            ":deleting": {"S": DELETING},
        },
    }


def creating_check(table: str, env_id: str) -> Item:
    return {
        "TableName": table,
        "Key": av_key(keys.env_key(env_id)),
        "ConditionExpression": "#st = :creating",
        "ExpressionAttributeNames": {"#st": "state"},
        "ExpressionAttributeValues": {":creating": {"S": CREATING}},
    }


def owned_delete(table: str, key: keys.Key, owner: str) -> Item:
    """Delete an entry unless another owner holds it (a missing one is fine: idempotent)."""
    return {
        "TableName": table,
        "Key": av_key(key),
        "ConditionExpression": "attribute_not_exists(#pk) OR #o = :me",
        "ExpressionAttributeNames": dict(_OWNER),
        "ExpressionAttributeValues": {":me": {"S": owner}},
    }


def route_for(template: RouteRecord, hostname: str, env_id: str, now: dt.datetime) -> RouteRecord:
    """The root route of one service: the target's origin, at ``hostname`` ``/``, owned by env."""
    return replace(
        template, host=hostname, prefix=ROOT_PREFIX, owner=env_id, static=None, updated_at=iso(now)
    )


def create_transactions(table: str, env_id: str, routes: Sequence[RouteRecord]) -> list[list[Item]]:
    """TransactItems for a create: per chunk, the record check then claim + route per service."""
    chunks: list[list[Item]] = []
    for start in range(0, len(routes), SERVICES_PER_TRANSACTION):
        items: list[Item] = [{"ConditionCheck": creating_check(table, env_id)}]
        for route in routes[start : start + SERVICES_PER_TRANSACTION]:
            claim = claim_update(table, route.host, env_id)
            put = {
                "TableName": table,
                "Item": records.route_to_item(route),
                "ConditionExpression": "attribute_not_exists(#pk) OR #o = :me",
                "ExpressionAttributeNames": dict(_OWNER),
                "ExpressionAttributeValues": {":me": {"S": env_id}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
            items += [{"Update": claim}, {"Put": put}]
        chunks.append(items)
    return chunks


def delete_transactions(table: str, owner: str, entry_keys: Iterable[keys.Key]) -> list[list[Item]]:
    """Conditional deletes of an owner's entries, routes before claims, 100 per transaction."""
    ordered = sorted(set(entry_keys), key=lambda k: (k[1] == keys.HOST_CLAIM_SK, k))
    items = [{"Delete": owned_delete(table, k, owner)} for k in ordered]
    return [items[i : i + TRANSACT_LIMIT] for i in range(0, len(items), TRANSACT_LIMIT)]


def flip_update(
    table: str,
    *,
    host: str,
    env_id: str,
    service: str,
    version: str,
    expected: str | None,
    spa_fallback: str | None,
    now: dt.datetime,
) -> Item:
    """THE cutover: one conditional update of the route's ``active_version``.

    The condition pins the version visitors see now, so two deploys racing on one service can't
    both win, and a route rerouted away from S3 is never turned into a static site by mistake.
    """
    names = {
        "#o": "owner",
        "#origin": "origin",
        "#av": "active_version",
        "#env": "site_env",
        "#svc": "site_service",
        "#up": "updated_at",
        "#spa": "spa_fallback",
    }
    values: Item = {
        ":me": {"S": env_id},
        ":s3": {"S": "s3"},
        ":v": {"S": version},
        ":env": {"S": env_id},
        ":svc": {"S": service},
        ":up": {"S": iso(now)},
    }
    sets = "SET #av = :v, #env = :env, #svc = :svc, #up = :up"
    if spa_fallback:
        sets += ", #spa = :spa"
        values[":spa"] = {"S": spa_fallback}
        expression = sets
    else:
        expression = f"{sets} REMOVE #spa"
    if expected is None:
        pinned = "attribute_not_exists(#av)"
    else:
        pinned = "#av = :expected"
        values[":expected"] = {"S": expected}
    return {
        "TableName": table,
        "Key": av_key(keys.route_key(host, ROOT_PREFIX)),
        "UpdateExpression": expression,
        "ConditionExpression": f"#o = :me AND #origin = :s3 AND {pinned}",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def asset_put_requests(env_id: str, service: str, version: str, paths: Iterable[str]) -> list[Item]:
    """BatchWriteItem PutRequests for a version's assets. Items hold only their key: the edge
    needs to know an asset exists, and small items keep tens of thousands of writes cheap."""
    return [
        {"PutRequest": {"Item": av_key(keys.asset_key(env_id, service, version, path))}}
        for path in paths
    ]


# --- asset partitions -------------------------------------------------------------------------


def purge_partition_plan(table: str, partition: str, backoff: Backoff) -> Plan[int]:
    """Delete every item of one partition (a shard of a version's asset list)."""
    deleted = 0
    while True:
        reply = yield Call(
            "query",
            {
                "TableName": table,
                "KeyConditionExpression": "#pk = :pk",
                "ExpressionAttributeNames": {"#pk": keys.TABLE_PK, "#sk": keys.TABLE_SK},
                "ExpressionAttributeValues": {":pk": {"S": partition}},
                "ProjectionExpression": "#pk, #sk",
                "ConsistentRead": True,
                "Limit": 1000,
            },
            key=partition,
        )
        found: list[Item] = reply.get("Items", [])
        if not found:
            return deleted
        requests = [{"DeleteRequest": {"Key": item}} for item in found]
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            deleted += yield from write_requests_plan(
                table, requests[start : start + BATCH_WRITE_LIMIT], backoff
            )


def purge_version_plan(
    table: str, env_id: str, service: str, version: str, *, backoff: Backoff, concurrency: int
) -> Plan[int]:
    """Delete every asset entry of one version (its shards in parallel)."""
    partitions = keys.asset_partitions(env_id, service, version)
    done = yield Parallel(
        [purge_partition_plan(table, p, backoff) for p in partitions], concurrency
    )
    return sum(done)


# --- handles -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Handles:
    """The handle operations a lifecycle needs, as plans of ``hostnames.pool_plan``."""

    ctx: pool_plan.PlanContext

    def random_handle(self) -> str:
        return random_handle(self.ctx.choice)

    def claim(self, handle: str, env_id: str) -> Plan[str]:
        """Claim a pool-less handle (idempotent for ``env_id``); HandleTakenError if held."""
        allocation = yield from pool_plan.claim_handle(self.ctx, env_id, handle)
        return allocation.handle

    def allocate(self, pool: str, env_id: str, handle: str | None) -> Plan[str]:
        """A handle of ``pool`` (``handle`` if named), idempotent for ``env_id``."""
        allocation = yield from pool_plan.allocate(self.ctx, pool, env_id, handle=handle)
        return allocation.handle

    def release(
        self, env_id: str, handle: str | None, pool: str | None, absent: Sequence[keys.Key]
    ) -> Plan[None]:
        """Give back whatever ``env_id`` holds; a no-op for what it does not hold.

        ``absent``: host claims the release transaction re-checks are gone, so a handle never
        returns while its hostnames are routed. Both the pool handle and a pool-less claim are
        released: a pool with random fallback hands out claims, and a crash before the record
        named the handle leaves only the index to find it by.
        """
        # Past the transaction's size limit the caller's consistent reads are the proof.
        checks = list(absent) if len(absent) <= pool_plan.MAX_RELEASE_CHECKS else []
        if pool is not None:
            yield from pool_plan.release(
                self.ctx, pool, env_id, require_absent=checks, handle=handle
            )
        yield from pool_plan.release_claim(self.ctx, env_id, require_absent=checks, handle=handle)


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeleteResult:
    env_id: str
    existed: bool
    routes_removed: int = 0
    assets_removed: int = 0


@dataclass(frozen=True, slots=True)
class DeployResult:
    env_id: str
    service: str
    version: str
    previous: str | None
    assets: int
    written: int
    unchanged: bool = False
    collected: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EnvView:
    """What ``env show`` prints: the record and the routes as the edge reads them now."""

    record: EnvRecord
    routes: dict[str, RouteRecord | None]


# --- the lifecycle -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """The plans of one table with their settings: what both shells execute.

    ``cache_ttl`` and ``max_stale`` are the edge's: a retired version is collected only after
    ``cache_ttl + max_stale`` seconds, when no edge cache can still point at it.
    ``stuck_after`` bounds how long a create, delete or pending deploy may sit unfinished before
    gc and audit treat it as abandoned.
    """

    table: str
    handles: Handles
    backoff: Backoff = field(default_factory=Backoff)
    clock: Clock = utc_now
    cache_ttl: float = 300.0
    max_stale: float = 86_400.0
    stuck_after: float = 900.0
    concurrency: int = 8

    @property
    def grace(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.cache_ttl + self.max_stale)

    # --- reads ---------------------------------------------------------------------------

    def read(self, env_id: str) -> Plan[EnvRecord | None]:
        reply = yield get_record_call(self.table, env_id)
        item = reply.get("Item")
        return record_from_item(item) if item else None

    def require(self, env_id: str, *, active: bool = True) -> Plan[EnvRecord]:
        record = yield from self.read(env_id)
        if record is None:
            raise EnvironmentNotFoundError(env_id, table=self.table)
        if active and record.state != ACTIVE:
            raise EnvironmentStateError(
                f"environment {env_id!r} is {record.state} (since {record.state_since}); "
                f"finish it with `edge-router env {_resume_command(record)}` "
                "or `edge-router audit --repair`",
                env_id=env_id,
                table=self.table,
            )
        return record

    def list_envs(self) -> Plan[list[EnvRecord]]:
        """Every environment, through the ``by-list`` index (eventually consistent)."""
        items = yield from query_all(
            self.table,
            {
                "IndexName": keys.GSI_BY_LIST,
                "KeyConditionExpression": "#g = :envs",
                "ExpressionAttributeNames": {"#g": keys.GSI_BY_LIST_PK},
                "ExpressionAttributeValues": {":envs": {"S": keys.ENV_LIST_PK}},
            },
            keys.ENV_LIST_PK,
        )
        return [record_from_item(i) for i in items if i.get("kind", {}).get("S") == "env"]

    def show(self, env_id: str) -> Plan[EnvView]:
        record = yield from self.require(env_id, active=False)
        hosts = record.hostnames
        wanted = [keys.route_key(h, ROOT_PREFIX) for h in hosts.values()]
        found: dict[keys.Key, Item] = {}
        if wanted:
            found, _ = yield from batch_get_plan(self.table, wanted, self.backoff)
        routes = {
            svc: (
                records.route_from_item(found[keys.route_key(h, ROOT_PREFIX)])
                if keys.route_key(h, ROOT_PREFIX) in found
                else None
            )
            for svc, h in hosts.items()
        }
        return EnvView(record, routes)

    # --- record writes -------------------------------------------------------------------

    def cas(self, record: EnvRecord) -> Plan[bool]:
        """Write ``record`` if nobody changed it since it was read; False if someone did."""
        try:
            yield Call("put_item", record_put(self.table, record), keys.env_key(record.env_id))
        except ConditionFailedError:
            return False
        return True

    def transact(self, items: list[Item], key: object) -> Plan[None]:
        """One TransactWriteItems, retried with backoff while it only collides with others."""
        for attempt in range(1, self.backoff.max_attempts + 1):
            try:
                yield Call("transact_write_items", {"TransactItems": items}, key)
                return
            except TransactionConflictError:
                if attempt == self.backoff.max_attempts:
                    raise
                yield Sleep(self.backoff.delay(attempt))

    # --- create --------------------------------------------------------------------------

    def create(self, spec: EnvSpec, templates: Mapping[str, RouteRecord]) -> Plan[EnvRecord]:
        """Create (or finish creating) ``spec``; converges when run again with the same spec."""
        validate_env_id(spec.env_id)
        for name in spec.services:
            validate_service(name)
        if not spec.services:
            raise InvalidInputError("an environment needs at least one --service NAME=TARGET")
        for _ in range(MAX_ROUNDS):
            record = yield from self.read(spec.env_id)
            if record is not None and record.state == DELETING:
                yield from self.delete(spec.env_id)  # finish the interrupted delete first
                continue
            if record is None:
                record = EnvRecord.new(spec, self.clock())
                if not (yield from self.cas(record)):
                    continue
            else:
                self._check_same_spec(spec, record)
            if record.state == ACTIVE:
                return record
            done = yield from self._finish_create(record, templates)
            if done is not None:
                return done
        raise self._contention(spec.env_id, "create")

    def _check_same_spec(self, spec: EnvSpec, record: EnvRecord) -> None:
        difference = spec.describe_difference(record)
        if difference:
            raise EnvironmentStateError(
                f"environment {spec.env_id!r} already exists with another spec: {difference}; "
                "delete it first, or use `env reroute` to change targets",
                env_id=spec.env_id,
                table=self.table,
            )

    def _finish_create(
        self, record: EnvRecord, templates: Mapping[str, RouteRecord]
    ) -> Plan[EnvRecord | None]:
        """Handle, hostnames, routes, active. None when the record changed under us."""
        with_handle = yield from self._ensure_handle(record)
        if with_handle is None:
            return None
        now = self.clock()
        routes = [
            route_for(templates[name], host, record.env_id, now)
            for name, host in with_handle.hostnames.items()
        ]
        for items in create_transactions(self.table, record.env_id, routes):
            try:
                yield from self.transact(items, keys.env_key(record.env_id))
            except TransactionCanceledError as exc:
                if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
                    return None  # the record left ``creating`` (a delete started): re-read
                refusal = yield from self._refusal(record.env_id, items, exc)
                yield from self.delete(record.env_id)  # leave nothing of the new env behind
                raise refusal from exc
        active = with_handle.with_state(ACTIVE, self.clock()).bumped()
        if not (yield from self.cas(active)):
            return None
        return active

    def _ensure_handle(self, record: EnvRecord) -> Plan[EnvRecord | None]:
        """The record with its handle held and its hostnames set (CASed), or None on a race.

        A random handle is written to the record BEFORE it is claimed: a crash after the claim
        then leaves a record naming it, so a re-run or a delete finds and frees it. A pool
        handle is allocated first (allocation is idempotent for the env id, and a delete
        releases whatever the env holds in the pool).
        """
        redraw = record.handle_mode == "random" and record.handle is None
        for _ in range(MAX_ROUNDS):
            try:
                handle = yield from self._pick_handle(record, redraw)
                if record.handle != handle or len(record.hostnames) != len(record.services):
                    updated = record.with_handle(handle, self._hostnames(record, handle))
                    if not (yield from self.cas(updated.bumped())):
                        return None
                    record = updated.bumped()
                if record.handle_mode != "pool":
                    yield from self.handles.claim(handle, record.env_id)
            except HandleTakenError:
                if record.handle_mode == "random":
                    redraw = True  # drew a handle someone else holds: draw again
                    continue
                yield from self.delete(record.env_id)
                raise
            except (HandleError, InvalidInputError):
                yield from self.delete(record.env_id)  # nothing of a refused env stays
                raise
            return record
        raise self._contention(record.env_id, "random handle draw")

    def _pick_handle(self, record: EnvRecord, redraw: bool) -> Plan[str]:
        if record.handle_mode == "pool":
            assert record.pool is not None
            return (yield from self.handles.allocate(record.pool, record.env_id, record.handle))
        if redraw or record.handle is None:
            return self.handles.random_handle()
        return record.handle

    def _hostnames(self, record: EnvRecord, handle: str) -> dict[str, str]:
        names = {
            svc: generate_hostname(service=svc, handle=handle, app=record.app, domain=record.domain)
            for svc in record.services
        }
        if len(set(names.values())) != len(names):
            raise InvalidInputError(
                f"services {sorted(names)} of environment {record.env_id!r} do not all get "
                "distinct hostnames",
                field="service",
            )
        return names

    def _refusal(
        self, env_id: str, items: list[Item], exc: TransactionCanceledError
    ) -> Plan[Exception]:
        for index, reason in enumerate(exc.reasons):
            if reason != "ConditionalCheckFailed" or index == 0:
                continue
            entry = items[index]
            params = entry.get("Put") or entry.get("Update") or {}
            key = key_of(params["Item"]) if "Item" in params else key_of(params["Key"])
            owner = owner_of(exc.items[index] if index < len(exc.items) else None)
            if owner is None:
                reply = yield Call(
                    "get_item",
                    {"TableName": self.table, "Key": av_key(key), "ConsistentRead": True},
                    key,
                )
                owner = owner_of(reply.get("Item"))
            host = key[0].removeprefix(keys.ROUTE_PREFIX)
            return ownership_error(self.table, key, owner, env_id, f"hostname {host!r}")
        return exc

    # --- delete --------------------------------------------------------------------------

    def delete(self, env_id: str) -> Plan[DeleteResult]:
        """Remove everything of the environment; idempotent, and resumes an interrupted one."""
        validate_env_id(env_id)
        for _ in range(MAX_ROUNDS):
            record = yield from self.read(env_id)
            if record is None:
                removed = yield from self._remove_entries(env_id, set())
                return DeleteResult(env_id, existed=False, routes_removed=removed)
            if record.state != DELETING:
                marked = record.with_state(DELETING, self.clock()).bumped()
                if not (yield from self.cas(marked)):
                    continue
                record = marked
            removed = yield from self._remove_entries(env_id, _entry_keys(record))
            assets = 0
            for service, versions in sorted(record.sites.items()):
                for version in sorted(versions):
                    assets += yield from purge_version_plan(
                        self.table,
                        env_id,
                        service,
                        version,
                        backoff=self.backoff,
                        concurrency=self.concurrency,
                    )
            # Routes are gone: only now may the handle go back (a re-used handle must never
            # find the old environment's hostnames still routed).
            absent = yield from self._claims_not_foreign(record)
            yield from self.handles.release(env_id, record.handle, record.pool, absent)
            try:
                yield Call("delete_item", record_delete(self.table, record), keys.env_key(env_id))
            except ConditionFailedError:
                continue  # changed meanwhile (e.g. a deploy registered a version): go again
            return DeleteResult(env_id, existed=True, routes_removed=removed, assets_removed=assets)
        raise self._contention(env_id, "delete")

    def _remove_entries(self, env_id: str, known: set[keys.Key]) -> Plan[int]:
        """Delete the env's routes and claims until consistent reads find none left.

        The record's hostnames are the source of truth; the ``by-owner`` index adds entries put
        by other means (e.g. extra path routes). The index lags, so what it lists is confirmed
        with consistent reads before deleting, and the loop ends when those reads come back empty.
        """
        removed = 0
        for _ in range(MAX_ROUNDS):
            indexed = yield from self._owned_route_keys(env_id)
            candidates = sorted(known | indexed)
            present = yield from self._present(candidates, env_id)
            if not present:
                return removed
            for items in delete_transactions(self.table, env_id, present):
                yield from self.tolerant_transact(items)
            removed += len(present)
        raise self._contention(env_id, "route removal")

    def _claims_not_foreign(self, record: EnvRecord) -> Plan[list[keys.Key]]:
        """The env's host claim keys, minus those another owner holds (a create refused on a
        taken hostname): those exist, rightly, and must not block the handle's release."""
        claims = sorted(keys.host_claim_key(h) for h in record.hostnames.values())
        found: dict[keys.Key, Item] = {}
        for start in range(0, len(claims), BATCH_GET_LIMIT):
            chunk, _ = yield from batch_get_plan(
                self.table, claims[start : start + BATCH_GET_LIMIT], self.backoff
            )
            found.update(chunk)
        return [k for k in claims if k not in found or owner_of(found[k]) == record.env_id]

    def _owned_route_keys(self, env_id: str) -> Plan[set[keys.Key]]:
        items = yield from query_all(
            self.table,
            {
                "IndexName": keys.GSI_BY_OWNER,
                "KeyConditionExpression": "#g = :owner",
                "ExpressionAttributeNames": {"#g": keys.GSI_BY_OWNER_PK},
                "ExpressionAttributeValues": {":owner": {"S": keys.owner_index_pk(env_id)}},
            },
            keys.owner_index_pk(env_id),
        )
        return {key_of(i) for i in items if key_of(i)[0].startswith(keys.ROUTE_PREFIX)}

    def _present(self, candidates: Sequence[keys.Key], owner: str) -> Plan[list[keys.Key]]:
        """Those of ``candidates`` that exist and belong to ``owner`` (consistent reads)."""
        present: list[keys.Key] = []
        for start in range(0, len(candidates), BATCH_GET_LIMIT):
            chunk = candidates[start : start + BATCH_GET_LIMIT]
            found, _ = yield from batch_get_plan(self.table, chunk, self.backoff)
            present += [k for k, item in found.items() if owner_of(item) == owner]
        return sorted(present)

    def tolerant_transact(self, items: list[Item]) -> Plan[None]:
        """Run conditional deletes; an entry another owner holds now is left alone."""
        while items:
            try:
                yield from self.transact(items, None)
                return
            except TransactionCanceledError as exc:
                items = [
                    item
                    for item, reason in zip(items, exc.reasons, strict=False)
                    if reason != "ConditionalCheckFailed"
                ]

    # --- reroute -------------------------------------------------------------------------

    def reroute(self, env_id: str, service: str, template: RouteRecord) -> Plan[RouteRecord]:
        """Point a service at a new target: one transaction replaces the route item (an
        instant switch for visitors) and records the target. A static site stops being one;
        its versions are collected after the grace period."""
        for _ in range(MAX_ROUNDS):
            record = yield from self.require(env_id)
            host = self._hostname(record, service)
            now = self.clock()
            route = route_for(template, host, env_id, now)
            updated = record.with_target(service, route.target)
            if record.versions(service):
                updated = updated.with_site_retired(service, now)
            put = {
                "TableName": self.table,
                "Item": records.route_to_item(route),
                "ConditionExpression": "#o = :me",
                "ExpressionAttributeNames": {"#o": "owner"},
                "ExpressionAttributeValues": {":me": {"S": env_id}},
            }
            items = [{"Put": put}, {"Put": record_put(self.table, updated.bumped())}]
            try:
                yield from self.transact(items, route.key)
            except TransactionCanceledError as exc:
                if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
                    raise self._drift(env_id, service, host) from exc
                continue
            return route
        raise self._contention(env_id, "reroute")

    def _hostname(self, record: EnvRecord, service: str) -> str:
        svc = record.services.get(service)
        if svc is None or svc.hostname is None:
            raise NotFoundError(
                f"environment {record.env_id!r} has no service {service!r} "
                f"(services: {', '.join(sorted(record.services))})"
            )
        return svc.hostname

    def _drift(self, env_id: str, service: str, host: str) -> EnvironmentStateError:
        return EnvironmentStateError(
            f"route {host}{ROOT_PREFIX} of environment {env_id!r} service {service!r} no longer "
            "matches the environment record (owner, origin or active version changed); "
            "run `edge-router audit`",
            env_id=env_id,
            table=self.table,
        )

    def _contention(self, env_id: str, what: str) -> EnvironmentStateError:
        return EnvironmentStateError(
            f"{what} of environment {env_id!r} kept racing with other writers "
            f"({MAX_ROUNDS} rounds); retry",
            env_id=env_id,
            table=self.table,
        )

    # --- static deploys ------------------------------------------------------------------

    def deploy(
        self,
        env_id: str,
        service: str,
        version: str,
        assets: Iterable[str],
        *,
        source: str | None = None,
        spa_fallback: str | None = None,
    ) -> Plan[DeployResult]:
        """Register ``version``'s assets, then flip visitors to it in one conditional write.

        ``source`` (``s3://bucket/prefix/<version>``) is checked against the service's target:
        the edge serves asset ``a/b.js`` from ``<target prefix>/<version>/a/b.js``.
        """
        validate_version(version)
        paths = normalize_assets(assets)
        if not paths:
            raise InvalidInputError(f"version {version!r} has no assets", field="assets")
        if spa_fallback is not None and normalize_asset_path(spa_fallback) not in paths:
            raise InvalidInputError(
                f"SPA fallback {spa_fallback!r} is not one of the version's assets",
                field="spa_fallback",
                value=spa_fallback,
            )
        digest = asset_digest(paths)
        written = 0
        for _ in range(MAX_ROUNDS):
            record = yield from self.require(env_id)
            host = self._hostname(record, service)
            if source is not None:
                check_source(record, service, version, source)
            current = record.versions(service).get(version)
            if current is not None:
                _check_redeploy(env_id, service, version, current, digest)
                if current.state == "active":
                    return DeployResult(
                        env_id, service, version, None, len(paths), 0, unchanged=True
                    )
            else:
                pending = record.with_pending(
                    service, version, len(paths), digest, self.clock()
                ).bumped()
                if not (yield from self.cas(pending)):
                    continue
                record = pending
            if not written:
                requests = asset_put_requests(env_id, service, version, paths)
                written = yield from bulk_write_plan(
                    self.table, requests, self.backoff, self.concurrency
                )
            previous = record.version_in(service, "active")
            flipped = yield from self._flip(record, service, host, version, spa_fallback)
            if flipped is None:
                continue
            collected = yield from self.gc(env_id)
            return DeployResult(
                env_id, service, version, previous, len(paths), written, collected=collected
            )
        raise self._contention(env_id, "deploy")

    def _flip(
        self,
        record: EnvRecord,
        service: str,
        host: str,
        version: str,
        spa_fallback: str | None,
    ) -> Plan[EnvRecord | None]:
        """Route and record switch together; None if the record changed (re-plan)."""
        now = self.clock()
        expected = record.version_in(service, "active")
        updated = record.with_active(service, version, now).bumped()
        flip = flip_update(
            self.table,
            host=host,
            env_id=record.env_id,
            service=service,
            version=version,
            expected=expected,
            spa_fallback=spa_fallback,
            now=now,
        )
        items = [{"Update": flip}, {"Put": record_put(self.table, updated)}]
        try:
            yield from self.transact(items, keys.route_key(host, ROOT_PREFIX))
        except TransactionCanceledError as exc:
            if exc.reasons and exc.reasons[1] == "ConditionalCheckFailed":
                return None
            raise self._drift(record.env_id, service, host) from exc
        return updated

    def rollback(self, env_id: str, service: str, version: str | None = None) -> Plan[DeployResult]:
        """Make the previous version active again (it is kept until the next deploy)."""
        for _ in range(MAX_ROUNDS):
            record = yield from self.require(env_id)
            host = self._hostname(record, service)
            previous = record.version_in(service, "previous")
            active = record.version_in(service, "active")
            wanted = version or previous
            if wanted is not None and wanted == active:
                count = record.versions(service)[wanted].count
                return DeployResult(env_id, service, wanted, None, count, 0, unchanged=True)
            if wanted is None or wanted != previous:
                raise InvalidInputError(
                    f"cannot roll service {service!r} of {env_id!r} back to "
                    f"{wanted or '(none)'}: only the previous version ({previous or 'none'}) is "
                    "kept for rollback; deploy the version again instead",
                    field="version",
                    value=wanted,
                )
            route = yield Call(
                "get_item",
                {
                    "TableName": self.table,
                    "Key": av_key(keys.route_key(host, ROOT_PREFIX)),
                    "ConsistentRead": True,
                },
                keys.route_key(host, ROOT_PREFIX),
            )
            spa = (route.get("Item") or {}).get("spa_fallback", {}).get("S")
            flipped = yield from self._flip(record, service, host, wanted, spa)
            if flipped is None:
                continue
            count = record.versions(service)[wanted].count
            return DeployResult(env_id, service, wanted, active, count, 0)
        raise self._contention(env_id, "rollback")

    # --- garbage collection --------------------------------------------------------------

    def gc(self, env_id: str) -> Plan[list[tuple[str, str]]]:
        """Collect the env's versions no edge cache can still point at (see ``collectable``)."""
        collected: list[tuple[str, str]] = []
        for _ in range(MAX_ROUNDS):
            record = yield from self.read(env_id)
            if record is None or record.state != ACTIVE:
                return collected
            due = collectable(record, self.clock(), self.grace, self.stuck_after)
            if not due:
                return collected
            marked = record
            for service, name in due:
                version = record.versions(service)[name]
                marked = marked.with_version(service, name, replace(version, state="collecting"))
            # Mark first: a deploy racing to activate a pending version then fails its CAS.
            if marked != record:
                marked = marked.bumped()
                if not (yield from self.cas(marked)):
                    continue
            for service, name in due:
                yield from purge_version_plan(
                    self.table,
                    env_id,
                    service,
                    name,
                    backoff=self.backoff,
                    concurrency=self.concurrency,
                )
            cleared = marked
            for service, name in due:
                cleared = cleared.with_version(service, name, None)
            if (yield from self.cas(cleared.bumped())):
                collected += due
                return collected
        raise self._contention(env_id, "gc")


def collectable(
    record: EnvRecord, now: dt.datetime, grace: dt.timedelta, stuck_after: float
) -> list[tuple[str, str]]:
    """(service, version) pairs whose assets may go now.

    * retired: stopped being active at ``retired_at``; an edge may serve it from cache until
      ``retired_at + cache TTL + max stale``, so only after that.
    * pending for longer than ``stuck_after``: a deploy that died before its cutover; no visitor
      ever saw it.
    * collecting: a collection that was interrupted.
    Active and previous versions are never collected (previous is kept for rollback).
    """
    due: list[tuple[str, str]] = []
    for service, versions in sorted(record.sites.items()):
        for name, version in sorted(versions.items()):
            if _due(version, now, grace, stuck_after):
                due.append((service, name))
    return due


def _due(version: Version, now: dt.datetime, grace: dt.timedelta, stuck_after: float) -> bool:
    if version.state == "collecting":
        return True
    if version.state == "retired":
        stopped = parse_iso(version.retired_at or version.since)
        return now >= stopped + grace
    if version.state == "pending":
        return now >= parse_iso(version.since) + dt.timedelta(seconds=stuck_after)
    return False


def _check_redeploy(env_id: str, service: str, version: str, current: Version, digest: str) -> None:
    if current.digest != digest:
        raise InvalidInputError(
            f"version {version!r} of {env_id}/{service} was registered with another asset list; "
            "versions are immutable: deploy under a new version name",
            field="version",
            value=version,
        )
    if current.state in {"previous", "retired", "collecting"}:
        hint = "use `static rollback`" if current.state == "previous" else "use a new version"
        raise InvalidInputError(
            f"version {version!r} of {env_id}/{service} is {current.state}; {hint}",
            field="version",
            value=version,
        )


def check_source(record: EnvRecord, service: str, version: str, source: str) -> None:
    """The source must be ``<service's S3 target>/<version>``: that is where the edge looks."""
    target = record.services[service].target.rstrip("/")
    expected = f"{target}/{version}"
    if not target.startswith("s3://"):
        raise InvalidInputError(
            f"service {service!r} of {record.env_id!r} routes to {target}, not to S3: reroute "
            "it to s3://bucket/prefix before deploying static versions",
            field="service",
            value=service,
        )
    if source.rstrip("/") != expected:
        raise InvalidInputError(
            f"--source {source} does not match service {service!r}: the edge serves version "
            f"{version!r} from {expected}",
            field="source",
            value=source,
        )


def _entry_keys(record: EnvRecord) -> set[keys.Key]:
    found: set[keys.Key] = set()
    for host in record.hostnames.values():
        found.add(keys.host_claim_key(host))
        found.add(keys.route_key(host, ROOT_PREFIX))
    return found


def _resume_command(record: EnvRecord) -> str:
    return "delete" if record.state == DELETING else "create"
