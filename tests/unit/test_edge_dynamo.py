"""The edge's DynamoDB reader with scripted clients: one call per fetch, failover on errors only,
budget, unprocessed keys, and botocore errors translated in its one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from edge_router.config import EdgeConfig
from edge_router.dynamo import DynamoRouteReader
from edge_router.fakes import FakeClock
from routing_table.core import keys
from routing_table.errors import (
    StoreError,
    TableNotFoundError,
    TableUnreachableError,
    ThrottledError,
)

TABLE = "routes"
KEY = keys.route_key("a.example.com", "/")
ITEM = {"pk": {"S": KEY[0]}, "sk": {"S": KEY[1]}, "kind": {"S": "route"}}
Reply = dict[str, Any] | Exception


def client_error(code: str) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "x"},
        "ResponseMetadata": {"RequestId": "r"},
    }
    return ClientError(response, "BatchGetItem")


class ScriptedClient:
    def __init__(self, region: str, replies: list[Reply], log: list[str], clock: FakeClock):
        self.region = region
        self.replies = replies
        self.log = log
        self.clock = clock
        self.elapsed = 0.0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.log.append(self.region)
        self.clock.advance(self.elapsed)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def found(*items: dict[str, Any], unprocessed: list[Any] | None = None) -> dict[str, Any]:
    reply: dict[str, Any] = {"Responses": {TABLE: list(items)}}
    if unprocessed:
        reply["UnprocessedKeys"] = {TABLE: {"Keys": unprocessed}}
    return reply


def reader(
    scripts: dict[str, list[Reply]],
    *,
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1"),
    aws_region: str = "us-east-1",
    attempts: int = 3,
    elapsed: float = 0.0,
) -> tuple[DynamoRouteReader, list[str], FakeClock, list[float]]:
    config = EdgeConfig(TABLE, regions, max_attempts=attempts)
    log: list[str] = []
    clock = FakeClock(0.0)
    sleeps: list[float] = []

    def factory(region: str) -> ScriptedClient:
        client = ScriptedClient(region, scripts[region], log, clock)
        client.elapsed = elapsed
        return client

    sleep: Callable[[float], None] = sleeps.append
    built = DynamoRouteReader(
        config, clock=clock, client_factory=factory, sleep=sleep, aws_region=aws_region
    )
    return built, log, clock, sleeps


def test_one_call_and_absent_keys_are_an_answer() -> None:
    r, log, _, _ = reader({"us-east-1": [found()], "eu-west-1": []})
    assert r.batch_get([KEY], deadline=10) == {}
    assert log == ["us-east-1"]


def test_reads_the_replica_of_the_region_it_runs_in() -> None:
    r, log, _, _ = reader({"us-east-1": [], "eu-west-1": [found(ITEM)]}, aws_region="eu-west-1")
    assert r.batch_get([KEY], deadline=10) == {KEY: ITEM}
    assert log == ["eu-west-1"]


@pytest.mark.parametrize(
    "error",
    [
        client_error("InternalServerError"),
        client_error("ProvisionedThroughputExceededException"),
        EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ],
)
def test_errors_fail_over_to_the_next_region(error: Exception) -> None:
    r, log, _, sleeps = reader({"us-east-1": [error], "eu-west-1": [found(ITEM)]})
    assert r.batch_get([KEY], deadline=10) == {KEY: ITEM}
    assert log == ["us-east-1", "eu-west-1"]
    assert sleeps == [], "switching regions needs no pause"


def test_single_region_retries_after_a_short_pause() -> None:
    r, log, _, sleeps = reader(
        {"us-east-1": [client_error("InternalServerError"), found(ITEM)]}, regions=("us-east-1",)
    )
    assert r.batch_get([KEY], deadline=10) == {KEY: ITEM}
    assert log == ["us-east-1", "us-east-1"]
    assert sleeps == [0.05]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (client_error("ResourceNotFoundException"), TableNotFoundError),
        (client_error("ThrottlingException"), ThrottledError),
        (client_error("AccessDeniedException"), StoreError),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), TableUnreachableError),
    ],
)
def test_botocore_errors_become_project_errors(error: Exception, kind: type[StoreError]) -> None:
    r, log, _, _ = reader({"us-east-1": [error, error, error]}, regions=("us-east-1",))
    with pytest.raises(kind) as info:
        r.batch_get([KEY], deadline=10)
    assert info.value.table == TABLE
    assert info.value.operation == "batch_get_item"
    assert len(log) == 3


def test_no_retry_starts_that_would_overrun_the_budget() -> None:
    err = client_error("InternalServerError")
    r, log, _, _ = reader({"us-east-1": [err, err], "eu-west-1": [err]}, elapsed=1.5)
    with pytest.raises(StoreError):
        r.batch_get([KEY], deadline=3.0)
    # At 1.5 s a 1 s attempt still fits a 3 s budget; at 3.0 s the third one does not.
    assert log == ["us-east-1", "eu-west-1"]


def test_unprocessed_keys_are_retried_once_then_fail() -> None:
    raw_key = {"pk": {"S": KEY[0]}, "sk": {"S": KEY[1]}}
    r, _, _, _ = reader({"us-east-1": [found(unprocessed=[raw_key]), found(ITEM)], "eu-west-1": []})
    assert r.batch_get([KEY], deadline=10) == {KEY: ITEM}
    r2, _, _, _ = reader(
        {
            "us-east-1": [found(unprocessed=[raw_key]), found(unprocessed=[raw_key])],
            "eu-west-1": [found(unprocessed=[raw_key]), found(unprocessed=[raw_key])],
        },
        attempts=2,
    )
    with pytest.raises(ThrottledError):
        r2.batch_get([KEY], deadline=10)


def test_clients_are_built_once_per_region() -> None:
    built: list[str] = []
    config = EdgeConfig(TABLE, ("us-east-1",))
    clock = FakeClock(0.0)

    def factory(region: str) -> ScriptedClient:
        built.append(region)
        return ScriptedClient(region, [found(), found()], [], clock)

    r = DynamoRouteReader(config, clock=clock, client_factory=factory, aws_region="us-east-1")
    r.batch_get([KEY], deadline=10)
    r.batch_get([KEY], deadline=10)
    assert built == ["us-east-1"]


def test_a_fetch_with_its_budget_spent_makes_no_call() -> None:
    r, log, _, _ = reader({"us-east-1": [found()], "eu-west-1": []})
    with pytest.raises(TableUnreachableError, match="budget"):
        r.batch_get([KEY], deadline=0.5)
    assert log == []
