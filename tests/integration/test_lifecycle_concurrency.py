"""20 environments created, deployed and deleted in parallel threads against DynamoDB Local.

Every environment must get its own handle and hostnames, every deploy must land, and once all
are deleted the table must hold nothing but the pool's (free) handles.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from hostnames.pool_sync import HandlePool
from routing_table.core import keys
from tests.stateful.lifecycle_support import Driver, check_invariants

ENVS = 20
SERVICES = {"api": "https://api.internal", "web": "s3://bucket/site"}


def _life(driver: Driver, n: int) -> tuple[str, dict[str, str]]:
    env_id = f"pr-{n}"
    pool = "team" if n % 2 else None  # half from a pool, half random
    record = driver.create(env_id, app="portal", domain="example.com", services=SERVICES, pool=pool)
    for version in ("v1", "v2"):
        paths = [f"{version}/chunk-{i}.js" for i in range(60)] + ["index.html"]
        driver.deploy(env_id, "web", version, paths, source=f"s3://bucket/site/{version}")
    return record.handle, record.hostnames


@pytest.mark.dynamodb_local
def test_twenty_environments_in_parallel(dynamodb_local: str, table_name: str) -> None:
    driver = Driver("sync", table_name)
    driver.create_table()
    HandlePool(table_name, client=driver.raw).add("team", [f"t{i}" for i in range(ENVS)])
    with ThreadPoolExecutor(max_workers=ENVS) as pool:
        lives = list(pool.map(lambda n: _life(driver, n), range(ENVS)))
    handles = [handle for handle, _ in lives]
    hosts = [h for _, names in lives for h in names.values()]
    assert len(set(handles)) == ENVS
    assert len(set(hosts)) == 2 * ENVS
    items = driver.items()
    check_invariants(items)
    assert driver.audit().findings == []
    with ThreadPoolExecutor(max_workers=ENVS) as pool:
        results = list(pool.map(lambda n: driver.delete(f"pr-{n}"), range(ENVS)))
    assert all(r.existed for r in results)
    left = driver.items()
    assert all(i["pk"]["S"].startswith(keys.POOL_PREFIX) for i in left)
    assert not any("env_id" in i for i in left)  # every pool handle is free again
    driver.close()
