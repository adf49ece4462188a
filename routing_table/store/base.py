"""The store's logic as pure plans: request builders, response parsers, retries and ownership.

A *plan* is a generator that yields steps and receives their results:

* ``Call(operation, params)``: one DynamoDB API call; the reply is the parsed response, or the
  project's error (from ``store.calls``) is thrown into the plan.
* ``Sleep(seconds)``: back off before a retry (the shell's injected sleep runs it).
* ``Parallel(plans, concurrency)``: run sub-plans with bounded concurrency; the reply is their
  results in order.
* ``Report(count)``: progress (items written); the shell forwards it to its callback.

The sync shell (``store.sync``, boto3) and the async shell (``store.aio``, aioboto3) only execute
these steps, so they cannot drift apart: every request, retry, condition and parse lives here.
Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from routing_table.core import keys, records
from routing_table.core.matching import Candidate, candidate_keys, choose
from routing_table.core.normalize import (
    normalize_host,
    normalize_host_pattern,
    normalize_path,
    normalize_prefix,
)
from routing_table.core.records import RouteRecord
from routing_table.errors import (
    ConditionFailedError,
    OwnershipError,
    RouteNotFoundError,
    ThrottledError,
    TransactionCanceledError,
    TransactionConflictError,
)

T = TypeVar("T")
Item = dict[str, Any]

# DynamoDB's per-call limits (see edge-facts §3).
BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = keys.MAX_BATCH_GET_KEYS
TRANSACT_RETRIES = 4

CLAIM_KIND = "host-claim"
_OWNER_NAMES = {"#o": "owner"}


@dataclass(frozen=True, slots=True)
class Call:
    """One SDK call: ``operation`` is the client's snake_case method name."""

    operation: str
    params: dict[str, Any]
    key: object = None


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Parallel:
    plans: list[Plan[Any]]
    concurrency: int


@dataclass(frozen=True, slots=True)
class Report:
    count: int


Step = Call | Sleep | Parallel | Report
Plan = Generator[Step, Any, T]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
    Jitter"): retries of many writers spread out instead of hitting the table in waves."""

    base: float = 0.05
    cap: float = 5.0
    max_attempts: int = 8
    rand: Callable[[], float] = field(default=lambda: 1.0)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        return float(self.rand() * min(self.cap, self.base * 2 ** (attempt - 1)))


# --- attribute-value helpers -----------------------------------------------------------------


def av_key(key: keys.Key) -> Item:
    return {keys.TABLE_PK: {"S": key[0]}, keys.TABLE_SK: {"S": key[1]}}


def key_of(item: Item) -> keys.Key:
    return item[keys.TABLE_PK]["S"], item[keys.TABLE_SK]["S"]


def owner_of(item: Item | None) -> str | None:
    if not item or "owner" not in item:
        return None
    value: str = item["owner"]["S"]
    return value


def now_iso(clock: Callable[[], dt.datetime]) -> str:
    return clock().astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- host claims -----------------------------------------------------------------------------


