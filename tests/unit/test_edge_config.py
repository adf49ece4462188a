"""The baked edge configuration: loading, validation without pydantic, the latency budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_router.config import (
    CONFIG_ENV,
    DEFAULT_PATH,
    MAX_BUDGET_SECONDS,
    EdgeConfig,
    OriginVerifyHeader,
    load_config,
)
from routing_table.errors import ConfigurationError


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "edge_config.json"
    path.write_text(json.dumps(data))
    return path


def test_baked_default_is_valid_and_round_trips() -> None:
    config = load_config(DEFAULT_PATH)
    assert EdgeConfig.from_dict(config.to_dict()) == config
    assert config.worst_case_seconds <= 5.0


def test_env_var_names_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, {"table_name": "local-routes", "regions": ["eu-west-1"]})
    monkeypatch.setenv(CONFIG_ENV, str(path))
    config = load_config()
    assert config.table_name == "local-routes"
    assert config.regions == ("eu-west-1",)
    assert config.cache_ttl_seconds == 60


def test_full_config_is_parsed(tmp_path: Path) -> None:
    data = {
        "table_name": "routes",
        "regions": ["us-east-1", "eu-west-1"],
        "allowed_domains": ["Preview.Example.com."],
        "origin_verify_header": {"name": "X-Origin-Verify", "value": "abc"},
        "s3_auth_method": "none",
        "max_attempts": 2,
    }
    config = load_config(write(tmp_path, data))
    assert config.allowed_domains == ("preview.example.com",)
    assert config.origin_verify_header == OriginVerifyHeader("X-Origin-Verify", "abc")
    assert config.s3_auth_method == "none"
    assert config.home_region("eu-west-1") == "eu-west-1"
    assert config.home_region("ap-south-1") == "us-east-1"
    assert config.home_region(None) == "us-east-1"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"regions": ["us-east-1"]}, "table_name"),
        ({"table_name": "routes"}, "regions"),
        ({"table_name": "routes", "regions": ["mars-1"]}, "invalid region"),
        ({"table_name": "routes", "regions": ["us-east-1", "us-east-1"]}, "twice"),
        ({"table_name": "routes", "regions": ["us-east-1"], "tll": 3}, "unknown key(s) tll"),
        ({"table_name": "routes", "regions": ["us-east-1"], "max_attempts": 0}, "max_attempts"),
        ({"table_name": "routes", "regions": ["us-east-1"], "max_attempts": 2.5}, "integer"),
        ({"table_name": "routes", "regions": ["us-east-1"], "cache_ttl_seconds": True}, "number"),
        (
            {"table_name": "routes", "regions": ["us-east-1"], "request_budget_seconds": 60},
            f"[0.1, {MAX_BUDGET_SECONDS:g}]",
        ),
        (
            {
                "table_name": "routes",
                "regions": ["us-east-1"],
                "connect_timeout_seconds": 2,
                "read_timeout_seconds": 2,
                "request_budget_seconds": 3,
            },
            "at least one attempt",
        ),
        (
            {"table_name": "routes", "regions": ["us-east-1"], "negative_cache_ttl_seconds": 600},
            "must not exceed",
        ),
        (
            {
                "table_name": "routes",
                "regions": ["us-east-1"],
                "origin_verify_header": {"name": "X-Amz-Cf-Id", "value": "x"},
            },
            "reserved",
        ),
        (
            {"table_name": "routes", "regions": ["us-east-1"], "allowed_domains": ["1.2.3.4"]},
            "allowed_domains",
        ),
        ({"table_name": "routes", "regions": ["us-east-1"], "log_level": "LOUD"}, "log_level"),
    ],
)
def test_invalid_configs_are_refused_with_the_reason(
    tmp_path: Path, data: dict[str, object], message: str
) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ConfigurationError) as info:
        load_config(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigurationError) as info:
        EdgeConfig.from_dict({"table_name": "x", "regions": [], "max_attempts": 99})
    text = str(info.value)
    assert "table_name" in text
    assert "regions" in text
    assert "max_attempts" in text


def test_unreadable_or_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        load_config(bad)
    array = tmp_path / "array.json"
    array.write_text("[]")
    with pytest.raises(ConfigurationError, match="JSON object"):
        load_config(array)


def test_worst_case_is_the_budget() -> None:
    config = EdgeConfig("routes", ("us-east-1",))
    assert config.attempt_seconds == pytest.approx(1.0)
    assert config.worst_case_seconds == pytest.approx(3.0)
