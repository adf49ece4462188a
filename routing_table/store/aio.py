"""The async shell: runs the store's plans (``store.base``) on an aioboto3 DynamoDB client.

The twin of ``store.sync``: the same plans, awaited. ``Parallel`` steps run as tasks bounded
by a semaphore.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from routing_table.clients import CONTROL_PLANE, ClientSettings, aio_dynamodb_client
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
from routing_table.store.calls import acall

T = TypeVar("T")
Progress = Callable[[int], None]
AsyncSleep = Callable[[float], Awaitable[None]]


async def run(
    plan: Plan[T],
    client: Any,
    table: str,
    *,
    sleep: AsyncSleep = asyncio.sleep,
    progress: Progress | None = None,
) -> T:
    """Execute a plan with awaited calls; the async twin of ``store.sync.run``."""
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
            reply = await _execute(step, client, table, sleep, progress)
        except EdgeRouterError as exc:
            error = exc


async def _execute(
    step: Any, client: Any, table: str, sleep: AsyncSleep, progress: Progress | None
) -> Any:
    if isinstance(step, Call):
        return await acall(client, step.operation, table=table, key=step.key, **step.params)
    if isinstance(step, Sleep):
        await sleep(step.seconds)
        return None
    if isinstance(step, Report):
        if progress is not None:
            progress(step.count)
        return None
    if isinstance(step, Parallel):
        gate = asyncio.Semaphore(max(1, step.concurrency))

        async def bounded(sub: Plan[Any]) -> Any:
            async with gate:
                return await run(sub, client, table, sleep=sleep, progress=progress)

        # A TaskGroup cancels the siblings when one fails, like the sync pool's cancel_futures.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(bounded(p)) for p in step.plans]
        except BaseExceptionGroup as failed:
            # Raise the first failure as itself, as the sync pool does: a project error must
            # reach the plan (``plan.throw``) and the caller unwrapped, not as a group.
            raise failed.exceptions[0] from None
        return [t.result() for t in tasks]
    raise TypeError(f"unknown plan step {step!r}")


class AsyncRouteStore:
    """Routes in one table, over an open aioboto3 client. See ``open_store`` to build one."""

    def __init__(
        self,
        table: str,
        client: Any,
        *,
        sleep: AsyncSleep = asyncio.sleep,
        clock: Callable[[], dt.datetime] = utc_now,
        rand: Callable[[], float] = random.random,
        concurrency: int = 4,
    ) -> None:
        self.table = table
        self.client = client
        self._sleep = sleep
        self._plans = RoutePlans(table, Backoff(rand=rand), clock, concurrency)

    async def _run(self, plan: Plan[T], progress: Progress | None = None) -> T:
        return await run(plan, self.client, self.table, sleep=self._sleep, progress=progress)

    async def put_route(self, record: RouteRecord) -> RouteRecord:
        return await self._run(self._plans.put_route(record))

    async def get_route(self, host: str, prefix: str) -> RouteRecord | None:
        return await self._run(self._plans.get_route(host, prefix))

    async def delete_route(self, host: str, prefix: str, owner: str) -> RouteRecord:
        return await self._run(self._plans.delete_route(host, prefix, owner))

    async def lookup(self, host: str, path: str) -> LookupResult:
        return await self._run(self._plans.lookup(host, path))

    async def list_by_host(self, host: str) -> list[RouteRecord]:
        return await self._run(self._plans.list_by_host(host))

    async def list_by_owner(self, owner: str) -> list[RouteRecord]:
        return await self._run(self._plans.list_by_owner(owner))

    async def import_routes(
        self, routes: Iterable[RouteRecord], progress: Progress | None = None
    ) -> ImportReport:
        return await self._run(self._plans.import_routes(routes), progress)


@asynccontextmanager
async def open_store(
    table: str, *, settings: ClientSettings = CONTROL_PLANE, **options: Any
) -> AsyncIterator[AsyncRouteStore]:
    """``async with open_store(table) as store``: one aioboto3 client for the block."""
    async with aio_dynamodb_client(settings=settings) as client:
        yield AsyncRouteStore(table, client, **options)