def claim_update(table: str, host: str, owner: str) -> Item:
    """Create or refresh the host's claim for ``owner``; refused if another owner holds it.

    Every write bumps ``generation`` so that releasing the claim (``delete_route_plan``) can tell
    that a route was added since it looked.
    """
    return {
        "TableName": table,
        "Key": av_key(keys.host_claim_key(host)),
        "UpdateExpression": (
            "SET #o = :me, #k = :kind, #h = :host, #g1 = :g1, #g1s = :g1s ADD #gen :one"
        ),
        "ConditionExpression": "attribute_not_exists(#pk) OR #o = :me",
        "ExpressionAttributeNames": {
            **_OWNER_NAMES,
            "#k": "kind",
            "#h": "host",
            "#g1": keys.GSI_BY_OWNER_PK,
            "#g1s": keys.GSI_BY_OWNER_SK,
            "#gen": "generation",
            "#pk": keys.TABLE_PK,
        },
        "ExpressionAttributeValues": {
            ":me": {"S": owner},
            ":kind": {"S": CLAIM_KIND},
            ":host": {"S": host},
            ":g1": {"S": keys.owner_index_pk(owner)},
            ":g1s": {"S": f"HOST#{host}"},
            ":one": {"N": "1"},
        },
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def route_put(table: str, record: RouteRecord) -> Item:
    """Write a route entry unless another owner holds it."""
    return {
        "TableName": table,
        "Item": records.route_to_item(record),
        "ConditionExpression": "attribute_not_exists(#pk) OR #o = :me",
        "ExpressionAttributeNames": {**_OWNER_NAMES, "#pk": keys.TABLE_PK},
        "ExpressionAttributeValues": {":me": {"S": record.owner}},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def ownership_error(
    table: str, key: keys.Key, owner: str | None, requested_by: str, what: str
) -> OwnershipError:
    return OwnershipError(
        f"{what} is owned by {owner!r}, not {requested_by!r} "
        f"(table {table}, key {key[0]} {key[1]})",
        table=table,
        key=key,
        owner=owner,
        requested_by=requested_by,
    )


# --- single-route plans ----------------------------------------------------------------------


def put_route_plan(table: str, record: RouteRecord, backoff: Backoff) -> Plan[RouteRecord]:
    """Claim the host (or confirm the claim) and write the route in one transaction."""
    transact = {
        "TransactItems": [
            {"Update": claim_update(table, record.host, record.owner)},
            {"Put": route_put(table, record)},
        ]
    }
    for attempt in range(1, TRANSACT_RETRIES + 1):
        try:
            yield Call("transact_write_items", transact, key=record.key)
            return record
        except TransactionConflictError:
            # Another transaction touched the claim at the same moment; the next try will see
            # its outcome and either succeed or be refused on ownership.
            if attempt == TRANSACT_RETRIES:
                raise
            yield Sleep(backoff.delay(attempt))
        except TransactionCanceledError as exc:
            raise (yield from _refusal(table, record, exc)) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _refusal(
    table: str, record: RouteRecord, exc: TransactionCanceledError
) -> Plan[OwnershipError]:
    what = {0: f"host {record.host!r}", 1: f"route {record.host}{record.prefix}"}
    blocked = {0: keys.host_claim_key(record.host), 1: record.key}
    for index, reason in enumerate(exc.reasons):
        if reason != "ConditionalCheckFailed":
            continue
        owner = owner_of(exc.items[index] if index < len(exc.items) else None)
        if owner is None:
            # The backend did not return the blocking item: read it to name its owner.
            reply = yield Call(
                "get_item",
                {"TableName": table, "Key": av_key(blocked[index]), "ConsistentRead": True},
                key=blocked[index],
            )
            owner = owner_of(reply.get("Item"))
        return ownership_error(table, blocked[index], owner, record.owner, what[index])
    raise exc


def get_route_plan(table: str, host: str, prefix: str) -> Plan[RouteRecord | None]:
    key = keys.route_key(host, prefix)
    reply = yield Call(
        "get_item", {"TableName": table, "Key": av_key(key), "ConsistentRead": True}, key=key
    )
    item = reply.get("Item")
    return records.route_from_item(item) if item else None


def delete_route_plan(table: str, host: str, prefix: str, owner: str) -> Plan[RouteRecord]:
    """Delete a route owned by ``owner``; release the host claim if it was the host's last route.

    Releasing is safe against a concurrent ``put_route`` of the same owner: the claim is read
    first, then the remaining routes counted, and the claim deleted only if its ``generation``
    is unchanged. Every put bumps the generation in the same transaction that writes its route,
    so a route added after the read makes the delete's condition fail and the claim stays.
    """
    key = keys.route_key(host, prefix)
    try:
        reply = yield Call(
            "delete_item",
            {
                "TableName": table,
                "Key": av_key(key),
                "ConditionExpression": "attribute_exists(#pk) AND #o = :me",
                "ExpressionAttributeNames": {**_OWNER_NAMES, "#pk": keys.TABLE_PK},
                "ExpressionAttributeValues": {":me": {"S": owner}},
                "ReturnValues": "ALL_OLD",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
            key=key,
        )
    except ConditionFailedError as exc:
        current = exc.item if exc.item else None
        if current is None:
            probe = yield Call(
                "get_item",
                {"TableName": table, "Key": av_key(key), "ConsistentRead": True},
                key=key,
            )
            current = probe.get("Item")
        if current is None:
            raise RouteNotFoundError(host, prefix, table=table) from exc
        raise ownership_error(
            table, key, owner_of(current), owner, f"route {host}{prefix}"
        ) from exc
    yield from release_claim_plan(table, host, owner)
    return records.route_from_item(reply["Attributes"])


def release_claim_plan(table: str, host: str, owner: str) -> Plan[bool]:
    """Delete ``owner``'s claim on ``host`` if no route of the host is left. True if deleted."""
    claim_key = keys.host_claim_key(host)
    claim = yield Call(
        "get_item",
        {"TableName": table, "Key": av_key(claim_key), "ConsistentRead": True},
        key=claim_key,
    )
    item = claim.get("Item")
    if owner_of(item) != owner:
        return False
    assert item is not None
    left = yield Call(
        "query",
        {
            "TableName": table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :paths)",
            "ExpressionAttributeNames": {"#pk": keys.TABLE_PK, "#sk": keys.TABLE_SK},
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.route_partition(host)},
                ":paths": {"S": keys.PATH_PREFIX},
            },
            "ConsistentRead": True,
            "Limit": 1,
            "Select": "COUNT",
        },
        key=claim_key,
    )
    if left.get("Count", 0):
        return False
    try:
        yield Call(
            "delete_item",
            {
                "TableName": table,
                "Key": av_key(claim_key),
                "ConditionExpression": "#o = :me AND #gen = :gen",
                "ExpressionAttributeNames": {**_OWNER_NAMES, "#gen": "generation"},
                "ExpressionAttributeValues": {
                    ":me": {"S": owner},
                    ":gen": item.get("generation", {"N": "0"}),
                },
            },
            key=claim_key,
        )
    except ConditionFailedError:
        return False  # a route was put meanwhile: the claim is in use again
    return True


