"""The sync shell: runs the store's plans (``store.base``) on a boto3 DynamoDB client.

Only this module and ``store.aio`` execute SDK calls, each through ``store.calls.call``.
``Parallel`` steps run on a thread pool (boto3 clients are thread-safe); a progress callback
may therefore be called from worker threads.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from routing_table.clients import CONTROL_PLANE, ClientSettings, dynamodb_client
from routing_table.core.records import RouteRecord
from routing_table.errors import EdgeRouterError
from routing_table.store.base import (
    Backoff,
    Call,
    ImportReport,
    LookupResult,
    Parallel,
    Plan,
    Report,
    RoutePlans,
    Sleep,
    utc_now,
)
from routing_table.store.calls import call

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

T = TypeVar("T")
Progress = Callable[[int], None]


def run(
    plan: Plan[T],
    client: Any,
    table: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    progress: Progress | None = None,
) -> T:
    """Execute a plan: make its calls, sleep its backoffs, fan out its parallel steps."""
    reply: Any = None
    error: EdgeRouterError | None = None
    while True:
        try:
            step = plan.throw(error) if error is not None else plan.send(reply)
        except StopIteration as done:
            result: T = done.value
            return result
        reply, error = None, None
        try:
            reply = _execute(step, client, table, sleep, progress)
        except EdgeRouterError as exc:
            error = exc


def _execute(
    step: Any,
    client: Any,
    table: str,
    sleep: Callable[[float], None],
    progress: Progress | None,
) -> Any:
    if isinstance(step, Call):
        return call(client, step.operation, table=table, key=step.key, **step.params)
    if isinstance(step, Sleep):
        sleep(step.seconds)
        return None
    if isinstance(step, Report):
        if progress is not None:
            progress(step.count)
        return None
    if isinstance(step, Parallel):
        if not step.plans:
            return []
        with ThreadPoolExecutor(max_workers=max(1, step.concurrency)) as pool:
            futures = [
                pool.submit(run, p, client, table, sleep=sleep, progress=progress)
                for p in step.plans
            ]
            try:
                return [f.result() for f in futures]
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    raise TypeError(f"unknown plan step {step!r}")


class RouteStore:
    """Routes in one table, over a boto3 client (given, or built once with explicit budgets)."""

    def __init__(
        self,
        table: str,
        *,
        client: DynamoDBClient | None = None,
        settings: ClientSettings = CONTROL_PLANE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], dt.datetime] = utc_now,
        rand: Callable[[], float] = random.random,
        concurrency: int = 4,
    ) -> None:
        self.table = table
        self.client: Any = client if client is not None else dynamodb_client(settings=settings)
        self._sleep = sleep
        self._plans = RoutePlans(table, Backoff(rand=rand), clock, concurrency)

    def _run(self, plan: Plan[T], progress: Progress | None = None) -> T:
        return run(plan, self.client, self.table, sleep=self._sleep, progress=progress)

    def put_route(self, record: RouteRecord) -> RouteRecord:
        """Write a route; raises OwnershipError if its host or entry belongs to another owner."""
        return self._run(self._plans.put_route(record))

    def get_route(self, host: str, prefix: str) -> RouteRecord | None:
        return self._run(self._plans.get_route(host, prefix))

    def delete_route(self, host: str, prefix: str, owner: str) -> RouteRecord:
        """Delete ``owner``'s route; raises RouteNotFoundError or OwnershipError."""
        return self._run(self._plans.delete_route(host, prefix, owner))

    def lookup(self, host: str, path: str) -> LookupResult:
        """The route serving ``host`` + ``path``, in one BatchGetItem (more only if throttled)."""
        return self._run(self._plans.lookup(host, path))

    def list_by_host(self, host: str) -> list[RouteRecord]:
        return self._run(self._plans.list_by_host(host))

    def list_by_owner(self, owner: str) -> list[RouteRecord]:
        return self._run(self._plans.list_by_owner(owner))

    def import_routes(
        self, routes: Iterable[RouteRecord], progress: Progress | None = None
    ) -> ImportReport:
        """Bulk-write routes; see ``store.base.import_plan`` for what is refused and why."""
        return self._run(self._plans.import_routes(routes), progress)
