"""Handle pools and handle claims as pure plans: every decision here, every SDK call in a shell.

A plan is a generator that yields ``Call`` (one DynamoDB request) and ``Sleep`` steps and
receives each call's response; a failed call (the project's own error, e.g.
``ConditionFailedError``) is thrown into the generator at the ``yield``. These are the store's
plan steps (``routing_table.store.base``), executed by the store's runners: the sync shell
(``hostnames.pool_sync``) and the async one (``hostnames.pool_aio``) only pick the runner, so
allocation, retries and error mapping exist once. Tests can drive a plan with canned replies.

Items (see ``routing_table.core.keys``):

* pool handle ``POOL#<pool>`` / ``HANDLE#<handle>``: ``handle``, ``pool``, ``created_at``; when
  free also ``gsi2pk = FREE#<pool>``, ``gsi2sk = <released_at or 0>#<handle>`` (the sparse free
  list, least recently released first) and ``released_at`` / ``last_env_id`` once used; when
  held ``env_id``, ``allocated_at`` and ``gsi1pk = OWNER#<env>``, ``gsi1sk = HANDLE#<pool>#<h>``.
* pool settings ``POOL#<pool>`` / ``#CONFIG``: ``cooldown_seconds``, ``fallback_random``.
* handle claim ``HANDLE#<handle>`` / ``CLAIM`` (random handles and pool-less explicit ones):
  ``env_id``, ``claimed_at``, ``gsi1pk = OWNER#<env>``, ``gsi1sk = CLAIM#<handle>``.

Correctness rests on conditional writes, never on reads: the free list is a GSI and GSIs are
eventually consistent, so a candidate may already be taken; ``attribute_not_exists(env_id)`` on
the handle item is the truth, and a lost race just moves on to another candidate.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from hostnames.handles import (
    Chooser,
    Clock,
    cooldown_cutoff,
    format_timestamp,
    normalize_handle,
    random_handle,
    utc_now,
    validate_pool_name,
)
from routing_table.core import keys
from routing_table.core.keys import validate_env_id
from routing_table.errors import (
    ConditionFailedError,
    HandleContentionError,
    HandleError,
    HandleNotInPoolError,
    HandlePoolExhaustedError,
    HandleReleaseBlockedError,
    HandleTakenError,
    InvalidInputError,
    TransactionCanceledError,
    TransactionConflictError,
)
from routing_table.store import base
from routing_table.store.base import Call, Plan, Sleep

Item = dict[str, Any]

MAX_COOLDOWN_SECONDS: Final = 90 * 24 * 3600
MAX_RELEASE_CHECKS: Final = 99  # TransactWriteItems takes 100 items: the checks and the release
CONDITION_FAILED: Final = "ConditionalCheckFailed"


@dataclass(frozen=True, slots=True)
class Tuning:
    """Knobs of the allocation loop (defaults suit pools of tens to thousands of handles)."""

    candidates: int = 8  # free handles read per attempt; conflicts pick randomly among them
    max_attempts: int = 40  # allocation attempts before HandleContentionError
    backoff_base: float = 0.004  # seconds; full jitter, doubling per conflict
    backoff_cap: float = 0.1
    random_draws: int = 8  # random handles drawn before giving up (36^7 names: never reached)
    release_attempts: int = 4  # transaction-conflict retries of a checked release


@dataclass(slots=True)
class PlanContext:
    """What every plan needs: the table, and the injected clock and randomness."""

    table: str
    clock: Clock = utc_now
    # Candidate choice and jitter only spread load: a seeded PRNG is fine and makes tests exact.
    rng: random.Random = field(default_factory=random.Random)
    # Random handles end up in public hostnames: they come from the CSPRNG.
    choice: Chooser = secrets.choice
    tuning: Tuning = field(default_factory=Tuning)

    def now(self) -> str:
        return format_timestamp(self.clock())


@dataclass(frozen=True, slots=True)
class PoolSettings:
    cooldown_seconds: int = 0
    fallback_random: bool = False


HandleSource = Literal["pool", "explicit", "existing", "random"]


@dataclass(frozen=True, slots=True)
class Allocation:
    """The handle an environment got. ``pool`` is None for a claim outside any pool (random
    fallback or pool-less explicit handle); ``conflicts`` counts lost races on the way."""

    handle: str
    env_id: str
    pool: str | None
    source: HandleSource
    conflicts: int = 0


@dataclass(frozen=True, slots=True)
class Release:
    """``released`` is False when the environment did not hold the handle (any more)."""

    handle: str | None
    env_id: str
    released: bool


@dataclass(frozen=True, slots=True)
class HandleRow:
    """One handle of a pool as listed: who holds it (or None) and since when."""

    handle: str
    env_id: str | None
    since: str | None
    state: Literal["held", "free", "cooling"]
    last_env_id: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {
            "handle": self.handle,
            "env_id": self.env_id,
            "since": self.since,
            "state": self.state,
            "last_env_id": self.last_env_id,
        }


@dataclass(frozen=True, slots=True)
class AddResult:
    added: list[str]
    existing: list[str]


@dataclass(frozen=True, slots=True)
class RemoveResult:
    removed: list[str]
    missing: list[str]
    held: dict[str, str | None]  # handle -> holder


# ---------------------------------------------------------------- attribute-value helpers


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(key: keys.Key) -> dict[str, dict[str, str]]:
    return {keys.TABLE_PK: _s(key[0]), keys.TABLE_SK: _s(key[1])}


def _str(item: Mapping[str, Any] | None, name: str) -> str | None:
    if not item or name not in item:
        return None
    value = item[name].get("S")
    return None if value is None else str(value)


# ---------------------------------------------------------------- reads


def query_all(ctx: PlanContext, params: dict[str, Any], key: object = None) -> Plan[list[Item]]:
    """Every item of a Query on the pool's table, over all its pages."""
    return (yield from base.query_all(ctx.table, params, key))


