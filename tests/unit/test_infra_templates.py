"""The CloudFormation templates: lint-clean, the table identical to ``edge-router table create``,
and the edge stack holding the properties the router's correctness rests on."""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from edge_router.packaging import HANDLER_MODULE
from routing_table.core import keys
from routing_table.schema import table_definition

INFRA = Path(__file__).resolve().parents[2] / "infra"
TEMPLATES = sorted(INFRA.glob("*.yaml"))
LAMBDA_EDGE_PYTHON_RUNTIMES = {"python3.12", "python3.13"}


class _CfnLoader(yaml.SafeLoader):
    """Safe YAML loader that turns CloudFormation short tags into their long form."""


def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _short_tag)


@cache
def template(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((INFRA / name).read_text(), Loader=_CfnLoader)
    return loaded


def resources(name: str, type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template(name)["Resources"].items() if v["Type"] == type_}


def only(name: str, type_: str) -> dict[str, Any]:
    found = list(resources(name, type_).values())
    assert len(found) == 1, f"{name} should hold exactly one {type_}"
    props: dict[str, Any] = found[0]["Properties"]
    return props


# --- lint ------------------------------------------------------------------------------------


def test_templates_exist() -> None:
    assert {t.name for t in TEMPLATES} >= {"table.yaml", "edge.yaml"}


def test_every_template_is_cfn_lint_clean() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), *map(str, TEMPLATES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- table stack -----------------------------------------------------------------------------


def _by_name(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


def test_table_keys_and_indexes_match_table_create() -> None:
    expected = table_definition("routes")
    actual = only("table.yaml", "AWS::DynamoDB::GlobalTable")
    assert actual["KeySchema"] == expected["KeySchema"]
    assert _by_name(actual["AttributeDefinitions"], "AttributeName") == _by_name(
        expected["AttributeDefinitions"], "AttributeName"
    )
    assert _by_name(actual["GlobalSecondaryIndexes"], "IndexName") == _by_name(
        expected["GlobalSecondaryIndexes"], "IndexName"
    )
    assert actual["BillingMode"] == expected["BillingMode"] == "PAY_PER_REQUEST"


def test_table_uses_the_key_layout_names() -> None:
    indexes = only("table.yaml", "AWS::DynamoDB::GlobalTable")["GlobalSecondaryIndexes"]
    assert {i["IndexName"] for i in indexes} == {keys.GSI_BY_OWNER, keys.GSI_BY_LIST}


def _replica_specs() -> list[dict[str, Any]]:
    """Every replica slot, unwrapping the ``Fn::If`` around the optional ones."""
    specs = []
    for entry in only("table.yaml", "AWS::DynamoDB::GlobalTable")["Replicas"]:
        specs.append(entry["Fn::If"][1] if "Fn::If" in entry else entry)
    return specs


def test_every_replica_has_pitr_and_deletion_protection() -> None:
    specs = _replica_specs()
    assert specs[0]["Region"] == {"Ref": "AWS::Region"}
    for spec in specs:
        assert spec["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert spec["DeletionProtectionEnabled"] is True


def test_table_is_encrypted_streamed_and_retained() -> None:
    table = next(iter(resources("table.yaml", "AWS::DynamoDB::GlobalTable").values()))
    props = table["Properties"]
    assert props["SSESpecification"]["SSEEnabled"] is True
    # Replication needs the stream as soon as there is a second replica.
    assert props["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_control_plane_writes_only_in_the_primary_region() -> None:
    policy = only("table.yaml", "AWS::IAM::ManagedPolicy")["PolicyDocument"]
    (statement,) = policy["Statement"]
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= set(
        statement["Action"]
    )
    for resource in statement["Resource"]:
        assert ":dynamodb:${AWS::Region}:" in resource["Fn::Sub"]
        assert "table/${TableName}" in resource["Fn::Sub"]


# The replica slots are computed by CloudFormation intrinsics; this evaluates the few the
# template uses, so the padding trick is checked for every list the parameter accepts.
def _evaluate(node: Any, params: dict[str, str], conditions: dict[str, bool]) -> Any:
    if not isinstance(node, dict):
        return node
    ((fn, arg),) = node.items()
    if fn == "Ref":
        return params[arg]
    if fn == "Condition":
        return conditions[arg]
    if fn == "Fn::Sub":
        return re.sub(r"\$\{(\w+)\}", lambda m: params[m.group(1)], arg)
    args = [_evaluate(a, params, conditions) for a in arg]
    if fn == "Fn::Split":
        return args[1].split(args[0])
    if fn == "Fn::Select":
        return args[1][int(args[0])]
    if fn == "Fn::Equals":
        return args[0] == args[1]
    if fn == "Fn::Not":
        return not args[0]
    raise AssertionError(f"intrinsic {fn} not modelled")


def _replica_regions(replica_param: str) -> list[str]:
    params = {"ReplicaRegions": replica_param, "AWS::Region": "us-east-1"}
    conditions: dict[str, bool] = {}
    for name, expr in template("table.yaml")["Conditions"].items():
        conditions[name] = _evaluate(expr, params, conditions)
    regions = []
    for entry in only("table.yaml", "AWS::DynamoDB::GlobalTable")["Replicas"][1:]:
        condition, spec, _ = entry["Fn::If"]
        if conditions[condition]:
            regions.append(_evaluate(spec["Region"], params, conditions))
    return regions


_REGION = st.from_regex(r"[a-z]{2}-(west|east|central|south|southeast)-[1-9]", fullmatch=True)


@given(st.lists(_REGION, min_size=0, max_size=5, unique=True))
def test_replica_parameter_yields_exactly_the_listed_regions(regions: list[str]) -> None:
    value = ",".join(regions)
    pattern = template("table.yaml")["Parameters"]["ReplicaRegions"]["AllowedPattern"]
    assert re.fullmatch(pattern, value)
    assert _replica_regions(value) == regions


@given(st.lists(_REGION, min_size=6, max_size=8))
def test_replica_parameter_rejects_more_slots_than_the_template_has(regions: list[str]) -> None:
    pattern = template("table.yaml")["Parameters"]["ReplicaRegions"]["AllowedPattern"]
    assert re.fullmatch(pattern, ",".join(regions)) is None


@pytest.mark.parametrize("bad", ["eu-west-1, us-east-2", "EU-WEST-1", "eu-west-1,", ",eu-west-1"])
def test_replica_parameter_rejects_malformed_lists(bad: str) -> None:
    pattern = template("table.yaml")["Parameters"]["ReplicaRegions"]["AllowedPattern"]
    assert re.fullmatch(pattern, bad) is None


# --- edge stack ------------------------------------------------------------------------------


def test_edge_stack_refuses_any_region_but_us_east_1() -> None:
    (rule,) = template("edge.yaml")["Rules"].values()
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}


def test_role_trusts_lambda_and_edgelambda() -> None:
    role = only("edge.yaml", "AWS::IAM::Role")
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert set(statement["Principal"]["Service"]) == {
        "lambda.amazonaws.com",
        "edgelambda.amazonaws.com",
    }


def _role_statements() -> list[dict[str, Any]]:
    role = only("edge.yaml", "AWS::IAM::Role")
    return [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]


def test_role_reads_the_table_and_nothing_else() -> None:
    (ddb,) = [s for s in _role_statements() if s["Action"][0].startswith("dynamodb:")]
    assert set(ddb["Action"]) == {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
    subs = [r["Fn::Sub"] for r in ddb["Resource"]]
    assert all(s.endswith(("table/${TableName}", "table/${TableName}/index/*")) for s in subs)
    assert ddb["Condition"]["StringEquals"]["aws:RequestedRegion"] == {
        "Fn::Split": [",", {"Ref": "TableRegions"}]
    }
    for statement in _role_statements():
        assert all("*" not in action for action in statement["Action"])


def test_role_writes_logs_where_lambda_at_edge_puts_them() -> None:
    (logs,) = [s for s in _role_statements() if s["Action"][0].startswith("logs:")]
    subs = [r["Fn::Sub"] for r in logs["Resource"]]
    assert (
        "arn:${AWS::Partition}:logs:*:${AWS::AccountId}:log-group:/aws/lambda/us-east-1."
        "${FunctionName}:*" in subs
    )


def test_function_fits_lambda_at_edge() -> None:
    function = only("edge.yaml", "AWS::Lambda::Function")
    params = template("edge.yaml")["Parameters"]
    assert function["Runtime"] in LAMBDA_EDGE_PYTHON_RUNTIMES
    assert function["Handler"] == f"{HANDLER_MODULE}.handler"
    assert function["Architectures"] == ["x86_64"]
    assert "Environment" not in function  # Lambda@Edge rejects environment variables
    assert "Layers" not in function
    assert params["Timeout"]["MaxValue"] <= 30
    assert params[function["Timeout"]["Ref"]]["Default"] <= 30
    assert set(function["Code"]) == {"S3Bucket", "S3Key"}


def test_version_is_pinned_to_the_code_hash_and_retained() -> None:
    (version,) = resources("edge.yaml", "AWS::Lambda::Version").values()
    assert version["Properties"]["CodeSha256"] == {"Ref": "CodeSha256"}
    assert version["DeletionPolicy"] == version["UpdateReplacePolicy"] == "Retain"


def _distribution() -> dict[str, Any]:
    config: dict[str, Any] = only("edge.yaml", "AWS::CloudFront::Distribution")[
        "DistributionConfig"
    ]
    return config


def test_distribution_associates_the_version_at_origin_request() -> None:
    behaviour = _distribution()["DefaultCacheBehavior"]
    (association,) = behaviour["LambdaFunctionAssociations"]
    (version_name,) = resources("edge.yaml", "AWS::Lambda::Version")
    assert association["EventType"] == "origin-request"
    assert association["LambdaFunctionARN"] == {"Ref": version_name}
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"


def test_distribution_serves_the_wildcard_over_http2_and_http3() -> None:
    config = _distribution()
    assert config["Aliases"] == [{"Fn::Sub": "*.${Domain}"}]
    assert config["HttpVersion"] == "http2and3"
    assert config["ViewerCertificate"]["AcmCertificateArn"] == {"Ref": "CertificateArn"}
    assert config["ViewerCertificate"]["SslSupportMethod"] == "sni-only"


def test_default_origin_is_a_custom_placeholder() -> None:
    (origin,) = _distribution()["Origins"]
    assert "CustomOriginConfig" in origin
    assert "S3OriginConfig" not in origin
    assert origin["DomainName"] == {"Ref": "PlaceholderOriginDomain"}


def test_cache_key_includes_host_and_query_string() -> None:
    config = only("edge.yaml", "AWS::CloudFront::CachePolicy")["CachePolicyConfig"]
    key = config["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["HeadersConfig"]["HeaderBehavior"] == "whitelist"
    assert "Host" in key["HeadersConfig"]["Headers"]
    assert key["QueryStringsConfig"]["QueryStringBehavior"] == "all"
    behaviour = _distribution()["DefaultCacheBehavior"]
    (policy_name,) = resources("edge.yaml", "AWS::CloudFront::CachePolicy")
    assert behaviour["CachePolicyId"] == {"Ref": policy_name}


def test_origin_request_policy_forwards_what_an_ingress_needs() -> None:
    config = only("edge.yaml", "AWS::CloudFront::OriginRequestPolicy")["OriginRequestPolicyConfig"]
    assert config["HeadersConfig"]["HeaderBehavior"] in {
        "allViewer",
        "allViewerAndWhitelistCloudFront",
    }
    assert config["CookiesConfig"]["CookieBehavior"] == "all"
    assert config["QueryStringsConfig"]["QueryStringBehavior"] == "all"


def test_wildcard_records_alias_the_distribution() -> None:
    records = resources("edge.yaml", "AWS::Route53::RecordSet").values()
    assert {r["Properties"]["Type"] for r in records} == {"A", "AAAA"}
    for record in records:
        props = record["Properties"]
        assert props["Name"] == {"Fn::Sub": "*.${Domain}."}
        assert props["HostedZoneId"] == {"Ref": "HostedZoneId"}
        assert props["AliasTarget"]["HostedZoneId"] == "Z2FDTNDATAQYW2"
