"""SDK client construction: AWS_REGION is honoured although botocore reads only
AWS_DEFAULT_REGION, and every client states its timeouts and retries."""

from __future__ import annotations

from typing import Any

import pytest

from routing_table.clients import CONTROL_PLANE, ClientSettings, dynamodb_client, resolve_region


def test_aws_region_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert dynamodb_client().meta.region_name == "eu-west-3"


def test_aws_region_wins_over_aws_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert resolve_region() == "ap-south-1"
    assert resolve_region("sa-east-1") == "sa-east-1"


def test_default_region_is_left_to_boto3_without_aws_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert resolve_region() is None
    assert dynamodb_client().meta.region_name == "us-west-2"


def test_client_budget_is_explicit() -> None:
    settings = ClientSettings(connect_timeout=0.5, read_timeout=1.5, max_attempts=2)
    # botocore.config.Config sets its options as attributes the stubs don't declare.
    config: Any = dynamodb_client(settings=settings).meta.config
    assert config.connect_timeout == 0.5
    assert config.read_timeout == 1.5
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert config.tcp_keepalive is True
    control_plane: Any = CONTROL_PLANE.botocore_config()
    assert control_plane.retries["mode"] == "standard"