def owned(ctx: PlanContext, env_id: str, sk_prefix: str) -> Plan[list[Item]]:
    """Items an environment owns whose ``by-owner`` sort key starts with ``sk_prefix``."""
    params = {
        "IndexName": keys.GSI_BY_OWNER,
        "KeyConditionExpression": "gsi1pk = :o AND begins_with(gsi1sk, :p)",
        "ExpressionAttributeValues": {
            ":o": _s(keys.owner_index_pk(env_id)),
            ":p": _s(sk_prefix),
        },
    }
    return (yield from query_all(ctx, params, keys.owner_index_pk(env_id)))


def held_in_pool(ctx: PlanContext, pool: str, env_id: str) -> Plan[str | None]:
    """The handle ``env_id`` holds in ``pool`` per the owner index (eventually consistent)."""
    items = yield from owned(ctx, env_id, keys.owner_handle_prefix(pool))
    handles = sorted(h for h in (_str(i, "handle") for i in items) if h)
    return handles[0] if handles else None


def held_claim(ctx: PlanContext, env_id: str) -> Plan[str | None]:
    """The pool-less handle ``env_id`` has claimed, if any."""
    items = yield from owned(ctx, env_id, keys.OWNER_CLAIM_PREFIX)
    handles = sorted(h for h in (_str(i, "handle") for i in items) if h)
    return handles[0] if handles else None


def owned_route_count(ctx: PlanContext, env_id: str) -> Plan[int]:
    """Route entries and host claims ``env_id`` still owns (per the eventually consistent index)."""
    params = {
        "IndexName": keys.GSI_BY_OWNER,
        "KeyConditionExpression": "gsi1pk = :o",
        "ExpressionAttributeValues": {":o": _s(keys.owner_index_pk(env_id))},
        "ProjectionExpression": "pk",
    }
    items = yield from query_all(ctx, params, keys.owner_index_pk(env_id))
    return sum(1 for i in items if (_str(i, "pk") or "").startswith(keys.ROUTE_PREFIX))


