"""Soak: ``edge-router serve`` under sustained load while routes and versions change underneath.

Setup (all on loopback): the harness's DynamoDB Local, a moto S3 server, two aiohttp upstreams
(A and B), and an environment with an ``api`` service (custom origin) and a ``web`` static site.
``edge-router serve`` runs in its own process with its production code path (route cache TTL one
second, so changes show within a second and misses keep reaching DynamoDB).

Load comes from a SEPARATE process: ``wrk`` (installed from Debian's packages when missing and
we are root), else a multi-process aiohttp load generator; the row notes say which one ran.
The load mixes 10 ``api`` URLs out of 11 (50 distinct paths, so misses keep happening) with the
static site (index, an asset and an SPA deep link), whose objects come from moto S3.

Two phases, same load: ``steady`` (nothing changes: the baseline) then ``churn``, during which a
thread reroutes ``api`` between A and B every half second and deploys a new static version
(objects uploaded, then ``Environments.deploy``) every second. Reported: requests/s and p99 in
each phase, errors (non-2xx/3xx answers and socket errors/timeouts), and serve's RSS sampled
every 0.25 s (flat means no leak: end of churn vs end of steady). After the churn, one request
to each host must show the last upstream and the last version.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.harness import BenchContext, Measurement, percentile, static_upstream
from edge_router.local.run import BackgroundLoop
from routing_table.clients import dynamodb_client
from routing_table.lifecycle import Environments
from routing_table.schema import create_table

SUITE = "soak"
DURATION = 24.0  # seconds of churn (the steady phase is a third of it)
QUICK_DURATION = 3.0
CONNECTIONS = 16
BUCKET = "soak-site"
ENV_ID = "soak-1"
API_PATHS = 50
REROUTE_EVERY = 0.5
DEPLOY_EVERY = 1.0


# -- what the load generator reports ----------------------------------------------------------


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    tool: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# -- upstreams --------------------------------------------------------------------------------


def _upstream(name: str) -> Any:
    return static_upstream(f"upstream {name}\n".encode(), "text/plain")


# -- the environment and what changes under load ----------------------------------------------


class _Resolver:
    def alb_dns_name(self, arn: str, region: str) -> str:
        raise ValueError("the soak uses no ALB")

    def bucket_region(self, bucket: str) -> str:
        return "us-east-1"


@dataclass
class Churn:
    """Reroutes ``api`` and deploys ``web`` versions until stopped; records what it did."""

    envs: Environments
    s3: Any
    upstreams: tuple[int, int]
    reroutes: int = 0
    deploys: int = 0
    target: str = ""
    version: str = ""
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def deploy(self, number: int) -> None:
        version = f"v{number}"
        for name, body in (("index.html", f"<h1>{version}</h1>"), ("app.js", f"// {version}")):
            self.s3.put_object(Bucket=BUCKET, Key=f"site/{version}/{name}", Body=body.encode())
        self.envs.deploy(
            ENV_ID, "web", version, ["index.html", "app.js"], spa_fallback="index.html"
        )
        self.version = version

    def reroute(self, number: int) -> None:
        port = self.upstreams[number % 2]
        self.envs.reroute(ENV_ID, "api", f"http://localhost:{port}")
        self.target = "AB"[number % 2]

    def run(self) -> None:
        number = 0
        next_deploy = time.monotonic()
        while not self._stop.wait(REROUTE_EVERY):
            number += 1
            try:
                self.reroute(number)
                self.reroutes += 1
                if time.monotonic() >= next_deploy:
                    self.deploy(1000 + number)
                    self.deploys += 1
                    next_deploy += DEPLOY_EVERY
            except Exception as exc:  # reported as a failure of the soak, not swallowed
                self.failures.append(repr(exc))

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="soak-churn", daemon=True)
        thread.start()
        return thread

    def stop(self, thread: threading.Thread) -> None:
        self._stop.set()
        thread.join(timeout=60)


def _environment(upstream_a: int) -> tuple[Environments, Any, dict[str, str]]:
    import boto3

    region = os.environ.get("AWS_REGION", "us-east-1")
    table = f"bench-soak-{uuid.uuid4().hex[:8]}"
    client = dynamodb_client(region_name=region)
    create_table(client, table, poll_interval=0.1)
    s3 = boto3.client("s3", region_name=region)
    s3.create_bucket(Bucket=BUCKET)
    envs = Environments(table, client=client, resolver=_Resolver(), cache_ttl=1, max_stale=60)
    env = envs.create(
        ENV_ID,
        app="soak",
        domain="example.com",
        services={"api": f"http://localhost:{upstream_a}", "web": f"s3://{BUCKET}/site"},
        handle="load",
    )
    return envs, s3, dict(env.hostnames)


# -- serve and its memory ---------------------------------------------------------------------


@contextmanager
def _serve(table: str, state: Path, s3_endpoint: str) -> Iterator[tuple[str, int]]:
    """``edge-router serve`` in its own process; its access log goes to a file, not a pipe."""
    log = state / "serve.log"
    env = {**os.environ, "AWS_ENDPOINT_URL_S3": s3_endpoint}
    cmd = [str(Path(sys.executable).with_name("edge-router")), "serve", "--port", "0",
           "--table", table, "--state-dir", str(state / "serve-state")]  # fmt: skip
    with log.open("w") as sink:
        proc = subprocess.Popen(cmd, stderr=sink, stdout=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if match := re.search(r"listening on (http://\S+)", log.read_text()):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        else:
            raise RuntimeError("serve did not start within 60 s")
        yield match.group(1), proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


class RssSampler:
    """Samples a process's resident set size (``/proc/<pid>/status`` VmRSS) in a thread."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        self.samples: list[tuple[float, float]] = []  # (monotonic time, MiB)
        self._pid = pid
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self._pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.samples.append((time.monotonic(), self.rss_mib()))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> list[float]:
        return [mib for at, mib in self.samples if start <= at <= end]


