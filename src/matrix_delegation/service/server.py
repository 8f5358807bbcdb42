"""The well-known service: listeners, the live routing table, reloads, metrics, logs."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import socket
import ssl
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .._core.site import Site
from .protocol import Connection
from .routes import Answer, RouteTable, build_table, plain_answer
from .tls_transport import TlsListener

__all__ = ["AccessLog", "WellKnownService"]

_log = logging.getLogger("matrix_delegation.service")
DEFAULT_IDLE_TIMEOUT = 15.0


class AccessLog:
    """JSON access-log lines, buffered and flushed a few times a second."""

    def __init__(self, stream: TextIO | None = None, *, flush_every: float = 0.25) -> None:
        self._stream = stream or sys.stderr
        self._lines: list[str] = []
        self._flush_every = flush_every
        self._scheduled = False

    def write(self, record: dict[str, object]) -> None:
        """Queue one record; it is written within ``flush_every`` seconds."""
        self._lines.append(json.dumps(record, separators=(",", ":")))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(self._flush_every, self.flush)

    def flush(self) -> None:
        """Write what is queued."""
        self._scheduled = False
        if self._lines:
            self._stream.write("\n".join(self._lines) + "\n")
            self._stream.flush()
            self._lines.clear()


class WellKnownService:
    """Serves a :class:`Site` on one or more addresses, plain HTTP or HTTPS.

    The routing table is replaced whole on :meth:`reload`, so requests in
    flight and open connections carry on with no interruption.

    Args:
        site: What to serve.
        ssl_context: A server TLS context (with SNI selection), or None for HTTP.
        access_log: Where access-log lines go, or None for none.
        idle_timeout: Seconds an idle or slow connection is kept.
    """

    def __init__(
        self,
        site: Site,
        *,
        ssl_context: ssl.SSLContext | None = None,
        access_log: AccessLog | None = None,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self.table: RouteTable = build_table(site)
        self.site = site
        self.idle_timeout = idle_timeout
        self.connections: set[Connection] = set()
        self.reloads = Counter[str]()
        self._ssl = ssl_context
        self._access_log = access_log
        self._servers: list[asyncio.Server | TlsListener] = []
        self._requests = Counter[tuple[str, str, int]]()
        self._date = (0, b"")
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_ServiceCollector(self))

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The bound (host, port) of every listener."""
        return [
            (sock.getsockname()[0], sock.getsockname()[1])
            for server in self._servers
            for sock in server.sockets
        ]

    async def start(self, listen: Sequence[tuple[str, int]]) -> None:
        """Listen on every (host, port); port 0 picks a free one."""
        loop = asyncio.get_running_loop()
        for host, port in listen:
            if self._ssl is None:
                server: asyncio.Server | TlsListener = await loop.create_server(
                    lambda: Connection(self), host, port, reuse_address=True, backlog=1024
                )
            else:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                sock = socket.create_server((host, port), family=family, backlog=1024)
                server = TlsListener(sock, self._ssl, lambda: Connection(self), self.idle_timeout)
            self._servers.append(server)

    async def close(self) -> None:
        """Stop listening and close every connection."""
        for server in self._servers:
            server.close()
        for connection in list(self.connections):
            connection.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        if self._access_log is not None:
            self._access_log.flush()

    def reload(self, load: Callable[[], tuple[Site, ssl.SSLContext | None]]) -> bool:
        """Swap in a new site; if loading fails, keep serving the old one.

        Args:
            load: Reads and validates the new configuration (and certificates);
                it raises to refuse.

        Returns:
            Whether the new configuration is now served.
        """
        try:
            site, context = load()
        except Exception as exc:  # any failure must leave the old config serving
            self.reloads["failed"] += 1
            for line in str(exc).splitlines() or [type(exc).__name__]:
                _log.error("reload refused, still serving the previous config: %s", line)
            return False
        self.table, self.site = build_table(site), site
        if context is not None and self._ssl is not None:
            # New handshakes start on the new default context (the certificate
            # for clients without SNI), whose callback picks the others.
            self._ssl = context
            for server in self._servers:
                if isinstance(server, TlsListener):
                    server.context = context
        self.reloads["ok"] += 1
        _log.info("reloaded: %d domains", len(site.domains))
        return True

    # --- per request ------------------------------------------------------------

    def date_header(self) -> bytes:
        """``Date: ...`` (RFC 9110 6.6.1), formatted once a second."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, f"Date: {email.utils.formatdate(now, usegmt=True)}\r\n".encode())
        return self._date[1]

    def count(self, domain: str, file: str, status: int) -> None:
        """Count a request for the metrics."""
        self._requests[(domain, file, status)] += 1

    def log_access(self, peer: str, method: bytes, host: bytes, url: bytes, answer: Answer) -> None:
        """Write an access-log record, if logging is on."""
        if self._access_log is not None:
            self._access_log.write(
                {
                    "time": round(time.time(), 3),
                    "remote": peer,
                    "method": method.decode("latin-1"),
                    "host": host.decode("latin-1"),
                    "path": url.decode("latin-1"),
                    "status": answer.status,
                    "bytes": len(answer.body),
                }
            )

    def special(self, path: bytes, head: bool) -> Answer:
        """``/health`` and ``/metrics``, answered on any Host."""
        if path == b"/health":
            body = b'{"status":"ok"}'
            headers = (("Content-Type", "application/json"), ("Cache-Control", "no-store"))
        else:
            body = generate_latest(self.registry)
            headers = (("Content-Type", "text/plain; version=0.0.4"), ("Cache-Control", "no-store"))
        return plain_answer(200, headers, body, head_only=head)

    def request_counts(self) -> Iterator[tuple[tuple[str, str, int], int]]:
        """Requests so far by (domain, file, status)."""
        return iter(list(self._requests.items()))


class _ServiceCollector(Collector):
    """Prometheus metrics read from the service's counters at scrape time.

    Counting in a plain Counter and exporting on scrape keeps the request
    path free of prometheus_client's per-call label lookups.
    """

    def __init__(self, service: WellKnownService) -> None:
        self._service = service

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        requests = CounterMetricFamily(
            "matrix_delegation_requests",
            "Requests answered, by domain, file and status.",
            labels=["domain", "file", "status"],
        )
        for (domain, file, status), count in self._service.request_counts():
            requests.add_metric([domain, file, str(status)], count)
        yield requests
        reloads = CounterMetricFamily(
            "matrix_delegation_reloads", "Configuration reloads, by outcome.", labels=["outcome"]
        )
        for outcome in ("ok", "failed"):
            reloads.add_metric([outcome], self._service.reloads[outcome])
        yield reloads
        yield GaugeMetricFamily(
            "matrix_delegation_domains", "Domains served.", value=len(self._service.site.domains)
        )
        yield GaugeMetricFamily(
            "matrix_delegation_connections",
            "Open connections.",
            value=len(self._service.connections),
        )