# --- listing ---------------------------------------------------------------------------------


def paginate(operation: str, table: str, params: Item, key: object) -> Plan[list[Item]]:
    """Every reply of a Query or Scan, following ``LastEvaluatedKey`` (pages stop at 1 MB)."""
    replies: list[Item] = []
    start: Item | None = None
    while True:
        page = {"TableName": table, **params}
        if start:
            page["ExclusiveStartKey"] = start
        reply = yield Call(operation, page, key=key)
        replies.append(reply)
        start = reply.get("LastEvaluatedKey")
        if not start:
            return replies


def query_all(table: str, params: Item, key: object) -> Plan[list[Item]]:
    """Every item a Query returns, over all its pages."""
    replies = yield from paginate("query", table, params, key)
    return [item for reply in replies for item in reply.get("Items", [])]


def list_by_host_plan(table: str, host: str) -> Plan[list[RouteRecord]]:
    """Every route of one host (one partition), in prefix order."""
    partition = keys.route_partition(host)
    items = yield from query_all(
        table,
        {
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :paths)",
            "ExpressionAttributeNames": {"#pk": keys.TABLE_PK, "#sk": keys.TABLE_SK},
            "ExpressionAttributeValues": {
                ":pk": {"S": partition},
                ":paths": {"S": keys.PATH_PREFIX},
            },
            "ConsistentRead": True,
        },
        partition,
    )
    return [records.route_from_item(item) for item in items]


def list_by_owner_plan(table: str, owner: str) -> Plan[list[RouteRecord]]:
    """Every route an owner holds, through the ``by-owner`` index (eventually consistent)."""
    index_pk = keys.owner_index_pk(owner)
    items = yield from query_all(
        table,
        {
            "IndexName": keys.GSI_BY_OWNER,
            "KeyConditionExpression": "#g1 = :g1 AND begins_with(#g1s, :routes)",
            "ExpressionAttributeNames": {
                "#g1": keys.GSI_BY_OWNER_PK,
                "#g1s": keys.GSI_BY_OWNER_SK,
            },
            "ExpressionAttributeValues": {
                ":g1": {"S": index_pk},
                ":routes": {"S": keys.ROUTE_PREFIX},
            },
        },
        index_pk,
    )
    return [records.route_from_item(item) for item in items]


