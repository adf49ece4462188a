"""Race-safety of handle allocation against DynamoDB Local, with real threads and processes.

N allocators race for M < N handles, many times over with random sizes: exactly M win with M
distinct handles, N - M get the pool's exhaustion error, and the table itself (read
consistently, not the allocators' word) shows each winner holding exactly the handle it was
told, and no environment holding two.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import pytest

from hostnames.pool_plan import Allocation
from hostnames.pool_sync import HandlePool
from routing_table.clients import ClientSettings, dynamodb_client
from routing_table.errors import HandlePoolExhaustedError
from routing_table.schema import create_table

pytestmark = pytest.mark.dynamodb_local

TRIALS = 20
PROCESS_WORKERS = 6


@dataclass
class Outcome:
    winners: dict[str, str]  # env -> handle, as the allocators were told
    exhausted: int
    other_errors: list[BaseException]


@pytest.fixture
def client(dynamodb_local: str, table_name: str) -> Any:
    made = dynamodb_client(settings=ClientSettings(max_pool_connections=64))
    create_table(made, table_name, poll_interval=0.05)
    return made


def _held_in_table(client: Any, table: str, pool: str) -> dict[str, str]:
    """handle -> env for every held handle, read consistently from the pool's partition."""
    held: dict[str, str] = {}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :p AND begins_with(sk, :h)",
        "ExpressionAttributeValues": {":p": {"S": f"POOL#{pool}"}, ":h": {"S": "HANDLE#"}},
        "ConsistentRead": True,
    }
    while True:
        page = client.query(**kwargs)
        for item in page["Items"]:
            if "env_id" in item:
                held[item["handle"]["S"]] = item["env_id"]["S"]
        if "LastEvaluatedKey" not in page:
            return held
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _assert_race_outcome(
    outcome: Outcome, client: Any, table: str, pool: str, *, handles: int, racers: int
) -> None:
    assert outcome.other_errors == []
    assert len(outcome.winners) == handles
    assert len(set(outcome.winners.values())) == handles  # M distinct handles
    assert outcome.exhausted == racers - handles
    held = _held_in_table(client, table, pool)
    assert {env: h for h, env in held.items()} == outcome.winners  # nobody was told a lie
    assert len(set(held.values())) == len(held)  # no environment holds two handles


def _race_threads(pool_api: HandlePool, pool: str, envs: list[str]) -> Outcome:
    barrier = threading.Barrier(len(envs))

    def one(env: str) -> Allocation:
        barrier.wait()
        return pool_api.allocate(pool, env)

    outcome = Outcome({}, 0, [])
    with ThreadPoolExecutor(max_workers=len(envs)) as executor:
        futures = {env: executor.submit(one, env) for env in envs}
    for env, future in futures.items():
        exc = future.exception()
        if exc is None:
            outcome.winners[env] = future.result().handle
        elif isinstance(exc, HandlePoolExhaustedError) and "exhausted" in str(exc):
            outcome.exhausted += 1
        else:
            outcome.other_errors.append(exc)
    return outcome


def test_threads_racing_for_fewer_handles(client: Any, table_name: str) -> None:
    rng = random.Random(20240501)
    pool_api = HandlePool(table_name, client=client)
    for trial in range(TRIALS):
        handles = rng.randint(1, 8)
        racers = handles + rng.randint(1, 8)
        pool = f"race-{trial}"
        pool_api.add(pool, [f"h{n}" for n in range(handles)])
        outcome = _race_threads(pool_api, pool, [f"env-{trial}-{n}" for n in range(racers)])
        _assert_race_outcome(outcome, client, table_name, pool, handles=handles, racers=racers)


