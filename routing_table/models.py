"""Control-plane models (pydantic v2): route targets parsed from strings, and routes.

A target string is one of:

* ``s3://<bucket>[/<key prefix>][?region=<region>]``: a bucket (S3 naming rules enforced) and
  an optional object key prefix. Without ``region`` the bucket's region is asked from S3 at
  write time (the edge needs it for the origin's domain name).
* ``https://<host>[:<port>]`` or ``http://<host>[:<port>]``: a custom origin (an ALB's DNS name,
  any web server, ``localhost`` for local use). No path: route a prefix with ``strip_prefix``
  instead, so the edge never has to splice paths.
* ``arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>``: an
  Application Load Balancer, resolved to its DNS name through ELBv2 at write time and stored
  with it, so the edge never calls ELBv2.

Models convert to and from ``routing_table.core.records.RouteRecord``, the one stored format.
Invalid input raises the project's own ``InvalidTargetError`` / ``InvalidHostError`` /
``InvalidPathError`` with a one-line message (``Route.parse``, ``parse_target``).
"""

from __future__ import annotations

import inspect
import ipaddress
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from routing_table.clients import resolve_region
from routing_table.core.normalize import normalize_host, normalize_host_pattern, normalize_prefix
from routing_table.core.records import RouteRecord
from routing_table.errors import InvalidInputError, InvalidTargetError

if TYPE_CHECKING:
    import boto3

DEFAULT_OWNER = "manual:cli"
"""Owner of routes put by hand; an environment's routes are owned by its env id."""

_REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_OWNER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._@-]{0,127}")
_BUCKET_CHARS = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")
_ALB_ARN_RE = re.compile(
    r"arn:(?P<partition>aws(?:-cn|-us-gov)?):elasticloadbalancing:(?P<region>[a-z0-9-]+):"
    r"(?P<account>\d{12}):loadbalancer/(?P<type>[a-z]+)/(?P<name>[A-Za-z0-9-]{1,32})/"
    r"(?P<id>[0-9a-f]{16})"
)
# S3 general purpose bucket naming rules (docs: "General purpose bucket naming rules").
_BUCKET_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# CloudFront: an origin path is at most 255 characters; custom origins listen on 80, 443 or
# 1024-65535.
MAX_ORIGIN_PATH = 255
_MIN_HIGH_PORT = 1024


def _target_error(raw: str, reason: str) -> InvalidTargetError:
    return InvalidTargetError(f"invalid target {raw!r}: {reason}", field="target", value=raw)


def validate_bucket(name: str, raw: str | None = None) -> str:
    """Return ``name`` if it is a valid S3 general purpose bucket name, else raise."""
    raw = raw if raw is not None else name
    if not 3 <= len(name) <= 63:
        raise _target_error(raw, f"bucket name {name!r} must be 3-63 characters")
    if not _BUCKET_CHARS.fullmatch(name):
        raise _target_error(
            raw,
            f"bucket name {name!r} may hold only lowercase letters, digits, '.' and '-', "
            "and must start and end with a letter or digit",
        )
    if ".." in name:
        raise _target_error(raw, f"bucket name {name!r} has two adjacent periods")
    if _is_ipv4(name):
        raise _target_error(raw, f"bucket name {name!r} is formatted as an IP address")
    for prefix in _BUCKET_BAD_PREFIXES:
        if name.startswith(prefix):
            raise _target_error(raw, f"bucket name {name!r} may not start with {prefix!r}")
    for suffix in _BUCKET_BAD_SUFFIXES:
        if name.endswith(suffix):
            raise _target_error(raw, f"bucket name {name!r} may not end with {suffix!r}")
    return name


