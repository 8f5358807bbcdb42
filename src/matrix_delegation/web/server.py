"""The web checker on its sockets: idle connections closed, open connections capped.

aiohttp keeps an idle connection open for about an hour by default and
accepts any number of them; on the internet that lets a client hold sockets
and memory for free. Here:

* **keep-alive**: a connection with no request in progress is closed after
  ``WebSettings.keepalive`` seconds (aiohttp's ``keepalive_timeout``). The
  timer starts when the connection opens and again after each response, and
  bytes of an unfinished request do not restart it, so a client trickling
  a request (slowloris) is cut off too.
* **connection cap**: :class:`ConnectionLimit` stands between the listening
  socket and aiohttp. The protocol factory is the one place every accepted
  connection passes through before a byte is read, and ``connection_lost``
  the one place every connection ends (closed by the client, by keep-alive,
  by shutdown), so counting there counts connections, idle ones included;
  a middleware would only count requests. Over the cap, a connection gets a
  fixed 503 and is closed; nothing of it is read.
* **quiet errors**: aiohttp answers a request it cannot parse itself, quoting
  the bytes as Python sees them (``bytearray(b'...')``); here that answer is
  the status and its phrase only, and no answer names aiohttp or Python.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from aiohttp import web

from .._exceptions import ConfigurationError
from .app import SERVER_HEADER, create_app
from .settings import WebSettings

__all__ = ["ConnectionLimit", "WebServer", "start_web"]

_log = logging.getLogger("matrix_delegation.web")
_SHUTDOWN_TIMEOUT = 5.0
_BUSY_BODY = b"too many connections; try again shortly\n"
_BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Retry-After: 5\r\n"
    b"Content-Length: %d\r\n"
    b"Connection: close\r\n"
    b"\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, with its end reported once."""

    def __init__(self, inner: asyncio.Protocol, ended: Callable[[], None]) -> None:
        self._inner = inner
        self._ended: Callable[[], None] | None = ended

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._ended is not None:
            ended, self._ended = self._ended, None
            ended()
        self._inner.connection_lost(exc)


class _QuietHandler(web.RequestHandler):
    """aiohttp's connection handler, but its own error answers carry only the status."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        response = super().handle_error(request, status, exc, HTTPStatus(status).phrase)
        response.headers["Server"] = SERVER_HEADER
        return response


class _Refused(asyncio.Protocol):
    """A connection over the cap: a 503, then closed without reading the request."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(_BUSY_RESPONSE)
        transport.close()


class ConnectionLimit:
    """A protocol factory that keeps at most ``limit`` of its connections open."""

    def __init__(self, factory: Callable[[], asyncio.Protocol], limit: int) -> None:
        self._factory = factory
        self._limit = limit
        self.open = 0
        self.refused = 0

    def __call__(self) -> asyncio.Protocol:
        if self.open >= self._limit:
            self.refused += 1
            return _Refused()
        self.open += 1
        return _Counted(self._factory(), self._ended)

    def _ended(self) -> None:
        self.open -= 1


@dataclass(slots=True)
class WebServer:
    """The app's runner and its listening sockets."""

    runner: web.AppRunner
    servers: list[asyncio.Server]
    connections: ConnectionLimit

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where it listens: ``(host, port)`` of every socket."""
        return [
            (str(name[0]), int(name[1]))
            for server in self.servers
            for name in (sock.getsockname() for sock in server.sockets)
        ]

    async def close(self) -> None:
        """Stop listening, end the connections and the checks, then clean up."""
        for server in self.servers:
            server.close()
        await self.runner.cleanup()
        for server in self.servers:
            try:
                await asyncio.wait_for(server.wait_closed(), _SHUTDOWN_TIMEOUT)
            except TimeoutError:
                _log.warning("connections still open at shutdown")


async def start_web(settings: WebSettings, listen: list[tuple[str, int]]) -> WebServer:
    """The web checker listening on every ``(host, port)`` of ``listen``.

    Raises:
        ConfigurationError: A socket could not be bound.
    """
    runner = web.AppRunner(
        create_app(settings), handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    manager = runner.server
    if manager is None:  # setup() makes it
        raise RuntimeError("the app runner has no server after setup")
    loop = asyncio.get_running_loop()

    def handler() -> asyncio.Protocol:
        # What ``manager()`` makes, with aiohttp's defaults but our keep-alive and errors.
        return _QuietHandler(manager, loop=loop, keepalive_timeout=settings.keepalive)

    started = WebServer(runner, [], ConnectionLimit(handler, settings.max_connections))
    try:
        for host, port in listen:
            started.servers.append(await loop.create_server(started.connections, host, port))
    except OSError as exc:
        await started.close()
        raise ConfigurationError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    return started