def read_settings(ctx: PlanContext, pool: str) -> Plan[PoolSettings]:
    key = keys.pool_config_key(validate_pool_name(pool))
    reply = yield Call(
        "get_item", {"TableName": ctx.table, "Key": _key(key), "ConsistentRead": True}, key
    )
    return parse_settings(reply.get("Item"))


def parse_settings(item: Mapping[str, Any] | None) -> PoolSettings:
    if not item:
        return PoolSettings()
    cooldown = int(item.get("cooldown_seconds", {}).get("N", "0"))
    fallback = bool(item.get("fallback_random", {}).get("BOOL", False))
    return PoolSettings(cooldown_seconds=cooldown, fallback_random=fallback)


def free_candidates(
    ctx: PlanContext, pool: str, settings: PoolSettings, limit: int
) -> Plan[list[str]]:
    """Up to ``limit`` free handles, least recently released first, cooled-down ones only.

    The cooldown is a sort-key upper bound: ``gsi2sk`` starts with the release timestamp, and
    ``<cutoff>#~`` sorts after every ``<cutoff>#<handle>`` ('~' is above every handle character).
    """
    values: dict[str, Any] = {":f": _s(keys.free_list_pk(pool))}
    condition = "gsi2pk = :f"
    if settings.cooldown_seconds > 0:
        values[":u"] = _s(f"{cooldown_cutoff(ctx.clock(), settings.cooldown_seconds)}#~")
        condition += " AND gsi2sk <= :u"
    params = {
        "TableName": ctx.table,
        "IndexName": keys.GSI_BY_LIST,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": True,
        "Limit": limit,
    }
    reply = yield Call("query", params, keys.free_list_pk(pool))
    return [h for h in (_str(i, "handle") for i in reply.get("Items", [])) if h]


def count_handles(ctx: PlanContext, pool: str) -> Plan[int]:
    params = {
        "KeyConditionExpression": "pk = :p AND begins_with(sk, :h)",
        "ExpressionAttributeValues": {
            ":p": _s(keys.pool_partition(pool)),
            ":h": _s(keys.POOL_HANDLE_PREFIX),
        },
        "Select": "COUNT",
        "ConsistentRead": True,
    }
    replies = yield from base.paginate("query", ctx.table, params, keys.pool_partition(pool))
    return sum(int(reply.get("Count", 0)) for reply in replies)


# ---------------------------------------------------------------- allocation


def allocate(
    ctx: PlanContext, pool: str, env_id: str, *, handle: str | None = None
) -> Plan[Allocation]:
    """Give ``env_id`` a handle of ``pool``: the one it already holds, ``handle`` if named, else
    the least recently released free one (random fallback or ``HandlePoolExhaustedError``).

    "The one it already holds" is read from the ``by-owner`` index, which lags writes (usually
    well under a second). A caller that must be exact across retries (the environment
    lifecycle) records the handle it got and passes it back as ``handle=``: the conditional
    claim itself recognises the current holder, so that path is strongly consistent.
    """
    pool = validate_pool_name(pool)
    env_id = validate_env_id(env_id)
    if handle is not None:
        return (yield from claim_in_pool(ctx, pool, env_id, normalize_handle(handle)))
    held = yield from held_in_pool(ctx, pool, env_id)
    if held is not None:
        return Allocation(held, env_id, pool, "existing")
    settings = yield from read_settings(ctx, pool)
    if settings.fallback_random:
        claimed = yield from held_claim(ctx, env_id)
        if claimed is not None:
            return Allocation(claimed, env_id, None, "existing")
    allocation = yield from _allocate_free(ctx, pool, env_id, settings)
    if allocation is not None:
        return allocation
    if settings.fallback_random:
        return (yield from claim_random(ctx, env_id))
    size = yield from count_handles(ctx, pool)
    raise HandlePoolExhaustedError(pool, size=size)