def test_threads_churning_never_share_a_handle(client: Any, table_name: str) -> None:
    """Allocate and release in a loop; a handle is never in two threads' hands at once."""
    pool_api = HandlePool(table_name, client=client)
    pool_api.add("churn", [f"h{n}" for n in range(4)])
    in_use: dict[str, str] = {}
    lock = threading.Lock()
    violations: list[str] = []
    exhausted = 0

    def worker(n: int) -> None:
        nonlocal exhausted
        env = f"churner-{n}"
        for _ in range(8):
            try:
                handle = pool_api.allocate("churn", env).handle
            except HandlePoolExhaustedError:
                with lock:
                    exhausted += 1
                continue
            with lock:
                if handle in in_use:
                    violations.append(f"{handle} held by {in_use[handle]} and {env}")
                in_use[handle] = env
            with lock:  # hand it back in our books before the table frees it
                del in_use[handle]
            assert pool_api.release("churn", env, require_absent=()).released

    with ThreadPoolExecutor(max_workers=8) as executor:
        for future in [executor.submit(worker, n) for n in range(8)]:
            future.result()
    assert violations == []
    assert _held_in_table(client, table_name, "churn") == {}
    assert len(pool_api.list_handles("churn")) == 4


def test_threads_drawing_the_same_random_handle(client: Any, table_name: str) -> None:
    """Every creator draws "samehdl" first: one keeps it, the others draw again."""
    racers = 8
    barrier = threading.Barrier(racers)

    def one(n: int) -> Allocation:
        chars = list("samehdl")
        rng = random.Random(n)
        api = HandlePool(
            table_name, client=client, choice=lambda a: chars.pop(0) if chars else rng.choice(a)
        )
        barrier.wait()
        return api.claim_random(f"env-{n}")

    with ThreadPoolExecutor(max_workers=racers) as executor:
        results = list(executor.map(one, range(racers)))
    assert sum(1 for r in results if r.handle == "samehdl") == 1
    assert len({r.handle for r in results}) == racers
    assert sorted(r.conflicts for r in results) == [0] + [1] * (racers - 1)


# ------------------------------------------------------------------ processes


def _process_worker(table: str, conn: Connection, start: Any) -> None:
    """A child allocator: its own interpreter and client (endpoint from the inherited
    AWS_ENDPOINT_URL_DYNAMODB), one allocation per message, in step with the others."""
    pool_api = HandlePool(table)
    while True:
        task = conn.recv()
        if task is None:
            return
        pool, env = task
        start.wait()
        try:
            conn.send(("won", pool_api.allocate(pool, env).handle))
        except HandlePoolExhaustedError as exc:
            conn.send(("exhausted", str(exc)))
        except Exception as exc:  # reported to the parent, which fails the test with it
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


@pytest.fixture
def workers(dynamodb_local: str, table_name: str, client: Any) -> Iterator[list[Connection]]:
    assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == dynamodb_local  # what children inherit
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(PROCESS_WORKERS)
    pipes = [ctx.Pipe() for _ in range(PROCESS_WORKERS)]
    procs = [
        ctx.Process(target=_process_worker, args=(table_name, child, start), daemon=True)
        for _, child in pipes
    ]
    for proc in procs:
        proc.start()
    yield [parent for parent, _ in pipes]
    for parent, _ in pipes:
        parent.send(None)
    for proc in procs:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()


def test_processes_racing_for_fewer_handles(
    client: Any, table_name: str, workers: list[Connection]
) -> None:
    rng = random.Random(7)
    pool_api = HandlePool(table_name, client=client)
    for trial in range(TRIALS):
        handles = rng.randint(1, PROCESS_WORKERS - 1)
        pool = f"proc-{trial}-{uuid.uuid4().hex[:6]}"
        pool_api.add(pool, [f"h{n}" for n in range(handles)])
        envs = [f"penv-{trial}-{n}" for n in range(PROCESS_WORKERS)]
        for conn, env in zip(workers, envs, strict=True):
            conn.send((pool, env))
        outcome = Outcome({}, 0, [])
        for conn, env in zip(workers, envs, strict=True):
            if not conn.poll(60):
                pytest.fail(f"worker for {env} did not answer within 60 s")
            kind, value = conn.recv()
            if kind == "won":
                outcome.winners[env] = value
            elif kind == "exhausted" and "exhausted" in value:
                outcome.exhausted += 1
            else:
                outcome.other_errors.append(RuntimeError(value))
        _assert_race_outcome(
            outcome, client, table_name, pool, handles=handles, racers=PROCESS_WORKERS
        )