# -- load generators --------------------------------------------------------------------------


def _targets(hosts: dict[str, str]) -> list[tuple[str, str]]:
    api, site = hosts["api"], hosts["web"]
    out: list[tuple[str, str]] = []
    for n in range(API_PATHS):
        out.append((api, f"/items/{n}"))
        if n % 10 == 9:  # one request in eleven goes to the static site (S3 is moto: slow)
            out.append((site, ("/", "/app.js", f"/deep/link/{n}")[(n // 10) % 3]))
    return out


def wrk_available() -> tuple[str | None, str]:
    """The wrk binary, installing it from Debian's packages when we can; else the reason not."""
    found = shutil.which("wrk")
    if found:
        return found, ""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, "wrk not installed and no root apt-get to install it"
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, timeout=300,
                   check=False)  # fmt: skip
    found = shutil.which("wrk")
    return (found, "") if found else (None, "apt-get install wrk failed")


_WRK_SCRIPT = """
local targets = %s
local i = 0
request = function()
  i = i %% #targets + 1
  local t = targets[i]
  return wrk.format("GET", t[2], {["Host"] = t[1]})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%f %%f\\n", summary.requests,
    e.connect + e.read + e.write + e.timeout, e.status, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
"""


def run_wrk(binary: str, url: str, targets: list[tuple[str, str]], seconds: float) -> LoadResult:
    lua_targets = "{" + ",".join(f"{{{json.dumps(h)},{json.dumps(p)}}}" for h, p in targets) + "}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % lua_targets)
    try:
        out = subprocess.run(
            [binary, "-t2", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
             "-s", script.name, url],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        )  # fmt: skip
    finally:
        os.unlink(script.name)
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)", out.stdout)
    if match is None:
        raise RuntimeError(f"unexpected wrk output: {out.stdout[-2000:]}")
    requests, socket_errors, status_errors, micros = (int(match.group(n)) for n in range(1, 5))
    version = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    tool = (version.stdout or version.stderr).split(" [")[0].strip() or "wrk"
    return LoadResult(requests, socket_errors + status_errors, micros / 1e6,
                      float(match.group(5)) / 1000, float(match.group(6)) / 1000, tool)  # fmt: skip


WorkerArgs = tuple[str, list[tuple[str, str]], float, int]


def _aiohttp_worker(args: WorkerArgs) -> tuple[int, int, list[float]]:
    """One load process: ``connections`` concurrent GET loops for ``seconds``."""
    url, targets, seconds, connections = args

    async def main() -> tuple[int, int, list[float]]:
        latencies: list[float] = []
        errors = 0
        deadline = time.monotonic() + seconds
        timeout = aiohttp.ClientTimeout(total=5)
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def loop(offset: int) -> None:
                nonlocal errors
                i = offset
                while time.monotonic() < deadline:
                    host, path = targets[i % len(targets)]
                    i += connections
                    start = time.perf_counter()
                    try:
                        async with session.get(url + path, headers={"Host": host},
                                               allow_redirects=False) as resp:  # fmt: skip
                            await resp.read()
                            errors += resp.status >= 400
                    except (TimeoutError, aiohttp.ClientError):
                        errors += 1
                    latencies.append((time.perf_counter() - start) * 1000)

            await asyncio.gather(*(loop(n) for n in range(connections)))
        return len(latencies), errors, latencies

    return asyncio.run(main())


def run_aiohttp(url: str, targets: list[tuple[str, str]], seconds: float) -> LoadResult:
    processes = 2
    spawn = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    with spawn.Pool(processes) as pool:
        parts = pool.map(
            _aiohttp_worker, [(url, targets, seconds, CONNECTIONS // processes)] * processes
        )
    elapsed = min(time.perf_counter() - started, seconds + 1)
    latencies = [lat for _, _, lats in parts for lat in lats]
    return LoadResult(sum(p[0] for p in parts), sum(p[1] for p in parts), elapsed,
                      percentile(latencies, 50), percentile(latencies, 99),
                      f"aiohttp, {processes} processes")  # fmt: skip


# -- the suite --------------------------------------------------------------------------------


def _get(url: str, host: str, path: str) -> str:
    request = urllib.request.Request(url + path, headers={"Host": host})
    with urllib.request.urlopen(request, timeout=10) as reply:
        body: bytes = reply.read()
    return body.decode()


def run(ctx: BenchContext) -> list[Measurement]:
    from moto.server import ThreadedMotoServer

    from routing_table.local.dynamodb_local import free_port

    ctx.dynamodb_endpoint()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request log
    churn_seconds = QUICK_DURATION if ctx.quick else DURATION
    steady_seconds = max(QUICK_DURATION, churn_seconds / 3)
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    saved_s3 = os.environ.get("AWS_ENDPOINT_URL_S3")
    os.environ["AWS_ENDPOINT_URL_S3"] = f"http://127.0.0.1:{moto_port}"
    loop = BackgroundLoop("bench-soak-upstreams")
    try:
        (runner_a, port_a), (runner_b, port_b) = loop.run(_upstream("A")), loop.run(_upstream("B"))
        envs, s3, hosts = _environment(port_a)
        churn = Churn(envs, s3, (port_a, port_b))
        churn.deploy(1)
        binary, why_not = wrk_available()

        def load(url: str, seconds: float) -> LoadResult:
            targets = _targets(hosts)
            if binary:
                return run_wrk(binary, url, targets, seconds)
            result = run_aiohttp(url, targets, seconds)
            result.tool += f" ({why_not})"
            return result

        with tempfile.TemporaryDirectory(prefix="bench-soak-") as state:
            serve = _serve(envs.table, Path(state), os.environ["AWS_ENDPOINT_URL_S3"])
            with serve as (url, pid), RssSampler(pid) as rss:
                rows = _phases(
                    url,
                    hosts,
                    churn,
                    rss,
                    load,
                    steady_seconds=steady_seconds,
                    churn_seconds=churn_seconds,
                )
        loop.run(runner_a.cleanup())
        loop.run(runner_b.cleanup())
        return rows
    finally:
        loop.close()
        moto.stop()
        if saved_s3 is None:
            os.environ.pop("AWS_ENDPOINT_URL_S3", None)
        else:
            os.environ["AWS_ENDPOINT_URL_S3"] = saved_s3


def _phases(
    url: str,
    hosts: dict[str, str],
    churn: Churn,
    rss: RssSampler,
    load: Callable[[str, float], LoadResult],
    *,
    steady_seconds: float,
    churn_seconds: float,
) -> list[Measurement]:
    _get(url, hosts["api"], "/warm-up")
    steady_start = time.monotonic()
    steady = load(url, steady_seconds)
    steady_end = time.monotonic()
    thread = churn.start()
    try:
        churned = load(url, churn_seconds)
    finally:
        churn.stop(thread)
    churn_end = time.monotonic()
    if churn.failures:
        raise RuntimeError(f"the churn thread failed: {churn.failures[:3]}")
    time.sleep(1.5)  # one route-cache TTL: the last change must now be visible
    api_body = _get(url, hosts["api"], "/final")
    site_body = _get(url, hosts["web"], "/")
    converged = api_body.strip() == f"upstream {churn.target}" and churn.version in site_body
    steady_rss = rss.between(steady_start, steady_end)
    churn_rss = rss.between(steady_end, churn_end)
    end_of_steady = statistics.median(steady_rss[-4:])
    end_of_churn = statistics.median(churn_rss[-4:])
    how = (f"{churned.tool}, {CONNECTIONS} connections, {churn_seconds:g} s; "
           f"{churn.reroutes} reroutes + {churn.deploys} static deploys underneath")  # fmt: skip
    return [
        Measurement(SUITE, "requests/s while rerouting and deploying", churned.rps, "req/s",
                    f"same load, nothing changing ({steady_seconds:g} s)", steady.rps, note=how),
        Measurement(SUITE, "p99 latency while rerouting and deploying", churned.p99_ms, "ms",
                    "same load, nothing changing", steady.p99_ms,
                    note=f"p50 {churned.p50_ms:.2f} ms (steady {steady.p50_ms:.2f} ms)"),
        Measurement(SUITE, "errors while rerouting and deploying", churned.errors, "errors",
                    "same load, nothing changing", steady.errors,
                    note=f"non-2xx/3xx + socket errors out of {churned.requests:,} requests; "
                    f"last change visible after one TTL: {'yes' if converged else 'NO'}"),
        Measurement(SUITE, "serve RSS at the end of the churn", end_of_churn, "MiB",
                    "RSS at the end of the steady phase", end_of_steady,
                    note=f"max {max(churn_rss):.1f} MiB over {len(churn_rss)} samples; growth "
                    f"{end_of_churn - end_of_steady:+.1f} MiB"),
    ]  # fmt: skip
