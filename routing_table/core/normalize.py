"""Normal forms for hosts and paths, shared by the writers (route hosts and prefixes) and the edge
(request Host header and URI). Pure: no I/O, no boto3, no pydantic.

Both sides of a lookup must produce byte-identical strings, or a stored route never matches the
request it was meant for. Hence one module, and each function is idempotent.

Path normal form (``normalize_path`` and ``normalize_prefix``):

* percent-escapes of unreserved characters (``A-Z a-z 0-9 - . _ ~``) are decoded, every other
  escape is kept with uppercase hex, and characters that may not appear literally in a path
  segment (space, ``"``, ``\\``, non-ASCII...) are encoded as UTF-8 escapes;
* empty segments (``//``) are dropped, ``.`` and ``..`` are resolved, never above the root;
* encoded separators are kept encoded (``%2F`` is data, e.g. GitLab's ``group%2Fproject``), but a
  segment that would *become* a dot segment once an origin decodes it (``..%2F``, ``%252e%252e``,
  ``..%5C``, Tomcat's ``..;``) is rejected with ``InvalidPathError``: resolving it here is
  impossible (we don't know how the origin decodes) and passing it on would let a request matched
  under one route prefix climb into another path at the origin.
"""

from __future__ import annotations

import re
import string
from typing import Final
from urllib.parse import unquote_to_bytes

from routing_table.core import keys
from routing_table.errors import InvalidHostError, InvalidPathError

MAX_HOST_LENGTH: Final = 253
# The route sort key is "PATH#" + prefix and DynamoDB sort keys are at most 1,024 bytes.
MAX_PREFIX_LENGTH: Final = 1024 - len(keys.PATH_PREFIX)

_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_RE: Final = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")

_UNRESERVED: Final = frozenset(string.ascii_letters + string.digits + "-._~")
# pchar = unreserved / pct-encoded / sub-delims / ":" / "@" (RFC 3986 section 3.3)
_PCHAR_LITERAL: Final = _UNRESERVED | frozenset("!$&'()*+,;=:@")
_HEX: Final = frozenset(string.hexdigits)
# A path already in normal form: non-empty segments of literal pchars only. "/." is checked apart
# (dot segments and hidden files both take the slow path, which is still correct).
_NORMAL_PATH_RE: Final = re.compile(r"(?:/[A-Za-z0-9\-._~!$&'()*+,;=:@]+)*/?")
_DOT_SEGMENTS: Final = frozenset({".", ".."})
# How many rounds of percent-decoding an origin might apply; three covers double encoding with
# room to spare.
_DECODE_ROUNDS: Final = 3
_SEPARATORS: Final = re.compile(r"[/\\]")
# Overlong UTF-8 forms of '.', '/' and '\\' (latin-1 view of the decoded bytes). They are invalid
# UTF-8, but lenient decoders (the classic IIS traversal, some servlet containers) read them as
# the ASCII character, so a segment holding them is treated as if it held that character.
_OVERLONG: Final = (
    ("\xc0\xae", "."),
    ("\xe0\x80\xae", "."),
    ("\xc0\xaf", "/"),
    ("\xe0\x80\xaf", "/"),
    ("\xc1\x9c", "\\"),
)


def _short(raw: str) -> str:
    """A bounded repr for error messages: request values can be 8 KB long."""
    return repr(raw if len(raw) <= 80 else raw[:77] + "...")


def _host_error(raw: str, reason: str) -> InvalidHostError:
    return InvalidHostError(f"invalid host {_short(raw)}: {reason}", field="host", value=raw)


def _path_error(raw: str, reason: str, *, field: str = "path") -> InvalidPathError:
    return InvalidPathError(f"invalid path {_short(raw)}: {reason}", field=field, value=raw)


def _check_name(raw: str, name: str) -> str:
    """Validate a lowercase name without port or trailing dot; return it."""
    if not name:
        raise _host_error(raw, "empty")
    if len(name) > MAX_HOST_LENGTH:
        raise _host_error(raw, f"longer than {MAX_HOST_LENGTH} characters")
    if _HOST_RE.fullmatch(name) is None:
        raise _host_error(
            raw, "labels must be 1-63 letters, digits or '-', not starting or ending with '-'"
        )
    # A name whose last label is all digits is an IPv4 literal (or a numeric form of one such as
    # "2130706433"); TLDs are never numeric.
    if name.rpartition(".")[2].isdigit():
        raise _host_error(raw, "IP literals are not routed")
    return name


def _lower_ascii(raw: str, value: str) -> str:
    # isascii first: str.lower() maps some non-ASCII letters to ASCII (KELVIN SIGN -> "k").
    if not value.isascii():
        raise _host_error(raw, "non-ASCII characters (use the punycode 'xn--' form)")
    return value.lower()


def normalize_host(raw: str) -> str:
    """Normal form of a request's Host header value: no port, no trailing dot, lowercase."""
    value = _lower_ascii(raw, raw.strip())
    if value.startswith("["):
        raise _host_error(raw, "IP literals are not routed")
    if ":" in value:
        value, _, port = value.rpartition(":")
        if ":" in value:
            raise _host_error(raw, "IP literals are not routed")
        # An empty port ("host:") is allowed by RFC 3986.
        if port and not (port.isdigit() and len(port) <= 5 and int(port) <= 65535):
            raise _host_error(raw, f"bad port {port!r}")
    if value.endswith("."):
        value = value[:-1]
    return _check_name(raw, value)


