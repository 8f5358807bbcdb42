"""What keeps the web checker cheap to run and hard to abuse.

* :class:`TokenBuckets`: a token bucket per client (an IPv4 address or an
  IPv6 /64), so that one client cannot start more than its share of checks.
* :class:`ReportCache`: recent reports for a short while, least recently used
  out first, so that repeated requests for one name cost one check.
* :class:`ReportSource`: the cache, plus coalescing (requests for a name whose
  check is running wait for that check), plus a global bound on the checks
  running at once. Clients are only charged for checks that really start.

Nothing here knows about HTTP; the clock is injectable for tests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from ..checker.check import Report

__all__ = [
    "Busy",
    "RateLimited",
    "ReportCache",
    "ReportSource",
    "TokenBuckets",
    "client_key",
]

Clock = Callable[[], float]
Outcome = Literal["hit", "miss", "coalesced"]


class RateLimited(Exception):
    """The client has used its checks; it may try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:.1f} s")
        self.retry_after = retry_after


class Busy(Exception):
    """As many checks as allowed are running already."""


def client_key(remote: str | None) -> str:
    """The rate-limit key of a peer: its IPv4 address, or its IPv6 /64."""
    if not remote:
        return "unknown"
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return remote
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """``per_minute`` tokens a minute per key, at most ``burst`` saved up.

    At most ``max_clients`` buckets are kept; the least recently used goes first
    (a forgotten client starts again with a full bucket).
    """

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_clients: int = 100_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._max = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> None:
        """Take one token for ``key``; raise :class:`RateLimited` when there is none."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._burst, now)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
            bucket.updated = now
        if bucket.tokens < 1.0:
            wait = (1.0 - bucket.tokens) / self._rate if self._rate > 0 else math.inf
            raise RateLimited(wait)
        bucket.tokens -= 1.0


class ReportCache:
    """Reports by server name for ``ttl`` seconds, at most ``max_entries`` of them."""

    def __init__(self, ttl: float, max_entries: int, *, clock: Clock = time.monotonic) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Report]] = OrderedDict()

    def get(self, name: str) -> Report | None:
        """The report for ``name`` if it is fresh."""
        entry = self._entries.get(name)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[name]
            return None
        self._entries.move_to_end(name)
        return entry[1]

    def put(self, name: str, report: Report) -> None:
        """Keep ``report`` (no-op when the cache is disabled)."""
        if self._ttl <= 0 or self._max <= 0:
            return
        self._entries[name] = (self._clock() + self._ttl, report)
        self._entries.move_to_end(name)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class ReportSource:
    """Reports for server names: from the cache, a running check, or a new one.

    Args:
        check: Runs one check (with its own deadline); must not raise for
            anything the remote side does.
        cache: Where finished reports are kept.
        max_running: The bound on checks running at once.
    """

    def __init__(
        self,
        check: Callable[[str], Awaitable[Report]],
        cache: ReportCache,
        *,
        max_running: int,
    ) -> None:
        self._check = check
        self._cache = cache
        self._max_running = max_running
        self._running: dict[str, asyncio.Task[Report]] = {}

    @property
    def running(self) -> int:
        """How many checks are running now."""
        return len(self._running)

    async def report(self, name: str, admit: Callable[[], None]) -> tuple[Report, Outcome]:
        """The report for ``name`` and where it came from.

        ``admit`` is called only when a new check has to start; it raises (e.g.
        :class:`RateLimited`) to refuse. :class:`Busy` is raised when the bound
        on running checks is reached.
        """
        cached = self._cache.get(name)
        if cached is not None:
            return cached, "hit"
        task = self._running.get(name)
        if task is not None:
            return await asyncio.shield(task), "coalesced"
        if len(self._running) >= self._max_running:
            raise Busy
        admit()
        task = asyncio.ensure_future(self._check(name))
        self._running[name] = task
        task.add_done_callback(lambda done: self._finished(name, done))
        return await asyncio.shield(task), "miss"

    def _finished(self, name: str, task: asyncio.Task[Report]) -> None:
        if self._running.get(name) is task:
            del self._running[name]
        if task.cancelled():
            return
        if task.exception() is None:  # also marks a failure as seen: the waiters got it
            self._cache.put(name, task.result())

    async def close(self) -> None:
        """Cancel the checks still running."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
