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
from collections import deque
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

#: Requests on one kept-alive connection: a check asks ``https://name`` for its three
#: ``.well-known`` files, then for the server file again with our User-Agent and with
#: each implementation's (``checker.agents_model.AGENTS``, 5): 9, and a few more.
MAX_REQUESTS = 12
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
    """The connections of one unit of work: how many were opened, the idle ones, the answers.

    Requests to one (scheme, host, port) take turns: while one holds the key (it
    is opening a connection or waiting for its response), the next waits in line,
    up to the ``wait`` it gives, and is handed the connection when that response
    has been read. So concurrent GETs to one host (the ``.well-known`` files, the
    server file with each User-Agent) go one after another on one connection
    when the server keeps it alive; one that waited too long opens its own.
    """

    def __init__(self) -> None:
        self.opened = 0
        #: What each (scheme, host, port) answered for a path: asked again, it is not fetched.
        self.answers: dict[tuple[Key, str], Answer] = {}
        self._idle: dict[Key, Kept] = {}
        self._turns: dict[Key, int] = {}  # requests holding the key (opening or in flight)
        self._line: dict[Key, deque[asyncio.Future[Kept | None]]] = {}
        self._closed = False

    async def take(self, key: Key, wait: float) -> Kept | None:
        """A turn on ``key``: its idle connection, or the one a request in flight hands over
        (waiting up to ``wait`` s for it); None when there is none to have.

        With None, the caller opens a connection and hands it to :meth:`started`, or
        calls :meth:`release` when it could not. Either way the turn ends with
        :meth:`done` or :meth:`release`.
        """
        kept = None if self._line.get(key) else self._pop(key)
        if kept is None and self._turns.get(key, 0) and not self._closed:
            return await self._wait_turn(key, wait)
        self.reserve(key)
        if kept is not None:
            self.started(kept)
        return kept

    async def _wait_turn(self, key: Key, wait: float) -> Kept | None:
        handed: asyncio.Future[Kept | None] = asyncio.get_running_loop().create_future()
        line = self._line.setdefault(key, deque())
        line.append(handed)
        try:
            async with asyncio.timeout(wait):
                kept = await handed
        except TimeoutError:
            if not _was_handed(handed):  # waited long enough: a turn of its own, in parallel
                handed.cancel()
                self.reserve(key)
                return None
            kept = handed.result()  # handed over as the wait ran out: taken all the same
        except asyncio.CancelledError:
            if _was_handed(handed):  # not ours to use any more: to the next in line
                given = handed.result()
                if given is None:
                    self.release(key)
                else:
                    self.done(given, True)
            raise
        finally:
            with contextlib.suppress(ValueError):
                line.remove(handed)
            if not line and self._line.get(key) is line:
                del self._line[key]
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

    def reserve(self, key: Key) -> None:
        """A request holds ``key`` from now on, without waiting (it opens its own connection)."""
        self._turns[key] = self._turns.get(key, 0) + 1

    def started(self, kept: Kept) -> None:
        """``kept`` serves a request of this scope from now on."""
        kept.requests += 1

    def release(self, key: Key) -> None:
        """A turn on ``key`` ends without a connection (none could be opened)."""
        if not self._hand_over(key, None):
            self._end_turn(key)

    def done(self, kept: Kept, reusable: bool) -> None:
        """The request on ``kept`` is over; keep the connection when ``reusable``, else drop it.

        The next request in line for its key is handed the connection (or, when it
        is not kept, the turn to open its own).
        """
        key = kept.key
        if not (reusable and not self._closed and kept.usable()):
            kept.abort()
            if self._full(kept, reusable) and self._hand_over(key, None):
                return  # the next opens a new connection, and the rest wait for it
            while self._hand_over(key, None):  # the server closes: each opens its own
                self.reserve(key)
            self._end_turn(key)
        elif not self._hand_over(key, kept):
            self._end_turn(key)
            self._keep(kept)

    def _full(self, kept: Kept, reusable: bool) -> bool:
        return reusable and not self._closed and kept.requests >= MAX_REQUESTS

    def _hand_over(self, key: Key, kept: Kept | None) -> bool:
        """Give the turn (and ``kept``) to the first request still waiting for ``key``."""
        for handed in self._line.get(key, ()):
            if not handed.done():
                handed.set_result(kept)
                return True
        return False

    def _end_turn(self, key: Key) -> None:
        self._turns[key] -= 1
        if not self._turns[key]:
            del self._turns[key]

    def _keep(self, kept: Kept) -> None:
        if kept.key in self._idle:
            kept.abort()
            return
        kept.idle_since = time.monotonic()
        self._idle[kept.key] = kept
        # An idle connection holds a socket and TLS buffers: not for long.
        kept.reaper = asyncio.get_running_loop().call_later(MAX_IDLE, self._reap, kept)

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
        self.drop_idle()
        for key in list(self._line):
            while self._hand_over(key, None):  # each opens its own, dropped when it ends
                self.reserve(key)


def _was_handed(handed: asyncio.Future[Kept | None]) -> bool:
    return handed.done() and not handed.cancelled()


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
