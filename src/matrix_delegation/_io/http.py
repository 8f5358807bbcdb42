"""The ``.well-known/matrix/server`` fetch with aiohttp.

HTTPS on port 443 with normal certificate validation for the hostname;
redirects followed by hand so that every hop is checked (https only, no loop,
at most 10 hops) and resolved through the same policy; a 50 KiB body cap,
checked on ``Content-Length`` and while streaming; one deadline for the whole
fetch. aiohttp's exceptions become a reason in the result.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, replace

import aiohttp
from multidict import CIMultiDictProxy

from .._core.cache import cache_period_from_headers
from .._core.model import WellKnownResult, well_known_url
from .._core.wellknown import (
    REDIRECT_STATUSES,
    WELL_KNOWN_MAX_SIZE,
    RedirectRefused,
    failed_fetch,
    next_redirect,
    read_response,
)
from .connect import BlockedAddressError

__all__ = ["Fetched", "WellKnownFetcher", "describe_client_error", "tls_reason"]


@dataclass(frozen=True, slots=True)
class Fetched:
    """One fetch: the result, the cache period its headers ask for, and whether to retry."""

    result: WellKnownResult
    header_period: float | None = None
    retryable: bool = False


class _BodyTooLarge(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Failure:
    reason: str
    kind: str
    temporary: bool
    retry: bool


class WellKnownFetcher:
    """Fetches ``https://<hostname>/.well-known/matrix/server`` with a shared session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: float,
        clock: Callable[[], float],
        user_agent: str,
    ) -> None:
        self._session = session
        self._timeout = timeout
        self._clock = clock
        self._headers = {"User-Agent": user_agent}

    async def fetch(self, hostname: str) -> Fetched:
        """Fetch and judge the file; never raises for anything the remote side does."""
        visited = [well_known_url(hostname)]
        hops: list[int] = []  # the status of each redirect, for the report
        fetched = await self._follow(hostname, visited, hops)
        if hops:
            fetched = replace(
                fetched, result=replace(fetched.result, redirect_statuses=tuple(hops))
            )
        return fetched

    async def _follow(self, hostname: str, visited: list[str], hops: list[int]) -> Fetched:
        status: int | None = None
        try:
            async with asyncio.timeout(self._timeout):
                while True:
                    status, headers, body = await self._get(visited[-1])
                    if status not in REDIRECT_STATUSES:
                        break
                    hops.append(status)
                    visited.append(
                        next_redirect(visited[-1], headers.get("Location"), tuple(visited))
                    )
        except RedirectRefused as exc:
            failure = _Failure(exc.reason, exc.kind, exc.temporary, retry=False)
            return self._failed(hostname, failure, status, visited)
        except TimeoutError:
            failure = _Failure(f"timed out after {self._timeout:g} s", "timeout", True, retry=True)
            return self._failed(hostname, failure, status, visited)
        except _BodyTooLarge:
            # Temporary, but not retried: the server will send the same thing again.
            reason = f"body larger than {WELL_KNOWN_MAX_SIZE} bytes"
            failure = _Failure(reason, "too-large", True, retry=False)
            return self._failed(hostname, failure, status, visited)
        except (aiohttp.ClientError, OSError, ssl.SSLError) as exc:
            reason = describe_client_error(exc)
            if len(visited) > 1:  # say which hop failed: it may be a refused address
                reason = f"after a redirect to {visited[-1]}: {reason}"
            failure = _Failure(reason, "unreachable", True, retry=True)
            return self._failed(hostname, failure, None, visited)
        result = read_response(hostname, status, body, tuple(visited[1:]))
        period = cache_period_from_headers(headers.items(), self._clock()) if result.valid else None
        return Fetched(result, period, retryable=result.temporary)

    async def _get(self, url: str) -> tuple[int, CIMultiDictProxy[str], bytes]:
        async with self._session.get(url, allow_redirects=False, headers=self._headers) as response:
            if response.status in REDIRECT_STATUSES:
                return response.status, response.headers, b""
            length = response.content_length
            if length is not None and length > WELL_KNOWN_MAX_SIZE:
                raise _BodyTooLarge
            body = bytearray()
            async for chunk in response.content.iter_any():
                body += chunk
                if len(body) > WELL_KNOWN_MAX_SIZE:
                    raise _BodyTooLarge
            return response.status, response.headers, bytes(body)

    @staticmethod
    def _failed(
        hostname: str, failure: _Failure, status: int | None, visited: list[str]
    ) -> Fetched:
        result = failed_fetch(
            hostname,
            failure.reason,
            temporary=failure.temporary,
            kind=failure.kind,
            status=status,
            redirects=tuple(visited[1:]),
        )
        return Fetched(result, None, retryable=failure.retry)


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
