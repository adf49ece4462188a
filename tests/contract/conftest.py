"""The store's contract harness: one suite, run against both backends and both shells.

``shell`` is parametrised over the sync (boto3) and async (aioboto3) repositories and
``ddb_backend`` (tests/conftest.py) over moto's server and DynamoDB Local. Tests are written
once against ``contract.harness.Shell``, which drives the async store on its own event loop,
so the two shells are held to exactly the same assertions.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.harness import Shell


@pytest.fixture(params=["sync", "async"])
def shell(request: pytest.FixtureRequest, ddb_backend: str, table_name: str) -> Iterator[Shell]:
    """A store of each shell over a fresh, created table on each backend."""
    harness = Shell(request.param, table_name)
    try:
        harness.create_table()
        harness.calls.clear()
        harness.sleeps.clear()
        yield harness
    finally:
        harness.close()