# --- lookup ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LookupResult:
    """What a lookup tried and found, in the order the edge would consider it."""

    host: str  # normalised request host
    path: str  # normalised request path
    candidates: list[Candidate]  # best first
    found: dict[keys.Key, RouteRecord]  # candidates that exist
    winner: Candidate | None
    route: RouteRecord | None
    round_trips: int


def batch_get_plan(
    table: str, wanted: Sequence[keys.Key], backoff: Backoff, projection: str | None = None
) -> Plan[tuple[dict[keys.Key, Item], int]]:
    """Read up to 100 keys with one BatchGetItem; leftovers (``UnprocessedKeys``, only under
    throttling or the 16 MB limit) are re-requested after a backoff. Returns (items, calls)."""
    assert len(wanted) <= BATCH_GET_LIMIT
    request: dict[str, Any] = {"Keys": [av_key(k) for k in dict.fromkeys(wanted)]}
    if projection:
        request["ProjectionExpression"] = projection
        request["ExpressionAttributeNames"] = {"#o": "owner"}
    found: dict[keys.Key, Item] = {}
    calls = 0
    while True:
        calls += 1
        reply = yield Call("batch_get_item", {"RequestItems": {table: request}}, key=wanted[0])
        for item in reply.get("Responses", {}).get(table, []):
            found[key_of(item)] = item
        left = reply.get("UnprocessedKeys", {}).get(table)
        if not left or not left.get("Keys"):
            return found, calls
        if calls >= backoff.max_attempts:
            raise ThrottledError(
                f"BatchGetItem on {table} left {len(left['Keys'])} keys unprocessed "
                f"after {calls} calls",
                table=table,
                key=wanted[0],
                operation="batch_get_item",
            )
        request = left
        yield Sleep(backoff.delay(calls))


def lookup_plan(table: str, host: str, path: str, backoff: Backoff) -> Plan[LookupResult]:
    """Find the route for a request: every candidate key in ONE BatchGetItem, then the pure
    core chooses (exact host before wildcard, longest prefix on a segment boundary)."""
    norm_host = normalize_host(host)
    norm_path = normalize_path(path)
    candidates = candidate_keys(norm_host, norm_path)
    items, calls = yield from batch_get_plan(table, [c.key for c in candidates], backoff)
    found = {k: records.route_from_item(item) for k, item in items.items()}
    ordered = {c.key: found[c.key] for c in candidates if c.key in found}
    winner = choose(candidates, ordered)
    return LookupResult(
        host=norm_host,
        path=norm_path,
        candidates=candidates,
        found=ordered,
        winner=winner,
        route=ordered[winner.key] if winner else None,
        round_trips=calls,
    )


# --- bulk import -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refusal:
    """One input route not written, and why. ``index`` is its position in the input."""

    index: int
    record: RouteRecord
    reason: str
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class ImportReport:
    written: int
    refused: list[Refusal]


