"""Lookup latency vs table size, up to 100,000 routes, on DynamoDB Local.

One table grows to each size in turn, written by the store's own batch writer
(``store.base.write_batch_plan``: BatchWriteItem of 25, unprocessed items resent), 8 batches in
flight. Host claims are left out: a lookup never reads them, and claiming 10,000 hosts one
conditional write at a time would make loading, not looking up, the benchmark (``import_routes``
is measured by the CLI's 10,000-route import test). 10 routes per host (``/svc-0`` ...
``/svc-9``), so 100,000 routes are 10,000 hosts. At each size, for random existing hosts and a
path four segments deep:

* ``RouteStore.lookup``: every candidate key in ONE BatchGetItem; its cost must not depend on the
  table's size (a key lookup). Baseline, same run, same table: a naive router that Scans for the
  host's routes (a FilterExpression over the whole table) and picks the longest prefix; it grows
  with the table. Fewer scan samples at the largest sizes, it is that slow.
* the edge handler's miss (fresh cache, the real botocore reader): beside the same miss on the
  smallest table, so the ratio reads "how much slower a big table made it" (about 1.0x).

``--quick`` stops at 2,000 routes.
"""

from __future__ import annotations

import os
import random
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks.harness import BenchContext, Measurement, percentile
from edge_router.config import EdgeConfig
from edge_router.dynamo import DynamoRouteReader
from edge_router.router import EdgeRouter
from edge_router.telemetry import Telemetry
from routing_table.clients import dynamodb_client
from routing_table.core.matching import prefix_matches
from routing_table.core.records import RouteRecord
from routing_table.schema import create_table
from routing_table.store.base import (
    BATCH_WRITE_LIMIT,
    Backoff,
    Parallel,
    Plan,
    write_batch_plan,
)
from routing_table.store.sync import RouteStore
from routing_table.store.sync import run as run_plan

SUITE = "scale"
SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (200, 2_000)
ROUTES_PER_HOST = 10
PATH = "/svc-3/a/b/c"


def _host(n: int) -> str:
    return f"h{n}.scale.example.com"


def _routes(first_host: int, hosts: int) -> list[RouteRecord]:
    return [
        RouteRecord(_host(h), f"/svc-{k}", f"env-{h}", "https://origin", "custom",
                    domain=f"origin-{h}.example.com")
        for h in range(first_host, first_host + hosts)
        for k in range(ROUTES_PER_HOST)
    ]  # fmt: skip


def _load(client: Any, table: str, routes: list[RouteRecord]) -> int:
    batches = [routes[i : i + BATCH_WRITE_LIMIT] for i in range(0, len(routes), BATCH_WRITE_LIMIT)]

    def all_batches() -> Plan[int]:
        written: list[int] = yield Parallel(
            [write_batch_plan(table, batch, Backoff()) for batch in batches], 8
        )
        return sum(written)

    return run_plan(all_batches(), client, table)


def scan_lookup(client: Any, table: str, host: str, path: str) -> str | None:
    """The naive router: Scan the table for the host's routes, keep the longest match."""
    best: str | None = None
    pages = client.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="#h = :h AND attribute_exists(#p)",  # routes, not the host's claim
        ExpressionAttributeNames={"#h": "host", "#p": "prefix"},
        ExpressionAttributeValues={":h": {"S": host}},
        ProjectionExpression="#p",
    )
    for page in pages:
        for item in page["Items"]:
            prefix = item["prefix"]["S"]
            if prefix_matches(prefix, path) and (best is None or len(prefix) > len(best)):
                best = prefix
    return best


class _Quiet:
    def info(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def error(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def add_metric(self, name: str, unit: Any, value: float, *args: Any, **kw: Any) -> None: ...
    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None: ...


def _event(host: str, uri: str) -> dict[str, Any]:
    request = {
        "clientIp": "203.0.113.1",
        "method": "GET",
        "uri": uri,
        "querystring": "",
        "headers": {"host": [{"key": "Host", "value": host}]},
        "origin": {"custom": {"domainName": "placeholder.example.com", "path": ""}},
    }
    return {"Records": [{"cf": {"config": {}, "request": request}}]}


def _timed(fn: Callable[[], object], samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def run(ctx: BenchContext) -> list[Measurement]:
    ctx.dynamodb_endpoint()
    region = os.environ.get("AWS_REGION", "us-east-1")
    client = dynamodb_client(region_name=region)
    table = f"bench-scale-{uuid.uuid4().hex[:8]}"
    create_table(client, table, poll_interval=0.1)
    store = RouteStore(table, client=client, concurrency=8)
    config = EdgeConfig(table, (region,))
    quiet = _Quiet()
    router = EdgeRouter(
        config,
        reader=DynamoRouteReader(config, clock=time.monotonic),
        telemetry=Telemetry(logger=quiet, metrics=quiet, flush_seconds=60),
    )
    rng = random.Random(7)
    rows: list[Measurement] = []
    loaded_hosts = 0
    smallest_miss: float | None = None
    sizes = QUICK_SIZES if ctx.quick else SIZES
    for size in sizes:
        hosts = size // ROUTES_PER_HOST
        started = time.perf_counter()
        written = _load(client, table, _routes(loaded_hosts, hosts - loaded_hosts))
        load_rate = written / (time.perf_counter() - started)
        loaded_hosts = hosts
        store.lookup(_host(0), PATH)  # warm the connection

        def lookup(hosts: int = hosts) -> None:
            found = store.lookup(_host(rng.randrange(hosts)), PATH)
            assert found.route is not None
            assert found.route.prefix == "/svc-3"

        def miss(hosts: int = hosts) -> None:
            router.cache.clear()
            result = router.handle(_event(_host(rng.randrange(hosts)), PATH))
            assert "origin" in result, result

        def scan(hosts: int = hosts) -> None:
            assert scan_lookup(client, table, _host(rng.randrange(hosts)), PATH) == "/svc-3"

        ours = _timed(lookup, 30 if ctx.quick else 200)
        edge = _timed(miss, 30 if ctx.quick else 200)
        naive = _timed(scan, 3 if size <= 10_000 else 1)
        smallest_miss = smallest_miss or statistics.median(edge)
        rows += [
            Measurement(SUITE, f"lookup, {size:,} routes (median)", statistics.median(ours),
                        "ms", "naive: Scan for the host's routes", statistics.median(naive),
                        note=f"1 BatchGetItem; p99 {percentile(ours, 99):.2f} ms; table loaded "
                        f"at {load_rate:,.0f} routes/s"),
            Measurement(SUITE, f"edge miss, {size:,} routes (median)", statistics.median(edge),
                        "ms", f"edge miss, {sizes[0]:,} routes", smallest_miss,
                        note=f"fresh cache each request; p99 {percentile(edge, 99):.2f} ms"),
        ]  # fmt: skip
    client.delete_table(TableName=table)
    return rows
