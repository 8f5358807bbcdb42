"""HTTP/1.1 on an open stream: one request written, one response read with httptools.

Shared by the endpoint probes (:mod:`.probe`) and the HTTPS requests of
discovery, the checker and the notifiers (:mod:`.https`). Every byte from the
network is bounded: the status line and headers by :data:`MAX_HEAD`, the body
by the caller's cap. No ``Accept-Encoding`` is sent, so no compressed body (and
no decompression bomb) can come back in a form we would inflate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import httptools

__all__ = [
    "MAX_HEAD",
    "BodyCut",
    "ClosedEarly",
    "Headers",
    "Response",
    "ResponseTooLarge",
    "read_response",
    "request_bytes",
]

#: The status line and headers together (aiohttp's limit is 8 KiB a line); more is refused.
MAX_HEAD = 64 * 1024
_READ = 65536


class ResponseTooLarge(Exception):
    """The body is over the cap and the caller refuses such bodies."""


class HeadTooLarge(Exception):
    """The status line and headers are over :data:`MAX_HEAD`."""


class BodyCut(Exception):
    """Internal: the body reached the cap and the caller keeps what came so far."""


class ClosedEarly(OSError):
    """The connection closed before the response was complete.

    Attributes:
        answered: Whether the status line and headers had come.
    """

    def __init__(self, answered: bool) -> None:
        super().__init__("the connection closed before the response was complete")
        self.answered = answered


class Headers(Mapping[str, str]):
    """Response headers: looked up without regard to case, the first value of a name wins.

    :attr:`pairs` keeps every header in order, repeated names included.
    """

    __slots__ = ("_first", "pairs")

    def __init__(self, pairs: tuple[tuple[str, str], ...] = ()) -> None:
        self.pairs = pairs
        first: dict[str, str] = {}
        for name, value in pairs:
            first.setdefault(name.lower(), value)
        self._first = first

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)


NO_HEADERS = Headers()


@dataclass(frozen=True, slots=True)
class Response:
    """One response: its status, headers and (capped) body; whether the connection may be reused."""

    status: int
    headers: Headers
    body: bytes
    keep_alive: bool


def request_bytes(
    path: str, host: str, headers: Mapping[str, str], *, method: str = "GET", body: bytes = b""
) -> bytes:
    """A request: ``path`` (with its query), the ``Host`` header, then ``headers``.

    A method other than GET sends ``body`` with its ``Content-Length``.

    Raises:
        ValueError: a header name or value holds a line break (it would start a header
            or a request of its own).
    """
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if method != "GET":
        lines.append(f"Content-Length: {len(body)}")
    if any(c in line for line in lines[1:] for c in "\r\n\0"):
        raise ValueError("a request header holds a line break")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Collector:
    """httptools callbacks collecting one response, capped in size."""

    def __init__(self, max_body: int, refuse: Callable[[int], bool]) -> None:
        self.max_body, self.refuse, self.refusing = max_body, refuse, True
        self.pairs: list[tuple[str, str]] = []
        self.body = bytearray()
        self.answered = self.done = self.keep_alive = self.cut = False
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.pairs.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.answered = True
        self.refusing = self.refuse(self.parser.get_status_code())
        length = next((v for n, v in self.pairs if n.lower() == "content-length"), "")
        if length.strip().isdigit() and int(length) > self.max_body:
            self._over()

    def on_body(self, chunk: bytes) -> None:
        self.body += chunk
        if len(self.body) > self.max_body:
            self._over()

    def _over(self) -> None:
        if self.refusing:
            raise ResponseTooLarge
        del self.body[self.max_body :]
        self.cut = True
        raise BodyCut

    def on_message_complete(self) -> None:
        self.done = True
        # Asked here: once the message is complete the parser resets, and
        # afterwards it always answers "close".
        self.keep_alive = self.parser.should_keep_alive()

    def feed(self, chunk: bytes) -> None:
        try:
            self.parser.feed_data(chunk)
        except httptools.HttpParserCallbackError as error:
            cause = error.__context__
            if isinstance(cause, ResponseTooLarge | BodyCut):
                raise cause from None
            raise


async def read_response(
    reader: asyncio.StreamReader, *, max_body: int, refuse: Callable[[int], bool] = lambda _: True
) -> Response:
    """Read one response; the caller bounds the time.

    A body over ``max_body`` raises :class:`ResponseTooLarge` when
    ``refuse(status)``, else it is cut there (and the connection is not reused).

    Raises:
        ResponseTooLarge: the body is over the cap and ``refuse(status)``.
        HeadTooLarge: the headers are over :data:`MAX_HEAD`.
        ClosedEarly: the connection closed before the response was complete.
        httptools.HttpParserError: the response is not valid HTTP.
        OSError: the connection failed.
    """
    collected = _Collector(max_body, refuse)
    head = 0
    while not collected.done:
        chunk = await reader.read(_READ)
        head += 0 if collected.answered else len(chunk)
        try:
            collected.feed(chunk)
        except BodyCut:
            break
        if not chunk:
            break
        if not collected.answered and head > MAX_HEAD:
            raise HeadTooLarge
    if not collected.done and not collected.cut:
        raise ClosedEarly(collected.answered)
    status = collected.parser.get_status_code()
    keep = collected.keep_alive and not collected.cut
    return Response(status, Headers(tuple(collected.pairs)), bytes(collected.body), keep)
