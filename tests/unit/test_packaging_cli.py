"""``edge-router package``: how flags and the config file become the baked configuration, and
how bad input is reported (one line, exit 1; usage errors exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from routing_table.cli import app
from routing_table.cli.package import _region_list, _verify_header
from routing_table.errors import ConfigurationError

_REGION = st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1", "eu-north-1"])


@given(_REGION, st.lists(_REGION, max_size=6))
def test_region_list_puts_the_primary_first_and_lists_each_region_once(
    primary: str, replicas: list[str]
) -> None:
    regions = _region_list(primary, ",".join(replicas))
    assert regions[0] == primary
    assert len(regions) == len(set(regions))
    assert set(regions) == {primary, *replicas}


def test_region_list_tolerates_spaces_and_empty_items() -> None:
    assert _region_list("eu-west-1", " us-east-1 ,, eu-west-1,") == ["eu-west-1", "us-east-1"]
    assert _region_list("eu-west-1", None) == ["eu-west-1"]


def test_verify_header_needs_both_name_and_secret() -> None:
    assert _verify_header(None, None) is None
    assert _verify_header("X-Origin-Verify", "s3cret") == {
        "name": "X-Origin-Verify",
        "value": "s3cret",
    }
    with pytest.raises(ConfigurationError, match="go together"):
        _verify_header("X-Origin-Verify", None)


def _invoke(tmp_path: Path, *args: str) -> BaseException | None:
    base = ["package", "--table", "routes", "--region", "eu-west-1"]
    result = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "edge.zip"), *args])
    assert result.exit_code != 0
    return result.exception


def test_invalid_settings_are_reported_before_anything_is_built(tmp_path: Path) -> None:
    exc = _invoke(tmp_path, "--regions", "us-east-1,Mars", "--cache-ttl", "-5")
    assert isinstance(exc, ConfigurationError)
    assert "regions" in str(exc)
    assert "cache_ttl_seconds" in str(exc)
    assert not (tmp_path / "edge.zip").exists()


def test_config_file_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "edge.json"
    broken.write_text("{not json")
    exc = _invoke(tmp_path, "--config", str(broken))
    assert isinstance(exc, ConfigurationError)
    assert str(broken) in str(exc)

    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"cache_ttl": 5}))
    exc = _invoke(tmp_path, "--config", str(unknown))
    assert isinstance(exc, ConfigurationError)
    assert "unknown key(s) cache_ttl" in str(exc)

    exc = _invoke(tmp_path, "--config", str(tmp_path / "missing.json"))
    assert isinstance(exc, ConfigurationError)
    assert "missing.json" in str(exc)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    entry = Path(sys.executable).with_name("edge-router")
    return subprocess.run([str(entry), *args], capture_output=True, text=True, check=False)


def test_bad_input_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = _cli(
        "package",
        "--table",
        "x",  # too short for DynamoDB
        "--region",
        "eu-west-1",
        "--out",
        str(tmp_path / "edge.zip"),
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert "table_name" in result.stderr


def test_missing_output_folder_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = _cli(
        "package",
        "--table",
        "routes",
        "--region",
        "eu-west-1",
        "--out",
        str(tmp_path / "nowhere" / "edge.zip"),
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "does not exist" in result.stderr


def test_missing_region_is_a_usage_error() -> None:
    result = _cli("package", "--table", "routes")
    assert result.returncode == 2
    assert "--region" in result.stderr
