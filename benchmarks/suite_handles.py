"""Handle allocation under concurrency, against DynamoDB Local.

For 1, 8 and 32 concurrent allocators (threads sharing one boto3 client), every allocator
takes handles for fresh environments until the pool is used up. Figures: allocations per
second, p50/p99 latency of one allocation, and lost races (conflicts) per allocation.

Baseline, same run and sizes: the naive allocator that reads the head of the free list and
then writes it without a condition. It is faster because it never loses a race, and it is
wrong: the note counts the environments that were told they got a handle that the table shows
held by someone else (double allocations).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from benchmarks.harness import BenchContext, Measurement, percentile
from hostnames.pool_sync import HandlePool
from routing_table.clients import ClientSettings, dynamodb_client
from routing_table.core import keys
from routing_table.errors import EdgeRouterError
from routing_table.schema import create_table
from routing_table.store.calls import call

SUITE = "handles"
CONCURRENCY = (1, 8, 32)


@dataclass
class Run:
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    told: dict[str, str] = field(default_factory=dict)  # env -> handle it was given
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)
    lock: Lock = field(default_factory=Lock)


def run(ctx: BenchContext) -> list[Measurement]:
    ctx.dynamodb_endpoint()
    # The harness sets AWS_REGION, which boto3 does not read (it reads AWS_DEFAULT_REGION).
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
    client = dynamodb_client(settings=ClientSettings(max_pool_connections=64), region_name=region)
    table = f"bench-handles-{uuid.uuid4().hex[:8]}"
    create_table(client, table, poll_interval=0.1)
    allocations = 48 if ctx.quick else 320
    rows: list[Measurement] = []
    for concurrency in CONCURRENCY:
        ours = _measure(client, table, concurrency, allocations, _safe(client, table))
        naive = _measure(client, table, concurrency, allocations, _naive(client, table))
        rows += _rows(concurrency, allocations, ours, naive)
    return rows


Allocator = Callable[[str, str], tuple[str, int]]
"""(pool, env) -> (handle, conflicts)."""


def _safe(client: Any, table: str) -> Allocator:
    pool_api = HandlePool(table, client=client)

    def allocate(pool: str, env: str) -> tuple[str, int]:
        got = pool_api.allocate(pool, env)
        return got.handle, got.conflicts

    return allocate


def _naive(client: Any, table: str) -> Allocator:
    """Read a free handle, then take it unconditionally: the race the real allocator closes."""

    def allocate(pool: str, env: str) -> tuple[str, int]:
        reply = call(
            client,
            "query",
            table=table,
            TableName=table,
            IndexName=keys.GSI_BY_LIST,
            KeyConditionExpression="gsi2pk = :f",
            ExpressionAttributeValues={":f": {"S": keys.free_list_pk(pool)}},
            Limit=1,
        )
        if not reply["Items"]:
            raise EdgeRouterError(f"naive: pool {pool} looks empty")
        handle = reply["Items"][0]["handle"]["S"]
        key = keys.pool_handle_key(pool, handle)
        call(
            client,
            "update_item",
            table=table,
            TableName=table,
            Key={"pk": {"S": key[0]}, "sk": {"S": key[1]}},
            UpdateExpression="SET env_id = :e REMOVE gsi2pk, gsi2sk",
            ExpressionAttributeValues={":e": {"S": env}},
        )
        return handle, 0

    return allocate


def _measure(
    client: Any, table: str, concurrency: int, allocations: int, allocate: Allocator
) -> Run:
    pool = f"p{concurrency}-{uuid.uuid4().hex[:6]}"
    HandlePool(table, client=client).add(pool, [f"h{n}" for n in range(allocations)])
    result = Run()
    per_worker = allocations // concurrency

    def worker(index: int) -> None:
        for n in range(per_worker):
            env = f"env-{index}-{n}"
            start = time.perf_counter()
            try:
                handle, conflicts = allocate(pool, env)
            except EdgeRouterError as exc:
                with result.lock:
                    result.errors.append(str(exc))
                continue
            elapsed = time.perf_counter() - start
            with result.lock:
                result.latencies.append(elapsed)
                result.told[env] = handle
                result.conflicts += conflicts

    begin = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as executor:
        for future in [executor.submit(worker, i) for i in range(concurrency)]:
            future.result()
    result.wall = time.perf_counter() - begin
    result.errors += [f"double allocation of {h}" for h in _doubles(client, table, pool, result)]
    return result


def _doubles(client: Any, table: str, pool: str, result: Run) -> list[str]:
    """Handles some environment was told it got while the table says another one holds them."""
    holder: dict[str, str] = {}
    params: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": keys.pool_partition(pool)}},
        "ConsistentRead": True,
    }
    while True:
        page = call(client, "query", table=table, **params)
        for item in page["Items"]:
            if "env_id" in item:
                holder[item["handle"]["S"]] = item["env_id"]["S"]
        if "LastEvaluatedKey" not in page:
            break
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [h for env, h in result.told.items() if holder.get(h) != env]


def _rows(concurrency: int, allocations: int, ours: Run, naive: Run) -> list[Measurement]:
    done = max(1, len(ours.latencies))
    naive_doubles = sum(1 for e in naive.errors if e.startswith("double allocation"))
    ours_doubles = sum(1 for e in ours.errors if e.startswith("double allocation"))
    other_errors = len(ours.errors) - ours_doubles
    base = "naive read-then-write"
    note = (
        f"{allocations} allocations; double allocations: ours {ours_doubles}, "
        f"naive {naive_doubles}; our errors {other_errors}"
    )
    n = concurrency
    return [
        Measurement(
            SUITE,
            f"allocate, {n} allocators: throughput",
            len(ours.latencies) / ours.wall,
            "alloc/s",
            base,
            len(naive.latencies) / naive.wall,
            note,
        ),
        Measurement(
            SUITE,
            f"allocate, {n} allocators: p50 latency",
            percentile(ours.latencies, 50) * 1000,
            "ms",
            base,
            percentile(naive.latencies, 50) * 1000,
        ),
        Measurement(
            SUITE,
            f"allocate, {n} allocators: p99 latency",
            percentile(ours.latencies, 99) * 1000,
            "ms",
            base,
            percentile(naive.latencies, 99) * 1000,
        ),
        Measurement(
            SUITE,
            f"allocate, {n} allocators: double allocations per allocation",
            ours_doubles / done,
            "doubles/alloc",
            base,
            naive_doubles / max(1, len(naive.latencies)),
            f"ours lost {ours.conflicts / done:.2f} races per allocation (conflicts, retried "
            "on another candidate); naive never notices its races",
        ),
    ]
