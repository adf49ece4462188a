"""The edge's only SDK code: one BatchGetItem per lookup, region failover, error translation.

This is the one place in ``edge_router`` that touches botocore and catches its errors (the
control plane's choke point, ``routing_table.store.calls``, sits in a package that imports
pydantic, which the edge must not load). botocore is imported on the first miss, not at cold
start: a warm environment that only serves hits never pays for it twice, and the import is
measured in ``benchmarks/suite_handler.py``.

Clients are low-level botocore clients (no boto3 resource layer, no serializer on the hot path),
one per region, built once per process with explicit timeouts: botocore's defaults (legacy
retries, 10 attempts, 60 s timeouts) could sleep past the 30 s origin-request limit. SDK retries
are one attempt in ``standard`` mode because the retry policy lives here: each retry may go to
the next replica region, and every attempt must fit the request's budget (botocore's own backoff
of up to 1 s, 2 s, ... is not configurable and would not).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from edge_router.config import RETRY_PAUSE_SECONDS, EdgeConfig
from routing_table.core import keys
from routing_table.core.records import Item
from routing_table.errors import (
    StoreError,
    TableNotFoundError,
    TableUnreachableError,
    ThrottledError,
)

if TYPE_CHECKING:
    from botocore.client import BaseClient

ClientFactory = Callable[[str], Any]
"""Builds the DynamoDB client for one region."""

_THROTTLING = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


def botocore_client_factory(config: EdgeConfig) -> ClientFactory:
    """Clients honouring the standard AWS settings (AWS_ENDPOINT_URL_DYNAMODB, AWS_PROFILE...)."""

    def build(region: str) -> BaseClient:
        import botocore.session
        from botocore.config import Config

        settings = Config(
            connect_timeout=config.connect_timeout_seconds,
            read_timeout=config.read_timeout_seconds,
            retries={"mode": "standard", "total_max_attempts": 1},
            tcp_keepalive=True,
            # One request at a time per Lambda environment: one pooled connection is enough.
            max_pool_connections=2,
        )
        return botocore.session.get_session().create_client(
            "dynamodb", region_name=region, config=settings
        )

    return build


class DynamoRouteReader:
    """``batch_get(keys)``: one BatchGetItem round trip, failing over across replica regions."""

    def __init__(
        self,
        config: EdgeConfig,
        *,
        clock: Callable[[], float],
        client_factory: ClientFactory | None = None,
        sleep: Callable[[float], None] | None = None,
        aws_region: str | None = None,
    ) -> None:
        self._table = config.table_name
        self._attempts = config.max_attempts
        self._attempt_seconds = config.attempt_seconds
        home = config.home_region(aws_region or os.environ.get("AWS_REGION"))
        self._regions = [home, *(r for r in config.regions if r != home)]
        self._clock = clock
        self._factory = client_factory or botocore_client_factory(config)
        self._clients: dict[str, Any] = {}
        self._sleep = sleep or _sleep
        self._calls = _DeadlineCaller()
        self.round_trips = 0

    def _client(self, region: str) -> Any:
        client = self._clients.get(region)
        if client is None:
            client = self._clients[region] = self._factory(region)
        return client

    def batch_get(self, wanted: Sequence[keys.Key], *, deadline: float) -> dict[keys.Key, Item]:
        """The items among ``wanted`` (at most 100 distinct keys) that exist.

        Errors fail over to the next region (never a miss: an absent key is an answer). An
        attempt starts only while ``deadline`` (on the injected clock) leaves room for a whole
        one, so a request never waits past its budget, however many fetches it makes.
        """
        last: StoreError | None = None
        for attempt in range(self._attempts):
            if self._clock() + self._attempt_seconds > deadline:
                break
            region = self._regions[attempt % len(self._regions)]
            if attempt and len(self._regions) == 1:
                self._sleep(RETRY_PAUSE_SECONDS)
            try:
                return self._fetch(self._client(region), wanted)
            except StoreError as exc:
                last = exc
        if last is None:
            # Only a second fetch of one request can get here (the config guarantees the
            # budget holds a first attempt): the first one used the time up.
            last = TableUnreachableError(
                f"lookup budget spent before batch_get_item on {self._table}",
                table=self._table,
                key=list(wanted[:3]),
                operation="batch_get_item",
            )
        raise last

    def _fetch(self, client: Any, wanted: Sequence[keys.Key]) -> dict[keys.Key, Item]:
        request = {
            self._table: {
                "Keys": [{keys.TABLE_PK: {"S": pk}, keys.TABLE_SK: {"S": sk}} for pk, sk in wanted]
            }
        }
        reply = self._call(client, request, wanted)
        found = self._collect(reply)
        unprocessed = reply.get("UnprocessedKeys", {}).get(self._table)
        if unprocessed:
            # DynamoDB returns leftovers under load or past 16 MB; one immediate retry of just
            # those keys, then the caller treats the lookup as failed (never as a miss).
            retry = self._call(client, {self._table: unprocessed}, wanted)
            found.update(self._collect(retry))
            if retry.get("UnprocessedKeys", {}).get(self._table):
                raise ThrottledError(
                    f"BatchGetItem on {self._table} left keys unprocessed twice",
                    table=self._table,
                    key=list(wanted[:3]),
                    operation="batch_get_item",
                )
        return found

    def _collect(self, reply: dict[str, Any]) -> dict[keys.Key, Item]:
        items: list[Item] = reply.get("Responses", {}).get(self._table, [])
        return {(i[keys.TABLE_PK]["S"], i[keys.TABLE_SK]["S"]): i for i in items}

    def _call(self, client: Any, request: dict[str, Any], wanted: Sequence[keys.Key]) -> Any:
        """The one SDK call, and the one place botocore errors become the project's."""
        from botocore import exceptions as bce

        self.round_trips += 1
        try:
            return self._calls.run(
                client.batch_get_item, self._attempt_seconds, RequestItems=request
            )
        except _AttemptOverrun as exc:
            raise TableUnreachableError(
                f"batch_get_item on {self._table} gave no complete answer within "
                f"{self._attempt_seconds:g} s",
                table=self._table,
                key=list(wanted[:3]),
                operation="batch_get_item",
            ) from exc
        except bce.ClientError as exc:
            raise _client_error(exc, self._table, wanted) from exc
        except bce.BotoCoreError as exc:
            unreachable = (
                bce.EndpointConnectionError,
                bce.ConnectTimeoutError,
                bce.ReadTimeoutError,
                bce.ConnectionClosedError,
            )
            kind = TableUnreachableError if isinstance(exc, unreachable) else StoreError
            raise kind(
                f"batch_get_item on {self._table} failed: {exc}",
                table=self._table,
                key=list(wanted[:3]),
                operation="batch_get_item",
            ) from exc


