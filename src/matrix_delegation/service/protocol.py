"""One HTTP/1.1 connection of the well-known service, on asyncio and httptools.

Every answer is prepared in advance (:mod:`.routes`), so a request costs a
parse, a dictionary lookup and one write. The connection defends itself: a
request must arrive whole within the idle timeout, the URL, headers and body
are capped, and a client that stops reading stops being read.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import httptools

from .routes import Answer, RouteTable, error_answer, etag_matches

__all__ = ["Connection", "Owner"]

MAX_URL = 2048
MAX_HEADER_BYTES = 8192
MAX_HEADERS = 64
MAX_BODY = 1024
# Raw bytes of one request, framing included, well above what the caps above
# allow: httptools keeps a header line in memory until it ends, so the bytes
# are counted as they arrive, before the parser sees them.
MAX_REQUEST_BYTES = 32768


class _Refused(Exception):
    """A request we answer with an error and then close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.answer = error_answer(status, message, allow=status == 405)


class Owner(Protocol):
    """What a connection needs of the service that accepted it.

    :class:`~.server.WellKnownService` is one; naming only this keeps the
    connection from importing the server that imports it.
    """

    table: RouteTable
    idle_timeout: float
    connections: set[Connection]

    def date_header(self) -> bytes: ...

    def count(self, domain: str, file: str, status: int) -> None: ...

    def log_access(
        self, peer: str, method: bytes, host: bytes, url: bytes, answer: Answer
    ) -> None: ...

    def special(self, path: bytes, head: bool) -> Answer: ...


