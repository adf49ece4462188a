"""Lifecycle: create/delete latency vs services, static deploy throughput vs naive PutItem,
cutover time. Against DynamoDB Local (``ctx.dynamodb_endpoint()``), each figure beside its
baseline from the same run."""

from __future__ import annotations

import statistics
import time
import uuid

from benchmarks.harness import BenchContext, Measurement, timer
from routing_table.clients import dynamodb_client
from routing_table.core import keys
from routing_table.lifecycle.sync import Environments
from routing_table.schema import create_table

SUITE = "lifecycle"


class _Resolver:
    def alb_dns_name(self, arn: str, region: str) -> str:
        return "alb.example.com"

    def bucket_region(self, bucket: str) -> str:
        return "us-east-1"


def run(ctx: BenchContext) -> list[Measurement]:
    ctx.dynamodb_endpoint()
    client = dynamodb_client()
    table = f"bench-lifecycle-{uuid.uuid4().hex[:8]}"
    create_table(client, table, poll_interval=0.05)
    envs = Environments(table, client=client, resolver=_Resolver(), concurrency=8)
    rows = _create_delete(envs, ctx)
    rows += _deploys(envs, client, table, ctx)
    client.delete_table(TableName=table)
    return rows


def _create_delete(envs: Environments, ctx: BenchContext) -> list[Measurement]:
    rows: list[Measurement] = []
    rounds = 2 if ctx.quick else 5
    one_put: list[float] = []
    for n in (1, 5, 20):
        services = {f"svc{i}": "https://api.internal" for i in range(n)}
        creates, deletes = [], []
        for r in range(rounds):
            env_id = f"bench-{n}-{r}"
            with timer() as t:
                envs.create(env_id, app="bench", domain="example.com", services=services)
            creates.append(t[0])
            with timer() as t:
                envs.delete(env_id)
            deletes.append(t[0])
            with timer() as t:
                envs.client.put_item(
                    TableName=envs.table, Item={"pk": {"S": f"X#{r}"}, "sk": {"S": "X"}}
                )
            one_put.append(t[0])
        base = statistics.median(one_put) * 1000
        note = f"median of {rounds}"
        rows.append(
            Measurement(
                SUITE,
                f"env create, {n} services",
                statistics.median(creates) * 1000,
                "ms",
                "one PutItem",
                base,
                note,
            )
        )
        rows.append(
            Measurement(
                SUITE,
                f"env delete, {n} services",
                statistics.median(deletes) * 1000,
                "ms",
                "one PutItem",
                base,
                note,
            )
        )
    return rows


def _deploys(
    envs: Environments, client: object, table: str, ctx: BenchContext
) -> list[Measurement]:
    rows: list[Measurement] = []
    envs.create(
        "bench-static", app="bench", domain="example.com", services={"web": "s3://bucket/site"}
    )
    # One unmeasured deploy first: DynamoDB Local's JVM compiles its batch-write path on first
    # use, which would otherwise be charged to whichever size runs first.
    envs.deploy("bench-static", "web", "warm-up", [f"warm/{i}.js" for i in range(2_000)])
    _naive_rate(client, table, 200)
    sizes = (1_000, 2_000) if ctx.quick else (10_000, 50_000)
    for index, size in enumerate(sizes):
        version = f"v{index}"
        paths = [f"assets/{i // 100}/file-{i}.js" for i in range(size)]
        with timer() as t:
            envs.deploy("bench-static", "web", version, paths)
        rate = size / t[0]
        naive = _naive_rate(client, table, min(size, 1_000 if ctx.quick else 3_000))
        rows.append(
            Measurement(
                SUITE,
                f"static deploy {size:,} assets",
                rate,
                "entries/s",
                "sequential PutItem",
                naive,
                f"BatchWriteItem x8 threads; {rate / naive:.1f}x faster",
            )
        )
    cutovers = []
    for i in range(3 if ctx.quick else 10):
        version = f"c{i}"
        envs.deploy("bench-static", "web", version, ["index.html"])
        started = time.perf_counter()
        envs.rollback("bench-static", "web")
        cutovers.append(time.perf_counter() - started)
        envs.deploy("bench-static", "web", f"d{i}", ["index.html"])
    one_get = _get_latency(client, table)
    rows.append(
        Measurement(
            SUITE,
            "cutover (rollback flip)",
            statistics.median(cutovers) * 1000,
            "ms",
            "one GetItem",
            one_get * 1000,
            "record read + route read + one 2-item transaction",
        )
    )
    envs.delete("bench-static")
    return rows


def _naive_rate(client: object, table: str, count: int) -> float:
    put = client.put_item  # type: ignore[attr-defined]
    started = time.perf_counter()
    for i in range(count):
        key = keys.asset_key("naive", "web", "v", f"file-{i}.js")
        put(TableName=table, Item={"pk": {"S": key[0]}, "sk": {"S": key[1]}})
    return count / (time.perf_counter() - started)


def _get_latency(client: object, table: str) -> float:
    get = client.get_item  # type: ignore[attr-defined]
    samples = []
    for _ in range(20):
        started = time.perf_counter()
        get(TableName=table, Key={"pk": {"S": "ENV#x"}, "sk": {"S": "ENV"}}, ConsistentRead=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)
