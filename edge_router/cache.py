"""The edge's module-level cache: what the table said, and what to do with each URL.

Two LRU-bounded maps (``cachetools.LRUCache``), both on an injected clock:

* **facts**: route key -> route record or ``None`` (absent); asset key -> exists. Each fact has
  a fresh deadline (``cache_ttl_seconds`` when found, ``negative_cache_ttl_seconds`` when
  absent, each shortened by up to ``cache_jitter_ratio`` at random so the environments that
  learned a fact together don't all refresh it in the same second) and a stale deadline
  ``max_stale_seconds`` later, the window in which it may be served when DynamoDB fails
  (stale-if-error). Only answers are stored: a failed lookup never becomes "absent".
* **decisions**: (Host header as sent, URI as sent) -> the finished answer, fresh until the
  earliest fact it rests on. A hit is one dict lookup and a few assignments; raw header values
  are the key so a hit normalises nothing.

Expiry is checked on read; LRU eviction bounds memory whatever the traffic.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

from routing_table.core import keys

if TYPE_CHECKING:
    from edge_router.decisions import Decision


@dataclass(frozen=True, slots=True)
class Fact:
    """What the table said about one key, and until when it may be used."""

    value: Any  # RouteRecord | InvalidRoute | None for route keys, bool for asset keys
    fresh_until: float
    stale_until: float


@dataclass(frozen=True, slots=True)
class CachedDecision:
    decision: Decision
    fresh_until: float


class EdgeCache:
    def __init__(
        self,
        *,
        max_entries: int,
        ttl: float,
        negative_ttl: float,
        jitter_ratio: float,
        max_stale: float,
        rng: Callable[[], float],
    ) -> None:
        self._facts: LRUCache[keys.Key, Fact] = LRUCache(maxsize=max_entries)
        self._decisions: LRUCache[Hashable, CachedDecision] = LRUCache(maxsize=max_entries)
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._jitter = jitter_ratio
        self._max_stale = max_stale
        self._rng = rng

    def decision(self, key: Hashable, now: float) -> CachedDecision | None:
        """The fresh decision for ``key``, or None."""
        try:
            cached = self._decisions[key]
        except KeyError:
            return None
        return cached if now < cached.fresh_until else None

    def put_decision(self, key: Hashable, decision: Decision, fresh_until: float) -> None:
        self._decisions[key] = CachedDecision(decision, fresh_until)

    def fact(self, key: keys.Key, now: float) -> Fact | None:
        """The fact for ``key`` while it is fresh or stale-servable; dropped once past both."""
        try:
            fact = self._facts[key]
        except KeyError:
            return None
        if now >= fact.stale_until:
            del self._facts[key]
            return None
        return fact

    def learn(self, key: keys.Key, value: Any, *, found: bool, now: float) -> Fact:
        """Store an answer from the table; ``found`` picks the positive or negative TTL."""
        ttl = self._ttl if found else self._negative_ttl
        fresh_until = now + ttl * (1.0 - self._jitter * self._rng())
        fact = Fact(value, fresh_until, fresh_until + self._max_stale)
        self._facts[key] = fact
        return fact

    def clear(self) -> None:
        self._facts.clear()
        self._decisions.clear()

    @property
    def sizes(self) -> tuple[int, int]:
        """(facts, decisions) currently held."""
        return len(self._facts), len(self._decisions)
