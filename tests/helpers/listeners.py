"""TLS listeners on loopback that record every TCP connection's lifetime.

For the hostile tests: how many connections the checker holds open at once,
and whether each one is closed. A connection is recorded from the moment it
is accepted (before TLS) until the listener sees it end (EOF or reset), with
the ``User-Agent`` of its first request, so the checker's own connections can
be told apart from those of the HTTP session.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["CHECKER_AGENT", "Answer", "Connection", "Listeners", "peak"]

#: The User-Agent of the checker's probes and per-address fetches.
CHECKER_AGENT = "matrix-delegation-checker"
#: No connection is served longer than this: every test ends.
_LIFETIME = 30.0

#: What to answer for a path: (status, JSON body), or None to stall (answer nothing).
Answer = Callable[[str], tuple[int, bytes] | None]


@dataclass
class Connection:
    """One accepted TCP connection."""

    address: tuple[str, int]
    opened: float
    closed: float | None = None
    agent: str | None = None  # of the first request; None when no request came

    @property
    def by_checker(self) -> bool:
        """Whether the checker's probes opened it (or it never got as far as a request)."""
        return self.agent is None or self.agent == CHECKER_AGENT


class Listeners:
    """TLS servers on any number of ``(ip, port)``, sharing one certificate and one log."""

    def __init__(
        self, context: ssl.SSLContext, answer: Answer, *, delay: float = 0.0, close: bool = False
    ) -> None:
        self.connections: list[Connection] = []
        self._close = close  # answer "Connection: close" and close after each response
        self._context = context
        self._answer = answer
        self._delay = delay
        self._servers: list[asyncio.Server] = []
        self._live: set[asyncio.StreamWriter] = set()

    async def listen(self, ip: str, port: int) -> None:
        """Listen on ``ip:port`` (raises OSError when it is taken)."""

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve((ip, port), reader, writer)

        self._servers.append(await asyncio.start_server(serve, ip, port))

    def open_by_checker(self) -> int:
        return sum(1 for c in self.connections if c.by_checker and c.closed is None)

    def open_count(self) -> int:
        return sum(1 for c in self.connections if c.closed is None)

    async def wait_all_closed(self, *, by_checker_only: bool, within: float = 5.0) -> bool:
        """Poll (bounded) until the listeners have seen every such connection end."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if (self.open_by_checker() if by_checker_only else self.open_count()) == 0:
                return True
            await asyncio.sleep(0.05)
        return False

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for writer in list(self._live):
            writer.transport.abort()
        for server in self._servers:
            await server.wait_closed()
        await asyncio.sleep(0)  # let the handlers see their aborted connections

    async def _serve(
        self, address: tuple[str, int], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        record = Connection(address, time.monotonic())
        self.connections.append(record)
        self._live.add(writer)
        try:
            async with asyncio.timeout(_LIFETIME):
                await writer.start_tls(self._context)
                await self._exchange(record, reader, writer)
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away, as it may
        except TimeoutError:
            pass
        finally:
            record.closed = time.monotonic()
            self._live.discard(writer)
            writer.transport.abort()

    async def _exchange(
        self, record: Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            path, agent = _request_line_and_agent(head)
            if record.agent is None:
                record.agent = agent
            reply = self._answer(path)
            if reply is None:  # stall until the client gives up
                await reader.read(65536)
                return
            await asyncio.sleep(self._delay)  # long enough for connections to overlap
            status, body = reply
            close = "Connection: close\r\n" if self._close else ""
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{close}"
                f"Content-Length: {len(body)}\r\n\r\n".encode("latin-1")
                + body
            )
            await writer.drain()
            if self._close:
                return


def _request_line_and_agent(head: str) -> tuple[str, str]:
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    path = parts[1] if len(parts) > 1 else ""
    agent = next(
        (line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("user-agent:")),
        "",
    )
    return path, agent


def peak(connections: list[Connection]) -> int:
    """The most of ``connections`` that were open at the same moment."""
    events = []
    for connection in connections:
        events.append((connection.opened, 1))
        events.append((connection.closed if connection.closed is not None else float("inf"), -1))
    events.sort(key=lambda event: (event[0], event[1]))  # a close before an open at a tie
    most = current = 0
    for _, change in events:
        current += change
        most = max(most, current)
    return most