def _chunks(seq: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def import_plan(
    table: str,
    routes: Sequence[RouteRecord],
    backoff: Backoff,
    concurrency: int,
) -> Plan[ImportReport]:
    """Write many routes fast, refusing (never overwriting) what another owner holds.

    1. Within the input, the first owner to name a host keeps it; a repeated key is refused.
    2. Pre-check: BatchGetItem the host claims and route entries, refuse routes held by others.
    3. Claim each remaining host with the same conditional update as ``put_route`` (one call
       per distinct host), so a host cannot change hands between the check and the write.
    4. BatchWriteItem the routes, 25 per call, ``concurrency`` calls at a time; unprocessed
       items are resent with exponential backoff and jitter.

    The race left: BatchWriteItem has no conditions, so a route entry created for another
    owner between step 2 and step 4 on a host *this owner* claims would be overwritten. That
    needs a writer that skipped the host claim (every writer here takes it first), or the same
    owner deleting the host's last route concurrently, which may release the claim before the
    batch lands and leave routes without a claim until the next put for that host.
    """
    refused: list[Refusal] = []
    accepted = _refuse_within_input(routes, refused)
    accepted = yield from _precheck(table, accepted, refused, backoff, concurrency)
    accepted = yield from _claim_hosts(table, accepted, refused, backoff, concurrency)
    if refused:
        yield Report(len(refused))  # progress counts input lines handled, refused or written
    batches = [list(chunk) for chunk in _chunks(accepted, BATCH_WRITE_LIMIT)]
    yield Parallel(
        [write_batch_plan(table, [r for _, r in b], backoff) for b in batches], concurrency
    )
    refused.sort(key=lambda r: r.index)
    return ImportReport(written=len(accepted), refused=refused)


def _refuse_within_input(
    routes: Sequence[RouteRecord], refused: list[Refusal]
) -> list[tuple[int, RouteRecord]]:
    host_owner: dict[str, tuple[int, str]] = {}
    seen: dict[keys.Key, int] = {}
    accepted: list[tuple[int, RouteRecord]] = []
    for index, record in enumerate(routes):
        first = host_owner.setdefault(record.host, (index, record.owner))
        if first[1] != record.owner:
            reason = f"host {record.host!r} is given to owner {first[1]!r} at input #{first[0]}"
            refused.append(Refusal(index, record, reason, first[1]))
        elif record.key in seen:
            reason = f"duplicate of input #{seen[record.key]}"
            refused.append(Refusal(index, record, reason, record.owner))
        else:
            seen[record.key] = index
            accepted.append((index, record))
    return accepted


def _precheck(
    table: str,
    accepted: list[tuple[int, RouteRecord]],
    refused: list[Refusal],
    backoff: Backoff,
    concurrency: int,
) -> Plan[list[tuple[int, RouteRecord]]]:
    wanted = list(
        dict.fromkeys(k for _, r in accepted for k in (keys.host_claim_key(r.host), r.key))
    )
    chunks = [list(c) for c in _chunks(wanted, BATCH_GET_LIMIT)]
    projection = f"{keys.TABLE_PK}, {keys.TABLE_SK}, #o"
    results = yield Parallel(
        [batch_get_plan(table, c, backoff, projection) for c in chunks], concurrency
    )
    owners: dict[keys.Key, str | None] = {}
    for items, _ in results:
        owners.update({k: owner_of(item) for k, item in items.items()})
    kept: list[tuple[int, RouteRecord]] = []
    for index, record in accepted:
        for key, what in ((keys.host_claim_key(record.host), "host"), (record.key, "route")):
            holder = owners.get(key, record.owner)
            if holder != record.owner:
                refused.append(Refusal(index, record, f"{what} is owned by {holder!r}", holder))
                break
        else:
            kept.append((index, record))
    return kept


def _claim_hosts(
    table: str,
    accepted: list[tuple[int, RouteRecord]],
    refused: list[Refusal],
    backoff: Backoff,
    concurrency: int,
) -> Plan[list[tuple[int, RouteRecord]]]:
    owners = {r.host: r.owner for _, r in accepted}
    hosts = list(owners)
    results: list[str | None] = yield Parallel(
        [claim_host_plan(table, host, owners[host], backoff) for host in hosts], concurrency
    )
    lost = {host: holder for host, holder in zip(hosts, results, strict=True) if holder}
    kept: list[tuple[int, RouteRecord]] = []
    for index, record in accepted:
        if record.host in lost:
            holder = lost[record.host]
            refused.append(Refusal(index, record, f"host is owned by {holder!r}", holder))
        else:
            kept.append((index, record))
    return kept


def claim_host_plan(table: str, host: str, owner: str, backoff: Backoff) -> Plan[str | None]:
    """Claim ``host`` for ``owner``. Returns None on success, else the owner holding it."""
    params = claim_update(table, host, owner)
    for attempt in range(1, TRANSACT_RETRIES + 1):
        try:
            yield Call("update_item", params, key=keys.host_claim_key(host))
            return None
        except ConditionFailedError as exc:
            holder = owner_of(exc.item)
            if holder is None:
                probe = yield Call(
                    "get_item",
                    {"TableName": table, "Key": params["Key"], "ConsistentRead": True},
                    key=keys.host_claim_key(host),
                )
                holder = owner_of(probe.get("Item"))
            if holder is not None and holder != owner:
                return holder
            # The claim vanished or became ours between the two reads: try again.
            yield Sleep(backoff.delay(attempt))
    return "<unknown: claim kept changing>"


def write_batch_plan(table: str, batch: Iterable[RouteRecord], backoff: Backoff) -> Plan[int]:
    """One BatchWriteItem of at most 25 routes; unprocessed items are resent with backoff."""
    requests: list[Item] = [{"PutRequest": {"Item": records.route_to_item(r)}} for r in batch]
    return (yield from write_requests_plan(table, requests, backoff))


def write_requests_plan(table: str, requests: list[Item], backoff: Backoff) -> Plan[int]:
    """One BatchWriteItem of at most 25 put/delete requests; ``UnprocessedItems`` are resent
    with exponential backoff and jitter, and progress is reported as items land."""
    assert len(requests) <= BATCH_WRITE_LIMIT
    pending = requests
    first = _request_key(pending[0]) if pending else None
    attempt = 0
    while pending:
        reply = yield Call("batch_write_item", {"RequestItems": {table: pending}}, key=first)
        left: list[Item] = reply.get("UnprocessedItems", {}).get(table, [])
        yield Report(len(pending) - len(left))
        pending = left
        if pending:
            attempt += 1
            if attempt >= backoff.max_attempts:
                raise ThrottledError(
                    f"BatchWriteItem on {table} left {len(pending)} items unprocessed after "
                    f"{attempt} resends",
                    table=table,
                    key=first,
                    operation="batch_write_item",
                )
            yield Sleep(backoff.delay(attempt))
    return len(requests)


def _request_key(request: Item) -> keys.Key:
    if "PutRequest" in request:
        return key_of(request["PutRequest"]["Item"])
    return key_of(request["DeleteRequest"]["Key"])


def bulk_write_plan(
    table: str, requests: Sequence[Item], backoff: Backoff, concurrency: int
) -> Plan[int]:
    """Every request, 25 per BatchWriteItem, ``concurrency`` calls in flight."""
    batches = [
        list(requests[i : i + BATCH_WRITE_LIMIT])
        for i in range(0, len(requests), BATCH_WRITE_LIMIT)
    ]
    done = yield Parallel([write_requests_plan(table, b, backoff) for b in batches], concurrency)
    return sum(done)


def stamp(record: RouteRecord, clock: Callable[[], dt.datetime]) -> RouteRecord:
    """The record with ``updated_at`` set to the clock's time (ISO-8601 UTC)."""
    return replace(record, updated_at=now_iso(clock))


@dataclass(frozen=True, slots=True)
class RoutePlans:
    """The plans of one table, with its settings: what both shells execute, method by method.

    Inputs are normalised here (hosts, patterns and prefixes through the pure core), so a
    caller cannot address an entry under a spelling the edge would never look up.
    """

    table: str
    backoff: Backoff
    clock: Callable[[], dt.datetime] = utc_now
    concurrency: int = 4

    def put_route(self, record: RouteRecord) -> Plan[RouteRecord]:
        return put_route_plan(self.table, stamp(_normalised(record), self.clock), self.backoff)

    def get_route(self, host: str, prefix: str) -> Plan[RouteRecord | None]:
        return get_route_plan(self.table, normalize_host_pattern(host), normalize_prefix(prefix))

    def delete_route(self, host: str, prefix: str, owner: str) -> Plan[RouteRecord]:
        return delete_route_plan(
            self.table, normalize_host_pattern(host), normalize_prefix(prefix), owner
        )

    def lookup(self, host: str, path: str) -> Plan[LookupResult]:
        return lookup_plan(self.table, host, path, self.backoff)

    def list_by_host(self, host: str) -> Plan[list[RouteRecord]]:
        return list_by_host_plan(self.table, normalize_host_pattern(host))

    def list_by_owner(self, owner: str) -> Plan[list[RouteRecord]]:
        return list_by_owner_plan(self.table, owner)

    def import_routes(self, routes: Iterable[RouteRecord]) -> Plan[ImportReport]:
        stamped = [stamp(_normalised(r), self.clock) for r in routes]
        return import_plan(self.table, stamped, self.backoff, self.concurrency)


def _normalised(record: RouteRecord) -> RouteRecord:
    return replace(
        record, host=normalize_host_pattern(record.host), prefix=normalize_prefix(record.prefix)
    )