def _is_ipv4(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


class S3Target(BaseModel):
    """Objects under ``key_prefix`` in ``bucket``; ``region`` is known once resolved."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["s3"] = "s3"
    bucket: str
    key_prefix: str = ""  # no leading or trailing "/"
    region: str | None = None

    @property
    def resolved(self) -> bool:
        return self.region is not None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key_prefix}" if self.key_prefix else f"s3://{self.bucket}"


class HttpTarget(BaseModel):
    """A custom origin: any http(s) server reachable by DNS name."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["http"] = "http"
    protocol: Literal["http", "https"]
    host: str
    port: int

    @property
    def resolved(self) -> bool:
        return True

    def __str__(self) -> str:
        default = 443 if self.protocol == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        return f"{self.protocol}://{self.host}{port}"


class AlbTarget(BaseModel):
    """An Application Load Balancer named by ARN; ``dns_name`` is filled at write time."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["alb"] = "alb"
    arn: str
    region: str
    dns_name: str | None = None

    @property
    def resolved(self) -> bool:
        return self.dns_name is not None

    def __str__(self) -> str:
        return self.arn


Target = Annotated[S3Target | HttpTarget | AlbTarget, Field(discriminator="kind")]


def parse_target(raw: str) -> S3Target | HttpTarget | AlbTarget:
    """Parse a target string (see the module docstring); raises InvalidTargetError."""
    value = raw.strip()
    if value.startswith("arn:"):
        return _parse_alb(raw, value)
    scheme, sep, _ = value.partition("://")
    if not sep:
        raise _target_error(raw, "expected s3://bucket/prefix, http(s)://host[:port] or an ALB ARN")
    scheme = scheme.lower()
    if scheme == "s3":
        return _parse_s3(raw, value)
    if scheme in ("http", "https"):
        return _parse_http(raw, value)
    raise _target_error(raw, f"unsupported scheme {scheme!r} (use s3, https, http or an ALB ARN)")


def _parse_s3(raw: str, value: str) -> S3Target:
    parts = urlsplit(value)
    if parts.fragment:
        raise _target_error(raw, "no '#fragment' allowed")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"region"})
    if unknown:
        raise _target_error(raw, f"unknown parameter(s) {', '.join(unknown)} (only region=)")
    region = query.get("region", [None])[-1]
    if region is not None and not _REGION_RE.fullmatch(region):
        raise _target_error(raw, f"region {region!r} is not an AWS region name")
    bucket = validate_bucket(parts.netloc, raw)
    segments = [s for s in parts.path.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise _target_error(raw, "the key prefix may not contain '.' or '..' segments")
    key_prefix = "/".join(segments)
    if len(key_prefix) + 1 > MAX_ORIGIN_PATH:
        raise _target_error(raw, f"the key prefix is longer than {MAX_ORIGIN_PATH - 1} characters")
    return S3Target(bucket=bucket, key_prefix=key_prefix, region=region)


def _parse_http(raw: str, value: str) -> HttpTarget:
    parts = urlsplit(value)
    protocol: Literal["http", "https"] = "https" if parts.scheme.lower() == "https" else "http"
    if parts.username is not None or parts.password is not None:
        raise _target_error(raw, "credentials in the URL are not allowed")
    if parts.path not in ("", "/"):
        raise _target_error(
            raw,
            f"a custom origin takes no path ({parts.path!r}); route the prefix with "
            "--strip-prefix, or serve the path at the origin",
        )
    if parts.query or parts.fragment:
        raise _target_error(raw, "a custom origin takes no query or fragment")
    try:
        port = parts.port
    except ValueError:
        raise _target_error(raw, "the port must be a number from 1 to 65535") from None
    host = parts.hostname or ""
    if host.startswith("*"):
        raise _target_error(raw, "an origin host cannot be a wildcard")
    try:
        host = normalize_host(host)
    except InvalidInputError as exc:
        raise _target_error(raw, f"origin host: {exc}") from None
    port = port or (443 if protocol == "https" else 80)
    if port not in (80, 443) and port < _MIN_HIGH_PORT and host != "localhost":
        raise _target_error(raw, f"CloudFront origins listen on 80, 443 or 1024-65535, not {port}")
    return HttpTarget(protocol=protocol, host=host, port=port)


def _parse_alb(raw: str, value: str) -> AlbTarget:
    match = _ALB_ARN_RE.fullmatch(value)
    if match is None:
        raise _target_error(
            raw,
            "expected arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>",
        )
    if match["type"] != "app":
        raise _target_error(
            raw, f"only Application Load Balancers (app/) are supported, not {match['type']}/"
        )
    return AlbTarget(arn=value, region=match["region"])


# --- write-time resolution -------------------------------------------------------------------


class TargetResolver(Protocol):
    """Looks up what a target string leaves out (called at write time, never at the edge)."""

    def alb_dns_name(self, arn: str, region: str) -> str: ...

    def bucket_region(self, bucket: str) -> str: ...


class AsyncTargetResolver(Protocol):
    """The awaitable twin of ``TargetResolver``, for async control planes."""

    async def alb_dns_name(self, arn: str, region: str) -> str: ...

    async def bucket_region(self, bucket: str) -> str: ...


def is_async_resolver(resolver: TargetResolver | AsyncTargetResolver) -> bool:
    return inspect.iscoroutinefunction(resolver.bucket_region)


# The pure halves of resolution, shared by the boto3 and aioboto3 resolvers: the SDK call is
# the only part that differs (awaited or not); parameters, replies and errors are read here.


def alb_dns_from_reply(arn: str, reply: Mapping[str, Any]) -> str:
    balancers = reply.get("LoadBalancers", [])
    if not balancers or not balancers[0].get("DNSName"):
        raise _target_error(arn, "no such load balancer")
    return str(balancers[0]["DNSName"]).lower()


def alb_error(arn: str, exc: Exception) -> InvalidTargetError:
    """An ELBv2 failure (botocore ``ClientError`` or ``BotoCoreError``) as a target error."""
    response = getattr(exc, "response", None)
    if response is None:
        return _target_error(arn, f"ELBv2 could not be reached: {exc}")
    code = response.get("Error", {}).get("Code", "")
    if code in ("LoadBalancerNotFound", "LoadBalancerNotFoundException"):
        return _target_error(arn, "no such load balancer")
    return _target_error(arn, f"ELBv2 DescribeLoadBalancers failed ({code})")


def bucket_region_from_head(bucket: str, reply_or_error: Mapping[str, Any] | Exception) -> str:
    """The region from a HeadBucket reply, or from its error: S3 names the region even when
    it refuses access (403), so only an answer without it (a 404) is fatal."""
    raw = f"s3://{bucket}"
    if isinstance(reply_or_error, Exception):
        response = getattr(reply_or_error, "response", None)
        if response is None:
            raise _target_error(raw, f"S3 could not be reached: {reply_or_error}")
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if "x-amz-bucket-region" not in headers:
            code = response.get("Error", {}).get("Code", "")
            reason = "no such bucket" if code in ("404", "NoSuchBucket") else f"S3 {code}"
            raise _target_error(raw, reason)
    else:
        headers = reply_or_error.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    region = headers.get("x-amz-bucket-region")
    if not region:
        raise _target_error(raw, "S3 did not say the bucket's region; add ?region=")
    return str(region)


def _sdk_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


class _Answers:
    """Answers already given, per resolver: a target resolves once per process."""

    def __init__(self) -> None:
        self.dns: dict[str, str] = {}
        self.regions: dict[str, str] = {}


class AwsTargetResolver:
    """Resolves through ELBv2 and S3 with the standard AWS settings; answers are cached.

    ELBv2 and S3 calls are not DynamoDB calls, so they do not pass ``store.calls``; their
    errors are translated by the pure functions above, at their one call site each.
    """

    def __init__(self, session: boto3.Session | None = None, config: Any = None) -> None:
        import boto3

        self._session = session or boto3.Session()
        self._config = config
        self._answers = _Answers()

    def alb_dns_name(self, arn: str, region: str) -> str:
        if arn not in self._answers.dns:
            self._answers.dns[arn] = self._describe_alb(arn, region)
        return self._answers.dns[arn]

    def _describe_alb(self, arn: str, region: str) -> str:
        client = self._session.client("elbv2", region_name=region, config=self._config)
        try:
            reply = client.describe_load_balancers(LoadBalancerArns=[arn])
        except _sdk_errors() as exc:
            raise alb_error(arn, exc) from None
        return alb_dns_from_reply(arn, reply)

    def bucket_region(self, bucket: str) -> str:
        if bucket not in self._answers.regions:
            self._answers.regions[bucket] = self._head_bucket(bucket)
        return self._answers.regions[bucket]

    def _head_bucket(self, bucket: str) -> str:
        client = self._session.client("s3", config=self._config, region_name=resolve_region())
        try:
            reply: Mapping[str, Any] | Exception = client.head_bucket(Bucket=bucket)
        except _sdk_errors() as exc:
            reply = exc
        return bucket_region_from_head(bucket, reply)


class AsyncAwsTargetResolver:
    """``AwsTargetResolver`` over aioboto3: the same requests, replies, errors and cache."""

    def __init__(self, session: Any = None, config: Any = None) -> None:
        if session is None:
            import aioboto3

            session = aioboto3.Session()
        self._session = session
        self._config = config
        self._answers = _Answers()

    async def alb_dns_name(self, arn: str, region: str) -> str:
        if arn not in self._answers.dns:
            self._answers.dns[arn] = await self._describe_alb(arn, region)
        return self._answers.dns[arn]

    async def _describe_alb(self, arn: str, region: str) -> str:
        try:
            async with self._session.client(
                "elbv2", region_name=region, config=self._config
            ) as client:
                reply = await client.describe_load_balancers(LoadBalancerArns=[arn])
        except _sdk_errors() as exc:
            raise alb_error(arn, exc) from None
        return alb_dns_from_reply(arn, reply)

    async def bucket_region(self, bucket: str) -> str:
        if bucket not in self._answers.regions:
            self._answers.regions[bucket] = await self._head_bucket(bucket)
        return self._answers.regions[bucket]

    async def _head_bucket(self, bucket: str) -> str:
        reply: Mapping[str, Any] | Exception
        try:
            async with self._session.client(
                "s3", config=self._config, region_name=resolve_region()
            ) as client:
                reply = await client.head_bucket(Bucket=bucket)
        except _sdk_errors() as exc:
            reply = exc
        return bucket_region_from_head(bucket, reply)


Resolvable = S3Target | HttpTarget | AlbTarget


def resolve_target(target: Resolvable, resolver: TargetResolver) -> Resolvable:
    """The target with what the edge needs filled in (ALB DNS name, bucket region)."""
    if isinstance(target, AlbTarget) and target.dns_name is None:
        return with_answer(target, resolver.alb_dns_name(target.arn, target.region))
    if isinstance(target, S3Target) and target.region is None:
        return with_answer(target, resolver.bucket_region(target.bucket))
    return target


async def aresolve_target(target: Resolvable, resolver: AsyncTargetResolver) -> Resolvable:
    """``resolve_target`` with an async resolver."""
    if isinstance(target, AlbTarget) and target.dns_name is None:
        return with_answer(target, await resolver.alb_dns_name(target.arn, target.region))
    if isinstance(target, S3Target) and target.region is None:
        return with_answer(target, await resolver.bucket_region(target.bucket))
    return target


def with_answer(target: S3Target | AlbTarget, answer: str) -> Resolvable:
    """An ALB with its DNS name, or a bucket with its region."""
    field = "dns_name" if isinstance(target, AlbTarget) else "region"
    return target.model_copy(update={field: answer})


# --- routes ----------------------------------------------------------------------------------


class Route(BaseModel):
    """A route as the control plane writes it: host pattern + path prefix -> target."""

    model_config = ConfigDict(frozen=True)
    host: str
    prefix: str = "/"
    target: Target
    owner: str = DEFAULT_OWNER
    strip_prefix: bool = False

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return normalize_host_pattern(value)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return normalize_prefix(value)

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str) -> str:
        if not _OWNER_RE.fullmatch(value):
            raise InvalidInputError(
                f"invalid owner {value!r}: 1-128 letters, digits or ':._@-', "
                "starting with a letter or digit",
                field="owner",
                value=value,
            )
        return value

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: object) -> object:
        return parse_target(value) if isinstance(value, str) else value

    @classmethod
    def parse(cls, **fields: Any) -> Route:
        """Build a route, raising the project's own error (not pydantic's) for bad input."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise _project_error(exc) from None

    def resolved(self, resolver: TargetResolver) -> Route:
        return self.model_copy(update={"target": resolve_target(self.target, resolver)})

    def to_record(self) -> RouteRecord:
        """The stored form; the target must be resolved first (see ``resolved``)."""
        target = self.target
        if not target.resolved:
            raise _target_error(str(target), "not resolved (ALB DNS name or bucket region)")
        common: dict[str, Any] = {
            "host": self.host,
            "prefix": self.prefix,
            "owner": self.owner,
            "target": str(target),
            "strip_prefix": self.strip_prefix,
        }
        if isinstance(target, S3Target):
            return RouteRecord(
                **common,
                kind="s3",
                bucket=target.bucket,
                bucket_region=target.region,
                key_prefix=target.key_prefix,
            )
        if isinstance(target, AlbTarget):
            return RouteRecord(**common, kind="custom", domain=target.dns_name)
        return RouteRecord(
            **common, kind="custom", domain=target.host, protocol=target.protocol, port=target.port
        )

    @classmethod
    def from_record(cls, record: RouteRecord) -> Route:
        target: S3Target | HttpTarget | AlbTarget
        if record.kind == "s3":
            target = S3Target(
                bucket=record.bucket or "",
                key_prefix=record.key_prefix,
                region=record.bucket_region or None,
            )
        elif record.target.startswith("arn:"):
            target = AlbTarget(
                arn=record.target,
                region=record.target.split(":")[3],
                dns_name=record.domain,
            )
        else:
            target = HttpTarget(
                protocol=record.protocol, host=record.domain or "", port=record.port
            )
        return cls(
            host=record.host,
            prefix=record.prefix,
            target=target,
            owner=record.owner,
            strip_prefix=record.strip_prefix,
        )


def _project_error(exc: ValidationError) -> InvalidInputError:
    """The first error as the project's own exception (the validators raise those)."""
    first = exc.errors()[0]
    original = first.get("ctx", {}).get("error")
    if isinstance(original, InvalidInputError):
        return original
    field = ".".join(str(p) for p in first.get("loc", ())) or None
    return InvalidInputError(f"invalid {field or 'route'}: {first.get('msg')}", field=field)
