"""Assemble ``edge-router serve``: local components, the edge config, the real handler, the server.

The handler runs exactly as packaged: it reads its configuration through the same path
(``edge_router.config.load_config``), pointed at a file written here with ``EDGE_ROUTER_CONFIG``
(the one override the config module allows for local runs). That file is the base configuration
(the baked ``edge_config.json``, or ``--config``) with the table and the cache lifetime a
laptop wants: routes changed with the CLI show within a second instead of a minute.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from edge_router.config import CONFIG_ENV, EdgeConfig, load_config
from edge_router.local.embedded import (
    LocalComponents,
    default_state_dir,
    local_components,
)
from edge_router.local.server import EdgeServer, serve_forever

LOG = logging.getLogger("edge_router.serve")
T = TypeVar("T")
LOCAL_CACHE_TTL = 1.0


@dataclass(frozen=True, slots=True)
class ServeOptions:
    table: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    state_dir: Path | None = None
    config: Path | None = None  # base edge config (default: the baked edge_config.json)
    cache_ttl: float = LOCAL_CACHE_TTL
    create_table: bool | None = None  # None: only when DynamoDB Local was started here


def local_edge_config(
    *, table: str | None, base: Path | None = None, cache_ttl: float = LOCAL_CACHE_TTL
) -> EdgeConfig:
    """The base configuration with the local overrides, validated by the config module."""
    data = load_config(base).to_dict()
    if table:
        data["table_name"] = table
    data["cache_ttl_seconds"] = cache_ttl
    data["negative_cache_ttl_seconds"] = min(cache_ttl, data["negative_cache_ttl_seconds"])
    return EdgeConfig.from_dict(data, source="serve (base config with local overrides)")


def write_config(config: EdgeConfig, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"edge_config.{config.table_name}.json"
    path.write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n")
    return path


@contextmanager
def edge_config_env(path: Path) -> Iterator[None]:
    """Point the handler's config loader at ``path`` for the duration of the block."""
    saved = os.environ.get(CONFIG_ENV)
    os.environ[CONFIG_ENV] = str(path)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(CONFIG_ENV, None)
        else:
            os.environ[CONFIG_ENV] = saved


def ensure_table(table: str) -> None:
    """Create the routing table (idempotent, waits for ACTIVE)."""
    from routing_table.clients import dynamodb_client
    from routing_table.schema import create_table

    create_table(dynamodb_client(), table, poll_interval=0.2)


def print_banner(url: str, components: LocalComponents, config: EdgeConfig) -> None:
    lines = [
        f"edge-router serve: listening on {url} (table {config.table_name})",
        f"  {components.describe()}",
    ]
    if components.started:
        lines.append("  manage routes from another shell with:")
        lines.append(f"    export AWS_ENDPOINT_URL_DYNAMODB={components.dynamodb_endpoint}")
        lines.append(f"    export AWS_ENDPOINT_URL_S3={components.s3_endpoint}")
    lines.append(f"  try: curl -H 'Host: <route host>' {url}/")
    print("\n".join(lines), file=sys.stderr, flush=True)


async def run_server(
    options: ServeOptions,
    components: LocalComponents,
    *,
    stop: asyncio.Event,
    on_ready: Callable[[str], Awaitable[None] | None] | None = None,
) -> None:
    """Serve until ``stop`` is set, with the handler configured for ``options.table``."""
    config = local_edge_config(
        table=options.table, base=options.config, cache_ttl=options.cache_ttl
    )
    create = options.create_table
    if create is None:
        create = components.dynamodb_local is not None
    if create:
        await asyncio.to_thread(ensure_table, config.table_name)
    path = write_config(config, (options.state_dir or default_state_dir()) / "serve")
    with edge_config_env(path):
        labels = RouteLabels()
        server = EdgeServer(install_handler(labels), route_label=labels.label)

        async def ready(url: str) -> None:
            print_banner(url, components, config)
            if on_ready is not None:
                maybe = on_ready(url)
                if maybe is not None:
                    await maybe

        await serve_forever(
            server.app(), host=options.host, port=options.port, on_ready=ready, stop=stop
        )


