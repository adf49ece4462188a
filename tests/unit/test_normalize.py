"""Host and path normal forms: examples for each rule, then hypothesis properties."""

from __future__ import annotations

import posixpath
import re
import string
from urllib.parse import unquote

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from routing_table.core import keys
from routing_table.core.normalize import (
    normalize_host,
    normalize_host_pattern,
    normalize_path,
    normalize_prefix,
)
from routing_table.errors import InvalidHostError, InvalidPathError

UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
LABEL = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\Z")
ALPHA_LABEL = st.from_regex(r"\A[a-z]([a-z0-9-]{0,10}[a-z0-9])?\Z")
HOSTS = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(LABEL, min_size=0, max_size=4),
    ALPHA_LABEL,
)
SEGMENT_PIECES = st.sampled_from(
    ["a", "b", "api", "v1", ".", "..", "", "%2e", "%2E%2e", ".%2e", "%7E", "~", "x y", "é",
     "%2F", "%5C", "%41", "%4a", ";", "..;", "%25", "%252e%252e", "@", ":", "%3A"]
)  # fmt: skip
PATHS = st.lists(SEGMENT_PIECES, max_size=12).map(lambda parts: "/" + "/".join(parts))
ANY_PATHS = st.one_of(PATHS, st.text(max_size=60).map(lambda t: "/" + t))


def _path_or_none(uri: str) -> str | None:
    try:
        return normalize_path(uri)
    except InvalidPathError:
        return None


# -- hosts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("example.com:443", "example.com"),
        ("example.com.:8080", "example.com"),
        ("  api-t9yhp25-portal.example.com ", "api-t9yhp25-portal.example.com"),
        ("localhost", "localhost"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("host:", "host"),
        ("a" * 63 + ".com", "a" * 63 + ".com"),
    ],
)
def test_normalize_host_accepts(raw: str, expected: str) -> None:
    assert normalize_host(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "1.2.3.4",
        "1.2.3.4:80",
        "2130706433",
        "[::1]",
        "[::1]:443",
        "::1",
        "a..b.com",
        ".example.com",
        "example.com..",
        "-a.example.com",
        "a-.example.com",
        "a_b.example.com",
        "*.example.com",
        "exa mple.com",
        "bücher.example",
        "\u212aelvin.example",  # KELVIN SIGN lowercases to an ASCII "k"
        "example.com:http",
        "example.com:99999",
        "a" * 64 + ".com",
        ".".join(["a" * 63] * 4) + ".com",
    ],
)
def test_normalize_host_rejects(raw: str) -> None:
    with pytest.raises(InvalidHostError) as info:
        normalize_host(raw)
    assert info.value.field == "host"


@settings(deadline=None)
@given(HOSTS, st.booleans(), st.booleans(), st.integers(0, 65535) | st.none())
def test_host_normal_form_is_stable(host: str, upper: bool, dot: bool, port: int | None) -> None:
    assume(len(host) <= 253)
    raw = host.upper() if upper else host
    raw += "." if dot else ""
    raw += f":{port}" if port is not None else ""
    normal = normalize_host(raw)
    assert normal == host
    assert normalize_host(normal) == normal


@settings(deadline=None)
@given(st.text(max_size=300))
def test_host_is_valid_or_rejected(raw: str) -> None:
    try:
        normal = normalize_host(raw)
    except InvalidHostError:
        return
    assert normalize_host(normal) == normal
    assert len(normal) <= 253
    assert re.fullmatch(r"[a-z0-9.-]+", normal)
    assert not normal.rpartition(".")[2].isdigit()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("*.Example.com", "*.example.com"),
        ("*.preview.example.com.", "*.preview.example.com"),
        ("api.example.com", "api.example.com"),
    ],
)
def test_host_pattern_accepts(raw: str, expected: str) -> None:
    assert normalize_host_pattern(raw) == expected


@pytest.mark.parametrize(
    "raw", ["*.com", "*", "*.", "a.*.example.com", "**.example.com", "example.com:443", "[::1]"]
)
def test_host_pattern_rejects(raw: str) -> None:
    with pytest.raises(InvalidHostError):
        normalize_host_pattern(raw)


@settings(deadline=None)
@given(HOSTS, st.booleans())
def test_host_pattern_is_idempotent(host: str, wildcard: bool) -> None:
    raw = "*." + host if wildcard else host
    try:
        normal = normalize_host_pattern(raw)
    except InvalidHostError:
        assume(False)
        raise
    assert normalize_host_pattern(normal) == normal


