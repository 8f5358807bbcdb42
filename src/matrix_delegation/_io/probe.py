"""Probing one federation endpoint: TCP, TLS with the right SNI, then HTTP over it.

For each address discovery found, the checker connects the way a homeserver
would: SNI is the TLS server name (none for an IP literal), the certificate
is checked against the trust store for that name, and requests carry the
resolved ``Host`` header. When the certificate is refused, a second,
unverified handshake still fetches it so the report can show what is wrong
with it. Every step is bounded in time and size; nothing raises for what the
remote side does.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httptools

from .._core.ipfilter import IpPolicy
from .certs import CertificateInfo, describe_certificate
from .connect import open_checked_connection
from .https import tls_reason
from .wire import HeadTooLarge, Response, ResponseTooLarge, read_response, request_bytes

__all__ = [
    "BODY_EXCERPT",
    "EndpointProbe",
    "HttpResult",
    "TlsInfo",
    "fetch_path",
    "fetch_paths",
    "probe_endpoint",
]

VERSION_PATH = "/_matrix/federation/v1/version"
KEYS_PATH = "/_matrix/key/v2/server"
WELL_KNOWN_PATH = "/.well-known/matrix/server"
#: Far above any real key response (a few KiB); a 10 MB one is refused. The key
#: checker reads JSON up to the same bound (``checker.keys_json.MAX_KEY_BODY``).
MAX_RESPONSE = 512 * 1024
#: Bytes of a body kept once it has been judged: enough to show what was served.
BODY_EXCERPT = 1024
#: Response headers kept per response (the rest are read and dropped).
MAX_HEADERS = 64
#: What the probe says it is, unless a caller asks for another User-Agent.
PROBE_USER_AGENT = "matrix-delegation-checker"


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """The TLS session: version, cipher, SNI sent, and whether the certificate passed."""

    version: str | None
    cipher: str | None
    sni: str | None
    verified: bool
    verify_error: str | None
    verify_code: int | None
    certificate: CertificateInfo | None


@dataclass(frozen=True, slots=True)
class HttpResult:
    """One HTTP response (or why there was none)."""

    status: int | None
    body: bytes
    error: str | None = None
    #: The response headers (names lower-cased), at most :data:`MAX_HEADERS` of them.
    headers: tuple[tuple[str, str], ...] = ()

    def excerpt(self) -> HttpResult:
        """This result with at most :data:`BODY_EXCERPT` bytes of its body (for keeping)."""
        if len(self.body) <= BODY_EXCERPT:
            return self
        return HttpResult(self.status, self.body[:BODY_EXCERPT], self.error, self.headers)


@dataclass(frozen=True, slots=True)
class EndpointProbe:
    """Everything learnt from one (target, IP, port)."""

    target: str
    ip: str
    port: int
    connect_ms: float | None
    error: str | None
    tls: TlsInfo | None
    version: HttpResult | None
    keys: HttpResult | None
    well_known: HttpResult | None = None  # only when asked for (the default-port route)


async def probe_endpoint(
    target: str,
    ip: str,
    port: int,
    *,
    tls_name: str | None,
    host_header: str,
    context: ssl.SSLContext,
    timeout: float,
    policy: IpPolicy,
    also_well_known: bool = False,
) -> EndpointProbe:
    """Connect to ``ip:port`` as a homeserver would and fetch version and keys.

    With ``also_well_known``, ``/.well-known/matrix/server`` too, over the same
    connection. Every connection goes through ``policy`` (the resolver's IP policy).
    """
    with _Opened(policy) as opened:
        sni = tls_name or ip  # Python sends no SNI for an IP and checks the IP SAN instead
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await opened.connect(ip, port)
        except (OSError, TimeoutError) as exc:
            error = _connect_error(exc, timeout)
            return EndpointProbe(target, ip, port, None, error, None, None, None)
        connect_ms = round(1000 * (time.perf_counter() - started), 2)
        tls, streams = await _handshake(reader, writer, ip, port, sni, context, timeout, opened)
        if streams is None:
            return EndpointProbe(target, ip, port, connect_ms, tls.verify_error, tls, None, None)
        site = (ip, port, sni, tls)
        version, streams = await _get(streams, *site, VERSION_PATH, host_header, timeout, opened)
        keys, streams = await _get(streams, *site, KEYS_PATH, host_header, timeout, opened)
        well_known = None
        if also_well_known:
            # The classic mistake is the file on the federation port: look while we are here.
            path = WELL_KNOWN_PATH
            well_known, streams = await _get(streams, *site, path, host_header, timeout, opened)
        if streams is not None:
            await _close(streams[1])
        return EndpointProbe(target, ip, port, connect_ms, None, tls, version, keys, well_known)


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def fetch_path(
    ip: str,
    port: int,
    path: str,
    *,
    tls_name: str,
    host_header: str,
    context: ssl.SSLContext,
    timeout: float,
    policy: IpPolicy,
    user_agent: str | None = PROBE_USER_AGENT,
    body: bytes | None = None,
) -> HttpResult:
    """GET one path from one address over verified TLS (no redirects followed; no UA: None).

    With ``body``, POST it as JSON instead (the key query of a notary).
    """
    results = await fetch_paths(
        ip,
        port,
        ((path, user_agent),),
        tls_name=tls_name,
        host_header=host_header,
        context=context,
        timeout=timeout,
        policy=policy,
        body=body,
    )
    return results[0]


async def fetch_paths(
    ip: str,
    port: int,
    asks: Sequence[tuple[str, str | None]],
    *,
    tls_name: str,
    host_header: str,
    context: ssl.SSLContext,
    timeout: float,
    policy: IpPolicy,
    body: bytes | None = None,
) -> tuple[HttpResult, ...]:
    """GET (or POST ``body`` to) each (path, User-Agent) of ``asks`` in turn on one
    connection, verified TLS: one handshake for them all.

    The answers of the first asks, in order: it stops after the first one that
    leaves no open connection (the server closed it, or the request failed), so
    that one stuck request does not hold up the others; the caller asks the rest
    some other way. At least one result when ``asks`` has one.
    """
    with _Opened(policy) as opened:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await opened.connect(ip, port)
        except (OSError, TimeoutError) as exc:
            return (HttpResult(None, b"", _connect_error(exc, timeout)),)
        sni = tls_name
        tls, streams = await _handshake(reader, writer, ip, port, sni, context, timeout, opened)
        if streams is None or not tls.verified:
            if streams is not None:
                await _close(streams[1])
            return (HttpResult(None, b"", f"TLS: {tls.verify_error}"),)
        site, results = (ip, port, sni, tls), list[HttpResult]()
        for path, agent in asks:
            result, streams = await _get(
                streams, *site, path, host_header, timeout, opened, agent, body
            )
            results.append(result)
            if streams is None:
                break
        if streams is not None:
            await _close(streams[1])
        return tuple(results)


class _Opened:
    """The connections one probe opens: each checked by the IP policy, none outliving it.

    :meth:`connect` is the probe's only way to open a socket, so the destination
    is checked at connect time whatever the caller passed. On the way out of the
    ``with`` block every connection is aborted: a no-op for those already
    closed, and for those a cancellation left open (a deadline), a close
    without the TLS goodbye, so nothing waits on the remote side.
    """

    def __init__(self, policy: IpPolicy) -> None:
        self._policy = policy
        self._writers: list[asyncio.StreamWriter] = []

    def __enter__(self) -> _Opened:
        return self

    def __exit__(self, *_: object) -> None:
        self.abort()

    async def connect(self, ip: str, port: int) -> Streams:
        """Open a TCP connection that the policy allows; it is aborted with the probe."""
        reader, writer = await open_checked_connection(ip, port, self._policy)
        self._writers.append(writer)
        return reader, writer

    def abort(self) -> None:
        """Drop what is still open at once: no TLS goodbye, nothing to wait for."""
        for writer in self._writers:
            writer.transport.abort()  # a no-op on a connection already closed
        self._writers.clear()


async def _handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    ip: str,
    port: int,
    sni: str,
    context: ssl.SSLContext,
    timeout: float,
    opened: _Opened,
) -> tuple[TlsInfo, Streams | None]:
    try:
        async with asyncio.timeout(timeout):
            await writer.start_tls(context, server_hostname=sni)
        return _session_info(writer, sni, True, None, None), (reader, writer)
    except ssl.SSLCertVerificationError as exc:
        await _close(writer)
        refused = (exc.verify_message or str(exc), exc.verify_code)
    except (ssl.SSLError, OSError, TimeoutError) as exc:
        await _close(writer)
        reason = f"TLS handshake failed: {_reason(exc, timeout)}"
        return TlsInfo(None, None, _sni(sni, ip), False, reason, None, None), None
    # Look at the refused certificate anyway, over a connection we do not trust.
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await opened.connect(ip, port)
            await writer.start_tls(_unverified(), server_hostname=sni)
    except (ssl.SSLError, OSError, TimeoutError):
        return TlsInfo(None, None, _sni(sni, ip), False, refused[0], refused[1], None), None
    return _session_info(writer, sni, False, *refused), (reader, writer)


def _session_info(
    writer: asyncio.StreamWriter, sni: str, verified: bool, error: str | None, code: int | None
) -> TlsInfo:
    tls: ssl.SSLObject = writer.get_extra_info("ssl_object")
    der = tls.getpeercert(binary_form=True)
    certificate = describe_certificate(der) if der else None
    cipher = tls.cipher()
    ip = writer.get_extra_info("peername")[0]
    return TlsInfo(
        tls.version(),
        cipher[0] if cipher else None,
        _sni(sni, ip),
        verified,
        error,
        code,
        certificate,
    )


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close and wait: a TLS close is an exchange, and a socket left mid-way leaks."""
    writer.close()
    with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
        async with asyncio.timeout(1.0):
            await writer.wait_closed()


def _sni(sni: str, ip: str) -> str | None:
    return None if sni == ip else sni


def _unverified() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def _get(
    streams: Streams | None,
    ip: str,
    port: int,
    sni: str,
    tls: TlsInfo,
    path: str,
    host: str,
    timeout: float,
    opened: _Opened,
    user_agent: str | None = PROBE_USER_AGENT,
    body: bytes | None = None,
) -> tuple[HttpResult, Streams | None]:
    """GET (POST ``body`` when given) over the open connection; reconnect once if closed."""
    if streams is None or streams[1].is_closing():
        streams = await _reconnect(ip, port, sni, tls, timeout, opened)
        if streams is None:
            return HttpResult(None, b"", "could not reconnect"), None
    reader, writer = streams
    try:
        async with asyncio.timeout(timeout):
            method, payload = ("GET", b"") if body is None else ("POST", body)
            headers = _headers(user_agent, json_body=body is not None)
            writer.write(request_bytes(path, host, headers, method=method, body=payload))
            response = await read_response(reader, max_body=MAX_RESPONSE)
    except (ResponseTooLarge, HeadTooLarge):
        await _close(writer)
        return HttpResult(None, b"", f"response larger than {MAX_RESPONSE} bytes"), None
    except (OSError, TimeoutError, httptools.HttpParserError) as exc:
        await _close(writer)
        return HttpResult(None, b"", _reason(exc, timeout)), None
    result = HttpResult(response.status, response.body, None, _kept_headers(response))
    if not response.keep_alive:
        await _close(writer)
        return result, None
    return result, streams


async def _reconnect(
    ip: str, port: int, sni: str, tls: TlsInfo, timeout: float, opened: _Opened
) -> Streams | None:
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await opened.connect(ip, port)
            context = _unverified()  # this peer's certificate has been judged already
            await writer.start_tls(context, server_hostname=sni)
    except (ssl.SSLError, OSError, TimeoutError):
        return None
    return reader, writer


def _headers(user_agent: str | None, *, json_body: bool = False) -> dict[str, str]:
    """The probe's request headers; no ``User-Agent`` at all when ``user_agent`` is None."""
    agent = {} if user_agent is None else {"User-Agent": user_agent}
    kind = {"Content-Type": "application/json"} if json_body else {}
    return {"Accept": "application/json", **agent, **kind}


def _kept_headers(response: Response) -> tuple[tuple[str, str], ...]:
    """At most :data:`MAX_HEADERS` response headers, names lower-cased."""
    return tuple((name.lower(), value) for name, value in response.headers.pairs[:MAX_HEADERS])


def _connect_error(exc: BaseException, timeout: float) -> str:
    return f"cannot connect: {_reason(exc, timeout)}"


def _reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, ssl.SSLError):
        return tls_reason(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or "the connection failed"