class _AttemptOverrun(Exception):
    """An attempt outlived its whole-attempt deadline (the socket kept trickling bytes)."""


class _DeadlineCaller:
    """Runs an SDK call on a worker thread and waits at most a whole attempt's time for it.

    botocore's read timeout bounds each socket read, not the whole reply: an endpoint that
    trickles a byte at a time would hold the request forever. The caller gives up at the
    deadline and answers from stale data or with a 503; the abandoned call ends on its own when
    the endpoint does (or the read timeout fires), its result thrown away. At most
    ``_MAX_WORKERS`` calls can be stuck at once; past that, new calls queue behind them and
    time out at their own deadline, so a degraded endpoint never grows the thread count.
    """

    _MAX_WORKERS = 4

    def __init__(self) -> None:
        self._pool: Any = None

    def run(self, fn: Callable[..., Any], timeout: float, **kwargs: Any) -> Any:
        from concurrent.futures import ThreadPoolExecutor
        from concurrent.futures import TimeoutError as FutureTimeout

        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._MAX_WORKERS, thread_name_prefix="edge-ddb")
        future = self._pool.submit(fn, **kwargs)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            future.cancel()  # still queued: never runs; already running: left to finish alone
            raise _AttemptOverrun from None


def _client_error(exc: Any, table: str, wanted: Sequence[keys.Key]) -> StoreError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    ctx: dict[str, Any] = {
        "table": table,
        "key": list(wanted[:3]),
        "operation": "batch_get_item",
        "request_id": exc.response.get("ResponseMetadata", {}).get("RequestId"),
        "code": code,
    }
    message = f"batch_get_item on {table} failed ({code}): {error.get('Message', '')}"
    if code == "ResourceNotFoundException":
        return TableNotFoundError(message, **ctx)
    if code in _THROTTLING:
        return ThrottledError(message, **ctx)
    return StoreError(message, **ctx)


def _sleep(seconds: float) -> None:
    import time

    time.sleep(seconds)
