"""Longest-match routing over route keys. Pure: no I/O, no boto3, no pydantic.

A request for ``host`` + ``path`` can only be served by a handful of route entries: the exact
host or its one-label wildcard, with a prefix that is the path itself or one of its ancestors on
segment boundaries. ``candidate_keys`` lists exactly those keys, best first, so a reader fetches
them in one BatchGetItem and ``choose`` takes the first one that exists. The number of candidates
is bounded whatever the depth of the path, because a route prefix has at most
``keys.MAX_PREFIX_SEGMENTS`` segments.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass

from routing_table.core import keys
from routing_table.core.normalize import MAX_PREFIX_LENGTH


@dataclass(frozen=True, slots=True)
class Candidate:
    """One route entry that could serve a request; ``key`` is ``keys.route_key(host, prefix)``."""

    host: str
    prefix: str
    wildcard: bool
    key: keys.Key


def wildcard_host(host: str) -> str | None:
    """The one wildcard pattern covering ``host`` (``a.b.c`` -> ``*.b.c``), or None.

    Like a TLS wildcard certificate, ``*`` stands for exactly one label, and the parent must
    have at least two labels: ``example.com`` has no wildcard (``*.com`` is never a route).
    """
    _, dot, parent = host.partition(".")
    if not dot or "." not in parent:
        return None
    return "*." + parent


def candidate_prefixes(path: str) -> list[str]:
    """Prefixes that may match a normalised ``path``, longest first, ending with ``/``.

    Only the first ``keys.MAX_PREFIX_SEGMENTS`` segments (and at most ``MAX_PREFIX_LENGTH``
    characters) can be part of a route prefix, so a deeper path yields no more candidates than
    a path of that depth.
    """
    segments = [s for s in path.split("/", keys.MAX_PREFIX_SEGMENTS + 1)[1:] if s]
    prefixes: list[str] = []
    current = ""
    for segment in segments[: keys.MAX_PREFIX_SEGMENTS]:
        current = current + "/" + segment
        if len(current) > MAX_PREFIX_LENGTH:
            # No route can have it (normalize_prefix refuses it), and a sort key this long
            # would make DynamoDB reject the whole BatchGetItem.
            break
        prefixes.append(current)
    prefixes.reverse()
    prefixes.append("/")
    return prefixes


def candidate_route_keys(host: str, path: str) -> list[keys.Key]:
    """The keys of ``candidate_keys(host, path)``, in the same order, without building
    ``Candidate`` objects (a frozen dataclass costs about a microsecond each; the edge only
    needs the keys)."""
    prefixes = [keys.PATH_PREFIX + p for p in candidate_prefixes(path)]
    exact = keys.route_partition(host)
    out = [(exact, sk) for sk in prefixes]
    pattern = wildcard_host(host)
    if pattern is not None:
        wild = keys.route_partition(pattern)
        out.extend((wild, sk) for sk in prefixes)
    return out


def candidate_keys(host: str, path: str) -> list[Candidate]:
    """Every route entry that could serve ``host`` + ``path`` (both normalised), best first.

    Order: the exact host with the longest prefix down to ``/``, then the wildcard host the same
    way, so an exact host always beats a wildcard and a longer prefix beats a shorter one.
    """
    prefixes = candidate_prefixes(path)
    out = [Candidate(host, p, False, keys.route_key(host, p)) for p in prefixes]
    pattern = wildcard_host(host)
    if pattern is not None:
        out.extend(Candidate(pattern, p, True, keys.route_key(pattern, p)) for p in prefixes)
    return out


def choose(candidates: Sequence[Candidate], found: Container[keys.Key]) -> Candidate | None:
    """The first (best) candidate whose key is in ``found``, or None."""
    for candidate in candidates:
        if candidate.key in found:
            return candidate
    return None


def prefix_matches(prefix: str, path: str) -> bool:
    """Whether ``prefix`` matches ``path`` on a segment boundary.

    ``/api`` matches ``/api``, ``/api/`` and ``/api/x``, never ``/apiary``.
    """
    if prefix == "/":
        return path.startswith("/")
    return path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/")


def remainder(prefix: str, path: str) -> str:
    """``path`` without ``prefix``, always starting with '/' (``/api``, ``/api/x`` -> ``/x``)."""
    if not prefix_matches(prefix, path):
        raise ValueError(f"prefix {prefix!r} does not match path {path!r}")
    if prefix == "/":
        return path
    return path[len(prefix) :] or "/"