def normalize_host_pattern(raw: str) -> str:
    """Normal form of a route's host: a host name, or ``*.<parent>`` covering exactly one label.

    The parent of a wildcard must have at least two labels (``*.example.com``, never ``*.com``),
    like a TLS wildcard certificate.
    """
    value = _lower_ascii(raw, raw.strip())
    if ":" in value or value.startswith("["):
        raise _host_error(raw, "a route host takes no port and no IP literal")
    if value.endswith("."):
        value = value[:-1]
    if value.startswith("*."):
        parent = _check_name(raw, value[2:])
        if "." not in parent:
            raise _host_error(raw, "a wildcard's parent needs at least two labels")
        if len(value) > MAX_HOST_LENGTH:
            raise _host_error(raw, f"longer than {MAX_HOST_LENGTH} characters")
        return value
    return _check_name(raw, value)


def _encode_char(raw: str, char: str, out: list[str], field: str) -> None:
    try:
        data = char.encode("utf-8")
    except UnicodeEncodeError:
        raise _path_error(raw, "lone surrogate in path", field=field) from None
    out.extend(f"%{byte:02X}" for byte in data)


def _normalize_segment(raw: str, segment: str, field: str = "path") -> str:
    """Percent-encoding normal form of one path segment (no '/' inside)."""
    if "%" not in segment and all(c in _PCHAR_LITERAL for c in segment):
        return segment
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        char = segment[i]
        if char == "%":
            hex_digits = segment[i + 1 : i + 3]
            if len(hex_digits) != 2 or not all(c in _HEX for c in hex_digits):
                raise _path_error(raw, "malformed percent-escape", field=field)
            decoded = chr(int(hex_digits, 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + hex_digits.upper())
            i += 3
            continue
        if char in _PCHAR_LITERAL:
            out.append(char)
        else:
            _encode_char(raw, char, out, field)
        i += 1
    return "".join(out)


def _becomes_dot_segment(segment: str) -> bool:
    """True when an origin decoding ``segment`` (up to three times) could see a dot segment.

    Covers encoded separators (``..%2F``, ``%2F..``), backslashes (``..%5C``, some servers treat
    ``\\`` as ``/``), double encoding (``%252E%252E``), path parameters (Tomcat's ``..;x``) and
    overlong UTF-8 (``%C0%AE%C0%AE``).
    """
    decoded = segment
    for _ in range(_DECODE_ROUNDS + 1):
        parts = _SEPARATORS.split(decoded)
        if any(part.split(";", 1)[0] in _DOT_SEGMENTS for part in parts):
            return True
        if "%" not in decoded:
            return False
        decoded = unquote_to_bytes(decoded).decode("latin-1")
        for overlong, char in _OVERLONG:
            decoded = decoded.replace(overlong, char)
    return False


def _segments(raw: str, value: str, field: str = "path") -> tuple[list[str], bool]:
    """Normalised segments of ``value`` (starting with '/') and whether it ends like a directory."""
    out: list[str] = []
    last = ""
    for raw_segment in value.split("/")[1:]:
        last = segment = _normalize_segment(raw, raw_segment, field)
        if not segment or segment == ".":
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        if ("%" in segment or ";" in segment) and _becomes_dot_segment(segment):
            raise _path_error(
                raw, "encoded separator or parameter forms a dot segment", field=field
            )
        out.append(segment)
    return out, last in ("", ".", "..")


def normalize_path(uri: str) -> str:
    """Normal form of a request URI's path (see the module docstring); starts with '/'.

    A trailing '/' is kept (``/docs/`` asks for a directory index), and a path ending in a dot
    segment ends in '/' as RFC 3986's remove_dot_segments does.
    """
    if uri and "/." not in uri and _NORMAL_PATH_RE.fullmatch(uri) is not None:
        return uri
    if not uri.startswith("/"):
        raise _path_error(uri, "must start with '/'")
    segments, directory = _segments(uri, uri)
    if not segments:
        return "/"
    path = "/" + "/".join(segments)
    return path + "/" if directory else path


def normalize_prefix(raw: str) -> str:
    """Normal form of a route's path prefix: leading '/', no trailing '/' (except the root),
    no '.' or '..' segments, at most ``keys.MAX_PREFIX_SEGMENTS`` segments."""
    value = raw.strip()
    if "?" in value or "#" in value:
        raise _path_error(raw, "a prefix is a path: no '?' or '#'", field="prefix")
    if not value.startswith("/"):
        value = "/" + value
    for raw_segment in value.split("/"):
        if _normalize_segment(raw, raw_segment, "prefix") in _DOT_SEGMENTS:
            raise _path_error(raw, "'.' and '..' segments are not allowed", field="prefix")
    segments, _ = _segments(raw, value, "prefix")
    if len(segments) > keys.MAX_PREFIX_SEGMENTS:
        raise _path_error(raw, f"more than {keys.MAX_PREFIX_SEGMENTS} segments", field="prefix")
    prefix = "/" + "/".join(segments)
    if len(prefix) > MAX_PREFIX_LENGTH:
        raise _path_error(raw, f"longer than {MAX_PREFIX_LENGTH} characters", field="prefix")
    return prefix
