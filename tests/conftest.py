"""Shared fixtures: AWS settings isolated from the developer's account, DynamoDB Local, moto.

Backends are real servers on loopback reached through the standard ``AWS_ENDPOINT_URL_DYNAMODB``
setting, so sync (boto3) and async (aioboto3) code run unchanged against both:

* ``dynamodb_local``: AWS's own DynamoDB Local, one JVM per test session. If Java or the jar is
  missing the run FAILS with the reason; it never skips.
* ``moto_dynamodb``: moto's server, for fast unit-level checks.
* ``ddb_backend``: parametrised over both, for the contract suites.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings

from routing_table.local.dynamodb_local import DynamoDBLocal, DynamoDBLocalError

# Speed is measured in benchmarks/, never asserted in tests: no per-example deadline (a loaded
# 2-core CI machine would turn it into a flake). Failures print the blob that reproduces them.
settings.register_profile("project", deadline=None, print_blob=True)
settings.load_profile("project")

_ISOLATED_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_CLEARED = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3")


@pytest.fixture(scope="session", autouse=True)
def _isolated_aws_settings() -> Iterator[None]:
    """Tests never reach a real AWS account: fake credentials, fixed region, no endpoints."""
    saved = dict(os.environ)
    for name in _CLEARED:
        os.environ.pop(name, None)
    os.environ.update(_ISOLATED_ENV)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def dynamodb_local_server() -> Iterator[DynamoDBLocal]:
    try:
        server = DynamoDBLocal().start()
    except DynamoDBLocalError as exc:
        pytest.fail(f"DynamoDB Local is required for this test and could not start: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from routing_table.local.dynamodb_local import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def dynamodb_local(dynamodb_local_server: DynamoDBLocal, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point every DynamoDB client created in this test at DynamoDB Local; returns the URL."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local_server.endpoint_url)
    return dynamodb_local_server.endpoint_url


@pytest.fixture
def moto_dynamodb(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_server)
    return moto_server


@pytest.fixture
def moto_s3(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    return moto_server


@pytest.fixture(
    params=[
        pytest.param("moto", id="moto"),
        pytest.param("dynamodb_local", id="ddblocal", marks=pytest.mark.dynamodb_local),
    ]
)
def ddb_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Contract-suite backend: the name of the backend now behind AWS_ENDPOINT_URL_DYNAMODB."""
    name: str = request.param
    if name == "moto":
        url: str = request.getfixturevalue("moto_server")
    else:
        url = request.getfixturevalue("dynamodb_local_server").endpoint_url
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", url)
    return name


@pytest.fixture
def table_name() -> str:
    """A fresh table name per test (DynamoDB Local wants 3+ characters)."""
    return f"routes-{uuid.uuid4().hex[:12]}"