def _allocate_free(
    ctx: PlanContext, pool: str, env_id: str, settings: PoolSettings
) -> Plan[Allocation | None]:
    """The race loop. None when no free handle is left (for this caller: every remaining
    candidate was lost to someone else, which the condition proved)."""
    tuning = ctx.tuning
    lost: set[str] = set()
    for attempt in range(tuning.max_attempts):
        found = yield from free_candidates(ctx, pool, settings, tuning.candidates + len(lost))
        fresh = [h for h in found if h not in lost]
        if not fresh:
            return None
        # Uncontended, take the head: reuse order is then exactly least recently released
        # first. After a lost race, concurrent allocators are reading the same head, so
        # spread out over the first few candidates instead.
        pick = fresh[0] if attempt == 0 else ctx.rng.choice(fresh[: tuning.candidates])
        try:
            yield allocate_call(ctx, pool, pick, env_id)
        except ConditionFailedError as failed:
            if _str(failed.item, "env_id") == env_id:  # a twin request of ours won it
                return Allocation(pick, env_id, pool, "existing", conflicts=len(lost))
            lost.add(pick)
            yield Sleep(backoff(ctx, attempt))
            continue
        return Allocation(pick, env_id, pool, "pool", conflicts=len(lost))
    raise HandleContentionError(f"allocating from pool {pool!r}", attempts=tuning.max_attempts)


def backoff(ctx: PlanContext, attempt: int) -> float:
    """Full jitter (AWS's recommendation): uniform in [0, min(cap, base * 2^attempt)]."""
    tuning = ctx.tuning
    return ctx.rng.uniform(0, min(tuning.backoff_cap, tuning.backoff_base * 2**attempt))


