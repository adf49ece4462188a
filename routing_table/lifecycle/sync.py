"""The sync shell of the lifecycle: runs ``lifecycle.plan`` plans on a boto3 client.

Every decision is in the plans; this class binds a client, a table, a clock and a target
resolver, builds specs from what a caller typed, and executes plans with the store's runner
(``store.sync.run``, every SDK call through ``store.calls.call``).
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from hostnames.handles import Chooser
from hostnames.pool_plan import PlanContext
from routing_table.clients import CONTROL_PLANE, ClientSettings, dynamodb_client
from routing_table.core.records import RouteRecord
from routing_table.lifecycle.audit import AuditReport, audit_plan
from routing_table.lifecycle.plan import (
    Clock,
    DeleteResult,
    DeployResult,
    EnvView,
    Handles,
    Lifecycle,
)
from routing_table.lifecycle.records import EnvRecord
from routing_table.lifecycle.specs import build_spec, route_template, route_templates
from routing_table.lifecycle.static import (
    list_directory,
    list_prefix,
    parse_source,
    s3_client,
    upload_directory,
)
from routing_table.models import AwsTargetResolver, TargetResolver
from routing_table.store.base import Backoff, Plan, utc_now
from routing_table.store.sync import run

T = TypeVar("T")
Progress = Callable[[int], None]


def build_lifecycle(
    table: str,
    *,
    clock: Clock,
    rand: Callable[[], float],
    choice: Chooser,
    cache_ttl: float,
    max_stale: float,
    stuck_after: float,
    concurrency: int,
) -> Lifecycle:
    """The plans of one table with these settings (shared by the sync and async shells)."""
    rng = random.Random()
    handles = Handles(PlanContext(table, clock, rng, choice))
    return Lifecycle(
        table,
        handles,
        backoff=Backoff(rand=rand),
        clock=clock,
        cache_ttl=cache_ttl,
        max_stale=max_stale,
        stuck_after=stuck_after,
        concurrency=concurrency,
    )


class Environments:
    """Environments and their static deploys in one table, over a boto3 client.

    ``cache_ttl`` and ``max_stale`` must be at least the edge's: a version that stopped being
    active is collected only ``cache_ttl + max_stale`` seconds later.
    """

    def __init__(
        self,
        table: str,
        *,
        client: Any = None,
        settings: ClientSettings = CONTROL_PLANE,
        resolver: TargetResolver | None = None,
        clock: Clock = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        choice: Chooser = secrets.choice,
        cache_ttl: float = 300.0,
        max_stale: float = 86_400.0,
        stuck_after: float = 900.0,
        concurrency: int = 8,
    ) -> None:
        self.table = table
        self.client: Any = client if client is not None else dynamodb_client(settings=settings)
        self._resolver = resolver
        self._sleep = sleep
        self.plans = build_lifecycle(
            table,
            clock=clock,
            rand=rand,
            choice=choice,
            cache_ttl=cache_ttl,
            max_stale=max_stale,
            stuck_after=stuck_after,
            concurrency=concurrency,
        )

    @property
    def resolver(self) -> TargetResolver:
        if self._resolver is None:
            self._resolver = AwsTargetResolver()
        return self._resolver

    def run(self, plan: Plan[T], progress: Progress | None = None) -> T:
        return run(plan, self.client, self.table, sleep=self._sleep, progress=progress)

    def create(
        self,
        env_id: str,
        *,
        app: str,
        domain: str,
        services: Mapping[str, str],
        pool: str | None = None,
        handle: str | None = None,
        branch: str | None = None,
    ) -> EnvRecord:
        """Create the environment, or converge to it if it (partly) exists with this spec."""
        spec = build_spec(
            env_id=env_id,
            app=app,
            domain=domain,
            services=services,
            pool=pool,
            handle=handle,
            branch=branch,
        )
        templates = route_templates(spec, self.resolver)
        return self.run(self.plans.create(spec, templates))

    def delete(self, env_id: str) -> DeleteResult:
        return self.run(self.plans.delete(env_id))

    def get(self, env_id: str) -> EnvRecord | None:
        return self.run(self.plans.read(env_id))

    def show(self, env_id: str) -> EnvView:
        return self.run(self.plans.show(env_id))

    def list_envs(self) -> list[EnvRecord]:
        return self.run(self.plans.list_envs())

    def reroute(self, env_id: str, service: str, target: str) -> RouteRecord:
        template = route_template(target, env_id, self.resolver)
        return self.run(self.plans.reroute(env_id, service, template))

    def deploy(
        self,
        env_id: str,
        service: str,
        version: str,
        assets: Iterable[str],
        *,
        source: str | None = None,
        spa_fallback: str | None = None,
        progress: Progress | None = None,
    ) -> DeployResult:
        plan = self.plans.deploy(
            env_id, service, version, assets, source=source, spa_fallback=spa_fallback
        )
        return self.run(plan, progress)

    def deploy_from_s3(
        self,
        env_id: str,
        service: str,
        version: str,
        *,
        source: str,
        spa_fallback: str | None = None,
        s3: Any = None,
        progress: Progress | None = None,
    ) -> DeployResult:
        """Deploy the objects already under ``source`` (listed with ListObjectsV2)."""
        paths = list_prefix(s3 if s3 is not None else s3_client(), parse_source(source))
        return self.deploy(
            env_id,
            service,
            version,
            paths,
            source=source,
            spa_fallback=spa_fallback,
            progress=progress,
        )

    def deploy_directory(
        self,
        env_id: str,
        service: str,
        version: str,
        directory: Path,
        *,
        source: str,
        spa_fallback: str | None = None,
        s3: Any = None,
        upload_progress: Progress | None = None,
        progress: Progress | None = None,
    ) -> DeployResult:
        """Upload ``directory`` under ``source`` (Content-Type, Cache-Control), then deploy it."""
        location = parse_source(source)  # a bad source is refused before anything is uploaded
        files = list_directory(directory)
        client = s3 if s3 is not None else s3_client()
        upload_directory(
            client, files, location, concurrency=self.plans.concurrency, progress=upload_progress
        )
        return self.deploy(
            env_id,
            service,
            version,
            list(files),
            source=source,
            spa_fallback=spa_fallback,
            progress=progress,
        )

    def rollback(self, env_id: str, service: str, version: str | None = None) -> DeployResult:
        return self.run(self.plans.rollback(env_id, service, version))

    def gc(self, env_id: str) -> list[tuple[str, str]]:
        return self.run(self.plans.gc(env_id))

    def audit(self, *, repair: bool = False) -> AuditReport:
        return self.run(audit_plan(self.plans, repair=repair))
