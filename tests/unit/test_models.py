"""Targets and routes: parsing rules, error messages, and the round trip to the stored record."""

from __future__ import annotations

import string
from collections.abc import Iterator

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from routing_table.core.records import RouteRecord
from routing_table.errors import InvalidHostError, InvalidInputError, InvalidTargetError
from routing_table.models import (
    AlbTarget,
    AwsTargetResolver,
    HttpTarget,
    Route,
    S3Target,
    parse_target,
    resolve_target,
    validate_bucket,
)

ARN = (
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/preview/50dc6c495c0c9188"
)


class FakeResolver:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def alb_dns_name(self, arn: str, region: str) -> str:
        self.calls.append(arn)
        return "preview-1.eu-west-1.elb.amazonaws.com"

    def bucket_region(self, bucket: str) -> str:
        self.calls.append(bucket)
        return "eu-central-1"


# --- S3 --------------------------------------------------------------------------------------


def test_s3_target_with_prefix_and_region() -> None:
    target = parse_target("s3://my-bucket/sites/app/?region=eu-west-1")
    assert target == S3Target(bucket="my-bucket", key_prefix="sites/app", region="eu-west-1")
    assert str(target) == "s3://my-bucket/sites/app"


def test_s3_target_without_prefix() -> None:
    assert parse_target("s3://my.bucket") == S3Target(bucket="my.bucket")


@pytest.mark.parametrize(
    ("bucket", "reason"),
    [
        ("ab", "3-63 characters"),
        ("a" * 64, "3-63 characters"),
        ("My-Bucket", "lowercase"),
        ("-bucket", "start and end"),
        ("bucket-", "start and end"),
        ("my_bucket", "lowercase"),
        ("my..bucket", "adjacent periods"),
        ("192.168.5.4", "IP address"),
        ("xn--bucket", "'xn--'"),
        ("sthree-bucket", "'sthree-'"),
        ("amzn-s3-demo-bucket", "'amzn-s3-demo-'"),
        ("bucket-s3alias", "'-s3alias'"),
        ("bucket--ol-s3", "'--ol-s3'"),
        ("bucket.mrap", "'.mrap'"),
        ("bucket--x-s3", "'--x-s3'"),
        ("bucket--table-s3", "'--table-s3'"),
    ],
)
def test_bucket_naming_rules(bucket: str, reason: str) -> None:
    with pytest.raises(InvalidTargetError, match=reason):
        parse_target(f"s3://{bucket}/x")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("s3://bucket/a/../b", r"'\.' or '\.\.'"),
        ("s3://bucket/x?versionId=1", "unknown parameter"),
        ("s3://bucket/x?region=mars", "not an AWS region"),
        ("s3://bucket/x#frag", "fragment"),
        ("s3://bucket/" + "k" * 300, "longer than"),
    ],
)
def test_bad_s3_targets(raw: str, reason: str) -> None:
    with pytest.raises(InvalidTargetError, match=reason):
        parse_target(raw)


_bucket_chars = string.ascii_lowercase + string.digits
valid_buckets = st.from_regex(r"[a-z0-9][a-z0-9-]{1,40}[a-z0-9]", fullmatch=True).filter(
    lambda b: (
        not b.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        and not b.endswith(("-s3alias", "--ol-s3", "--x-s3", "--table-s3"))
    )
)


@given(valid_buckets)
def test_valid_bucket_names_are_accepted(bucket: str) -> None:
    assert validate_bucket(bucket) == bucket


@given(st.text(min_size=1, max_size=70))
def test_bucket_validation_accepts_only_the_allowed_alphabet(name: str) -> None:
    try:
        validate_bucket(name)
    except InvalidTargetError:
        return
    assert 3 <= len(name) <= 63
    assert set(name) <= set(_bucket_chars + ".-")
    assert name[0] in _bucket_chars
    assert name[-1] in _bucket_chars


@given(valid_buckets, st.lists(st.from_regex(r"[a-z0-9_-]{1,10}", fullmatch=True), max_size=4))
def test_s3_target_string_round_trips(bucket: str, segments: list[str]) -> None:
    target = parse_target(f"s3://{bucket}/{'/'.join(segments)}")
    assert parse_target(str(target)) == target


# --- http(s) ---------------------------------------------------------------------------------


def _http(protocol: str, host: str, port: int) -> HttpTarget:
    return HttpTarget(protocol="https" if protocol == "https" else "http", host=host, port=port)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://app.example.com", _http("https", "app.example.com", 443)),
        ("HTTPS://App.Example.com/", _http("https", "app.example.com", 443)),
        ("http://localhost:8080", _http("http", "localhost", 8080)),
        ("http://origin.example.com", _http("http", "origin.example.com", 80)),
        ("https://a.example.com:8443", _http("https", "a.example.com", 8443)),
    ],
)
def test_http_targets(raw: str, expected: HttpTarget) -> None:
    assert parse_target(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("https://a.example.com/app", "takes no path"),
        ("https://a.example.com?x=1", "no query"),
        ("https://user:pw@a.example.com", "credentials"),
        ("https://10.0.0.1", "IP literal"),
        ("https://[::1]:8080", "IP literal"),
        ("https://a.example.com:99999", "port"),
        ("https://a.example.com:22", "1024-65535"),
        ("https://*.example.com", "wildcard"),
        ("https://bad_host.example.com", "labels"),
        ("ftp://a.example.com", "unsupported scheme"),
        ("a.example.com", "expected s3://"),
        ("", "expected s3://"),
    ],
)
def test_bad_http_targets(raw: str, reason: str) -> None:
    with pytest.raises(InvalidTargetError, match=reason):
        parse_target(raw)


