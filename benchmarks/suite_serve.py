"""``edge-router serve``: what the local CloudFront stand-in adds in front of an upstream.

Ours: requests through ``edge-router serve`` (its own process: event built, the real handler
run on a route cache hit, the answer checked, the request forwarded and the body streamed back)
to a small aiohttp upstream. Baseline, same run, same client, same upstream: the upstream asked
directly. Everything is on loopback, so the difference is serve's own work and its extra hop.

Bounded: a fixed request count (smaller with ``--quick``) and a time cap per case. The route
cache TTL is a minute so steady state is cache hits; the miss path (DynamoDB lookups) is measured
by the ``handler`` and ``lookup`` suites.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

from benchmarks.harness import BenchContext, Measurement, percentile, static_upstream
from edge_router.local.run import BackgroundLoop
from routing_table.clients import dynamodb_client
from routing_table.core.records import RouteRecord
from routing_table.schema import create_table
from routing_table.store.sync import RouteStore

SUITE = "serve"
HOST = "api-bench-serve.example.com"
CONCURRENCY = 8
TIME_CAP = 20.0  # seconds per case, whatever the count
BODY = b"x" * 1024


async def _load(url: str, count: int, concurrency: int) -> tuple[float, list[float]]:
    """(requests/s, latencies in ms) for ``count`` GETs with ``concurrency`` in flight."""
    latencies: list[float] = []
    remaining = count
    deadline = time.monotonic() + TIME_CAP
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0 and time.monotonic() < deadline:
                remaining -= 1
                start = time.perf_counter()
                async with session.get(url, headers={"Host": HOST}) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"{url} answered {resp.status}")
                latencies.append((time.perf_counter() - start) * 1000)

        for _ in range(20):  # warm connections, the route cache and the S3-free path
            async with session.get(url, headers={"Host": HOST}) as resp:
                await resp.read()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies


def _table_with_route(port: int) -> str:
    table = f"bench-serve-{uuid.uuid4().hex[:8]}"
    # The harness sets AWS_REGION, which this boto3 does not read by itself.
    client = dynamodb_client(region_name=os.environ.get("AWS_REGION", "us-east-1"))
    create_table(client, table, poll_interval=0.1)
    RouteStore(table, client=client).put_route(
        RouteRecord(
            host=HOST,
            prefix="/",
            owner="manual:bench",
            target=f"http://localhost:{port}",
            kind="custom",
            domain="localhost",
            protocol="http",
            port=port,
        )
    )
    return table


def run(ctx: BenchContext) -> list[Measurement]:
    ctx.dynamodb_endpoint()
    count = 300 if ctx.quick else 3000
    loop = BackgroundLoop("bench-serve-upstream")
    try:
        runner, port = loop.run(static_upstream(BODY, "application/octet-stream"))
        table = _table_with_route(port)
        with (
            tempfile.TemporaryDirectory(prefix="bench-serve-") as state,
            _serve(table, state) as url,
        ):
            try:
                return _measure(f"{url}/item", f"http://127.0.0.1:{port}/item", count)
            finally:
                loop.run(runner.cleanup())
    finally:
        loop.close()


@contextmanager
def _serve(table: str, state: str) -> Iterator[str]:
    """``edge-router serve`` as users run it: its own process (so its event loop and handler
    thread don't share a GIL with this client), on the harness's DynamoDB Local."""
    cmd = [
        str(Path(sys.executable).with_name("edge-router")),
        "serve",
        "--port",
        "0",
        "--table",
        table,
        "--cache-ttl",
        "60",
        "--state-dir",
        state,
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if match := re.search(r"listening on (http://\S+)", line):
                break
        else:
            raise RuntimeError(f"edge-router serve exited with {proc.wait()}")
        # Drain the access log so a full pipe never blocks the server.
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield match.group(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _measure(via_serve: str, direct: str, count: int) -> list[Measurement]:
    rows: list[Measurement] = []
    serial = max(count // 3, 50)
    _, serve_lat = asyncio.run(_load(via_serve, serial, 1))
    _, direct_lat = asyncio.run(_load(direct, serial, 1))
    for pct in (50, 99):
        rows.append(
            Measurement(
                SUITE,
                f"p{pct} latency, 1 in flight",
                percentile(serve_lat, pct),
                "ms",
                "upstream directly",
                percentile(direct_lat, pct),
                note=f"{len(serve_lat)} GETs of 1 KiB, route cache hit",
            )
        )
    serve_rps, serve_conc = asyncio.run(_load(via_serve, count, CONCURRENCY))
    direct_rps, direct_conc = asyncio.run(_load(direct, count, CONCURRENCY))
    rows.append(
        Measurement(
            SUITE,
            f"requests/s, {CONCURRENCY} in flight",
            serve_rps,
            "req/s",
            "upstream directly",
            direct_rps,
            note=f"{len(serve_conc)} GETs; p50 {statistics.median(serve_conc):.2f} ms "
            f"(direct {statistics.median(direct_conc):.2f} ms)",
        )
    )
    rows.append(
        Measurement(
            SUITE,
            f"p99 latency, {CONCURRENCY} in flight",
            percentile(serve_conc, 99),
            "ms",
            "upstream directly",
            percentile(direct_conc, 99),
        )
    )
    return rows
