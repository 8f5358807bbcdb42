"""Caching rules, with the clock and randomness passed in.

The ``.well-known`` rules are the spec's recommendations (S2S "Resolving
server names", step 3) with Synapse's refinements (docs/design.md §5.1-5.3):
a 24 h default with +/-10 % jitter, header-derived periods clamped to
[5 min, 48 h], failures kept 1 h (2 min when the domain recently had a valid
file), a refresh in the last 20 % of the lifetime, and the last good answer
kept when a refresh fails temporarily.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from .model import WellKnownResult

__all__ = [
    "TtlCache",
    "WellKnownCache",
    "cache_period_from_headers",
    "parse_cache_control",
]

WELL_KNOWN_DEFAULT_CACHE_PERIOD = 24 * 3600.0
WELL_KNOWN_DEFAULT_CACHE_PERIOD_JITTER = 0.1
WELL_KNOWN_INVALID_CACHE_PERIOD = 1 * 3600.0
WELL_KNOWN_DOWN_CACHE_PERIOD = 2 * 60.0
WELL_KNOWN_REMEMBER_DOMAIN_HAD_VALID = 2 * 3600.0
WELL_KNOWN_MAX_CACHE_PERIOD = 48 * 3600.0
WELL_KNOWN_MIN_CACHE_PERIOD = 5 * 60.0
WELL_KNOWN_GRACE_PERIOD_FACTOR = 0.2
WELL_KNOWN_RETRY_ATTEMPTS = 3
WELL_KNOWN_RETRY_INTERVAL = 0.5

K = TypeVar("K")
V = TypeVar("V")


def parse_cache_control(values: Iterable[str]) -> dict[str, str | None]:
    """Directives of all ``Cache-Control`` lines: lower-cased names, raw values.

    Directives are split on ``,`` only (a ``;`` is not a separator), and a later
    duplicate overrides an earlier one, as in Synapse (docs/design.md §5.3).
    """
    directives: dict[str, str | None] = {}
    for line in values:
        for part in line.split(","):
            name, sep, value = part.partition("=")
            if name.strip():
                directives[name.strip().lower()] = value.strip() if sep else None
    return directives


def cache_period_from_headers(headers: Iterable[tuple[str, str]], now: float) -> float | None:
    """How long the response may be cached by its headers, or None when they say nothing.

    ``no-store`` gives 0; an integer ``max-age`` wins next; then the last
    ``Expires`` date (an unparseable one means "already expired", RFC 9111
    5.3). The caller clamps the result.
    """
    pairs = [(name.lower(), value) for name, value in headers]
    directives = parse_cache_control(value for name, value in pairs if name == "cache-control")
    if "no-store" in directives:
        return 0.0
    max_age = directives.get("max-age")
    if max_age:
        try:
            return float(int(max_age))
        except ValueError:
            pass  # "10.5" and the like are ignored, as Synapse does
    expires = [value for name, value in pairs if name == "expires"]
    if expires:
        try:
            return email.utils.parsedate_to_datetime(expires[-1]).timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError):
            return 0.0
    return None


class TtlCache(Generic[K, V]):
    """A bounded LRU map whose entries expire; expired entries stay readable as stale.

    Values and expiry times live in two plain (insertion-ordered) dicts: no
    tuple or OrderedDict node per entry, which matters at hundreds of
    thousands of cached names. A hit moves the key to the end by re-inserting it.
    """

    def __init__(self, max_entries: int) -> None:
        self._values: dict[K, V] = {}
        self._expiry: dict[K, float] = {}
        self._max_entries = max_entries

    def get(self, key: K, now: float) -> tuple[V, float] | None:
        """The value and its expiry time, if it has not expired yet."""
        expires_at = self._expiry.get(key)
        if expires_at is None or now >= expires_at:
            return None
        value = self._values.pop(key)
        self._values[key] = value  # now the most recently used
        return value, expires_at

    def get_stale(self, key: K) -> tuple[V, float] | None:
        """The value and its expiry time, expired or not."""
        expires_at = self._expiry.get(key)
        return None if expires_at is None else (self._values[key], expires_at)

    def put(self, key: K, value: V, expires_at: float) -> None:
        """Store a value until ``expires_at``; the least recently used entry goes first."""
        self._values.pop(key, None)
        self._values[key] = value
        self._expiry[key] = expires_at
        if len(self._values) > self._max_entries:
            self.pop(next(iter(self._values)))

    def pop(self, key: K) -> None:
        """Forget one key."""
        self._values.pop(key, None)
        self._expiry.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        self._values.clear()
        self._expiry.clear()

    def __len__(self) -> int:
        return len(self._values)


@dataclass(frozen=True, slots=True)
class _WellKnownEntry:
    result: WellKnownResult
    refresh_at: float  # after this, fetch again (the last 20 % of the lifetime)
    had_valid_until: float  # the domain "recently had a valid file" until then


class WellKnownCache:
    """The ``.well-known`` cache with Synapse's rules; time and randomness are arguments."""

    def __init__(self, max_entries: int) -> None:
        self._entries: TtlCache[str, _WellKnownEntry] = TtlCache(max_entries)

    def fresh(self, hostname: str, now: float) -> tuple[WellKnownResult, float] | None:
        """The cached result and when to refresh it, unless a refresh is due."""
        found = self._entries.get(hostname, now)
        if found is None or now >= found[0].refresh_at:
            return None
        return found[0].result, found[0].refresh_at

    def attempts(self, hostname: str, now: float) -> int:
        """How many fetches to try: 3 for a domain that recently had a valid file."""
        return WELL_KNOWN_RETRY_ATTEMPTS if self._had_valid(hostname, now) else 1

    def record(
        self,
        fetched: WellKnownResult,
        header_period: float | None,
        now: float,
        rng: random.Random,
    ) -> tuple[WellKnownResult, float]:
        """Store a fetch outcome; return the result to use and when to refresh it.

        Args:
            fetched: What the fetch found now.
            header_period: The period from :func:`cache_period_from_headers`.
            now: The current time.
            rng: The source of jitter.
        """
        hostname = fetched.hostname
        found = self._entries.get(hostname, now)
        previous = found[0] if found else None
        if not fetched.valid and fetched.temporary and previous and previous.result.valid:
            # A passing failure during the refresh window: keep the last good
            # answer and leave the cache alone, so the next lookup tries again.
            return replace(previous.result, stale=True, from_cache=True), now
        had_valid_until = previous.had_valid_until if previous else float("-inf")
        if fetched.valid:
            period = _success_period(header_period, rng)
            had_valid_until = now + period + WELL_KNOWN_REMEMBER_DOMAIN_HAD_VALID
        else:
            recent = self._had_valid(hostname, now)
            base = WELL_KNOWN_DOWN_CACHE_PERIOD if recent else WELL_KNOWN_INVALID_CACHE_PERIOD
            period = base * _jitter(rng)
        result = replace(fetched, expires_at=now + period)
        refresh_at = now + period * (1 - WELL_KNOWN_GRACE_PERIOD_FACTOR)
        self._entries.put(
            hostname, _WellKnownEntry(result, refresh_at, had_valid_until), now + period
        )
        return result, refresh_at

    def pop(self, hostname: str) -> None:
        """Forget one host."""
        self._entries.pop(hostname)

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _had_valid(self, hostname: str, now: float) -> bool:
        stale = self._entries.get_stale(hostname)
        return stale is not None and now < stale[0].had_valid_until


def _jitter(rng: random.Random) -> float:
    return rng.uniform(
        1 - WELL_KNOWN_DEFAULT_CACHE_PERIOD_JITTER, 1 + WELL_KNOWN_DEFAULT_CACHE_PERIOD_JITTER
    )


def _success_period(header_period: float | None, rng: random.Random) -> float:
    if header_period is None:
        return WELL_KNOWN_DEFAULT_CACHE_PERIOD * _jitter(rng)
    return min(max(header_period, WELL_KNOWN_MIN_CACHE_PERIOD), WELL_KNOWN_MAX_CACHE_PERIOD)
