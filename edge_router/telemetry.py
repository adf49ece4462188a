"""Logs and metrics that cost a hit almost nothing.

* One structured log line (Powertools Logger, explicit service name: Lambda@Edge has no
  environment variables to configure it) per miss, error and stale serve; none per plain hit.
* Metrics as CloudWatch EMF (Powertools Metrics: JSON printed to stdout, no network call).
  A hit only increments an integer; counters are flushed as one EMF line with each miss (which
  already waits milliseconds for DynamoDB) or, on hit-only traffic, once per
  ``metrics_flush_seconds``. Flushing per invocation would print a ~400-byte JSON line per hit;
  ``benchmarks/suite_handler.py`` measures the difference. The price: an environment shut down
  by Lambda loses at most that window of hit counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from edge_router.config import EdgeConfig


class LoggerLike(Protocol):
    def info(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def error(self, msg: str, *args: Any, **kwargs: Any) -> None: ...
    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None: ...


class MetricsLike(Protocol):
    def add_metric(self, name: str, unit: Any, value: float, *args: Any, **kw: Any) -> None: ...
    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None: ...


_COUNTERS = ("Hits", "StaleHits", "Misses", "StaleServed", "Errors", "Unavailable", "RoundTrips")


class Telemetry:
    def __init__(self, *, logger: LoggerLike, metrics: MetricsLike, flush_seconds: float) -> None:
        self._logger = logger
        self._metrics = metrics
        self._flush_seconds = flush_seconds
        self._next_flush = float("-inf")  # the first hit of an environment flushes nothing
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._latencies: list[float] = []
        self.hits = 0  # hits since the last flush, read by the hot path's caller-free check

    @classmethod
    def from_config(cls, config: EdgeConfig) -> Telemetry:
        from aws_lambda_powertools.logging import Logger
        from aws_lambda_powertools.metrics import Metrics

        return cls(
            logger=Logger(service=config.service_name, level=config.log_level),
            metrics=Metrics(service=config.service_name, namespace=config.metrics_namespace),
            flush_seconds=config.metrics_flush_seconds,
        )

    def hit(self, now: float, *, stale: bool) -> None:
        self.hits += 1
        if stale:
            self._counts["StaleHits"] += 1
        if now >= self._next_flush:
            self.flush(now)

    def miss(
        self,
        now: float,
        *,
        fields: dict[str, Any],
        latency_ms: float,
        round_trips: int,
        stale: bool,
        error: str | None,
        unavailable: bool,
    ) -> None:
        """One log line for a lookup that was not a plain hit, then flush the counters."""
        counts = self._counts
        counts["Misses"] += 1
        counts["RoundTrips"] += round_trips
        self._latencies.append(latency_ms)
        fields = {**fields, "latency_ms": round(latency_ms, 3), "round_trips": round_trips}
        if error is not None:
            counts["Errors"] += 1
            fields["error"] = error
        if unavailable:
            counts["Unavailable"] += 1
            self._logger.error("route lookup failed, nothing stale to serve", extra=fields)
        elif stale:
            counts["StaleServed"] += 1
            self._logger.warning("route lookup failed, serving stale route", extra=fields)
        else:
            self._logger.info("route lookup", extra=fields)
        self.flush(now)

    def crash(self, now: float, where: str) -> None:
        """The handler's last line of defence caught an exception (a bug): log it with trace."""
        self._counts["Errors"] += 1
        self._logger.exception("edge handler failed; answered 500", extra={"where": where})
        self.flush(now)

    def flush(self, now: float) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        self._counts["Hits"] = self.hits
        published = False
        for name, value in self._counts.items():
            if value:
                self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
                published = True
        for latency in self._latencies:
            self._metrics.add_metric(
                name="LookupLatency", unit=MetricUnit.Milliseconds, value=latency
            )
            published = True
        if published:
            self._metrics.flush_metrics()
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._latencies.clear()
        self.hits = 0
        self._next_flush = now + self._flush_seconds
