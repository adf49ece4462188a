"""SDK clients, built once per process with explicit timeouts and retries.

botocore's defaults (legacy retries with 10 attempts for DynamoDB, 60 s connect and read
timeouts) can sleep for minutes; every client here states its budget instead. Endpoints,
region and credentials come from the standard AWS settings (``AWS_ENDPOINT_URL_DYNAMODB``,
``AWS_REGION``, ``AWS_PROFILE``...), which boto3 and aioboto3 read natively.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.config import Config

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Timeouts and retries of one SDK client. The control plane can afford a patient budget."""

    connect_timeout: float = 2.0
    read_timeout: float = 10.0
    max_attempts: int = 5
    max_pool_connections: int = 32

    def botocore_config(self) -> Config:
        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            max_pool_connections=self.max_pool_connections,
            tcp_keepalive=True,
        )


CONTROL_PLANE = ClientSettings()


def dynamodb_client(
    *,
    session: boto3.Session | None = None,
    settings: ClientSettings = CONTROL_PLANE,
    region_name: str | None = None,
) -> DynamoDBClient:
    """A sync DynamoDB client. Pass a session to pick a profile; the default one reads the env."""
    if session is None:
        import boto3

        session = boto3.Session()
    return session.client(
        "dynamodb", config=settings.botocore_config(), region_name=resolve_region(region_name)
    )


def resolve_region(explicit: str | None = None) -> str | None:
    """The region to give an SDK client: explicit, else ``AWS_REGION``, else None (boto3 then
    uses ``AWS_DEFAULT_REGION`` or the profile's region).

    botocore itself reads only AWS_DEFAULT_REGION, but ``AWS_REGION`` is the standard setting
    (the Lambda runtime, the AWS CLI and the other SDKs read it, and it wins over the profile).
    """
    return explicit or os.environ.get("AWS_REGION") or None


def aio_dynamodb_client(
    *,
    session: Any = None,
    settings: ClientSettings = CONTROL_PLANE,
    region_name: str | None = None,
) -> Any:
    """An aioboto3 client context manager: ``async with aio_dynamodb_client() as client``."""
    if session is None:
        import aioboto3

        session = aioboto3.Session()
    return session.client(
        "dynamodb", config=settings.botocore_config(), region_name=resolve_region(region_name)
    )