def allocate_call(ctx: PlanContext, pool: str, handle: str, env_id: str) -> Call:
    """The one conditional write that allocates: it fails unless the handle exists and is free,
    and it drops the handle from the free list in the same write."""
    key = keys.pool_handle_key(pool, handle)
    params = {
        "TableName": ctx.table,
        "Key": _key(key),
        "UpdateExpression": "SET env_id = :env, allocated_at = :now, gsi1pk = :opk, "
        "gsi1sk = :osk REMOVE gsi2pk, gsi2sk",
        "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(env_id)",
        "ExpressionAttributeValues": {
            ":env": _s(env_id),
            ":now": _s(ctx.now()),
            ":opk": _s(keys.owner_index_pk(env_id)),
            ":osk": _s(keys.owner_handle_sk(pool, handle)),
        },
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    return Call("update_item", params, key)


def claim_in_pool(ctx: PlanContext, pool: str, env_id: str, handle: str) -> Plan[Allocation]:
    """An explicit handle of a pool: taken for ``env_id`` or refused without touching the holder.

    The cooldown does not apply: whoever names a handle asks for that origin's browser state.
    """
    held = yield from held_in_pool(ctx, pool, env_id)
    if held == handle:
        return Allocation(handle, env_id, pool, "existing")
    if held is not None:
        raise HandleError(
            f"environment {env_id!r} already holds handle {held!r} in pool {pool!r}; "
            f"release it before asking for {handle!r}"
        )
    try:
        yield allocate_call(ctx, pool, handle, env_id)
    except ConditionFailedError as failed:
        if not failed.item:
            raise HandleNotInPoolError(handle, pool=pool) from None
        holder = _str(failed.item, "env_id")
        if holder == env_id:
            return Allocation(handle, env_id, pool, "existing")
        raise HandleTakenError(handle, holder=holder, pool=pool) from None
    return Allocation(handle, env_id, pool, "explicit")


def claim_call(ctx: PlanContext, handle: str, env_id: str) -> Call:
    """Claim a pool-less handle; succeeds if nobody holds it or ``env_id`` already does."""
    key = keys.handle_claim_key(handle)
    item = _key(key) | {
        "handle": _s(handle),
        "env_id": _s(env_id),
        "claimed_at": _s(ctx.now()),
        keys.GSI_BY_OWNER_PK: _s(keys.owner_index_pk(env_id)),
        keys.GSI_BY_OWNER_SK: _s(keys.owner_claim_sk(handle)),
    }
    params = {
        "TableName": ctx.table,
        "Item": item,
        "ConditionExpression": "attribute_not_exists(pk) OR env_id = :env",
        "ExpressionAttributeValues": {":env": _s(env_id)},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    return Call("put_item", params, key)


def claim_random(ctx: PlanContext, env_id: str) -> Plan[Allocation]:
    """A fresh random handle for ``env_id`` (or the one it already claimed).

    Two creates may draw the same 7 characters; the conditional put lets exactly one of them
    have it and the other draws again.
    """
    env_id = validate_env_id(env_id)
    existing = yield from held_claim(ctx, env_id)
    if existing is not None:
        return Allocation(existing, env_id, None, "existing")
    for attempt in range(ctx.tuning.random_draws):
        handle = random_handle(ctx.choice)
        try:
            yield claim_call(ctx, handle, env_id)
        except ConditionFailedError:
            continue
        return Allocation(handle, env_id, None, "random", conflicts=attempt)
    raise HandleContentionError("drawing a random handle", attempts=ctx.tuning.random_draws)


def claim_handle(ctx: PlanContext, env_id: str, handle: str) -> Plan[Allocation]:
    """An explicit handle outside any pool, refused (``HandleTakenError``) if someone holds it."""
    env_id = validate_env_id(env_id)
    handle = normalize_handle(handle)
    existing = yield from held_claim(ctx, env_id)
    if existing == handle:
        return Allocation(handle, env_id, None, "existing")
    if existing is not None:
        raise HandleError(
            f"environment {env_id!r} already holds handle {existing!r}; "
            f"release it before asking for {handle!r}"
        )
    try:
        yield claim_call(ctx, handle, env_id)
    except ConditionFailedError as failed:
        raise HandleTakenError(handle, holder=_str(failed.item, "env_id")) from None
    return Allocation(handle, env_id, None, "explicit")


# ---------------------------------------------------------------- release


def release(
    ctx: PlanContext,
    pool: str,
    env_id: str,
    *,
    require_absent: Sequence[keys.Key],
    handle: str | None = None,
) -> Plan[Release]:
    """Return ``env_id``'s handle of ``pool`` to the free list (released now: it queues last).

    Contract: call it only after the environment's routes are deleted, and say which entries
    must be gone in ``require_absent`` (typically ``keys.host_claim_key(host)`` for each of the
    environment's hostnames). They are checked in the same transaction as the release, so a
    handle can never go back to the pool while a route still serves its hostname. Pass ``()``
    only when the caller has proved it another way. Releasing a handle the environment does
    not hold (e.g. a second time) changes nothing and returns ``released=False``.
    """
    pool = validate_pool_name(pool)
    env_id = validate_env_id(env_id)
    if handle is None:
        handle = yield from held_in_pool(ctx, pool, env_id)
        if handle is None:
            return Release(None, env_id, released=False)
    handle = normalize_handle(handle)
    write = _release_update(ctx, pool, handle, env_id)
    released = yield from _checked_write(
        ctx, write, require_absent, pool=pool, handle=handle, env_id=env_id
    )
    return Release(handle, env_id, released)


def release_claim(
    ctx: PlanContext,
    env_id: str,
    *,
    require_absent: Sequence[keys.Key],
    handle: str | None = None,
) -> Plan[Release]:
    """Drop ``env_id``'s pool-less handle claim; same contract as ``release``."""
    env_id = validate_env_id(env_id)
    if handle is None:
        handle = yield from held_claim(ctx, env_id)
        if handle is None:
            return Release(None, env_id, released=False)
    handle = normalize_handle(handle)
    key = keys.handle_claim_key(handle)
    write = Call(
        "delete_item",
        {
            "TableName": ctx.table,
            "Key": _key(key),
            "ConditionExpression": "env_id = :env",
            "ExpressionAttributeValues": {":env": _s(env_id)},
        },
        key,
    )
    released = yield from _checked_write(
        ctx, write, require_absent, pool=None, handle=handle, env_id=env_id
    )
    return Release(handle, env_id, released)


def _release_update(ctx: PlanContext, pool: str, handle: str, env_id: str) -> Call:
    key = keys.pool_handle_key(pool, handle)
    now = ctx.now()
    params = {
        "TableName": ctx.table,
        "Key": _key(key),
        "UpdateExpression": "SET released_at = :now, last_env_id = :env, gsi2pk = :fpk, "
        "gsi2sk = :fsk REMOVE env_id, allocated_at, gsi1pk, gsi1sk",
        "ConditionExpression": "env_id = :env",
        "ExpressionAttributeValues": {
            ":env": _s(env_id),
            ":now": _s(now),
            ":fpk": _s(keys.free_list_pk(pool)),
            ":fsk": _s(keys.free_list_sk(now, handle)),
        },
    }
    return Call("update_item", params, key)


_TRANSACT_KIND = {"update_item": "Update", "delete_item": "Delete"}


def _checked_write(
    ctx: PlanContext,
    write: Call,
    require_absent: Sequence[keys.Key],
    *,
    pool: str | None,
    handle: str,
    env_id: str,
) -> Plan[bool]:
    """Run the owner-conditional ``write``, guarded by ``require_absent`` when there are checks.
    True if written, False if ``env_id`` did not hold the handle."""
    if not require_absent:
        try:
            yield write
        except ConditionFailedError:
            return False
        return True
    if len(require_absent) > MAX_RELEASE_CHECKS:
        raise InvalidInputError(
            f"at most {MAX_RELEASE_CHECKS} entries can be checked in one release, "
            f"not {len(require_absent)}"
        )
    transaction = _release_transaction(ctx, write, require_absent)
    for attempt in range(ctx.tuning.release_attempts):
        try:
            yield transaction
        except TransactionConflictError:
            yield Sleep(backoff(ctx, attempt))
            continue
        except TransactionCanceledError as cancelled:
            return _release_verdict(cancelled.reasons, require_absent, pool, handle, env_id)
        return True
    raise HandleContentionError(
        f"releasing handle {handle!r}", attempts=ctx.tuning.release_attempts
    )


def _release_transaction(ctx: PlanContext, write: Call, require_absent: Iterable[keys.Key]) -> Call:
    params = {k: v for k, v in write.params.items() if k != "ReturnValuesOnConditionCheckFailure"}
    checks = [
        {
            "ConditionCheck": {
                "TableName": ctx.table,
                "Key": _key(key),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        for key in require_absent
    ]
    items = [*checks, {_TRANSACT_KIND[write.operation]: params}]
    return Call("transact_write_items", {"TransactItems": items}, write.key)


def _release_verdict(
    reasons: Sequence[str | None],
    require_absent: Sequence[keys.Key],
    pool: str | None,
    handle: str,
    env_id: str,
) -> bool:
    if reasons and reasons[-1] == CONDITION_FAILED:
        return False  # not (or no longer) the holder: nothing to release, whatever else failed
    for key, reason in zip(require_absent, reasons, strict=False):
        if reason == CONDITION_FAILED:
            raise HandleReleaseBlockedError(handle, pool=pool, env_id=env_id, blocking=key)
    raise HandleError(f"release of handle {handle!r} was cancelled: {list(reasons)}")


# ---------------------------------------------------------------- pool administration


def add_handles(ctx: PlanContext, pool: str, names: Iterable[str]) -> Plan[AddResult]:
    """Add handles to a pool as free; handles already there are left as they are."""
    pool = validate_pool_name(pool)
    handles = _unique(normalize_handle(n) for n in names)
    added: list[str] = []
    existing: list[str] = []
    for handle in handles:
        try:
            yield _add_call(ctx, pool, handle)
        except ConditionFailedError:
            existing.append(handle)
            continue
        added.append(handle)
    return AddResult(added, existing)


def _add_call(ctx: PlanContext, pool: str, handle: str) -> Call:
    key = keys.pool_handle_key(pool, handle)
    item = _key(key) | {
        "pool": _s(pool),
        "handle": _s(handle),
        "created_at": _s(ctx.now()),
        keys.GSI_BY_LIST_PK: _s(keys.free_list_pk(pool)),
        keys.GSI_BY_LIST_SK: _s(keys.free_list_sk("", handle)),
    }
    params = {
        "TableName": ctx.table,
        "Item": item,
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    return Call("put_item", params, key)


def remove_handles(ctx: PlanContext, pool: str, names: Iterable[str]) -> Plan[RemoveResult]:
    """Delete free handles; held ones are reported with their holder and left untouched."""
    pool = validate_pool_name(pool)
    result = RemoveResult([], [], {})
    for handle in _unique(normalize_handle(n) for n in names):
        key = keys.pool_handle_key(pool, handle)
        params = {
            "TableName": ctx.table,
            "Key": _key(key),
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(env_id)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            yield Call("delete_item", params, key)
        except ConditionFailedError as failed:
            if failed.item:
                result.held[handle] = _str(failed.item, "env_id")
            else:
                result.missing.append(handle)
            continue
        result.removed.append(handle)
    return result


def list_handles(ctx: PlanContext, pool: str) -> Plan[list[HandleRow]]:
    """Every handle of a pool in name order, read consistently from the pool's partition."""
    pool = validate_pool_name(pool)
    settings = yield from read_settings(ctx, pool)
    params = {
        "KeyConditionExpression": "pk = :p AND begins_with(sk, :h)",
        "ExpressionAttributeValues": {
            ":p": _s(keys.pool_partition(pool)),
            ":h": _s(keys.POOL_HANDLE_PREFIX),
        },
        "ConsistentRead": True,
    }
    items = yield from query_all(ctx, params, keys.pool_partition(pool))
    cutoff = cooldown_cutoff(ctx.clock(), settings.cooldown_seconds)
    return [_row(item, cutoff) for item in items]


def _row(item: Mapping[str, Any], cutoff: str) -> HandleRow:
    handle = _str(item, "handle") or ""
    env_id = _str(item, "env_id")
    released = _str(item, "released_at")
    last = _str(item, "last_env_id")
    if env_id is not None:
        return HandleRow(handle, env_id, _str(item, "allocated_at"), "held", last)
    state: Literal["free", "cooling"] = "cooling" if released and released > cutoff else "free"
    return HandleRow(handle, None, released or _str(item, "created_at"), state, last)


def configure(
    ctx: PlanContext,
    pool: str,
    *,
    cooldown_seconds: int | None = None,
    fallback_random: bool | None = None,
) -> Plan[PoolSettings]:
    """Change a pool's settings; options left as None keep their value."""
    pool = validate_pool_name(pool)
    if cooldown_seconds is not None and not 0 <= cooldown_seconds <= MAX_COOLDOWN_SECONDS:
        raise InvalidInputError(
            f"cooldown must be between 0 and {MAX_COOLDOWN_SECONDS} seconds, not "
            f"{cooldown_seconds}",
            field="cooldown",
            value=cooldown_seconds,
        )
    sets = ["updated_at = :now"]
    values: dict[str, Any] = {":now": _s(ctx.now())}
    if cooldown_seconds is not None:
        sets.append("cooldown_seconds = :c")
        values[":c"] = {"N": str(cooldown_seconds)}
    if fallback_random is not None:
        sets.append("fallback_random = :f")
        values[":f"] = {"BOOL": fallback_random}
    key = keys.pool_config_key(pool)
    params = {
        "TableName": ctx.table,
        "Key": _key(key),
        "UpdateExpression": "SET " + ", ".join(sets),
        "ExpressionAttributeValues": values,
        "ReturnValues": "ALL_NEW",
    }
    reply = yield Call("update_item", params, key)
    return parse_settings(reply.get("Attributes"))


def _unique(handles: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(handles))