class RouteLabels:
    """The handler's log sink in serve: remembers which route each URL matched.

    The router names the matched route in its log line for a miss; a cache hit logs nothing, so
    the label learned at the miss is kept per (Host, URI), the router's own cache key. Warnings
    and errors (table unreachable, stale serves) still reach the terminal.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        from cachetools import LRUCache

        self._labels: LRUCache[tuple[str, str], str] = LRUCache(max_entries)
        self._current: str | None = None
        self._log = logging.getLogger("edge_router.handler")

    def _capture(self, extra: dict[str, Any] | None) -> None:
        fields = extra or {}
        route = fields.get("route")
        owner = fields.get("owner")
        self._current = f"{route} ({owner})" if route and owner else route or "-"

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._capture(kwargs.get("extra"))
        self._log.debug("%s %s", msg, kwargs.get("extra") or "")

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._capture(kwargs.get("extra"))
        self._log.warning("%s %s", msg, kwargs.get("extra") or "")

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._capture(kwargs.get("extra"))
        self._log.error("%s %s", msg, kwargs.get("extra") or "")

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log.exception("%s %s", msg, kwargs.get("extra") or "")

    def label(self, event: dict[str, Any], result: Any) -> str:
        """The route ``event`` matched; runs right after the handler, in its thread."""
        request = event["Records"][0]["cf"]["request"]
        host = next(iter(request["headers"].get("host") or [{}])).get("value", "")
        key = (host, request["uri"])
        current, self._current = self._current, None
        if current is not None:
            self._labels[key] = current
            return current
        cached = self._labels.get(key)
        return f"{cached} (cached)" if cached else "- (cached)"


class DiscardMetrics:
    """Metrics sink for serve: EMF lines only mean something to CloudWatch, and the access log
    already says per request what they would count."""

    def add_metric(self, name: str, unit: Any, value: float, *args: Any, **kw: Any) -> None:
        return None

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        return None


def install_handler(labels: RouteLabels) -> Callable[[dict[str, Any], Any], Any]:
    """The real edge handler, with a router built from the config ``EDGE_ROUTER_CONFIG`` names.

    The module builds its router at import from the same loader; a fresh one is installed so a
    second server in one process (tests) reads its own table, with serve's log sinks.
    """
    from edge_router import handler as edge
    from edge_router.router import EdgeRouter
    from edge_router.telemetry import Telemetry

    config = load_config()
    telemetry = Telemetry(
        logger=labels, metrics=DiscardMetrics(), flush_seconds=config.metrics_flush_seconds
    )
    edge.install(EdgeRouter(config, telemetry=telemetry))
    return edge.handler


def serve(options: ServeOptions) -> None:
    """Blocking entry point for the CLI: start components, serve until SIGINT/SIGTERM, clean up.

    SIGTERM is handled like Ctrl-C so DynamoDB Local (its own process group, which a terminal's
    signal does not reach) is always stopped.
    """
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    for name in ("edge_router.serve", "edge_router.handler"):
        logging.getLogger(name).setLevel(logging.INFO)
    # Until the event loop takes signals over, SIGTERM interrupts like Ctrl-C, so the
    # components started so far are stopped on the way out.
    # Bad configuration fails here, in one line, before any component is started.
    local_edge_config(table=options.table, base=options.config, cache_ttl=options.cache_ttl)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with local_components(state_dir=options.state_dir) as components:
            asyncio.run(_serve_until_signal(options, components))
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


async def _serve_until_signal(options: ServeOptions, components: LocalComponents) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_server(options, components, stop=stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        signal.signal(signal.SIGTERM, _interrupt)  # removal reset it to the default: kill


class BackgroundLoop:
    """An asyncio loop in a daemon thread, for callers that are synchronous (the demo, tests,
    benchmarks) and want servers running beside them. ``close()`` cancels what is left and
    joins the thread, so nothing keeps running after it."""

    def __init__(self, name: str = "edge-router-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60.0) -> T:
        """Run ``coro`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.run(_cancel_others(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()


async def _cancel_others() -> None:
    me = asyncio.current_task()
    others = [t for t in asyncio.all_tasks() if t is not me]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


class BackgroundServe:
    """``serve`` on a ``BackgroundLoop``: ``start()`` returns its URL once it listens,
    ``stop()`` shuts it down cleanly (aiohttp cleanup, the handler's worker thread)."""

    def __init__(self, loop: BackgroundLoop, options: ServeOptions, components: LocalComponents):
        self._loop = loop
        self._options = options
        self._components = components
        self._stop: asyncio.Event | None = None
        self._task: concurrent.futures.Future[None] | None = None

    def start(self, timeout: float = 60.0) -> str:
        ready: concurrent.futures.Future[str] = concurrent.futures.Future()

        async def main() -> None:
            self._stop = asyncio.Event()
            await run_server(
                self._options, self._components, stop=self._stop, on_ready=ready.set_result
            )

        def ended(task: concurrent.futures.Future[None]) -> None:
            if not ready.done():  # it stopped before listening: hand its error to start()
                ready.set_exception(task.exception() or RuntimeError("serve ended at start"))

        self._task = self._loop.spawn(main())
        self._task.add_done_callback(ended)
        return ready.result(timeout)

    def stop(self) -> None:
        stop, task = self._stop, self._task
        if stop is None or task is None:
            return
        self._loop.loop.call_soon_threadsafe(stop.set)
        task.result(timeout=30)
