"""Properties of the pure halves of target resolution, shared by the sync and async resolvers."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import given
from hypothesis import strategies as st

from routing_table.errors import InvalidTargetError
from routing_table.models import (
    AlbTarget,
    S3Target,
    alb_dns_from_reply,
    alb_error,
    bucket_region_from_head,
    with_answer,
)

ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/p/50dc6c495c0c9188"
dns = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}\.eu-west-1\.elb\.amazonaws\.com", fullmatch=True)
region = st.sampled_from(["us-east-1", "eu-west-2", "ap-southeast-2"])


def _client_error(code: str, headers: dict[str, str] | None = None) -> ClientError:
    response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPHeaders": headers or {}}}
    return ClientError(response, "Op")  # type: ignore[arg-type]


@given(dns)
def test_an_alb_reply_gives_its_dns_name_in_lowercase(name: str) -> None:
    reply = {"LoadBalancers": [{"DNSName": name}]}
    assert alb_dns_from_reply(ARN, reply) == name.lower()


@pytest.mark.parametrize("reply", [{}, {"LoadBalancers": []}, {"LoadBalancers": [{}]}])
def test_an_empty_alb_reply_is_no_such_load_balancer(reply: dict[str, object]) -> None:
    with pytest.raises(InvalidTargetError, match="no such load balancer"):
        alb_dns_from_reply(ARN, reply)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (_client_error("LoadBalancerNotFound"), "no such load balancer"),
        (_client_error("AccessDenied"), "ELBv2 DescribeLoadBalancers failed (AccessDenied)"),
        (EndpointConnectionError(endpoint_url="http://elb"), "ELBv2 could not be reached"),
    ],
)
def test_alb_errors_say_why(exc: Exception, reason: str) -> None:
    assert reason in str(alb_error(ARN, exc))


@given(region)
def test_the_bucket_region_comes_from_the_reply_or_a_refusal(name: str) -> None:
    headers = {"x-amz-bucket-region": name}
    assert bucket_region_from_head("b", {"ResponseMetadata": {"HTTPHeaders": headers}}) == name
    # S3 names the region even when it refuses access.
    assert bucket_region_from_head("b", _client_error("403", headers)) == name


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (_client_error("404"), "no such bucket"),
        (_client_error("SlowDown"), "S3 SlowDown"),
        (EndpointConnectionError(endpoint_url="http://s3"), "S3 could not be reached"),
        ({"ResponseMetadata": {"HTTPHeaders": {}}}, "add ?region="),
    ],
)
def test_a_bucket_region_that_cannot_be_known_says_why(answer: object, reason: str) -> None:
    with pytest.raises(InvalidTargetError, match=f"'s3://b': .*{reason.replace('?', '.')}"):
        bucket_region_from_head("b", answer)  # type: ignore[arg-type]


@given(dns, region)
def test_an_answer_fills_only_what_was_missing(name: str, where: str) -> None:
    alb = AlbTarget(arn=ARN, region="eu-west-1")
    assert with_answer(alb, name) == alb.model_copy(update={"dns_name": name})
    bucket = S3Target(bucket="site", key_prefix="v1")
    assert with_answer(bucket, where) == S3Target(bucket="site", key_prefix="v1", region=where)