class Connection(asyncio.Protocol):
    """Parses requests with httptools and writes the prepared answers."""

    _host_seen: bool

    def __init__(self, service: Owner) -> None:
        self._service = service
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._peer = "-"
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self._deadline = 0.0
        self._request_bytes = 0
        self._in_body = False
        self._reset_request()

    # --- asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if peer else "-"
        self._service.connections.add(self)
        self._deadline = self._loop.time() + self._service.idle_timeout
        self._timer = self._loop.call_at(self._deadline, self._check_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        self._service.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        self._transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self._feed(data)
        except _Refused as refused:
            self._finish(refused.answer, close=True)
        except httptools.HttpParserCallbackError as error:
            cause = error.__context__
            answer = cause.answer if isinstance(cause, _Refused) else None
            self._finish(answer or error_answer(400, "malformed request"), close=True)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            # An upgrade request was answered, and the connection closed, in
            # on_message_complete: this 400 only goes out if it was not.
            self._finish(error_answer(400, "malformed request"), close=True)

    def _feed(self, data: bytes) -> None:
        """Feed the parser at most the bytes left to the current request.

        The count is raised before each feed and reset when a request is
        complete, so it never counts an earlier request's bytes against the
        next one; what it misses (the rest of the feed after a reset) is at
        most one feed, so no request buffers more than twice the cap.
        """
        view = memoryview(data)
        while view:
            room = MAX_REQUEST_BYTES - self._request_bytes
            if room <= 0:
                if self._in_body:
                    raise _Refused(413, "request too large")
                raise _Refused(431, "request headers too large")
            piece, view = view[:room], view[room:]
            self._request_bytes += len(piece)
            self._parser.feed_data(piece)
            if self._transport is None or self._transport.is_closing():
                return

    def pause_writing(self) -> None:
        # The client is not reading its answers: stop reading its requests.
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        # The client read what was queued: that is progress, not idleness.
        self._deadline = self._loop.time() + self._service.idle_timeout
        if self._transport is not None:
            self._transport.resume_reading()

    def close(self) -> None:
        """Close the connection (service shutdown)."""
        if self._transport is not None:
            self._transport.close()

    # --- httptools callbacks -----------------------------------------------------

    def on_message_begin(self) -> None:
        self._reset_request()

    def on_headers_complete(self) -> None:
        self._in_body = True

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_URL:
            raise _Refused(414, f"URL longer than {MAX_URL} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        self._header_count += 1
        if self._header_bytes > MAX_HEADER_BYTES or self._header_count > MAX_HEADERS:
            raise _Refused(431, "request headers too large")
        lowered = name.lower()
        if lowered == b"host":
            # Two Hosts name two sites: RFC 9112 3.2 says to answer 400.
            if self._host_seen:
                raise _Refused(400, "more than one Host header")
            self._host_seen = True
            self._host = value
        elif lowered == b"if-none-match":
            self._if_none_match = value

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > MAX_BODY:
            raise _Refused(413, "these files take no request body")

    def on_message_complete(self) -> None:
        self._request_bytes, self._in_body = 0, False
        method = self._parser.get_method()
        keep_alive = self._parser.should_keep_alive() and self._parser.get_http_version() == "1.1"
        # Upgrade (h2c, websocket) is ignored, as RFC 9110 7.8 allows: the
        # request is answered over HTTP/1.1 and, since httptools stops
        # parsing at an upgrade, the connection is then closed.
        keep_alive = keep_alive and not self._parser.should_upgrade()
        answer, route_domain, route_file = self._answer(method)
        self._service.count(route_domain, route_file, answer.status)
        self._service.log_access(self._peer, method, self._host, self._url, answer)
        self._finish(answer, close=not keep_alive)

    # --- answering ---------------------------------------------------------------

    def _answer(self, method: bytes) -> tuple[Answer, str, str]:
        table = self._service.table
        if not self._host and self._parser.get_http_version() == "1.1":
            raise _Refused(400, "a Host header is required")
        route = table.seen.get((self._host, self._url))
        if route is None:
            path = _path(self._url)
            if path in (b"/health", b"/metrics") and method in (b"GET", b"HEAD"):
                return self._service.special(path, method == b"HEAD"), "-", path.decode()
            route = table.route(_hostname(self._host), path.decode("latin-1"))
            table.remember(self._host, self._url, route)
        if method == b"OPTIONS":
            return table.options, route.domain, route.file
        if method not in (b"GET", b"HEAD"):
            raise _Refused(405, f"method {method.decode('latin-1')} is not allowed")
        inm = self._if_none_match
        if inm and route.etag and route.not_modified and etag_matches(inm, route.etag):
            return route.not_modified, route.domain, route.file
        return (route.head if method == b"HEAD" else route.get), route.domain, route.file

    def _finish(self, answer: Answer, *, close: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        closing = (
            b"Connection: close\r\n" if close and b"Connection: close" not in answer.tail else b""
        )
        transport.write(
            b"".join((answer.head, self._service.date_header(), closing, answer.tail, answer.body))
        )
        # A closing connection, too, gets the timeout to take its last answer.
        self._deadline = self._loop.time() + self._service.idle_timeout
        if close:
            transport.close()

    def _check_deadline(self) -> None:
        # From the connection's start or the last answer, the next request
        # must arrive whole within the timeout: idle and slow clients go.
        # One timer per connection, pushed back lazily: re-arming a timer on
        # every request cost a fifth of the service's CPU.
        if self._loop.time() < self._deadline:
            self._timer = self._loop.call_at(self._deadline, self._check_deadline)
        elif self._transport is not None and self._transport.get_write_buffer_size():
            # close() would wait for a client that does not read: its
            # answers would be kept, and the connection, for ever.
            self._transport.abort()
        else:
            self.close()

    def _reset_request(self) -> None:
        self._url = b""
        self._host = b""
        self._host_seen = False
        self._if_none_match = b""
        self._header_bytes: int = 0
        self._header_count: int = 0
        self._body_bytes: int = 0


def _path(url: bytes) -> bytes:
    try:
        parsed = httptools.parse_url(url)
    except httptools.HttpParserInvalidURLError:
        raise _Refused(400, "malformed URL") from None
    return parsed.path or b"/"


def _hostname(host: bytes) -> str:
    """The Host header's hostname: lower case, without port or IPv6 brackets."""
    text = host.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1:].partition("]")[0]
    return text.partition(":")[0]
