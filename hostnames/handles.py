"""Handle rules: what a handle and a pool name may be, random handles, timestamps. Pure.

A handle replaces the random part of an environment's hostnames (``api-<handle>-portal``), so it
must be one short DNS label: lowercase letters, digits and single inner hyphens. Names are
normalised (trimmed, lowercased) before they are checked, so ``Team1`` and ``team1`` are the
same handle.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string
from collections.abc import Callable
from typing import Final

from hostnames.names import is_valid_label
from routing_table.errors import InvalidHandleError, InvalidInputError

HANDLE_ALPHABET: Final = string.ascii_lowercase + string.digits
RANDOM_HANDLE_LENGTH: Final = 7
# Short enough that service, app and hash still fit in the 63-character label beside it.
MAX_HANDLE_LENGTH: Final = 32
MAX_NUMBERED_HANDLES: Final = 1000

_POOL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

Clock = Callable[[], dt.datetime]
"""Returns the current time as an aware UTC datetime; injected so tests move time by hand."""

Chooser = Callable[[str], str]
"""Picks one character of a string; ``secrets.choice`` in production, scripted in tests."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def random_handle(choice: Chooser = secrets.choice) -> str:
    """7 characters of ``[a-z0-9]`` (36^7, about 7.8e10 names) from a CSPRNG: unguessable
    hostnames keep preview environments out of reach of anyone scanning for them."""
    return "".join(choice(HANDLE_ALPHABET) for _ in range(RANDOM_HANDLE_LENGTH))


def normalize_handle(name: str) -> str:
    """The canonical form of a handle name, or ``InvalidHandleError`` saying what is wrong."""
    handle = name.strip().lower()
    if not handle:
        raise InvalidHandleError("handle is empty", field="handle", value=name)
    if len(handle) > MAX_HANDLE_LENGTH:
        raise InvalidHandleError(
            f"handle {name!r} is {len(handle)} characters long; at most {MAX_HANDLE_LENGTH} fit "
            "in a hostname beside the service and app names",
            field="handle",
            value=name,
        )
    if not is_valid_label(handle) or "--" in handle:
        raise InvalidHandleError(
            f"handle {name!r} is not a DNS label: use a-z, 0-9 and single '-' inside "
            "(e.g. team1, oauth-demo)",
            field="handle",
            value=name,
        )
    return handle


def validate_pool_name(pool: str) -> str:
    """Pool names end up in keys (``POOL#<pool>``), so they exclude ``#`` and whitespace."""
    if not _POOL_NAME.match(pool):
        raise InvalidHandleError(
            f"pool name {pool!r} is invalid: 1-64 characters of letters, digits, '.', '_' "
            "and '-', starting with a letter or digit",
            field="pool",
            value=pool,
        )
    return pool


def numbered_handles(prefix: str, count: int, *, start: int = 1) -> list[str]:
    """``numbered_handles("team", 3)`` is ``["team1", "team2", "team3"]``, each one checked."""
    if not 1 <= count <= MAX_NUMBERED_HANDLES:
        raise InvalidInputError(
            f"count must be between 1 and {MAX_NUMBERED_HANDLES}, not {count}",
            field="count",
            value=count,
        )
    if start < 0:
        raise InvalidInputError(f"start must be 0 or more, not {start}", field="start")
    return [normalize_handle(f"{prefix}{n}") for n in range(start, start + count)]


def format_timestamp(moment: dt.datetime) -> str:
    """Fixed-width ISO-8601 UTC (``2024-05-01T10:00:00.000000Z``): sorts as text in time order,
    which the free list's sort key relies on."""
    if moment.tzinfo is None:
        raise InvalidInputError("clock returned a naive datetime; use an aware UTC one")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cooldown_cutoff(now: dt.datetime, cooldown_seconds: int) -> str:
    """Handles released at or before this timestamp have cooled down."""
    return format_timestamp(now - dt.timedelta(seconds=cooldown_seconds))
