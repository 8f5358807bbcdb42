"""The one HTTP GET of the program (aiohttp), and the ``.well-known/matrix/server`` fetch on it.

:func:`http_get` follows redirects by hand so that every hop is checked
(https only, no loop, at most 10 hops) and connected through the network's
DNS, IP policy and ``--connect-to`` rules; it caps the body (by
``Content-Length`` and while streaming), runs under one deadline for the
whole chain, records the status and headers of every hop, and turns
aiohttp's exceptions into a reason and a kind. It never raises for what the
remote side does. The server file (:func:`read_well_known`) and the
checker's client and support files are fetched with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from .._core.cache import cache_period_from_headers
from .._core.model import WellKnownResult
from .._core.wellknown import (
    REDIRECT_STATUSES,
    WELL_KNOWN_MAX_REDIRECTS,
    WELL_KNOWN_MAX_SIZE,
    RedirectRefused,
    failed_fetch,
    next_redirect,
    read_response,
)
from .connect import BlockedAddressError

__all__ = [
    "Fetched",
    "HttpFetch",
    "HttpHop",
    "describe_client_error",
    "http_get",
    "http_post",
    "read_well_known",
    "tls_reason",
]

_NO_HEADERS: Final[Mapping[str, str]] = CIMultiDictProxy(CIMultiDict())
#: The kinds of :attr:`HttpFetch.kind` that may go away on a retry.
_RETRYABLE = frozenset({"timeout", "unreachable"})


@dataclass(frozen=True, slots=True)
class HttpHop:
    """One URL requested: its status and headers, or None and none when no response came."""

    url: str
    status: int | None
    headers: Mapping[str, str] = field(default_factory=lambda: _NO_HEADERS, hash=False)


@dataclass(frozen=True, slots=True)
class HttpFetch:
    """One GET with its redirects followed.

    Attributes:
        url: The first URL requested.
        hops: Every URL requested, in order; the last one without a status is
            where the fetch broke.
        body: The final response's body (empty on failure or for a redirect).
        error: Why there is no final response; None when there is one.
        kind: The kind of error: a :class:`~._core.wellknown.RedirectRefused`
            kind (``redirect-http``, ...), ``too-large``, ``timeout`` or ``unreachable``.
        temporary: Whether the error may go away by itself.
    """

    url: str
    hops: tuple[HttpHop, ...]
    body: bytes = b""
    error: str | None = None
    kind: str | None = None
    temporary: bool = False

    @property
    def status(self) -> int | None:
        """The last HTTP status received; None when none came."""
        return next((hop.status for hop in reversed(self.hops) if hop.status is not None), None)

    @property
    def redirect_statuses(self) -> tuple[int, ...]:
        """The status of each redirect response, in order (a refused one included)."""
        return tuple(h.status for h in self.hops if h.status in REDIRECT_STATUSES)

    @property
    def retryable(self) -> bool:
        """Whether trying again soon may succeed (a timeout, a failed connection)."""
        return self.kind in _RETRYABLE


class _TooLarge(Exception):
    pass


def _always(status: int) -> bool:
    return True


async def http_get(
    session: aiohttp.ClientSession,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: float,
    max_body: int = WELL_KNOWN_MAX_SIZE,
    refuse_oversized: Callable[[int], bool] = _always,
    allow_http: bool = False,
    max_redirects: int = WELL_KNOWN_MAX_REDIRECTS,
) -> HttpFetch:
    """GET ``url``, following redirects by hand; never raises for what the server does.

    Redirects (301, 302, 303, 307, 308) are followed: https only, no loop, at
    most 10 (``allow_http`` and ``max_redirects`` emulate an implementation
    that differs, docs/peers.md). The whole fetch, redirects and body included,
    runs under one ``timeout``. A body over ``max_body`` makes the fetch fail
    (``too-large``) when ``refuse_oversized(status)``, else it is cut there
    (empty when ``Content-Length`` says so already).
    """
    # Without a User-Agent in ``headers`` none is sent (aiohttp would add its own).
    skip = () if "User-Agent" in headers else ("User-Agent",)
    hops: list[HttpHop] = []  # the hop in flight has no status until its response comes
    visited = [url]
    try:
        async with asyncio.timeout(timeout):
            while True:
                hops.append(HttpHop(visited[-1], None))
                async with session.get(
                    visited[-1], allow_redirects=False, headers=headers, skip_auto_headers=skip
                ) as response:
                    hops[-1] = HttpHop(visited[-1], response.status, response.headers)
                    if response.status not in REDIRECT_STATUSES:
                        refuse = refuse_oversized(response.status)
                        body = await _read_body(response, max_body, refuse)
                        return HttpFetch(url, tuple(hops), body)
                    location = response.headers.get("Location")
                hop = next_redirect(
                    visited[-1],
                    location,
                    tuple(visited),
                    allow_http=allow_http,
                    max_redirects=max_redirects,
                )
                visited.append(hop)
    except RedirectRefused as exc:
        return HttpFetch(url, tuple(hops), b"", exc.reason, exc.kind, exc.temporary)
    except _TooLarge:
        reason = f"body larger than {max_body} bytes"
        return HttpFetch(url, tuple(hops), b"", reason, "too-large", True)
    except TimeoutError:
        return HttpFetch(url, tuple(hops), b"", f"timed out after {timeout:g} s", "timeout", True)
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        # ValueError: aiohttp's InvalidURL and IDNA failures on a strange Location.
        reason = describe_client_error(exc)
        return HttpFetch(url, tuple(hops), b"", reason, "unreachable", True)


async def http_post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str],
    timeout: float,
    max_body: int,
    method: str = "POST",
) -> HttpFetch:
    """POST (or PUT) ``body`` to an http(s) ``url``, no redirect followed; never raises for
    what the server does. The response body is read up to ``max_body`` bytes and cut there."""
    if not url.lower().startswith(("https://", "http://")):
        return HttpFetch(url, (), b"", "only http and https URLs are used", "unreachable")
    hops = [HttpHop(url, None)]
    try:
        async with (
            asyncio.timeout(timeout),
            session.request(
                method, url, data=body, headers=headers, allow_redirects=False
            ) as response,
        ):
            hops[0] = HttpHop(url, response.status, response.headers)
            return HttpFetch(url, tuple(hops), await _read_body(response, max_body, False))
    except TimeoutError:
        return HttpFetch(url, tuple(hops), b"", f"timed out after {timeout:g} s", "timeout", True)
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return HttpFetch(url, tuple(hops), b"", describe_client_error(exc), "unreachable", True)


async def _read_body(response: aiohttp.ClientResponse, max_body: int, refuse: bool) -> bytes:
    """The body, at most ``max_body`` bytes: refused when ``refuse``, else cut there."""
    length = response.content_length
    if length is not None and length > max_body:
        if refuse:
            raise _TooLarge
        return b""
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > max_body:
            if refuse:
                raise _TooLarge
            return bytes(body[:max_body])
    return bytes(body)


# --- the server file ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fetched:
    """One fetch: the result, the cache period its headers ask for, and whether to retry."""

    result: WellKnownResult
    header_period: float | None = None
    retryable: bool = False


def read_well_known(hostname: str, fetched: HttpFetch, now: float) -> Fetched:
    """Judge what :func:`http_get` got from ``https://<hostname>/.well-known/matrix/server``."""
    redirects = tuple(hop.url for hop in fetched.hops[1:])
    if fetched.error is None:
        final = fetched.hops[-1]
        assert final.status is not None
        result = read_response(hostname, final.status, fetched.body, redirects)
        period = cache_period_from_headers(final.headers.items(), now) if result.valid else None
        judged = Fetched(result, period, retryable=result.temporary)
    else:
        judged = Fetched(_failure(hostname, fetched, redirects), None, fetched.retryable)
    statuses = fetched.redirect_statuses
    if not statuses:
        return judged
    return replace(judged, result=replace(judged.result, redirect_statuses=statuses))


