"""Model-based test of the lifecycle with a crash injected at every write.

Each rule runs an operation whose process 'dies' after ``crash_after`` writes (or never), then
recovers the way an operator or a control plane would: by running the same operation again.
After every step the table must satisfy the invariants (no orphan entries, no handle held by a
missing environment, every route owned by a live environment with its claim, no hostname owned
twice, every routed version's assets present and exactly its asset list), the audit must find
nothing, and the table must agree with the model.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from hostnames.pool_sync import HandlePool
from routing_table.core import keys
from routing_table.errors import EnvironmentNotFoundError, InvalidInputError
from tests.stateful.lifecycle_support import Driver, SimulatedCrash, check_invariants

ENV_IDS = ["e1", "e2", "p1"]  # "p*" take their handle from a pool
POOL = "team"
SERVICES = {"api": "https://api.internal", "web": "s3://bucket/site"}
VERSIONS = {
    "v1": ["index.html", "app.js", "img/logo.png"],
    "v2": ["index.html", "app.2.js"],
    "v3": ["index.html", "app.3.js", "img/logo.png"],
}
GRACE = 60.0 + 600.0
crashes = st.none() | st.integers(min_value=1, max_value=6)


class LifecycleMachine(RuleBasedStateMachine):
    """Drives one shell; ``shell`` is set per test (``machine_for``)."""

    driver: Driver
    shell = "sync"

    def __init__(self) -> None:
        super().__init__()
        self.driver = Driver(self.shell, f"routes-{uuid.uuid4().hex[:12]}")
        self.driver.create_table()
        HandlePool(self.driver.table, client=self.driver.raw).add(POOL, ["t1", "t2", "t3"])
        # env -> {"handle", "hostnames", "active": str|None, "previous": str|None}
        self.model: dict[str, dict[str, Any]] = {}

    def teardown(self) -> None:
        self.driver.raw.delete_table(TableName=self.driver.table)
        self.driver.close()

    def _attempt(self, crash_after: int | None, operation: Any, *args: Any, **kw: Any) -> Any:
        """Run once with the crash armed; if it 'died', run it again (recovery) unarmed."""
        self.driver.client.budget = crash_after
        try:
            return operation(*args, **kw)
        except SimulatedCrash:
            pass
        finally:
            self.driver.client.budget = None
        return operation(*args, **kw)

    @rule(env_id=st.sampled_from(ENV_IDS), crash_after=crashes)
    def create(self, env_id: str, crash_after: int | None) -> None:
        pool = POOL if env_id.startswith("p") else None
        record = self._attempt(
            crash_after,
            self.driver.create,
            env_id,
            app="portal",
            domain="example.com",
            services=SERVICES,
            pool=pool,
        )
        assert record.state == "active"
        assert set(record.hostnames) == set(SERVICES)
        known = self.model.get(env_id)
        if known is not None:  # converged to the same environment
            assert (record.handle, record.hostnames) == (known["handle"], known["hostnames"])
        else:
            self.model[env_id] = {
                "handle": record.handle,
                "hostnames": record.hostnames,
                "active": None,
                "previous": None,
            }

    @rule(env_id=st.sampled_from(ENV_IDS), crash_after=crashes)
    def delete(self, env_id: str, crash_after: int | None) -> None:
        self._attempt(crash_after, self.driver.delete, env_id)
        self.model.pop(env_id, None)

    @rule(
        env_id=st.sampled_from(ENV_IDS),
        version=st.sampled_from(sorted(VERSIONS)),
        crash_after=crashes,
    )
    def deploy(self, env_id: str, version: str, crash_after: int | None) -> None:
        known = self.model.get(env_id)
        try:
            self._attempt(
                crash_after,
                self.driver.deploy,
                env_id,
                "web",
                version,
                VERSIONS[version],
                source=f"s3://bucket/site/{version}",
            )
        except EnvironmentNotFoundError:
            assert known is None
            return
        except InvalidInputError:
            # A version that was live before is immutable: rollback or a new name.
            assert known is not None
            assert version not in {known["active"], None}
            return
        assert known is not None
        if known["active"] != version:
            known["previous"], known["active"] = known["active"], version

    @rule(env_id=st.sampled_from(ENV_IDS), crash_after=crashes)
    def rollback(self, env_id: str, crash_after: int | None) -> None:
        known = self.model.get(env_id)
        if known is None or known["previous"] is None:
            return
        target = known["previous"]
        result = self._attempt(crash_after, self.driver.rollback, env_id, "web", target)
        assert result.version == target
        known["previous"], known["active"] = known["active"], target

    @rule(env_id=st.sampled_from(ENV_IDS), port=st.sampled_from([8080, 9090]), crash_after=crashes)
    def reroute(self, env_id: str, port: int, crash_after: int | None) -> None:
        known = self.model.get(env_id)
        try:
            route = self._attempt(
                crash_after, self.driver.reroute, env_id, "api", f"http://api.internal:{port}"
            )
        except EnvironmentNotFoundError:
            assert known is None
            return
        assert route.port == port

    @rule(env_id=st.sampled_from(ENV_IDS), crash_after=crashes)
    def time_passes_and_gc(self, env_id: str, crash_after: int | None) -> None:
        self.driver.clock.advance(GRACE + 1)
        self._attempt(crash_after, self.driver.gc, env_id)

    @invariant()
    def table_is_consistent(self) -> None:
        items = self.driver.items()
        check_invariants(items)
        envs = {i["env_id"]["S"] for i in items if i["pk"]["S"].startswith(keys.ENV_PREFIX)}
        assert envs == set(self.model)
        report = self.driver.audit()
        assert report.findings == [], report.findings
        for env_id, known in self.model.items():
            self._check_routes(env_id, known, items)

    def _check_routes(self, env_id: str, known: dict[str, Any], items: list[Any]) -> None:
        web = keys.route_key(known["hostnames"]["web"], "/")
        route = next(i for i in items if (i["pk"]["S"], i["sk"]["S"]) == web)
        assert route.get("active_version", {}).get("S") == known["active"]
        if known["active"] is None:
            return
        partition = f"{keys.ASSET_PREFIX}{env_id}#web#{known['active']}#"
        served = {i["sk"]["S"] for i in items if i["pk"]["S"].startswith(partition)}
        assert served == set(VERSIONS[known["active"]])


def machine_for(shell: str) -> type[LifecycleMachine]:
    """The same machine, rules and invariants, over the sync or the async shell."""
    return type(f"{shell.title()}LifecycleMachine", (LifecycleMachine,), {"shell": shell})


def _run(max_examples: int, steps: int, shell: str = "sync") -> None:
    run_state_machine_as_test(
        machine_for(shell),
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_lifecycle_survives_crashes_on_moto(moto_dynamodb: str) -> None:
    _run(max_examples=25, steps=12)


@pytest.mark.dynamodb_local
def test_lifecycle_survives_crashes_on_dynamodb_local(dynamodb_local: str) -> None:
    _run(max_examples=4, steps=10)


# The async shell runs the same plans, so fewer examples suffice to hold its executor (awaited
# calls, TaskGroup-parallel batches, crashes inside a task) to the same model.
def test_async_lifecycle_survives_crashes_on_moto(moto_dynamodb: str) -> None:
    _run(max_examples=10, steps=12, shell="async")


@pytest.mark.dynamodb_local
def test_async_lifecycle_survives_crashes_on_dynamodb_local(dynamodb_local: str) -> None:
    _run(max_examples=3, steps=10, shell="async")
