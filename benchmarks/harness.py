"""The benchmark harness: suites return measurements, each beside a baseline from the same run.

A suite is a module ``benchmarks/suite_<name>.py`` with ``def run(ctx: BenchContext) ->
list[Measurement]``, listed in ``benchmarks.__main__.SUITES``. ``python -m benchmarks`` runs
them all (or those named on the command line) and rewrites the results block of
``benchmarks/README.md``.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routing_table.local.dynamodb_local import DynamoDBLocal

BENCH_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Measurement:
    """One figure and the baseline it is to be read against (measured in the same run)."""

    suite: str
    case: str
    value: float
    unit: str
    baseline_label: str = ""
    baseline_value: float | None = None
    note: str = ""
    # None: decided by the unit (rates such as "entries/s" are better when higher).
    higher_is_better: bool | None = None

    @property
    def ratio(self) -> str:
        """How many times better than the baseline (>1 means ours wins)."""
        if self.baseline_value is None or self.value == 0 or self.baseline_value == 0:
            return ""
        higher = self.higher_is_better
        if higher is None:
            higher = self.unit.endswith("/s")
        factor = self.value / self.baseline_value if higher else self.baseline_value / self.value
        return f"{factor:.1f}x"


@dataclass
class BenchContext:
    """What suites share: one DynamoDB Local for the run, a place for plots, a quick mode."""

    quick: bool = False
    plots_dir: Path = BENCH_DIR / "plots"
    _ddb: DynamoDBLocal | None = field(default=None, repr=False)

    def dynamodb_endpoint(self) -> str:
        """Start DynamoDB Local on first use and point boto3/aioboto3 at it."""
        if self._ddb is None:
            self._ddb = DynamoDBLocal().start()
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = self._ddb.endpoint_url
            for name, value in {
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_REGION": "us-east-1",
            }.items():
                os.environ.setdefault(name, value)
        return self._ddb.endpoint_url

    def close(self) -> None:
        if self._ddb is not None:
            self._ddb.stop()
            self._ddb = None


async def static_upstream(body: bytes, content_type: str) -> tuple[Any, int]:
    """A loopback HTTP server answering every request with ``body`` (a stand-in for an ALB);
    returns its aiohttp runner (``await runner.cleanup()`` stops it) and its port."""
    from aiohttp import web

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port: int = runner.addresses[0][1]
    return runner, port


def time_per_call(fn: Callable[[], object], *, repeat: int = 7, number: int = 1000) -> float:
    """Median seconds per call of ``fn`` over ``repeat`` rounds of ``number`` calls."""
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - start) / number)
    return statistics.median(rounds)


def percentile(samples: list[float], pct: float) -> float:
    """The pct-th percentile (0-100) by nearest rank."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@contextmanager
def timer() -> Iterator[list[float]]:
    """``with timer() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    out: list[float] = []
    start = time.perf_counter()
    yield out
    out.append(time.perf_counter() - start)


def machine_description() -> str:
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kib = int(fh.readline().split()[1])
            mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.machine()}, {os.cpu_count()} cores{mem}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def render_table(rows: list[Measurement]) -> str:
    lines = [
        "| suite | case | value | baseline | baseline value | better by | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        base = "" if r.baseline_value is None else f"{_fmt(r.baseline_value)} {r.unit}"
        lines.append(
            f"| {r.suite} | {r.case} | {_fmt(r.value)} {r.unit} | {r.baseline_label} | "
            f"{base} | {r.ratio} | {r.note} |"
        )
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"