def _failure(hostname: str, fetched: HttpFetch, redirects: tuple[str, ...]) -> WellKnownResult:
    """The result of a fetch with no final response; the status is the last redirect's."""
    assert fetched.error is not None
    statuses = fetched.redirect_statuses
    reason, status = fetched.error, statuses[-1] if statuses else None
    if fetched.kind == "unreachable":
        status = None
        if redirects:  # say which hop failed: it may be a refused address
            reason = f"after a redirect to {redirects[-1]}: {reason}"
    kind = fetched.kind or "unreachable"
    return failed_fetch(
        hostname, reason, temporary=fetched.temporary, kind=kind, status=status, redirects=redirects
    )


def describe_client_error(exc: BaseException) -> str:
    """One line saying what went wrong on the connection, without aiohttp's wording."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        detail = getattr(cert_error, "verify_message", None) or str(cert_error)
        return f"TLS certificate of {exc.host} rejected: {detail}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError):
        return f"TLS handshake with {exc.host} failed: {tls_reason(exc.os_error)}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return str(exc.os_error)
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, BlockedAddressError):
            return str(exc.os_error)  # "refused: ... is in the blocked range ..."
        return f"cannot connect to {exc.host}:{exc.port}: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, BlockedAddressError):
        return str(exc)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    return _plain_words(exc)


def tls_reason(error: OSError) -> str:
    """OpenSSL's reason (``wrong version number``), without its source file and line."""
    reason = getattr(error, "reason", None)
    if isinstance(reason, str) and reason:
        return reason.lower().replace("_", " ")
    return error.strerror or "the handshake failed"


def _plain_words(exc: BaseException) -> str:
    """What an unforeseen error means, without class names or library wording."""
    if isinstance(exc, aiohttp.InvalidURL) and exc.description:
        # e.g. "127.1 is not a canonical IPv4 address": aiohttp refuses such hosts.
        return f"the URL is not valid: {exc.url} {exc.description}"
    if isinstance(exc, ValueError):  # aiohttp's InvalidURL, an IDNA failure
        return "the URL is not valid"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the response body could not be read (cut short or badly encoded)"
    if isinstance(exc, aiohttp.ClientResponseError):
        return "the response is not valid HTTP"
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return "the server stopped answering"
    if isinstance(exc, OSError) and exc.strerror:
        return f"the connection failed: {exc.strerror}"
    return "the connection failed"
