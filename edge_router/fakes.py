"""In-memory stand-ins for what ``EdgeRouter`` takes injected: the table, the clock, telemetry.

Used by the unit tests and by the benchmarks (which measure the router's own overhead apart
from the network, as PynamoDB's bench does with canned responses). Never imported by the
handler, so never packaged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge_router.config import EdgeConfig
from edge_router.telemetry import Telemetry
from routing_table.core import keys
from routing_table.core.records import Item, RouteRecord, route_to_item
from routing_table.errors import StoreError, TableUnreachableError


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class MemoryTable:
    """A routing table in a dict, read like the real one: one ``batch_get`` per round trip."""

    items: dict[keys.Key, Item] = field(default_factory=dict)
    round_trips: int = 0
    calls: list[list[keys.Key]] = field(default_factory=list)
    failing: StoreError | None = None  # set to make every call fail with it

    def put_route(self, route: RouteRecord) -> None:
        self.items[route.key] = route_to_item(route)

    def put_asset(self, key: keys.Key) -> None:
        pk, sk = key
        self.items[key] = {keys.TABLE_PK: {"S": pk}, keys.TABLE_SK: {"S": sk}}

    def delete(self, key: keys.Key) -> None:
        self.items.pop(key, None)

    def fail(self, message: str = "connect timeout") -> None:
        self.failing = TableUnreachableError(message, table="memory", operation="batch_get_item")

    def recover(self) -> None:
        self.failing = None

    def batch_get(self, wanted: Sequence[keys.Key], *, deadline: float) -> Mapping[keys.Key, Item]:
        assert len(wanted) <= keys.MAX_BATCH_GET_KEYS, len(wanted)
        assert len(set(wanted)) == len(wanted), "BatchGetItem refuses duplicate keys"
        self.round_trips += 1
        self.calls.append(list(wanted))
        if self.failing is not None:
            raise self.failing
        return {k: self.items[k] for k in wanted if k in self.items}


@dataclass
class RecordingLogger:
    """Captures (level, message, extra) instead of printing JSON lines."""

    lines: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def _log(self, level: str, msg: str, kwargs: dict[str, Any]) -> None:
        self.lines.append((level, msg, dict(kwargs.get("extra") or {})))

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log("info", msg, kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log("warning", msg, kwargs)

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log("error", msg, kwargs)

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log("exception", msg, kwargs)


@dataclass
class RecordingMetrics:
    """Captures flushed metric batches: one dict (name -> values) per flush."""

    pending: dict[str, list[float]] = field(default_factory=dict)
    flushes: list[dict[str, list[float]]] = field(default_factory=list)

    def add_metric(self, name: str, unit: Any, value: float, *args: Any, **kw: Any) -> None:
        self.pending.setdefault(name, []).append(value)

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        self.flushes.append(self.pending)
        self.pending = {}

    def total(self, name: str) -> float:
        return sum(sum(batch.get(name, [])) for batch in self.flushes)


def recording_telemetry(
    config: EdgeConfig,
) -> tuple[Telemetry, RecordingLogger, RecordingMetrics]:
    logger, metrics = RecordingLogger(), RecordingMetrics()
    telemetry = Telemetry(
        logger=logger, metrics=metrics, flush_seconds=config.metrics_flush_seconds
    )
    return telemetry, logger, metrics
