"""Candidate keys and longest-match choice, checked against a brute-force reference matcher."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing_table.core import keys
from routing_table.core.matching import (
    Candidate,
    candidate_keys,
    candidate_prefixes,
    candidate_route_keys,
    choose,
    prefix_matches,
    remainder,
    wildcard_host,
)

LABELS = st.sampled_from(["a", "b", "api", "www", "pr-1", "x1"])
HOSTS = st.lists(LABELS, min_size=0, max_size=3).map(lambda ls: ".".join([*ls, "example", "com"]))
SEGMENTS = st.sampled_from(["a", "b", "api", "apiary", "v1", "x%2Fy", "~u"])
PATHS = st.tuples(st.lists(SEGMENTS, max_size=40), st.booleans()).map(
    lambda t: "/" + "/".join(t[0]) + ("/" if t[1] and t[0] else "")
)
PREFIXES = st.lists(SEGMENTS, max_size=6).map(lambda segs: "/" + "/".join(segs))


def _reference(routes: set[tuple[str, str]], host: str, path: str) -> tuple[str, str] | None:
    """Brute force: scan every route; exact host beats wildcard, then most prefix segments."""

    def host_rank(pattern: str) -> int | None:
        if pattern == host:
            return 0
        if pattern.startswith("*."):
            label, _, parent = host.partition(".")
            if label and parent == pattern[2:] and "." in parent:
                return 1
        return None

    best: tuple[int, int, tuple[str, str]] | None = None
    for route_host, prefix in routes:
        rank = host_rank(route_host)
        if rank is None:
            continue
        segs = [s for s in prefix.split("/") if s]
        path_segs = [s for s in path.split("/") if s]
        if path_segs[: len(segs)] != segs:
            continue
        score = (rank, -len(segs), (route_host, prefix))
        if best is None or score < best:
            best = score
    return None if best is None else best[2]


def test_candidates_example() -> None:
    got = [(c.host, c.prefix, c.wildcard) for c in candidate_keys("pr-1.app.example.com", "/a/b")]
    assert got == [
        ("pr-1.app.example.com", "/a/b", False),
        ("pr-1.app.example.com", "/a", False),
        ("pr-1.app.example.com", "/", False),
        ("*.app.example.com", "/a/b", True),
        ("*.app.example.com", "/a", True),
        ("*.app.example.com", "/", True),
    ]


def test_trailing_slash_does_not_add_an_empty_prefix() -> None:
    assert candidate_prefixes("/docs/") == ["/docs", "/"]
    assert candidate_prefixes("/") == ["/"]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("a.example.com", "*.example.com"),
        ("a.b.example.com", "*.b.example.com"),
        ("example.com", None),
        ("localhost", None),
    ],
)
def test_wildcard_covers_one_label(host: str, expected: str | None) -> None:
    assert wildcard_host(host) == expected


@pytest.mark.parametrize(
    ("prefix", "path", "matches"),
    [
        ("/api", "/api", True),
        ("/api", "/api/", True),
        ("/api", "/api/x", True),
        ("/api", "/apiary", False),
        ("/api", "/ap", False),
        ("/api/v1", "/api", False),
        ("/", "/", True),
        ("/", "/anything/at/all", True),
    ],
)
def test_prefix_matches_on_segment_boundaries(prefix: str, path: str, matches: bool) -> None:
    assert prefix_matches(prefix, path) is matches


@pytest.mark.parametrize(
    ("prefix", "path", "rest"),
    [
        ("/api", "/api", "/"),
        ("/api", "/api/", "/"),
        ("/api", "/api/x/y", "/x/y"),
        ("/", "/x", "/x"),
        ("/", "/", "/"),
    ],
)
def test_remainder(prefix: str, path: str, rest: str) -> None:
    assert remainder(prefix, path) == rest


def test_remainder_refuses_a_non_matching_prefix() -> None:
    with pytest.raises(ValueError, match="does not match"):
        remainder("/api", "/apiary")


@settings(deadline=None)
@given(HOSTS, PATHS)
def test_candidate_count_is_bounded_whatever_the_depth(host: str, path: str) -> None:
    candidates = candidate_keys(host, path)
    depth = min(len([s for s in path.split("/") if s]), keys.MAX_PREFIX_SEGMENTS)
    per_host = depth + 1
    assert len(candidates) == per_host * (2 if wildcard_host(host) else 1)
    assert len(candidates) <= 2 * (keys.MAX_PREFIX_SEGMENTS + 1) <= keys.MAX_BATCH_GET_KEYS
    assert len({c.key for c in candidates}) == len(candidates)


@settings(deadline=None)
@given(HOSTS, PATHS)
def test_candidates_are_best_first(host: str, path: str) -> None:
    candidates = candidate_keys(host, path)
    flags = [c.wildcard for c in candidates]
    assert flags == sorted(flags), "every exact-host candidate precedes every wildcard one"
    for group in (False, True):
        lengths = [
            c.prefix.count("/") for c in candidates if c.wildcard is group and c.prefix != "/"
        ]
        assert lengths == sorted(lengths, reverse=True)
    for c in candidates:
        assert prefix_matches(c.prefix, path)
        assert c.key == keys.route_key(c.host, c.prefix)
        assert c.host == (wildcard_host(host) if c.wildcard else host)


@settings(deadline=None)
@given(HOSTS, PATHS, PREFIXES)
def test_every_matching_prefix_is_a_candidate(host: str, path: str, prefix: str) -> None:
    if prefix_matches(prefix, path):
        assert prefix in candidate_prefixes(path)


@settings(deadline=None)
@given(HOSTS, PATHS, st.sets(st.tuples(st.sampled_from(["exact", "wild", "other"]), PREFIXES)))
def test_choice_agrees_with_a_brute_force_matcher(
    host: str, path: str, spec: set[tuple[str, str]]
) -> None:
    wildcard = wildcard_host(host) or "*.unrelated.example.org"
    hosts = {"exact": host, "wild": wildcard, "other": "other.example.net"}
    routes = {(hosts[kind], prefix) for kind, prefix in spec}
    found = {keys.route_key(h, p) for h, p in routes}
    chosen = choose(candidate_keys(host, path), found)
    expected = _reference(routes, host, path)
    assert (None if chosen is None else (chosen.host, chosen.prefix)) == expected


@settings(deadline=None)
@given(HOSTS, PATHS, PREFIXES, PREFIXES)
def test_exact_host_beats_any_wildcard(host: str, path: str, exact: str, wild: str) -> None:
    pattern = wildcard_host(host)
    if pattern is None or not prefix_matches(exact, path) or not prefix_matches(wild, path):
        return
    found = {keys.route_key(host, exact), keys.route_key(pattern, wild)}
    chosen = choose(candidate_keys(host, path), found)
    assert chosen == Candidate(host, exact, False, keys.route_key(host, exact))


@settings(deadline=None)
@given(PREFIXES, PATHS)
def test_remainder_rebuilds_the_path(prefix: str, path: str) -> None:
    if not prefix_matches(prefix, path):
        return
    rest = remainder(prefix, path)
    assert rest.startswith("/")
    if prefix == "/":
        assert rest == path
    else:
        assert prefix + rest == path or (rest == "/" and path == prefix)


def test_candidates_never_exceed_the_sort_key_limit() -> None:
    path = "/" + "/".join(["s" * 200] * 10)
    prefixes = candidate_prefixes(path)
    assert prefixes[-1] == "/"
    assert all(len(keys.route_key("h.example.com", p)[1].encode()) <= 1024 for p in prefixes)
    assert len(prefixes) == 1 + 5  # five 201-character segments fit in 1,019 characters


@settings(deadline=None)
@given(HOSTS, PATHS)
def test_route_keys_are_the_candidates_keys(host: str, path: str) -> None:
    assert candidate_route_keys(host, path) == [c.key for c in candidate_keys(host, path)]
