"""Drives the sync and async stores through one interface, for the contract suite."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from routing_table.clients import aio_dynamodb_client, dynamodb_client
from routing_table.core.records import RouteRecord
from routing_table.schema import TableInfo, acreate_table, create_table
from routing_table.store.aio import AsyncRouteStore
from routing_table.store.base import ImportReport, LookupResult
from routing_table.store.sync import RouteStore


class Shell:
    """The store's public operations, called the same way whichever shell is behind them.

    ``sleeps`` records every backoff the store asked for (nothing really sleeps), ``calls``
    every DynamoDB operation sent (counted by a botocore ``before-call`` hook on the client).
    """

    def __init__(self, kind: str, table: str) -> None:
        self.kind = kind
        self.table = table
        self.sleeps: list[float] = []
        self.calls: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._aio_cm: Any = None
        options: dict[str, Any] = {"rand": lambda: 1.0, "concurrency": 4}
        if kind == "sync":
            self.client: Any = dynamodb_client()
            self.store: Any = RouteStore(
                table, client=self.client, sleep=self.sleeps.append, **options
            )
        else:
            self._loop = asyncio.new_event_loop()
            self._aio_cm = aio_dynamodb_client()
            self.client = self._loop.run_until_complete(self._aio_cm.__aenter__())
            self.store = AsyncRouteStore(table, self.client, sleep=self._async_sleep, **options)
        self.client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    async def _async_sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def _do(self, value: Any) -> Any:
        if self._loop is None:
            return value
        return self._loop.run_until_complete(value)

    def create_table(self) -> TableInfo:
        if self._loop is None:
            return create_table(self.client, self.table, sleep=self.sleeps.append)
        info: TableInfo = self._do(acreate_table(self.client, self.table, sleep=self._async_sleep))
        return info

    def put_route(self, record: RouteRecord) -> RouteRecord:
        result: RouteRecord = self._do(self.store.put_route(record))
        return result

    def get_route(self, host: str, prefix: str) -> RouteRecord | None:
        result: RouteRecord | None = self._do(self.store.get_route(host, prefix))
        return result

    def delete_route(self, host: str, prefix: str, owner: str) -> RouteRecord:
        result: RouteRecord = self._do(self.store.delete_route(host, prefix, owner))
        return result

    def lookup(self, host: str, path: str) -> LookupResult:
        result: LookupResult = self._do(self.store.lookup(host, path))
        return result

    def list_by_host(self, host: str) -> list[RouteRecord]:
        result: list[RouteRecord] = self._do(self.store.list_by_host(host))
        return result

    def list_by_owner(self, owner: str) -> list[RouteRecord]:
        result: list[RouteRecord] = self._do(self.store.list_by_owner(owner))
        return result

    def import_routes(
        self, routes: list[RouteRecord], progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        result: ImportReport = self._do(self.store.import_routes(routes, progress))
        return result

    def close(self) -> None:
        if self._loop is not None:
            self._loop.run_until_complete(self._aio_cm.__aexit__(None, None, None))
            self._loop.close()
        else:
            self.client.close()


def route(
    host: str,
    prefix: str = "/",
    owner: str = "env-a",
    domain: str = "origin.example.com",
    **extra: Any,
) -> RouteRecord:
    """A custom-origin route record for tests."""
    return RouteRecord(
        host=host,
        prefix=prefix,
        owner=owner,
        target=f"https://{domain}",
        kind="custom",
        domain=domain,
        **extra,
    )


class ForcedLeftovers:
    """Makes the backend "leave" part of a batch unprocessed, as DynamoDB does under throttling.

    For the first ``times`` calls of ``operation`` (``BatchWriteItem`` or ``BatchGetItem``), the
    last ``per_call`` requests are taken out of the request before it is sent (so they are really
    not executed) and handed back in ``UnprocessedItems`` / ``UnprocessedKeys``. The held items
    ride in botocore's per-request ``context``, so concurrent calls don't mix them up.
    """

    def __init__(self, client: Any, table: str, operation: str, per_call: int, times: int) -> None:
        self.table = table
        self.per_call = per_call
        self.remaining = times
        self.held_total = 0
        self._write = operation == "BatchWriteItem"
        client.meta.events.register(f"before-parameter-build.dynamodb.{operation}", self._hold)
        client.meta.events.register(f"after-call.dynamodb.{operation}", self._report)

    def _hold(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if self.remaining <= 0:
            return
        request = params["RequestItems"][self.table]
        entries = request if self._write else request["Keys"]
        count = min(self.per_call, len(entries) - 1)  # an empty request would be rejected
        if count <= 0:
            return
        self.remaining -= 1
        self.held_total += count
        kept, held = entries[:-count], entries[-count:]
        # Replace, never mutate: the lists belong to the caller's request.
        params["RequestItems"] = {self.table: kept if self._write else {**request, "Keys": kept}}
        context["forced_leftovers"] = held

    def _report(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        held = context.get("forced_leftovers")
        if not held:
            return
        if self._write:
            parsed["UnprocessedItems"] = {self.table: held}
        else:
            parsed["UnprocessedKeys"] = {self.table: {"Keys": held}}
