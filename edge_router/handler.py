"""The Lambda@Edge entry point for CloudFront's origin-request trigger.

Cold start reads and validates the baked configuration (``edge_router/edge_config.json``; an
invalid file fails the init with a clear message, and ``edge-router package`` validates it
before shipping). Everything else is built lazily: the DynamoDB client on the first miss, so an
environment pays for botocore only when it has to ask the table.

The router and its cache live at module level and survive between invocations of a warm
environment (one request at a time per environment, so no locking).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge_router.config import load_config
from edge_router.router import EdgeRouter

_router = EdgeRouter(load_config())


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Route one request: the rewritten request, or a generated response. Never raises."""
    return _router.handle(event)


def router() -> EdgeRouter:
    """The module's router (its cache and config), for the local server and benchmarks."""
    return _router


def install(new: EdgeRouter) -> EdgeRouter:
    """Replace the module's router (tests and local runs inject store, clock and config);
    returns the previous one so a caller can put it back."""
    global _router
    previous, _router = _router, new
    return previous
