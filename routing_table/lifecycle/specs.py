"""From what a caller types to what the plans take: specs and route templates.

Targets are parsed by ``routing_table.models`` (pydantic) and resolved through a
``TargetResolver`` (ELBv2 for ALB ARNs, S3 for a bucket's region): that happens here, before a
plan runs, so the plans stay pure and a bad target refuses the operation before any write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from slugify import slugify

from routing_table.core.keys import validate_env_id
from routing_table.core.records import RouteRecord
from routing_table.errors import InvalidInputError
from routing_table.lifecycle.plan import validate_service
from routing_table.lifecycle.records import EnvSpec, HandleMode
from routing_table.models import (
    AsyncTargetResolver,
    Resolvable,
    Route,
    TargetResolver,
    aresolve_target,
    parse_target,
    resolve_target,
)

# A syntactically valid host for building a template; every use replaces it with the
# service's real hostname (``plan.route_for``).
_TEMPLATE_HOST = "template.invalid"


def parse_service_options(options: Iterable[str]) -> dict[str, str]:
    """``["api=https://x", "web=s3://b/p"]`` -> ``{"api": "https://x", "web": "s3://b/p"}``."""
    services: dict[str, str] = {}
    for option in options:
        name, sep, target = option.partition("=")
        name = name.strip()
        if not sep or not name or not target.strip():
            raise InvalidInputError(
                f"--service {option!r} must be NAME=TARGET (e.g. api=https://alb.example.com)",
                field="service",
                value=option,
            )
        if name in services:
            raise InvalidInputError(f"service {name!r} given twice", field="service", value=name)
        services[validate_service(name)] = target.strip()
    return services


def default_env_id(app: str, branch: str | None) -> str:
    """Without ``--env-id``, an environment is named after its app and branch, so that creating
    the same branch's preview again converges instead of making a second one."""
    if branch is None:
        raise InvalidInputError(
            "give --env-id (or --branch, to name the environment <app>-<branch>)",
            field="env_id",
        )
    return validate_env_id(slugify(f"{app}-{branch}", max_length=100))


def build_spec(
    *,
    env_id: str,
    app: str,
    domain: str,
    services: Mapping[str, str],
    pool: str | None = None,
    handle: str | None = None,
    branch: str | None = None,
) -> EnvSpec:
    """A validated spec; targets are stored in their canonical spelling."""
    validate_env_id(env_id)
    if not services:
        raise InvalidInputError("an environment needs at least one --service NAME=TARGET")
    canonical = {validate_service(n): str(parse_target(t)) for n, t in services.items()}
    mode: HandleMode = "pool" if pool else ("explicit" if handle else "random")
    return EnvSpec(
        env_id=env_id,
        app=app,
        domain=domain,
        services=canonical,
        handle_mode=mode,
        pool=pool,
        handle=handle,
        branch=branch,
    )


def route_template(target: str, owner: str, resolver: TargetResolver) -> RouteRecord:
    """The route a target makes (origin fields filled in); host and prefix are placeholders."""
    return _template(resolve_target(parse_target(target), resolver), owner)


def route_templates(spec: EnvSpec, resolver: TargetResolver) -> dict[str, RouteRecord]:
    return {
        name: route_template(target, spec.env_id, resolver)
        for name, target in spec.services.items()
    }


async def aroute_template(target: str, owner: str, resolver: AsyncTargetResolver) -> RouteRecord:
    """``route_template`` with an async resolver."""
    return _template(await aresolve_target(parse_target(target), resolver), owner)


async def aroute_templates(spec: EnvSpec, resolver: AsyncTargetResolver) -> dict[str, RouteRecord]:
    # One after the other: a handful of services, and the resolver caches repeated targets.
    return {
        name: await aroute_template(target, spec.env_id, resolver)
        for name, target in spec.services.items()
    }


def _template(resolved: Resolvable, owner: str) -> RouteRecord:
    return Route.parse(host=_TEMPLATE_HOST, target=resolved, owner=owner).to_record()
