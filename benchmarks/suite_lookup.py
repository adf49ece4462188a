"""Store lookup against DynamoDB Local: one BatchGetItem vs one GetItem per candidate.

Ours: ``RouteStore.lookup`` (every candidate key in one BatchGetItem, then the pure core
chooses). Baseline, same run, same table, same client: a naive reader that asks for each
candidate with its own GetItem, best first, and stops at the first hit. The request path is
``depth`` segments deep and only ``/`` of a wildcard host exists, the worst case for the naive
reader (it tries every candidate); the candidates are capped at 2 x 33 keys, so ours stays one
call at any depth.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks.harness import BenchContext, Measurement, percentile
from routing_table.clients import dynamodb_client
from routing_table.core.matching import candidate_keys
from routing_table.core.normalize import normalize_host, normalize_path
from routing_table.core.records import RouteRecord
from routing_table.schema import create_table
from routing_table.store.base import av_key
from routing_table.store.sync import RouteStore

SUITE = "lookup"
DEPTHS = (1, 4, 8, 16, 32)
HOST = "pr-42.preview.example.com"


def naive_lookup(client: Any, table: str, host: str, path: str) -> dict[str, Any] | None:
    """One GetItem per candidate, best first, until one exists."""
    for candidate in candidate_keys(normalize_host(host), normalize_path(path)):
        item = client.get_item(TableName=table, Key=av_key(candidate.key)).get("Item")
        if item:
            return dict(item)
    return None


def _samples(fn: Callable[[], object], rounds: int) -> list[float]:
    fn()  # warm the connection and caches
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def run(ctx: BenchContext) -> list[Measurement]:
    ctx.dynamodb_endpoint()
    table = f"bench-lookup-{uuid.uuid4().hex[:8]}"
    # The harness sets AWS_REGION, which this boto3 does not read by itself.
    client = dynamodb_client(region_name=os.environ.get("AWS_REGION", "us-east-1"))
    create_table(client, table, poll_interval=0.1)
    store = RouteStore(table, client=client)
    store.put_route(
        RouteRecord(
            host="*.preview.example.com",
            prefix="/",
            owner="bench",
            target="https://origin.example.net",
            kind="custom",
            domain="origin.example.net",
        )
    )
    rounds = 20 if ctx.quick else 200
    # Warm DynamoDB Local's JVM first, or whichever case runs first pays for its JIT.
    for _ in range(rounds):
        store.lookup(HOST, "/warm/up")
        naive_lookup(client, table, HOST, "/warm/up")
    rows: list[Measurement] = []
    for depth in DEPTHS:
        path = "/" + "/".join(f"seg{n}" for n in range(depth))
        calls = len(candidate_keys(HOST, path))
        ours = _samples(lambda p=path: store.lookup(HOST, p), rounds)  # type: ignore[misc]
        naive = _samples(lambda p=path: naive_lookup(client, table, HOST, p), rounds)  # type: ignore[misc]
        rows.append(
            Measurement(
                suite=SUITE,
                case=f"lookup depth {depth} (median)",
                value=statistics.median(ours),
                unit="ms",
                baseline_label=f"{calls} x GetItem",
                baseline_value=statistics.median(naive),
                note=f"1 call vs {calls}; p99 {percentile(ours, 99):.2f} vs "
                f"{percentile(naive, 99):.2f} ms",
            )
        )
    client.delete_table(TableName=table)
    return rows
