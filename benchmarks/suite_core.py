"""The pure matching core: time to pick a route, vs routes per host and vs path depth.

Ours: ``candidate_keys`` + ``choose`` against the set of keys that exist (what the edge does
once a BatchGetItem answered). Baseline: a naive matcher scanning every route of the host with
``prefix_matches`` and keeping the longest, measured in the same run. Ours must stay flat as a
host gets more routes; the scan grows linearly.
"""

from __future__ import annotations

from functools import partial

from benchmarks.harness import Measurement, time_per_call
from routing_table.core import keys
from routing_table.core.matching import (
    candidate_keys,
    candidate_route_keys,
    choose,
    prefix_matches,
)
from routing_table.core.normalize import normalize_path

HOST = "pr-42.preview.example.com"
SUITE = "core"


def _routes(count: int) -> list[tuple[str, str]]:
    """``count`` routes of one host: /svc-N prefixes, one of them two segments deep."""
    routes = [(HOST, f"/svc-{n}") for n in range(count - 2)]
    return [*routes, (HOST, "/"), (HOST, "/svc-7/api")]


def _linear(routes: list[tuple[str, str]], host: str, path: str) -> tuple[str, str] | None:
    best: tuple[str, str] | None = None
    for route_host, prefix in routes:
        matches = route_host == host and prefix_matches(prefix, path)
        if matches and (best is None or len(prefix) > len(best[1])):
            best = (route_host, prefix)
    return best


def _match(found: set[keys.Key], host: str, path: str) -> object:
    """What the edge does: candidate keys, first one that exists."""
    return next((k for k in candidate_route_keys(host, path) if k in found), None)


def _match_candidates(found: set[keys.Key], host: str, path: str) -> object:
    """The same through the public ``Candidate`` objects (used by the store's lookup)."""
    return choose(candidate_keys(host, path), found)


def _vs_routes(number: int, sizes: list[int]) -> list[Measurement]:
    out = []
    path = "/svc-7/api/users/42"
    for size in sizes:
        routes = _routes(size)
        found = {keys.route_key(h, p) for h, p in routes}
        assert _match(found, HOST, path) is not None
        ours = time_per_call(partial(_match, found, HOST, path), number=number)
        naive = time_per_call(partial(_linear, routes, HOST, path), number=max(10, number // 10))
        out.append(
            Measurement(
                SUITE,
                f"match, {size:,} routes on the host (depth 4)",
                ours * 1e6,
                "us",
                "linear scan of the host's routes",
                naive * 1e6,
            )
        )
    return out


def _vs_depth(number: int, depths: list[int]) -> list[Measurement]:
    out = []
    routes = _routes(100)
    found = {keys.route_key(h, p) for h, p in routes}
    for depth in depths:
        segments = ["svc-7", "api", *["seg"] * depth][:depth]
        path = "/" + "/".join(segments)
        ours = time_per_call(partial(_match, found, HOST, path), number=number)
        naive = time_per_call(partial(_linear, routes, HOST, path), number=number)
        count = len(candidate_keys(HOST, path))
        objects = time_per_call(partial(_match_candidates, found, HOST, path), number=number)
        out.append(
            Measurement(
                SUITE,
                f"match via Candidate objects, path depth {depth}",
                objects * 1e6,
                "us",
                "keys only (the edge's path)",
                ours * 1e6,
            )
        )
        out.append(
            Measurement(
                SUITE,
                f"match, path depth {depth} (100 routes)",
                ours * 1e6,
                "us",
                "linear scan of the host's routes",
                naive * 1e6,
                note=f"{count} candidate keys (cap {2 * (keys.MAX_PREFIX_SEGMENTS + 1)})",
            )
        )
    return out


def _normalize(number: int) -> list[Measurement]:
    clean = "/assets/js/app.3f9a1c.js"
    messy = "/assets//js/./x/../app%2E3f9a1c.js"
    fast = time_per_call(lambda: normalize_path(clean), number=number)
    slow = time_per_call(lambda: normalize_path(messy), number=number)
    return [
        Measurement(
            SUITE,
            "normalize_path, already normal",
            fast * 1e6,
            "us",
            "path needing dot/escape work",
            slow * 1e6,
        )
    ]


def run(ctx: object) -> list[Measurement]:
    quick = bool(getattr(ctx, "quick", False))
    number = 200 if quick else 5000
    sizes = [10, 100, 1000] if quick else [10, 100, 1_000, 10_000]
    depths = [1, 8, 32] if quick else [1, 2, 4, 8, 16, 32, 64, 256]
    return [*_vs_routes(number, sizes), *_vs_depth(number, depths), *_normalize(number)]
