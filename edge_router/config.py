"""The edge function's configuration: a JSON file baked into the deployment package.

Lambda@Edge has no environment variables, so ``edge-router package`` writes
``edge_router/edge_config.json`` next to this module. For local runs and tests only,
``EDGE_ROUTER_CONFIG=<path>`` names another file (on Lambda@Edge it cannot be set at all).

Validated at cold start without pydantic (the handler must not import it): every problem is
collected and reported in one ``ConfigurationError`` naming the file and the keys.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Final, Literal

from routing_table.core.normalize import normalize_host
from routing_table.errors import ConfigurationError, InvalidHostError

DEFAULT_PATH: Final = Path(__file__).with_name("edge_config.json")
CONFIG_ENV: Final = "EDGE_ROUTER_CONFIG"
# A pause before retrying in the same region (regions are switched without one). Small and
# fixed so the worst case stays a sum of known terms.
RETRY_PAUSE_SECONDS: Final = 0.05
# Every request is answered within 5 s even when DynamoDB never answers (the documented
# worst case), far inside the origin-request trigger's 30 s.
MAX_BUDGET_SECONDS: Final = 5.0

_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
_FORBIDDEN_HEADER_PREFIXES = ("x-amz-cf-", "x-edge-", "x-accel-")
_FORBIDDEN_HEADERS = frozenset({"host", "connection", "via", "x-forwarded-proto", "x-real-ip"})

S3AuthMethod = Literal["origin-access-identity", "none"]


@dataclass(frozen=True, slots=True)
class OriginVerifyHeader:
    """A secret header sent to custom origins so they can refuse requests not from CloudFront."""

    name: str
    # Kept out of repr so a logged config or error message never carries the secret.
    value: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    table_name: str
    regions: tuple[str, ...]
    cache_ttl_seconds: float = 60.0
    negative_cache_ttl_seconds: float = 10.0
    cache_jitter_ratio: float = 0.1
    cache_max_entries: int = 20_000
    max_stale_seconds: float = 3600.0
    error_backoff_seconds: float = 5.0
    not_found_max_age: int = 10
    retry_after_seconds: int = 5
    connect_timeout_seconds: float = 0.5
    read_timeout_seconds: float = 0.5
    max_attempts: int = 3
    request_budget_seconds: float = 3.0
    allowed_domains: tuple[str, ...] = ()
    origin_verify_header: OriginVerifyHeader | None = None
    s3_auth_method: S3AuthMethod = "origin-access-identity"
    default_bucket_region: str = "us-east-1"
    custom_origin_read_timeout: int = 30
    custom_origin_keepalive_timeout: int = 5
    custom_origin_ssl_protocols: tuple[str, ...] = ("TLSv1.2",)
    service_name: str = "edge-router"
    metrics_namespace: str = "EdgeRouter"
    metrics_flush_seconds: float = 60.0
    log_level: str = "INFO"

    @property
    def attempt_seconds(self) -> float:
        """Longest one DynamoDB attempt can take: connect plus read timeout."""
        return self.connect_timeout_seconds + self.read_timeout_seconds

    @property
    def worst_case_seconds(self) -> float:
        """Longest the table lookups of one request can take (see ``DynamoRouteReader``).

        An attempt starts only while the request's budget still holds a whole attempt, and the
        budget is validated to hold at least one, so a request waits at most the budget.
        """
        return self.request_budget_seconds

    def home_region(self, aws_region: str | None) -> str:
        """Read from the replica in the region the function runs in when there is one."""
        return aws_region if aws_region in self.regions else self.regions[0]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what ``edge-router package`` writes)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("regions", "allowed_domains", "custom_origin_ssl_protocols"):
            out[name] = list(out[name])
        verify = self.origin_verify_header
        out["origin_verify_header"] = None if verify is None else asdict(verify)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> EdgeConfig:
        """Validate ``data``; raise one ConfigurationError listing every problem."""
        return _Validator(data, source).build()


def load_config(path: str | os.PathLike[str] | None = None) -> EdgeConfig:
    """Read and validate the configuration: ``path``, else ``$EDGE_ROUTER_CONFIG``, else the
    file baked next to this module."""
    chosen = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_PATH)
    try:
        data = json.loads(chosen.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read edge config {chosen}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigurationError(f"edge config {chosen} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"edge config {chosen} must hold a JSON object")
    return EdgeConfig.from_dict(data, source=str(chosen))


class _Validator:
    """Collects every problem instead of stopping at the first (one fix-all round for humans)."""

    def __init__(self, data: Mapping[str, Any], source: str) -> None:
        self.data = data
        self.source = source
        self.problems: list[str] = []

    def build(self) -> EdgeConfig:
        known = {f.name for f in fields(EdgeConfig)}
        unknown = sorted(set(self.data) - known)
        if unknown:
            self.problems.append(f"unknown key(s) {', '.join(unknown)}")
        values: dict[str, Any] = {
            "table_name": self._table_name(),
            "regions": self._regions(),
            "allowed_domains": self._domains(),
            "origin_verify_header": self._verify_header(),
            "s3_auth_method": self._choice("s3_auth_method", ("origin-access-identity", "none")),
            "default_bucket_region": self._region("default_bucket_region"),
            "custom_origin_ssl_protocols": self._ssl_protocols(),
            "log_level": self._choice("log_level", ("DEBUG", "INFO", "WARNING", "ERROR")),
        }
        for name, low, high in _NUMBERS:
            values[name] = self._number(name, low, high)
        for name in ("service_name", "metrics_namespace"):
            values[name] = self._text(name)
        values = {k: v for k, v in values.items() if v is not None}
        if self.problems:
            raise self._error()
        config = EdgeConfig(**values)
        self._check_budget(config)
        return config

    def _error(self) -> ConfigurationError:
        return ConfigurationError(f"invalid edge config {self.source}: " + "; ".join(self.problems))

    def _check_budget(self, config: EdgeConfig) -> None:
        if config.request_budget_seconds < config.attempt_seconds:
            self.problems.append(
                "request_budget_seconds must hold at least one attempt "
                f"(connect + read timeout = {config.attempt_seconds:g} s)"
            )
        if config.negative_cache_ttl_seconds > config.cache_ttl_seconds:
            self.problems.append("negative_cache_ttl_seconds must not exceed cache_ttl_seconds")
        if self.problems:
            raise self._error()

    def _get(self, name: str) -> Any:
        return self.data.get(name)

    def _table_name(self) -> str | None:
        value = self._get("table_name")
        if not isinstance(value, str) or not _TABLE_NAME.fullmatch(value):
            self.problems.append("table_name must be 3-255 characters of A-Z a-z 0-9 _ . -")
            return None
        return value

    def _region(self, name: str) -> str | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not _REGION.fullmatch(value):
            self.problems.append(f"{name} {value!r} is not an AWS region name")
            return None
        return value

    def _regions(self) -> tuple[str, ...] | None:
        value = self._get("regions")
        if not isinstance(value, list) or not value:
            self.problems.append("regions must be a non-empty list of AWS region names")
            return None
        bad = [r for r in value if not isinstance(r, str) or not _REGION.fullmatch(r)]
        if bad:
            self.problems.append(f"regions holds invalid region name(s) {bad!r}")
            return None
        if len(set(value)) != len(value):
            self.problems.append("regions lists a region twice")
            return None
        return tuple(value)

    def _domains(self) -> tuple[str, ...] | None:
        value = self._get("allowed_domains")
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
            self.problems.append("allowed_domains must be a list of domain names")
            return None
        out = []
        for domain in value:
            try:
                out.append(normalize_host(domain))
            except InvalidHostError as exc:
                self.problems.append(f"allowed_domains: {exc}")
        return tuple(out)

    def _verify_header(self) -> OriginVerifyHeader | None:
        value = self._get("origin_verify_header")
        if value is None:
            return None
        if not isinstance(value, dict) or set(value) != {"name", "value"}:
            self.problems.append('origin_verify_header must be {"name": ..., "value": ...}')
            return None
        name, secret = value["name"], value["value"]
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            self.problems.append("origin_verify_header.name must be a header name")
            return None
        lowered = name.lower()
        if lowered in _FORBIDDEN_HEADERS or lowered.startswith(_FORBIDDEN_HEADER_PREFIXES):
            self.problems.append(f"origin_verify_header.name {name!r} is reserved by CloudFront")
            return None
        if not isinstance(secret, str) or not secret or not secret.isprintable():
            self.problems.append("origin_verify_header.value must be a non-empty printable string")
            return None
        return OriginVerifyHeader(name, secret)

    def _ssl_protocols(self) -> tuple[str, ...] | None:
        value = self._get("custom_origin_ssl_protocols")
        if value is None:
            return None
        allowed = {"SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2"}
        if not isinstance(value, list) or not value or not set(value) <= allowed:
            self.problems.append(f"custom_origin_ssl_protocols must be a subset of {allowed}")
            return None
        return tuple(value)

    def _choice(self, name: str, options: tuple[str, ...]) -> Any:
        value = self._get(name)
        if value is None:
            return None
        if value not in options:
            self.problems.append(f"{name} must be one of {', '.join(options)}")
            return None
        return value

    def _text(self, name: str) -> str | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problems.append(f"{name} must be a non-empty string")
            return None
        return value

    def _number(self, name: str, low: float, high: float) -> float | int | None:
        value = self._get(name)
        if value is None:
            return None
        integral = name in _INTEGERS
        ok_type = isinstance(value, int) if integral else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type or not low <= value <= high:
            kind = "an integer" if integral else "a number"
            self.problems.append(f"{name} must be {kind} in [{low:g}, {high:g}], got {value!r}")
            return None
        number: float | int = value
        return number


_INTEGERS = frozenset(
    {
        "cache_max_entries",
        "not_found_max_age",
        "retry_after_seconds",
        "max_attempts",
        "custom_origin_read_timeout",
        "custom_origin_keepalive_timeout",
    }
)
_NUMBERS: Final = (
    ("cache_ttl_seconds", 1, 86_400),
    ("negative_cache_ttl_seconds", 1, 86_400),
    ("cache_jitter_ratio", 0, 0.5),
    ("cache_max_entries", 100, 10_000_000),
    ("max_stale_seconds", 0, 7 * 86_400),
    ("error_backoff_seconds", 0, 300),
    ("not_found_max_age", 0, 31_536_000),
    ("retry_after_seconds", 1, 3600),
    ("connect_timeout_seconds", 0.05, 5),
    ("read_timeout_seconds", 0.05, 5),
    ("max_attempts", 1, 5),
    ("request_budget_seconds", 0.1, MAX_BUDGET_SECONDS),
    ("custom_origin_read_timeout", 1, 180),
    ("custom_origin_keepalive_timeout", 1, 180),
    ("metrics_flush_seconds", 1, 3600),
)