# -- request paths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/", "/"),
        ("/a/b.js", "/a/b.js"),
        ("/a//b", "/a/b"),
        ("//a///b//", "/a/b/"),
        ("/a/./b/../c", "/a/c"),
        ("/a/b/..", "/a/"),
        ("/a/.", "/a/"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/%2e%2e/%2E%2e/x", "/x"),
        ("/a/.%2e/b", "/b"),
        ("/%7Euser/%7e", "/~user/~"),
        ("/%41%62c", "/Abc"),
        ("/a b/é", "/a%20b/%C3%A9"),
        ("/a%2fb", "/a%2Fb"),
        ("/api/v4/projects/group%2Fproject", "/api/v4/projects/group%2Fproject"),
        ("/q%3fx", "/q%3Fx"),
        ("/.well-known/x", "/.well-known/x"),
        ("/a/...", "/a/..."),
        ("/a;b=c/d", "/a;b=c/d"),
        ("/%25", "/%25"),
    ],
)
def test_normalize_path_examples(uri: str, expected: str) -> None:
    assert normalize_path(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "a/b",
        "*",
        "/api/..%2F..%2Fadmin",
        "/api/%2e%2e%2fadmin",
        "/api/%2F..",
        "/api/..%5Cadmin",
        "/api/..\\admin",
        "/a/..;/admin",
        "/a/.;x/b",
        "/a/%252e%252e/b",
        "/a/%25252e%25252e/b",
        "/x/%zz",
        "/x/%4",
        "/x/%",
        "/\ud800",
    ],
)
def test_normalize_path_rejects(uri: str) -> None:
    with pytest.raises(InvalidPathError):
        normalize_path(uri)


@settings(deadline=None)
@given(ANY_PATHS)
@example("/a/%2e%2e/%2e%2e/%2e%2e/b")
def test_path_normal_form_properties(uri: str) -> None:
    normal = _path_or_none(uri)
    if normal is None:
        return
    assert normal.startswith("/")
    assert "//" not in normal
    assert normalize_path(normal) == normal
    segments = normal.split("/")[1:]
    assert all(s not in (".", "..") for s in segments)
    for escape in re.findall(r"%(..)", normal):
        assert re.fullmatch(r"[0-9A-F]{2}", escape)
        assert chr(int(escape, 16)) not in UNRESERVED


@settings(deadline=None)
@given(ANY_PATHS)
def test_nothing_escapes_the_root_even_after_decoding(uri: str) -> None:
    """However many times an origin decodes the result, it never sees a dot segment."""
    normal = _path_or_none(uri)
    if normal is None:
        return
    decoded = normal
    for _ in range(3):
        decoded = unquote(decoded, errors="replace")
        parts = re.split(r"[/\\]", decoded)
        assert all(part.split(";", 1)[0] not in (".", "..") for part in parts), decoded


@settings(deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", ".", "..", ""]), max_size=20))
def test_dot_resolution_agrees_with_posixpath(parts: list[str]) -> None:
    uri = "/" + "/".join(parts)
    expected = posixpath.normpath("/" + uri.lstrip("/"))
    assert (normalize_path(uri).rstrip("/") or "/") == expected


def test_path_with_hundreds_of_segments() -> None:
    uri = "/a" * 4000 + "/../b"
    normal = normalize_path(uri)
    assert normal == "/a" * 3999 + "/b"


# -- route prefixes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("", "/"),
        ("api", "/api"),
        ("/api/", "/api"),
        ("//api//v1//", "/api/v1"),
        ("/%7euser", "/~user"),
        ("/a b", "/a%20b"),
        ("/group%2fproject", "/group%2Fproject"),
    ],
)
def test_normalize_prefix_examples(raw: str, expected: str) -> None:
    assert normalize_prefix(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "/a/./b",
        "/a/../b",
        "/..",
        "/%2e%2e/b",
        "/a/..%2F",
        "/a?x=1",
        "/a#frag",
        "/x/%zz",
        "/s" * (keys.MAX_PREFIX_SEGMENTS + 1),
        "/" + "x" * 1100,
    ],
)
def test_normalize_prefix_rejects(raw: str) -> None:
    with pytest.raises(InvalidPathError) as info:
        normalize_prefix(raw)
    assert info.value.field == "prefix"


def test_prefix_segment_limit_is_inclusive() -> None:
    raw = "/s" * keys.MAX_PREFIX_SEGMENTS
    assert normalize_prefix(raw) == raw


@settings(deadline=None)
@given(ANY_PATHS)
def test_prefix_normal_form_properties(raw: str) -> None:
    try:
        prefix = normalize_prefix(raw)
    except InvalidPathError:
        return
    assert normalize_prefix(prefix) == prefix
    # A prefix is itself a normalised path: requests for exactly the prefix match it.
    assert normalize_path(prefix) == prefix
    assert prefix == "/" or not prefix.endswith("/")
    assert len([s for s in prefix.split("/") if s]) <= keys.MAX_PREFIX_SEGMENTS


@settings(deadline=None)
@given(st.lists(st.sampled_from(["a", "%7E", "x y", "é", "%2f", "%41", "b;c"]), max_size=8))
def test_prefix_and_path_share_the_percent_normal_form(parts: list[str]) -> None:
    raw = "/" + "/".join(parts)
    assert normalize_prefix(raw) == (normalize_path(raw).rstrip("/") or "/")
