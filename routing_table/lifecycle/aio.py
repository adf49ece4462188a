"""The async shell of the lifecycle: the same plans as ``lifecycle.sync``, awaited on an
aioboto3 client (``store.aio.run``; every SDK call through ``store.calls.acall``).

Target resolution (ELBv2, S3 HeadBucket) is awaited on aioboto3 (``AsyncAwsTargetResolver``).
An injected sync ``TargetResolver`` still works: it runs in a worker thread, so its blocking
calls never stall the event loop. Static deploys from an S3 listing or a directory use the
async S3 helpers of ``lifecycle.static`` (same requests as the sync ones, awaited).
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from hostnames.handles import Chooser
from routing_table.clients import CONTROL_PLANE, ClientSettings, aio_dynamodb_client
from routing_table.core.records import RouteRecord
from routing_table.lifecycle.audit import AuditReport, audit_plan
from routing_table.lifecycle.plan import Clock, DeleteResult, DeployResult, EnvView
from routing_table.lifecycle.records import EnvRecord, EnvSpec
from routing_table.lifecycle.specs import (
    aroute_template,
    aroute_templates,
    build_spec,
    route_template,
    route_templates,
)
from routing_table.lifecycle.static import (
    aio_s3_client,
    alist_prefix,
    aupload_directory,
    list_directory,
    parse_source,
)
from routing_table.lifecycle.sync import build_lifecycle
from routing_table.models import (
    AsyncAwsTargetResolver,
    AsyncTargetResolver,
    TargetResolver,
    is_async_resolver,
)
from routing_table.store.aio import run
from routing_table.store.base import Plan, utc_now

T = TypeVar("T")
Progress = Callable[[int], None]
AsyncSleep = Callable[[float], Awaitable[None]]


class AsyncEnvironments:
    """The async twin of ``lifecycle.sync.Environments`` over an open aioboto3 client."""

    def __init__(
        self,
        table: str,
        client: Any,
        *,
        resolver: AsyncTargetResolver | TargetResolver | None = None,
        clock: Clock = utc_now,
        sleep: AsyncSleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        choice: Chooser = secrets.choice,
        cache_ttl: float = 300.0,
        max_stale: float = 86_400.0,
        stuck_after: float = 900.0,
        concurrency: int = 8,
    ) -> None:
        self.table = table
        self.client = client
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
    def resolver(self) -> AsyncTargetResolver | TargetResolver:
        if self._resolver is None:
            self._resolver = AsyncAwsTargetResolver()
        return self._resolver

    async def _templates(self, spec: EnvSpec) -> dict[str, RouteRecord]:
        resolver = self.resolver
        if is_async_resolver(resolver):
            return await aroute_templates(spec, cast(AsyncTargetResolver, resolver))
        return await asyncio.to_thread(route_templates, spec, cast(TargetResolver, resolver))

    async def _template(self, target: str, env_id: str) -> RouteRecord:
        resolver = self.resolver
        if is_async_resolver(resolver):
            return await aroute_template(target, env_id, cast(AsyncTargetResolver, resolver))
        return await asyncio.to_thread(
            route_template, target, env_id, cast(TargetResolver, resolver)
        )

    async def run(self, plan: Plan[T], progress: Progress | None = None) -> T:
        return await run(plan, self.client, self.table, sleep=self._sleep, progress=progress)

    async def create(
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
        spec = build_spec(
            env_id=env_id,
            app=app,
            domain=domain,
            services=services,
            pool=pool,
            handle=handle,
            branch=branch,
        )
        templates = await self._templates(spec)
        return await self.run(self.plans.create(spec, templates))

    async def delete(self, env_id: str) -> DeleteResult:
        return await self.run(self.plans.delete(env_id))

    async def get(self, env_id: str) -> EnvRecord | None:
        return await self.run(self.plans.read(env_id))

    async def show(self, env_id: str) -> EnvView:
        return await self.run(self.plans.show(env_id))

    async def list_envs(self) -> list[EnvRecord]:
        return await self.run(self.plans.list_envs())

    async def reroute(self, env_id: str, service: str, target: str) -> RouteRecord:
        template = await self._template(target, env_id)
        return await self.run(self.plans.reroute(env_id, service, template))

    async def deploy(
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
        return await self.run(plan, progress)

    async def deploy_from_s3(
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
        location = parse_source(source)
        async with _s3(s3) as client:
            paths = await alist_prefix(client, location)
        return await self.deploy(
            env_id,
            service,
            version,
            paths,
            source=source,
            spa_fallback=spa_fallback,
            progress=progress,
        )

    async def deploy_directory(
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
        files = await asyncio.to_thread(list_directory, directory)  # a big tree: keep the loop free
        async with _s3(s3) as client:
            await aupload_directory(
                client,
                files,
                location,
                concurrency=self.plans.concurrency,
                progress=upload_progress,
            )
        return await self.deploy(
            env_id,
            service,
            version,
            list(files),
            source=source,
            spa_fallback=spa_fallback,
            progress=progress,
        )

    async def rollback(self, env_id: str, service: str, version: str | None = None) -> DeployResult:
        return await self.run(self.plans.rollback(env_id, service, version))

    async def gc(self, env_id: str) -> list[tuple[str, str]]:
        return await self.run(self.plans.gc(env_id))

    async def audit(self, *, repair: bool = False) -> AuditReport:
        return await self.run(audit_plan(self.plans, repair=repair))


@asynccontextmanager
async def _s3(given: Any) -> AsyncIterator[Any]:
    """The caller's aioboto3 S3 client, or one opened for this call."""
    if given is not None:
        yield given
        return
    async with aio_s3_client() as client:
        yield client


@asynccontextmanager
async def open_environments(
    table: str, *, settings: ClientSettings = CONTROL_PLANE, **options: Any
) -> AsyncIterator[AsyncEnvironments]:
    """``async with open_environments(table) as envs``: one aioboto3 client for the block."""
    async with aio_dynamodb_client(settings=settings) as client:
        yield AsyncEnvironments(table, client, **options)


__all__ = ["AsyncEnvironments", "open_environments"]
