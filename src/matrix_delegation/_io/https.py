"""One request on one connection: the URL read, the connection opened via the edge, the exchange.

The connection is made as every outgoing one is (:mod:`.connect`): a
hostname is looked up in the discovery DNS with ``--connect-to`` applied and
every address checked by the IP policy; an IP literal is connected to as it
is, checked at the socket. TLS is verified with the network's context for
the URL's host (SNI and certificate), whatever ``--connect-to`` changed. A
connection may serve several GETs of one :mod:`.scope` (HTTP/1.1 keep-alive).
Every failure becomes a :class:`Failed` with the words a report shows.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httptools

from .._core.plan import Policy
from .connect import (
    AddressLookup,
    BlockedAddressError,
    NoAddressError,
    connect_checked,
    find_destination,
)
from .scope import Answer, ConnectionScope, Kept
from .wire import ClosedEarly, HeadTooLarge, Response, ResponseTooLarge, read_response
from .wire import request_bytes as request_bytes

__all__ = ["Failed", "Target", "exchange", "parse_target", "tls_reason"]

_DEFAULT_PORTS = {"https": 443, "http": 80}
#: Characters left as they are in a request target; the rest is percent-encoded.
_SAFE = "/%:@!$&'()*+,;=-._~?"


class Failed(Exception):
    """No response: ``reason`` says why in plain words; ``too_large`` for a refused body."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.too_large = reason, too_large


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL's request goes, and what it says.

    Attributes:
        scheme: ``https`` or ``http``.
        host: The host as in the URL, lower case, IDNA-encoded, IPv6 without brackets.
        port: The port, the scheme's default when the URL has none.
        path: The request target: path and query, percent-encoded.
        host_header: The ``Host`` header (the port only when not the default).
    """

    scheme: str
    host: str
    port: int
    path: str
    host_header: str

    @property
    def key(self) -> tuple[str, str, int]:
        """What a kept-alive connection must match: scheme, host (the SNI) and port."""
        return (self.scheme, self.host, self.port)

    @property
    def is_ip(self) -> bool:
        """Whether the host is an IP literal (aiohttp's test: a colon, or only digits and dots)."""
        return ":" in self.host or self.host.replace(".", "").isdigit()


def parse_target(url: str) -> Target:
    """Read a URL for a GET.

    Raises:
        Failed: the URL is not an http(s) URL with a host, or its host is an
            IPv4 address in a legacy form the OS would read (``127.1``).
    """
    try:
        split = urlsplit(url)
        scheme, host, port = split.scheme.lower(), split.hostname, split.port
        if scheme not in _DEFAULT_PORTS or not host:
            raise ValueError(url)
        if not host.isascii():
            host = host.encode("idna").decode("ascii")
        if ":" in host:  # one spelling of an IPv6 address, as yarl writes it
            host = str(ipaddress.ip_address(host))
    except (ValueError, UnicodeError):
        raise Failed("the URL is not valid") from None
    target = Target(scheme, host, port or _DEFAULT_PORTS[scheme], _request_path(split), "")
    if target.is_ip and ":" not in host and not _canonical_ipv4(host):
        # "127.1" or "2130706433": the OS would take it for 127.0.0.1.
        raise Failed(f"the URL is not valid: {host} is not a canonical IPv4 address")
    shown = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        shown = f"{shown}:{port}"
    return Target(target.scheme, host, target.port, target.path, shown)


def _request_path(split: object) -> str:
    path = quote(getattr(split, "path", "") or "/", safe=_SAFE)
    query = getattr(split, "query", "")
    return f"{path}?{quote(query, safe=_SAFE)}" if query else path


def _canonical_ipv4(host: str) -> bool:
    parts = host.split(".")
    return len(parts) == 4 and all(
        1 <= len(p) <= 3 and p.isascii() and p.isdigit() and int(p) <= 255 and not _octal(p)
        for p in parts
    )


def _octal(part: str) -> bool:
    return len(part) > 1 and part.startswith("0")


# --- the connection --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Edge:
    """What a connection needs from the network: address lookup, policy, TLS context."""

    lookup: AddressLookup
    policy: Policy
    context: ssl.SSLContext


async def _open(edge: Edge, target: Target) -> Kept:
    """A new connection for ``target``, TLS verified for its host; raises :class:`Failed`."""
    addresses: tuple[str, ...] = (target.host,)  # an IP literal: checked at the socket
    port = target.port
    if not target.is_ip:
        try:
            found = await find_destination(edge.lookup, edge.policy, target.host, target.port)
        except (BlockedAddressError, NoAddressError) as exc:
            raise Failed(str(exc)) from None
        addresses, port = found.addresses, found.port
    tls = edge.context if target.scheme == "https" else None
    sni = target.host.rstrip(".") if tls is not None else None
    try:
        sock = await connect_checked(addresses, port, edge.policy.ip_policy)
    except BlockedAddressError as exc:
        raise Failed(str(exc)) from None
    except OSError as exc:
        raise Failed(_cannot_connect(target, exc)) from None
    try:
        reader, writer = await asyncio.open_connection(sock=sock, ssl=tls, server_hostname=sni)
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        detail = exc.verify_message or str(exc)
        raise Failed(f"TLS certificate of {target.host} rejected: {detail}") from None
    except ssl.SSLError as exc:
        sock.close()
        raise Failed(f"TLS handshake with {target.host} failed: {tls_reason(exc)}") from None
    except OSError as exc:
        sock.close()
        raise Failed(_cannot_connect(target, exc)) from None
    except BaseException:
        sock.close()
        raise
    return Kept(target.key, reader, writer)


def _cannot_connect(target: Target, exc: OSError) -> str:
    return f"cannot connect to {target.host}:{target.port}: {exc.strerror or exc}"


def tls_reason(error: OSError) -> str:
    """OpenSSL's reason (``wrong version number``), without its source file and line."""
    reason = getattr(error, "reason", None)
    if isinstance(reason, str) and reason:
        return reason.lower().replace("_", " ")
    return error.strerror or "the handshake failed"


# --- the exchange ----------------------------------------------------------------------


async def exchange(
    edge: Edge,
    scope: ConnectionScope,
    target: Target,
    headers: Mapping[str, str],
    *,
    max_body: int,
    refuse: Callable[[int], bool],
    wait: float,
    method: str = "GET",
    body: bytes = b"",
) -> Response:
    """One request on a kept-alive connection of ``scope`` or a new one; raises :class:`Failed`.

    A GET on a kept-alive connection the server closed meanwhile is repeated
    once on a new one; any other method always gets a new connection (it is
    never sent twice).
    """
    try:
        request = request_bytes(target.path, target.host_header, headers, method=method, body=body)
    except ValueError:
        raise Failed("a request header is not valid") from None
    kept = await scope.take(target.key, wait) if method == "GET" else None
    if kept is not None:
        try:
            return await _request(scope, kept, request, max_body, refuse, target)
        except _Stale:
            pass
    if kept is not None or method != "GET":
        scope.reserve(target.key)  # the turn on a stale connection ended with it
    try:
        kept = await _open(edge, target)
    except BaseException:
        scope.release(target.key)  # the next in line opens its own
        raise
    scope.started(kept)
    try:
        return await _request(scope, kept, request, max_body, refuse, target, method == "GET")
    except _Stale:
        raise Failed("the server closed the connection without answering") from None


class _Stale(Exception):
    """The connection was closed before a byte of the response came."""


async def _request(
    scope: ConnectionScope,
    kept: Kept,
    request: bytes,
    max_body: int,
    refuse: Callable[[int], bool],
    target: Target,
    remember: bool = True,
) -> Response:
    reusable = False
    try:
        kept.writer.write(request)
        response = await _read(kept, max_body, refuse)
        reusable = response.keep_alive
    finally:
        scope.done(kept, reusable)
    peer = kept.writer.get_extra_info("peername")
    if peer and remember:
        answer = Answer(str(peer[0]), response.status, response.body)
        scope.answers[(target.key, target.path)] = answer
    return response


async def _read(kept: Kept, max_body: int, refuse: Callable[[int], bool]) -> Response:
    try:
        return await read_response(kept.reader, max_body=max_body, refuse=refuse)
    except ClosedEarly as exc:
        if not exc.answered:
            raise _Stale from None
        raise Failed("the response body could not be read (cut short or badly encoded)") from None
    except ResponseTooLarge:
        raise Failed(f"body larger than {max_body} bytes", too_large=True) from None
    except (HeadTooLarge, httptools.HttpParserError):
        raise Failed("the response is not valid HTTP") from None
    except OSError as exc:
        reason = f"the connection failed: {exc.strerror}" if exc.strerror else None
        raise Failed(reason or "the connection failed") from None
