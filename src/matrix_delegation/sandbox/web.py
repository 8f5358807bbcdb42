"""Small configurable HTTP(S) hosts for the sandbox, on aiohttp's server.

A :class:`WebHost` maps ``(virtual host, path)`` to a canned :class:`Reply`.
It uses aiohttp's low-level server (no router, no middleware, no access
log) because the benchmark opens thousands of connections against it.
"""

from __future__ import annotations

import asyncio
import json as _json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Self

from aiohttp import web

__all__ = ["Reply", "WebHost"]

_NOT_FOUND_BODY: Final = b'{"errcode":"M_NOT_FOUND","error":"no such route in the sandbox"}'
_JSON: Final = "application/json"
_SHUTDOWN_TIMEOUT: Final = 1.0
_ANY_HOST: Final = "*"


@dataclass(frozen=True)
class Reply:
    """A canned HTTP response.

    Attributes:
        status: HTTP status code.
        body: Response body; ``str`` is sent as UTF-8.
        headers: Extra response headers.
        delay: Seconds to wait before answering (for client timeouts).
        chunked: Stream the body with chunked encoding and no
            Content-Length (for body-size caps).
        by_agent: Other replies by User-Agent: the first entry whose key starts
            the request's User-Agent is played instead (a WAF or CDN that treats
            agents differently); the key ``""`` matches a request without one.
    """

    status: int = 200
    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunked: bool = False
    by_agent: Mapping[str, Reply] = field(default_factory=dict)

    @classmethod
    def json(
        cls,
        obj: object,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        by_agent: Mapping[str, Reply] | None = None,
    ) -> Reply:
        """A compact JSON reply with ``Content-Type: application/json``."""
        body = _json.dumps(obj, separators=(",", ":"))
        headers = {"Content-Type": _JSON, **(headers or {})}
        return cls(status=status, body=body, headers=headers, by_agent=by_agent or {})

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Reply:
        """A redirect to ``location``."""
        return cls(status=status, headers={"Location": location})

    @property
    def body_bytes(self) -> bytes:
        """The body as bytes."""
        return self.body.encode() if isinstance(self.body, str) else self.body


class WebHost:
    """An HTTP or HTTPS server on one loopback address serving canned replies.

    Routes are keyed by ``(hostname, path)``: the hostname of the Host
    header, lower-cased and without port, or ``"*"`` for any host. Unknown
    routes get a 404 with a small JSON body.

    Attributes:
        requests: Log of ``(method, Host header, path)`` for every request.
    """

    def __init__(
        self,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
        routes: Mapping[tuple[str, str], Reply] | None = None,
    ) -> None:
        """Prepare a host; nothing is bound until :meth:`start`.

        Args:
            host: The loopback address to bind (only this one).
            port: Port to bind; 0 picks a free one.
            ssl_context: Server TLS context, or None for plain HTTP.
            routes: Initial routes, ``{(hostname or "*", path): Reply}``.
        """
        self._host = host
        self._requested_port = port
        self._ssl_context = ssl_context
        self._routes: dict[tuple[str, str], Reply] = {}
        for (hostname, path), reply in (routes or {}).items():
            self.set(hostname, path, reply)
        self.requests: list[tuple[str, str, str]] = []
        self._runner: web.ServerRunner | None = None
        self._port = 0

    @property
    def host(self) -> str:
        """The bound address."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (0 before :meth:`start` when 0 was asked)."""
        return self._port or self._requested_port

    def set(self, host: str, path: str, reply: Reply) -> None:
        """Serve ``reply`` for ``path`` on virtual host ``host`` (or ``"*"``)."""
        self._routes[(host.lower(), path)] = reply

    def remove(self, host: str, path: str) -> None:
        """Stop serving ``path`` on ``host``; unknown routes are ignored."""
        self._routes.pop((host.lower(), path), None)

    def url(self, host: str, path: str) -> str:
        """The URL of ``path`` on virtual host ``host`` at this server's port."""
        scheme = "https" if self._ssl_context is not None else "http"
        authority = f"[{host}]" if ":" in host else host
        return f"{scheme}://{authority}:{self.port}{path}"

    async def start(self) -> None:
        """Bind the address and start serving."""
        # handler_cancellation: a client that gave up on a delayed reply
        # must not keep its handler (and shutdown) waiting.
        server = web.Server(self._handle, handler_cancellation=True, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._requested_port, ssl_context=self._ssl_context)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Close the listening socket and every connection."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        """Start the host."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the host."""
        await self.stop()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Look the request up in the routes and play the reply."""
        host_header = request.headers.get("Host", "")
        path = request.path
        self.requests.append((request.method, host_header, path))
        hostname = _hostname(host_header)
        reply = self._routes.get((hostname, path)) or self._routes.get((_ANY_HOST, path))
        if reply is None:
            return web.Response(status=404, body=_NOT_FOUND_BODY, content_type=_JSON)
        reply = _for_agent(reply, request.headers.get("User-Agent"))
        if reply.delay > 0:
            await asyncio.sleep(reply.delay)
        if not reply.chunked:
            return web.Response(status=reply.status, body=reply.body_bytes, headers=reply.headers)
        response = web.StreamResponse(status=reply.status, headers=reply.headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(reply.body_bytes)
        await response.write_eof()
        return response


def _for_agent(reply: Reply, agent: str | None) -> Reply:
    """The reply for this User-Agent: the first ``by_agent`` entry that matches, else ``reply``."""
    for prefix, other in reply.by_agent.items():
        if agent is None and prefix == "":
            return other
        if agent is not None and prefix and agent.startswith(prefix):
            return other
    return reply


def _hostname(host_header: str) -> str:
    """The hostname part of a Host header, lower-cased, without port."""
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")].lower()  # [v6]:port
    return host_header.rsplit(":", 1)[0].lower() if ":" in host_header else host_header.lower()
