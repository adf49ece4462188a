"""The async (aioboto3) shell of handle pools: the same plans as ``hostnames.pool_sync``,
awaited with the store's async runner. Same global-tables rule: give it the writer region's
client."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from hostnames import pool_plan as plans
from hostnames.handles import Chooser, Clock, utc_now
from hostnames.pool_plan import (
    AddResult,
    Allocation,
    HandleRow,
    PlanContext,
    PoolSettings,
    Release,
    RemoveResult,
    Tuning,
)
from routing_table.clients import CONTROL_PLANE, ClientSettings, aio_dynamodb_client
from routing_table.core.keys import Key
from routing_table.store.aio import AsyncSleep, run
from routing_table.store.base import Plan

T = TypeVar("T")


class AsyncHandlePool:
    """Handle pools over an open aioboto3 client (see ``open_pool``)."""

    def __init__(
        self,
        table: str,
        client: Any,
        *,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        choice: Chooser = secrets.choice,
        tuning: Tuning | None = None,
        sleep: AsyncSleep = asyncio.sleep,
    ) -> None:
        self.table = table
        self.client = client
        self.context = PlanContext(table, clock, rng or random.Random(), choice, tuning or Tuning())
        self._sleep = sleep

    async def run(self, plan: Plan[T]) -> T:
        return await run(plan, self.client, self.table, sleep=self._sleep)

    async def allocate(self, pool: str, env_id: str, *, handle: str | None = None) -> Allocation:
        return await self.run(plans.allocate(self.context, pool, env_id, handle=handle))

    async def release(
        self,
        pool: str,
        env_id: str,
        *,
        require_absent: Sequence[Key],
        handle: str | None = None,
    ) -> Release:
        return await self.run(
            plans.release(self.context, pool, env_id, require_absent=require_absent, handle=handle)
        )

    async def claim_random(self, env_id: str) -> Allocation:
        return await self.run(plans.claim_random(self.context, env_id))

    async def claim_handle(self, env_id: str, handle: str) -> Allocation:
        return await self.run(plans.claim_handle(self.context, env_id, handle))

    async def release_claim(
        self, env_id: str, *, require_absent: Sequence[Key], handle: str | None = None
    ) -> Release:
        return await self.run(
            plans.release_claim(self.context, env_id, require_absent=require_absent, handle=handle)
        )

    async def held(self, pool: str, env_id: str) -> str | None:
        return await self.run(plans.held_in_pool(self.context, pool, env_id))

    async def owned_route_count(self, env_id: str) -> int:
        return await self.run(plans.owned_route_count(self.context, env_id))

    async def add(self, pool: str, names: Iterable[str]) -> AddResult:
        return await self.run(plans.add_handles(self.context, pool, names))

    async def remove(self, pool: str, names: Iterable[str]) -> RemoveResult:
        return await self.run(plans.remove_handles(self.context, pool, names))

    async def list_handles(self, pool: str) -> list[HandleRow]:
        return await self.run(plans.list_handles(self.context, pool))

    async def settings(self, pool: str) -> PoolSettings:
        return await self.run(plans.read_settings(self.context, pool))

    async def configure(
        self,
        pool: str,
        *,
        cooldown_seconds: int | None = None,
        fallback_random: bool | None = None,
    ) -> PoolSettings:
        return await self.run(
            plans.configure(
                self.context,
                pool,
                cooldown_seconds=cooldown_seconds,
                fallback_random=fallback_random,
            )
        )


@asynccontextmanager
async def open_pool(
    table: str,
    *,
    writer_region: str | None = None,
    settings: ClientSettings = CONTROL_PLANE,
    **options: Any,
) -> AsyncIterator[AsyncHandlePool]:
    """``async with open_pool(table, writer_region="us-east-1") as pool``: one client."""
    async with aio_dynamodb_client(settings=settings, region_name=writer_region) as client:
        yield AsyncHandlePool(table, client, **options)
