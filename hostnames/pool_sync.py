"""The sync (boto3) shell of handle pools: runs ``hostnames.pool_plan`` plans with the store's
runner. Every decision lives in the plans; this class only binds a client, a table and a clock.

Global tables: pass the client of the table's primary (writer) region, e.g.
``dynamodb_client(region_name="us-east-1")``. Allocation, claims and release are conditional
writes, and DynamoDB checks conditions only against the replica that receives the write, while
replication resolves concurrent writes by "last writer wins": two regions could each see a
handle free and hand it to two environments. Sending every write to one region makes the
condition decisive.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
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
from routing_table.clients import CONTROL_PLANE, ClientSettings, dynamodb_client
from routing_table.core.keys import Key
from routing_table.store.base import Plan
from routing_table.store.sync import run

T = TypeVar("T")


class HandlePool:
    """Handle pools and handle claims in one table. Thread-safe: boto3 clients are, and the
    context's PRNG is only used for choices whose interleaving does not matter."""

    def __init__(
        self,
        table: str,
        *,
        client: Any = None,
        writer_region: str | None = None,
        settings: ClientSettings = CONTROL_PLANE,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        choice: Chooser = secrets.choice,
        tuning: Tuning | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table = table
        self.client: Any = client or dynamodb_client(settings=settings, region_name=writer_region)
        self.context = PlanContext(table, clock, rng or random.Random(), choice, tuning or Tuning())
        self._sleep = sleep

    def run(self, plan: Plan[T]) -> T:
        return run(plan, self.client, self.table, sleep=self._sleep)

    def allocate(self, pool: str, env_id: str, *, handle: str | None = None) -> Allocation:
        """The env's handle of ``pool`` (kept if it has one; ``handle`` if named, else the
        least recently released free one); ``HandlePoolExhaustedError`` when none is left."""
        return self.run(plans.allocate(self.context, pool, env_id, handle=handle))

    def release(
        self,
        pool: str,
        env_id: str,
        *,
        require_absent: Sequence[Key],
        handle: str | None = None,
    ) -> Release:
        """Return the env's handle to the pool; see ``pool_plan.release`` for the contract."""
        return self.run(
            plans.release(self.context, pool, env_id, require_absent=require_absent, handle=handle)
        )

    def claim_random(self, env_id: str) -> Allocation:
        return self.run(plans.claim_random(self.context, env_id))

    def claim_handle(self, env_id: str, handle: str) -> Allocation:
        return self.run(plans.claim_handle(self.context, env_id, handle))

    def release_claim(
        self, env_id: str, *, require_absent: Sequence[Key], handle: str | None = None
    ) -> Release:
        return self.run(
            plans.release_claim(self.context, env_id, require_absent=require_absent, handle=handle)
        )

    def held(self, pool: str, env_id: str) -> str | None:
        return self.run(plans.held_in_pool(self.context, pool, env_id))

    def owned_route_count(self, env_id: str) -> int:
        return self.run(plans.owned_route_count(self.context, env_id))

    def add(self, pool: str, names: Iterable[str]) -> AddResult:
        return self.run(plans.add_handles(self.context, pool, names))

    def remove(self, pool: str, names: Iterable[str]) -> RemoveResult:
        return self.run(plans.remove_handles(self.context, pool, names))

    def list_handles(self, pool: str) -> list[HandleRow]:
        return self.run(plans.list_handles(self.context, pool))

    def settings(self, pool: str) -> PoolSettings:
        return self.run(plans.read_settings(self.context, pool))

    def configure(
        self,
        pool: str,
        *,
        cooldown_seconds: int | None = None,
        fallback_random: bool | None = None,
    ) -> PoolSettings:
        return self.run(
            plans.configure(
                self.context,
                pool,
                cooldown_seconds=cooldown_seconds,
                fallback_random=fallback_random,
            )
        )
