"""The edge handler: warm hits, misses against DynamoDB Local, cold start, cache memory.

Every figure stands beside a baseline from the same run:

* warm hit (decision cached) vs a naive handler doing one GetItem per request with no cache
  (DynamoDB Local over loopback), with the floor beside it: one dict lookup plus the event
  mutation a forward needs. Also the hit with an EMF flush per invocation, to show why counters
  are batched.
* miss latency and BatchGetItem round trips per miss for path depth 1..32 vs a naive lookup
  doing one GetItem per candidate prefix, longest first, until one exists.
* cold import of the handler, and import + first request (a miss, so botocore is loaded and a
  client built), each in a fresh interpreter, vs ``import boto3`` alone.
* memory of the cache holding 100,000 entries (tracemalloc) vs a plain dict of the same keys.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

from benchmarks.harness import BenchContext, Measurement, time_per_call
from edge_router.config import EdgeConfig
from edge_router.dynamo import DynamoRouteReader, botocore_client_factory
from edge_router.fakes import MemoryTable
from edge_router.router import EdgeRouter
from edge_router.telemetry import Telemetry
from routing_table.core import keys
from routing_table.core.matching import candidate_keys
from routing_table.core.normalize import normalize_host, normalize_path
from routing_table.core.records import RouteRecord, route_to_item

SUITE = "handler"
ROOT = Path(__file__).resolve().parent.parent
HOST = "api-t9yhp25-portal.preview.example.com"
ROUTE = RouteRecord(
    "*.preview.example.com", "/", "env-1", "https://alb", "custom", domain="alb-1.example.com"
)


class _Quiet:
    """Logger and metrics that drop everything (for measurements that aren't about them)."""

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def error(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def add_metric(self, name: str, unit: Any, value: float, *args: Any, **kw: Any) -> None: ...
    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None: ...


def _quiet_telemetry() -> Telemetry:
    quiet = _Quiet()
    return Telemetry(logger=quiet, metrics=quiet, flush_seconds=60)


def _event(uri: str = "/api/users/42", host: str = HOST) -> dict[str, Any]:
    path = ROOT / "tests" / "events" / "origin_request_custom.json"
    data: dict[str, Any] = json.loads(path.read_text())
    request = data["Records"][0]["cf"]["request"]
    request["uri"] = uri
    request["headers"]["host"] = [{"key": "Host", "value": host}]
    return data


def _config(table: str = "bench-routes", **kw: Any) -> EdgeConfig:
    return EdgeConfig(table, ("us-east-1",), **kw)


# -- warm hits --------------------------------------------------------------------------------


def _hit_router(telemetry: Telemetry) -> EdgeRouter:
    table = MemoryTable()
    table.put_route(ROUTE)
    router = EdgeRouter(_config(), reader=table, telemetry=telemetry)
    router.handle(_event())
    return router


def _floor() -> float:
    """One dict lookup plus assigning a prebuilt origin and uri: the least a hit can do."""
    uri = "/api/users/42"
    table = {(HOST, uri): ({"custom": {"domainName": "alb-1.example.com"}}, uri)}
    event = _event()

    def run() -> dict[str, Any]:
        request: dict[str, Any] = event["Records"][0]["cf"]["request"]
        origin, new_uri = table[(request["headers"]["host"][0]["value"], request["uri"])]
        request["origin"] = origin
        request["uri"] = new_uri
        return request

    return time_per_call(run, number=20_000)


def _naive_handler(client: Any, table: str) -> Any:
    def handle(event: dict[str, Any]) -> dict[str, Any]:
        request: dict[str, Any] = event["Records"][0]["cf"]["request"]
        host = normalize_host(request["headers"]["host"][0]["value"])
        wildcard = "*." + host.partition(".")[2]
        pk, sk = keys.route_key(wildcard, "/")
        item = client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
        request["origin"] = {"custom": {"domainName": item["domain"]["S"]}}
        return request

    return handle


def _warm_hits(ctx: BenchContext, client: Any, table: str) -> list[Measurement]:
    number = 2_000 if ctx.quick else 20_000
    event = _event()
    router = _hit_router(_quiet_telemetry())
    hit = time_per_call(lambda: router.handle(event), number=number)
    naive = _naive_handler(client, table)
    naive_time = time_per_call(lambda: naive(_event()), repeat=5, number=20 if ctx.quick else 100)
    floor = _floor()
    rows = [
        Measurement(SUITE, "warm hit (median per event)", hit * 1e6, "us",
                    "naive: one GetItem per request, no cache", naive_time * 1e6,
                    note="target <= 10 us and >= 200x"),
        Measurement(SUITE, "floor: dict lookup + event mutation", floor * 1e6, "us",
                    "warm hit", hit * 1e6),
    ]  # fmt: skip
    rows.append(_flush_per_invocation(number, hit))
    return rows


def _flush_per_invocation(number: int, batched: float) -> Measurement:
    """A hit that flushes Powertools EMF metrics every invocation, vs our batched counters."""
    from aws_lambda_powertools.metrics import Metrics, MetricUnit

    metrics = Metrics(service="edge-router-bench", namespace="EdgeRouterBench")
    router = _hit_router(_quiet_telemetry())
    event = _event()

    def run() -> None:
        router.handle(event)
        metrics.add_metric(name="Hits", unit=MetricUnit.Count, value=1)
        metrics.flush_metrics()

    with contextlib.redirect_stdout(io.StringIO()):
        per_invocation = time_per_call(run, number=max(200, number // 10))
    return Measurement(SUITE, "warm hit, counters batched", batched * 1e6, "us",
                       "EMF line flushed per invocation", per_invocation * 1e6)  # fmt: skip


# -- misses against DynamoDB Local ------------------------------------------------------------


class _Sends:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, **_: Any) -> None:
        self.count += 1


def _naive_candidates(client: Any, table: str, host: str, uri: str) -> int:
    """One GetItem per candidate, longest prefix first, until one exists; returns calls made."""
    calls = 0
    for candidate in candidate_keys(normalize_host(host), normalize_path(uri)):
        calls += 1
        pk, sk = candidate.key
        if "Item" in client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}):
            break
    return calls


def _misses(ctx: BenchContext, client: Any, table: str) -> list[Measurement]:
    config = _config(table)
    sends = _Sends()
    real = botocore_client_factory(config)

    def factory(region: str) -> Any:
        built = real(region)
        built.meta.events.register("before-send.dynamodb.BatchGetItem", sends)
        return built

    reader = DynamoRouteReader(config, clock=time.monotonic, client_factory=factory)
    router = EdgeRouter(config, reader=reader, telemetry=_quiet_telemetry())
    router.handle(_event("/warm-up"))  # build the client outside the measurement
    rows = []
    samples = 5 if ctx.quick else 25
    for depth in (1, 2, 4, 8, 16, 32):
        ours: list[float] = []
        naive: list[float] = []
        naive_calls = 0
        before = sends.count
        for n in range(samples):
            uri = "".join(f"/d{depth}n{n}s{i}" for i in range(depth))
            start = time.perf_counter()
            router.handle(_event(uri))
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            naive_calls = _naive_candidates(client, table, HOST, uri)
            naive.append(time.perf_counter() - start)
        trips = (sends.count - before) / samples
        rows.append(
            Measurement(
                SUITE,
                f"miss, path depth {depth} (median)",
                statistics.median(ours) * 1e3,
                "ms",
                "naive: one GetItem per candidate",
                statistics.median(naive) * 1e3,
                note=f"{trips:g} BatchGetItem per miss vs {naive_calls} GetItem",
            )
        )
    return rows


# -- cold start -------------------------------------------------------------------------------


def _subprocess_seconds(code: str, env: dict[str, str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def _cold_start(ctx: BenchContext, table: str) -> list[Measurement]:
    runs = 3 if ctx.quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "edge_config.json"
        path.write_text(json.dumps(_config(table).to_dict()))
        env = {**os.environ, "EDGE_ROUTER_CONFIG": str(path)}
        event_json = json.dumps(_event("/cold/start"))
        timed = "import time; t = time.perf_counter(); {body}; print(time.perf_counter() - t)"
        boto = _subprocess_seconds(timed.format(body="import boto3"), env, runs)
        handler_import = _subprocess_seconds(
            timed.format(body="import edge_router.handler"), env, runs
        )
        first = _subprocess_seconds(
            "import json, contextlib, io, time; t = time.perf_counter()\n"
            "import edge_router.handler as h\n"
            f"event = json.loads({event_json!r})\n"
            "with contextlib.redirect_stdout(io.StringIO()): r = h.handler(event, None)\n"
            "assert 'origin' in r, r\n"
            "print(time.perf_counter() - t)",
            env,
            runs,
        )
    return [
        Measurement(SUITE, "cold: import edge_router.handler", handler_import * 1e3, "ms",
                    "import boto3 alone", boto * 1e3, note="target <= boto3 + 50 ms"),
        Measurement(SUITE, "cold: import + first request (a miss)", first * 1e3, "ms",
                    "import boto3 alone", boto * 1e3,
                    note="includes botocore import, client build, one BatchGetItem"),
    ]  # fmt: skip


# -- memory -----------------------------------------------------------------------------------


def _memory(ctx: BenchContext) -> list[Measurement]:
    entries = 10_000 if ctx.quick else 100_000
    table = MemoryTable()
    table.put_route(ROUTE)
    router = EdgeRouter(
        _config(cache_max_entries=entries), reader=table, telemetry=_quiet_telemetry()
    )
    events = [_event(f"/item/{n}") for n in range(entries)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for event in events:
        router.handle(event)
    ours = tracemalloc.get_traced_memory()[0] - before
    facts, decisions = router.cache.sizes
    baseline: dict[tuple[str, str], tuple[str, str]] = {}
    before = tracemalloc.get_traced_memory()[0]
    for n in range(entries):
        baseline[(HOST, f"/item/{n}")] = ("alb-1.example.com", f"/item/{n}")
    plain = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return [
        Measurement(SUITE, f"memory, {entries:,} URLs cached", ours / 2**20, "MiB",
                    "plain dict of the same keys", plain / 2**20,
                    note=f"{facts:,} facts + {decisions:,} decisions (each LRU capped at "
                    f"{entries:,})"),
    ]  # fmt: skip


# -- the suite --------------------------------------------------------------------------------


def _seed(table: str) -> Any:
    from routing_table import schema
    from routing_table.clients import dynamodb_client

    client = dynamodb_client(region_name="us-east-1")
    schema.create_table(client, table, poll_interval=0.05)
    client.put_item(TableName=table, Item=route_to_item(ROUTE))
    return client


def run(ctx: BenchContext) -> list[Measurement]:
    ctx.dynamodb_endpoint()
    table = f"bench-edge-{uuid.uuid4().hex[:8]}"
    client = _seed(table)
    return [
        *_warm_hits(ctx, client, table),
        *_misses(ctx, client, table),
        *_cold_start(ctx, table),
        *_memory(ctx),
    ]
