"""The connections of one unit of work (a check): counted, and kept alive between its GETs.

A scope is entered with :func:`connection_scope` and found again through a
context variable, so every task the unit of work starts (``asyncio.gather``
copies the context) counts its connections in the same place
(:func:`count_connection`, called where sockets are connected) and may reuse
an idle connection to the same scheme, host and port (and so the same SNI).
Reuse is bounded: at most :data:`MAX_REQUESTS` requests on one connection, an
idle connection is dropped after :data:`MAX_IDLE` seconds, and every
connection is closed when the scope ends: nothing outlives the unit of work,
so memory stays flat however many checks run one after another.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = [
    "MAX_IDLE",
    "MAX_REQUESTS",
    "Answer",
    "ConnectionScope",
    "Kept",
    "connection_scope",
    "count_connection",
    "current_scope",
]

#: Requests on one kept-alive connection (the three ``.well-known`` files and a few more).
MAX_REQUESTS = 8
#: Seconds an idle connection is kept for the next GET of the same scope (discovery's
#: DNS lookups come between the server file and the client file: seconds under load).
MAX_IDLE = 10.0

Key = tuple[str, str, int]  # scheme, host as in the URL, port


@dataclass(slots=True, eq=False)
class Kept:
    """One open connection and how much it has served."""

    key: Key
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    requests: int = 0
    idle_since: float = field(default_factory=time.monotonic)
    reaper: asyncio.TimerHandle | None = None

    def usable(self) -> bool:
        """Whether another request may go on it (open, not idle for too long, under the cap)."""
        if self.writer.is_closing() or self.reader.at_eof() or self.requests >= MAX_REQUESTS:
            return False
        return time.monotonic() - self.idle_since <= MAX_IDLE

    def abort(self) -> None:
        """Drop it at once: its responses were read in full, nothing is lost."""
        self.stop_reaper()
        self.writer.transport.abort()

    def stop_reaper(self) -> None:
        """It is in use again (or gone): no idle timeout."""
        if self.reaper is not None:
            self.reaper.cancel()
            self.reaper = None


@dataclass(frozen=True, slots=True)
class Answer:
    """A response a GET of the scope received, and from which address."""

    ip: str
    status: int
    body: bytes


class ConnectionScope:
    """The connections of one unit of work: how many were opened, the idle ones, the answers."""

    def __init__(self) -> None:
        self.opened = 0
        #: What each (scheme, host, port) answered for a path: asked again, it is not fetched.
        self.answers: dict[tuple[Key, str], Answer] = {}
        self._idle: dict[Key, Kept] = {}
        self._in_use: dict[Key, int] = {}
        self._returned: dict[Key, asyncio.Event] = {}
        self._closed = False

    async def take(self, key: Key, wait: float) -> Kept | None:
        """An idle connection for ``key``; or, while one is busy, wait up to ``wait`` s for it.

        None when there is none: the caller opens one and hands it to :meth:`started`.
        """
        kept = self._pop(key)
        if kept is None and self._in_use.get(key, 0) and not self._closed:
            returned = self._returned.setdefault(key, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await returned.wait()
            kept = self._pop(key)
        if kept is not None:
            self.started(kept)
        return kept

    def _pop(self, key: Key) -> Kept | None:
        kept = self._idle.pop(key, None)
        if kept is None:
            return None
        kept.stop_reaper()
        if not kept.usable():
            kept.abort()
            return None
        return kept

    def started(self, kept: Kept) -> None:
        """``kept`` serves a request of this scope from now on."""
        self._in_use[kept.key] = self._in_use.get(kept.key, 0) + 1
        kept.requests += 1

    def done(self, kept: Kept, reusable: bool) -> None:
        """The request on ``kept`` is over; keep the connection when ``reusable``, else drop it."""
        key = kept.key
        self._in_use[key] -= 1
        if not self._in_use[key]:
            del self._in_use[key]
        if reusable and not self._closed and key not in self._idle and kept.usable():
            kept.idle_since = time.monotonic()
            self._idle[key] = kept
            # An idle connection holds a socket and TLS buffers: not for long.
            kept.reaper = asyncio.get_running_loop().call_later(MAX_IDLE, self._reap, kept)
        else:
            kept.abort()
        returned = self._returned.pop(key, None)
        if returned is not None:
            returned.set()

    def _reap(self, kept: Kept) -> None:
        kept.reaper = None
        if self._idle.get(kept.key) is kept:
            del self._idle[kept.key]
        kept.abort()

    def drop_idle(self) -> None:
        """Drop every idle connection now (no more GETs are coming for them)."""
        for kept in self._idle.values():
            kept.abort()
        self._idle.clear()

    def close(self) -> None:
        """Drop every idle connection; those in use are dropped when their request ends."""
        self._closed = True
        for kept in self._idle.values():
            kept.abort()
        self._idle.clear()
        for returned in self._returned.values():
            returned.set()
        self._returned.clear()


_SCOPE: ContextVar[ConnectionScope | None] = ContextVar("connection_scope", default=None)


def current_scope() -> ConnectionScope | None:
    """The scope the running task belongs to, if any."""
    return _SCOPE.get()


@contextlib.contextmanager
def connection_scope() -> Iterator[ConnectionScope]:
    """Count and share the connections of the code run inside; close them all at the end."""
    scope = ConnectionScope()
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)
        scope.close()


def count_connection() -> None:
    """One more connection opened in the current scope (none outside a scope)."""
    scope = _SCOPE.get()
    if scope is not None:
        scope.opened += 1
