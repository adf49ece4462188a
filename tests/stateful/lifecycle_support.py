"""Shared by the lifecycle tests: one driver over the sync and async shells, an injected clock,
a fixed target resolver, crash injection, and the invariants every state must satisfy."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

from routing_table.clients import aio_dynamodb_client, dynamodb_client
from routing_table.core import keys
from routing_table.lifecycle.aio import AsyncEnvironments
from routing_table.lifecycle.sync import Environments
from routing_table.schema import create_table

WRITES = frozenset(
    {"put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"}
)
START = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


class FixedResolver:
    """Targets resolve without AWS: every bucket is in us-east-1, every ALB has one name."""

    def alb_dns_name(self, arn: str, region: str) -> str:
        return f"{arn.rsplit('/', 2)[-2]}.{region}.elb.amazonaws.com".lower()

    def bucket_region(self, bucket: str) -> str:
        return "us-east-1"


class Clock:
    """A clock tests move by hand; never sleep to wait for a grace period."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class SimulatedCrash(Exception):
    """The process died right after a write (the write landed, nothing after it ran)."""


class CrashingClient:
    """A boto3 or aioboto3 client whose process 'dies' after ``budget`` more writes (None:
    never). The async wrapper awaits the same write; only the call differs."""

    def __init__(self, client: Any, *, asynchronous: bool = False) -> None:
        self._client = client
        # aiobotocore's methods return awaitables without being coroutine functions, so the
        # caller says which kind of client this is.
        self._asynchronous = asynchronous
        self.budget: int | None = None
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name not in WRITES:
            return method
        if self._asynchronous:

            async def awrite(**params: Any) -> Any:
                self._before(name)
                reply = await method(**params)
                return self._after(name, reply)

            return awrite

        def write(**params: Any) -> Any:
            self._before(name)
            return self._after(name, method(**params))

        return write

    def _before(self, name: str) -> None:
        if self.budget is not None and self.budget <= 0:
            raise SimulatedCrash(name)

    def _after(self, name: str, reply: Any) -> Any:
        """The write landed; the process may die before it sees the reply."""
        self.writes += 1
        if self.budget is not None:
            self.budget -= 1
            if self.budget <= 0:
                raise SimulatedCrash(name)
        return reply


_handles = itertools.count()


def scripted_choice() -> Callable[[str], str]:
    """Random handles from a counter: distinct across the run, reproducible in a failure."""
    state = {"left": ""}

    def choice(alphabet: str) -> str:
        if not state["left"]:
            state["left"] = f"{next(_handles):07d}"
        head, state["left"] = state["left"][0], state["left"][1:]
        return head

    return choice


class Driver:
    """The lifecycle's operations, called the same way whichever shell is behind them."""

    def __init__(self, kind: str, table: str, clock: Clock | None = None, **options: Any) -> None:
        self.kind = kind
        self.table = table
        self.clock = clock or Clock()
        self.sleeps: list[float] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cm: Any = None
        self.raw = dynamodb_client()
        common: dict[str, Any] = {
            "resolver": FixedResolver(),
            "clock": self.clock,
            "rand": lambda: 0.0,
            "choice": scripted_choice(),
            "cache_ttl": 60.0,
            "max_stale": 600.0,
            "stuck_after": 900.0,
            "concurrency": 4,
            **options,
        }
        if kind == "sync":
            self.client: Any = CrashingClient(self.raw)
            self.envs: Any = Environments(
                table, client=self.client, sleep=self.sleeps.append, **common
            )
        else:
            self._loop = asyncio.new_event_loop()
            self._cm = aio_dynamodb_client()
            raw_async = self._loop.run_until_complete(self._cm.__aenter__())
            self.client = CrashingClient(raw_async, asynchronous=True)
            self.envs = AsyncEnvironments(table, self.client, sleep=self._sleep, **common)

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def create_table(self) -> None:
        create_table(self.raw, self.table, sleep=self.sleeps.append, poll_interval=0.05)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.envs, name)

        def run(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if self._loop is not None:
                return self._loop.run_until_complete(result)
            return result

        return run

    def close(self) -> None:
        if self._loop is not None:
            self._loop.run_until_complete(self._cm.__aexit__(None, None, None))
            self._loop.close()

    def items(self) -> list[dict[str, Any]]:
        """Every item of the table (consistent scan, all pages)."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True}
        while True:
            reply = self.raw.scan(**params)
            found += reply.get("Items", [])
            if "LastEvaluatedKey" not in reply:
                return found
            params["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def s(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value["S"])


def check_invariants(items: list[dict[str, Any]]) -> None:
    """What must hold of any table the lifecycle leaves behind (after recovery)."""
    envs = {
        s(i, "env_id"): i
        for i in items
        if (s(i, "pk") or "").startswith(keys.ENV_PREFIX) and s(i, "sk") == keys.ENV_SK
    }
    hosts: dict[str, str | None] = {}
    assets: set[tuple[str, str]] = set()
    for item in items:
        pk, sk = s(item, "pk") or "", s(item, "sk") or ""
        if pk.startswith(keys.ROUTE_PREFIX):
            owner = s(item, "owner")
            assert owner in envs, f"{pk} {sk} belongs to {owner}, not a live environment"
            if sk == keys.HOST_CLAIM_SK:
                assert pk not in hosts, f"{pk} claimed twice"
                hosts[pk] = owner
        elif pk.startswith((keys.POOL_PREFIX, keys.HANDLE_CLAIM_PREFIX)):
            holder = s(item, "env_id")
            assert holder is None or holder in envs, f"{pk} {sk} held by missing env {holder}"
        elif pk.startswith(keys.ASSET_PREFIX):
            env_id, service, version, _ = pk.removeprefix(keys.ASSET_PREFIX).split("#")
            env = envs.get(env_id)
            assert env is not None, f"assets {pk} of a missing environment"
            listed = env["sites"]["M"].get(service, {"M": {}})["M"]
            assert version in listed, f"assets {pk}: version not on the record"
            assets.add((pk.rsplit("#", 1)[0], sk))
    for item in items:
        pk, sk = s(item, "pk") or "", s(item, "sk") or ""
        if pk.startswith(keys.ROUTE_PREFIX) and sk != keys.HOST_CLAIM_SK:
            assert pk in hosts, f"route {pk} has no host claim"
            assert hosts[pk] == s(item, "owner"), f"route {pk} and its claim differ in owner"
            active = s(item, "active_version")
            if active is not None:
                site_env, site_service = s(item, "site_env") or "", s(item, "site_service") or ""
                listed = envs[site_env]["sites"]["M"][site_service]["M"]
                assert listed[active]["M"]["state"]["S"] == "active", f"{pk} serves {active}"
                partition = f"{keys.ASSET_PREFIX}{site_env}#{site_service}#{active}"
                assert any(a[0] == partition for a in assets), f"{pk}: {active} has no assets"
