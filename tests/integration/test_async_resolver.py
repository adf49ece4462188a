"""Write-time target resolution, sync (boto3) and async (aioboto3), on moto's server.

ELBv2 and EC2 reach the server through the standard ``AWS_ENDPOINT_URL``; S3 through
``AWS_ENDPOINT_URL_S3`` (``moto_s3``). Both resolvers must give the same answers and the same
errors, and ``AsyncEnvironments`` must write the same routes with either kind of resolver.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

from routing_table.errors import InvalidTargetError
from routing_table.models import (
    AsyncAwsTargetResolver,
    AwsTargetResolver,
    is_async_resolver,
)
from tests.stateful.lifecycle_support import Driver

if TYPE_CHECKING:
    from mypy_boto3_s3.literals import BucketLocationConstraintType

REGION = "eu-west-1"


@pytest.fixture
def aws(moto_server: str, moto_s3: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


def _create_alb() -> tuple[str, str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((1, "a"), (2, "b"))
    ]
    elbv2 = boto3.client("elbv2", region_name=REGION)
    name = f"preview-{uuid.uuid4().hex[:8]}"  # the server outlives the test: unique names
    balancer = elbv2.create_load_balancer(Name=name, Subnets=subnets, Type="application")
    found = balancer["LoadBalancers"][0]
    return found["LoadBalancerArn"], found["DNSName"]


def _bucket(region: BucketLocationConstraintType) -> str:
    name = f"site-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", region_name="us-east-1").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}
    )
    return name


def _both(ask: Callable[[Any], Any], config: Config | None = None) -> tuple[Any, Any]:
    """The answer (or error message) of the sync resolver, then of the async one."""

    def outcome(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except InvalidTargetError as exc:
            return f"error: {exc}"

    sync = outcome(lambda: ask(AwsTargetResolver(config=config)))
    aio = outcome(lambda: asyncio.run(ask(AsyncAwsTargetResolver(config=config))))
    return sync, aio


@pytest.mark.usefixtures("aws")
def test_both_resolvers_name_the_same_alb() -> None:
    arn, dns = _create_alb()
    assert _both(lambda r: r.alb_dns_name(arn, REGION)) == (dns.lower(), dns.lower())
    missing = arn.rsplit("/", 1)[0] + "/0123456789abcdef"
    sync, aio = _both(lambda r: r.alb_dns_name(missing, REGION))
    assert sync == aio == f"error: invalid target {missing!r}: no such load balancer"


@pytest.mark.usefixtures("aws")
def test_both_resolvers_ask_s3_for_the_same_region() -> None:
    bucket = _bucket("eu-west-2")
    assert _both(lambda r: r.bucket_region(bucket)) == ("eu-west-2", "eu-west-2")
    absent = f"absent-{uuid.uuid4().hex[:12]}"
    sync, aio = _both(lambda r: r.bucket_region(absent))
    assert sync == aio == f"error: invalid target 's3://{absent}': no such bucket"


def test_both_resolvers_say_when_s3_cannot_be_reached(
    moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from routing_table.local.dynamodb_local import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    once = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=1)
    sync, aio = _both(lambda r: r.bucket_region("some-bucket"), once)
    for message in (sync, aio):
        assert message.startswith(
            "error: invalid target 's3://some-bucket': S3 could not be reached"
        )


@pytest.mark.usefixtures("aws")
def test_the_async_resolver_answers_from_its_cache() -> None:
    bucket = _bucket("eu-west-3")
    resolver = AsyncAwsTargetResolver()

    async def twice() -> tuple[str, str]:
        first = await resolver.bucket_region(bucket)
        boto3.client("s3").delete_bucket(Bucket=bucket)  # a second HeadBucket would fail
        return first, await resolver.bucket_region(bucket)

    assert asyncio.run(twice()) == ("eu-west-3", "eu-west-3")


def test_resolvers_are_told_apart_by_their_methods() -> None:
    assert is_async_resolver(AsyncAwsTargetResolver(session=object()))
    assert not is_async_resolver(AwsTargetResolver())


# --- create and reroute through both shells ---------------------------------------------------


@pytest.fixture(
    params=[("sync", "sync"), ("async", "async"), ("async", "sync")],
    ids=["sync-shell", "async-shell", "async-shell-sync-resolver"],
)
def driver(
    request: pytest.FixtureRequest, aws: str, ddb_backend: str, table_name: str
) -> Iterator[Driver]:
    shell, resolver_kind = request.param
    resolver = AsyncAwsTargetResolver() if resolver_kind == "async" else AwsTargetResolver()
    envs = Driver(shell, table_name, resolver=resolver)
    envs.create_table()
    yield envs
    envs.close()


def test_create_and_reroute_resolve_their_targets(driver: Driver) -> None:
    arn, dns = _create_alb()
    bucket = _bucket("eu-west-2")
    record = driver.create(
        "pr-1",
        app="portal",
        domain="example.com",
        services={"api": "https://api.internal", "web": f"s3://{bucket}/site"},
    )
    web = driver.show("pr-1").routes["web"]
    assert web.host == record.hostnames["web"]
    assert (web.bucket, web.bucket_region, web.key_prefix) == (bucket, "eu-west-2", "site")
    moved = driver.reroute("pr-1", "api", arn)
    assert (moved.kind, moved.domain, moved.target) == ("custom", dns.lower(), arn)
    with pytest.raises(InvalidTargetError, match="no such load balancer"):
        driver.reroute("pr-1", "api", arn.rsplit("/", 1)[0] + "/0123456789abcdef")
    assert (
        driver.show("pr-1").routes["api"].domain == dns.lower()
    )  # a refused reroute changed nothing
