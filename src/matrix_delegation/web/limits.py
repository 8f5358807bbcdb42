"""What keeps the web checker cheap to run and hard to abuse.

* :class:`TokenBuckets`: a token bucket per client (see :mod:`.clients`), so
  that one client cannot start more than its share of checks.
* :class:`ReportCache`: recent reports for a short while, bounded in count and
  in bytes, least recently used out first, so that repeated requests for one
  name cost one check.
* :class:`ReportSource`: the cache, plus coalescing (requests for a name whose
  check is running wait for that check), plus a bound on the checks running at
  once per client and over all clients. Clients are only charged for checks
  that really start.

Nothing here knows about HTTP; the clock is injectable for tests.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from ..checker.check import Report

__all__ = [
    "Busy",
    "ClientBusy",
    "RateLimited",
    "ReportCache",
    "ReportSource",
    "TokenBuckets",
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


class ClientBusy(Exception):
    """As many checks as one client may run are running for this client already."""


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
    """Reports by server name for ``ttl`` seconds, bounded in count and in bytes.

    A report's size is ``size(report)``, computed once when it is stored (the
    web app uses the length of its JSON). Expired reports are dropped whenever
    one is added; then the least recently used go until both bounds hold. A
    report larger than the whole byte budget is not kept.
    """

    def __init__(
        self,
        ttl: float,
        max_entries: int,
        max_bytes: int,
        *,
        size: Callable[[Report], int],
        clock: Clock = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._max_bytes = max_bytes
        self._size = size
        self._clock = clock
        self._bytes = 0
        # name -> (expires, size, report), least recently used first.
        self._entries: OrderedDict[str, tuple[float, int, Report]] = OrderedDict()
        # name -> expires, in the order stored: with one ttl, the soonest to expire first.
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def get(self, name: str) -> Report | None:
        """The report for ``name`` if it is fresh."""
        entry = self._entries.get(name)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            self._drop(name)
            return None
        self._entries.move_to_end(name)
        return entry[2]

    def put(self, name: str, report: Report) -> None:
        """Keep ``report`` (no-op when the cache is disabled or the report too big)."""
        if self._ttl <= 0 or self._max <= 0:
            return
        size = self._size(report)
        self._drop(name)
        self._purge_expired()
        if size > self._max_bytes:
            return
        expires = self._clock() + self._ttl
        self._entries[name] = (expires, size, report)
        self._expiry[name] = expires
        self._bytes += size
        while len(self._entries) > self._max or self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))

    def _purge_expired(self) -> None:
        now = self._clock()
        while self._expiry:
            name, expires = next(iter(self._expiry.items()))
            if expires > now:
                return
            self._drop(name)

    def _drop(self, name: str) -> None:
        entry = self._entries.pop(name, None)
        if entry is not None:
            self._bytes -= entry[1]
            del self._expiry[name]

    @property
    def bytes(self) -> int:
        """The total size of the reports kept."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


class ReportSource:
    """Reports for server names: from the cache, a running check, or a new one.

    Args:
        check: Runs one check (with its own deadline); must not raise for
            anything the remote side does.
        cache: Where finished reports are kept.
        max_running: The bound on checks running at once, over all clients.
        max_running_per_client: The bound on checks one client has started
            that are still running, so that a few clients with slow names
            cannot hold every slot.
    """

    def __init__(
        self,
        check: Callable[[str], Awaitable[Report]],
        cache: ReportCache,
        *,
        max_running: int,
        max_running_per_client: int,
    ) -> None:
        self._check = check
        self._cache = cache
        self._max_running = max_running
        self._max_per_client = max_running_per_client
        self._running: dict[str, asyncio.Task[Report]] = {}
        self._per_client: dict[str, int] = {}

    @property
    def running(self) -> int:
        """How many checks are running now."""
        return len(self._running)

    async def report(
        self, name: str, client: str, admit: Callable[[], None]
    ) -> tuple[Report, Outcome]:
        """The report for ``name`` and where it came from.

        A new check is started for ``client`` only when neither the cache nor
        a running check has the answer. Then :class:`ClientBusy` is raised when
        the client's checks already fill its share, :class:`Busy` when all
        slots are taken, and ``admit`` is called last; it raises (e.g.
        :class:`RateLimited`) to refuse. A refused client is charged nothing.
        """
        cached = self._cache.get(name)
        if cached is not None:
            return cached, "hit"
        task = self._running.get(name)
        if task is not None:
            return await asyncio.shield(task), "coalesced"
        if self._per_client.get(client, 0) >= self._max_per_client:
            raise ClientBusy
        if len(self._running) >= self._max_running:
            raise Busy
        admit()
        task = asyncio.ensure_future(self._check(name))
        self._running[name] = task
        self._per_client[client] = self._per_client.get(client, 0) + 1
        task.add_done_callback(lambda done: self._finished(name, client, done))
        return await asyncio.shield(task), "miss"

    def _finished(self, name: str, client: str, task: asyncio.Task[Report]) -> None:
        if self._running.get(name) is task:
            del self._running[name]
        left = self._per_client.pop(client, 1) - 1
        if left > 0:
            self._per_client[client] = left
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