@given(
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z][a-z0-9]{0,10}){1,3}", fullmatch=True),
    st.one_of(st.just(None), st.integers(1024, 65535), st.sampled_from([80, 443])),
)
def test_http_target_string_round_trips(protocol: str, host: str, port: int | None) -> None:
    raw = f"{protocol}://{host}" + (f":{port}" if port else "")
    target = parse_target(raw)
    assert parse_target(str(target)) == target


# --- ALB ARNs --------------------------------------------------------------------------------


def test_alb_arn_is_parsed_with_its_region() -> None:
    assert parse_target(ARN) == AlbTarget(arn=ARN, region="eu-west-1")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (ARN.replace("app/", "net/"), "only Application Load Balancers"),
        (ARN.replace("123456789012", "1234"), "expected arn:aws:elasticloadbalancing"),
        ("arn:aws:s3:::bucket", "expected arn:aws:elasticloadbalancing"),
        (ARN + "/listener", "expected arn:aws:elasticloadbalancing"),
    ],
)
def test_bad_alb_arns(raw: str, reason: str) -> None:
    with pytest.raises(InvalidTargetError, match=reason):
        parse_target(raw)


def test_resolution_fills_dns_name_and_bucket_region() -> None:
    resolver = FakeResolver()
    alb = resolve_target(parse_target(ARN), resolver)
    assert isinstance(alb, AlbTarget)
    assert alb.dns_name == "preview-1.eu-west-1.elb.amazonaws.com"
    s3 = resolve_target(parse_target("s3://bucket-a/x"), resolver)
    assert isinstance(s3, S3Target)
    assert s3.region == "eu-central-1"
    # Already resolved targets are not looked up again.
    resolve_target(parse_target("s3://bucket-b/x?region=us-east-1"), resolver)
    assert resolver.calls == [ARN, "bucket-a"]


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def _create_alb(region: str) -> tuple[str, str]:
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{region}{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((1, "a"), (2, "b"))
    ]
    elbv2 = boto3.client("elbv2", region_name=region)
    lb = elbv2.create_load_balancer(Name="preview", Subnets=subnets, Type="application")
    balancer = lb["LoadBalancers"][0]
    return balancer["LoadBalancerArn"], balancer["DNSName"]


@pytest.mark.usefixtures("aws")
def test_aws_resolver_resolves_an_alb_through_elbv2() -> None:
    arn, dns = _create_alb("eu-west-1")
    route = Route.parse(host="app.example.com", target=arn).resolved(AwsTargetResolver())
    record = route.to_record()
    assert record.domain == dns.lower()
    assert record.target == arn
    assert record.kind == "custom"
    assert (record.protocol, record.port) == ("https", 443)


@pytest.mark.usefixtures("aws")
def test_aws_resolver_names_a_missing_alb() -> None:
    _create_alb("eu-west-1")
    missing = ARN.replace("preview", "gone")
    with pytest.raises(InvalidTargetError, match="no such load balancer"):
        Route.parse(host="app.example.com", target=missing).resolved(AwsTargetResolver())


@pytest.mark.usefixtures("aws")
def test_aws_resolver_asks_s3_for_the_bucket_region() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(
        Bucket="site-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    route = Route.parse(host="a.example.com", target="s3://site-bucket/v1")
    assert route.resolved(AwsTargetResolver()).to_record().bucket_region == "eu-west-2"
    with pytest.raises(InvalidTargetError, match="no such bucket"):
        Route.parse(host="a.example.com", target="s3://absent-bucket").resolved(AwsTargetResolver())


# --- routes ----------------------------------------------------------------------------------


def test_route_normalises_host_and_prefix() -> None:
    route = Route.parse(host="App.Example.COM.", prefix="api//v1/", target="https://o.example.com")
    assert (route.host, route.prefix) == ("app.example.com", "/api/v1")


def test_route_errors_are_the_projects_own() -> None:
    with pytest.raises(InvalidHostError, match="invalid host"):
        Route.parse(host="bad_host", target="https://o.example.com")
    with pytest.raises(InvalidTargetError, match="bucket name"):
        Route.parse(host="a.example.com", target="s3://A")
    with pytest.raises(InvalidInputError, match="invalid owner"):
        Route.parse(host="a.example.com", target="https://o.example.com", owner="a#b")


def test_unresolved_target_cannot_be_stored() -> None:
    with pytest.raises(InvalidTargetError, match="not resolved"):
        Route.parse(host="a.example.com", target=ARN).to_record()


@pytest.mark.parametrize(
    "target",
    [
        "s3://site-bucket/app/v1?region=eu-west-1",
        "s3://site-bucket?region=us-east-1",
        "https://origin.example.com:8443",
        "http://localhost:3000",
        ARN,
    ],
)
def test_route_record_round_trip(target: str) -> None:
    route = Route.parse(
        host="*.preview.example.com",
        prefix="/api",
        target=target,
        owner="env-42",
        strip_prefix=True,
    ).resolved(FakeResolver())
    record = route.to_record()
    assert isinstance(record, RouteRecord)
    assert Route.from_record(record) == route
    assert Route.from_record(record).to_record() == record
