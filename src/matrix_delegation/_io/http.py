"""The HTTP GET (and POST) of the program, and the ``.well-known/matrix/server`` fetch on it.

:func:`http_get` follows redirects by hand so that every hop is checked
(https only, no loop, at most 10 hops) and connected through the network's
DNS, IP policy and ``--connect-to`` rules (:mod:`.https`, on asyncio and
httptools); it caps the body (by ``Content-Length`` and while streaming),
runs under one deadline for the whole chain, records the status and headers
of every hop, and turns every failure into a reason and a kind. It never raises for what the
remote side does. The server file (:func:`read_well_known`) and the
checker's client and support files are fetched with it. :func:`http_post`
sends the notifiers' POST and PUT requests the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypedDict

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
from .https import Edge, Failed, exchange, parse_target, tls_reason
from .scope import ConnectionScope, connection_scope, current_scope
from .wire import NO_HEADERS, Headers

__all__ = [
    "Fetched",
    "HttpFetch",
    "HttpHop",
    "http_get",
    "http_post",
    "read_well_known",
    "tls_reason",
]

#: The kinds of :attr:`HttpFetch.kind` that may go away on a retry.
_RETRYABLE = frozenset({"timeout", "unreachable"})


@dataclass(frozen=True, slots=True)
class HttpHop:
    """One URL requested: its status and headers, or None and none when no response came."""

    url: str
    status: int | None
    headers: Headers = field(default_factory=lambda: NO_HEADERS, hash=False)


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


def _always(status: int) -> bool:
    return True


async def http_get(
    edge: Edge,
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
    (empty when ``Content-Length`` says so already). Connections are those of
    the current :mod:`.scope` (kept alive between its GETs), or of one for this
    fetch alone.
    """
    redirects = _Redirects(allow_http=allow_http, max_redirects=max_redirects)
    scope = current_scope()
    if scope is None:
        with connection_scope() as own:
            return await _get(
                edge, own, url, headers, timeout, max_body, refuse_oversized, redirects
            )
    return await _get(edge, scope, url, headers, timeout, max_body, refuse_oversized, redirects)


class _Redirects(TypedDict):
    """How redirects are followed (the spec's way unless a peer is emulated)."""

    allow_http: bool
    max_redirects: int


async def _get(
    edge: Edge,
    scope: ConnectionScope,
    url: str,
    headers: Mapping[str, str],
    timeout: float,
    max_body: int,
    refuse: Callable[[int], bool],
    redirects: _Redirects,
) -> HttpFetch:
    # Only the headers given are sent: without a User-Agent among them, none.
    hops: list[HttpHop] = []  # the hop in flight has no status until its response comes
    visited = [url]
    # A GET waits this long for a busy connection of its scope before opening its own.
    wait = timeout / 4
    try:
        async with asyncio.timeout(timeout):
            while True:
                hops.append(HttpHop(visited[-1], None))
                target = parse_target(visited[-1])
                response = await exchange(
                    edge, scope, target, headers, max_body=max_body, refuse=refuse, wait=wait
                )
                hops[-1] = HttpHop(visited[-1], response.status, response.headers)
                if response.status not in REDIRECT_STATUSES:
                    return HttpFetch(url, tuple(hops), response.body)
                location = response.headers.get("Location")
                visited.append(next_redirect(visited[-1], location, tuple(visited), **redirects))
    except RedirectRefused as exc:
        return HttpFetch(url, tuple(hops), b"", exc.reason, exc.kind, exc.temporary)
    except TimeoutError:
        return HttpFetch(url, tuple(hops), b"", f"timed out after {timeout:g} s", "timeout", True)
    except Failed as exc:
        kind = "too-large" if exc.too_large else "unreachable"
        return HttpFetch(url, tuple(hops), b"", exc.reason, kind, True)


def _never(status: int) -> bool:
    return False


async def http_post(
    edge: Edge,
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str],
    timeout: float,
    max_body: int,
    method: str = "POST",
) -> HttpFetch:
    """POST (or PUT) ``body`` to an http(s) ``url``, no redirect followed; never raises for
    what the server does. The response body is read up to ``max_body`` bytes and cut there.

    The request goes on a connection of its own (it is never repeated on another
    one), made through the edge as every GET's is.
    """
    if not url.lower().startswith(("https://", "http://")):
        return HttpFetch(url, (), b"", "only http and https URLs are used", "unreachable")
    hops = [HttpHop(url, None)]
    own = ConnectionScope()
    try:
        async with asyncio.timeout(timeout):
            response = await exchange(
                edge,
                own,
                parse_target(url),
                headers,
                max_body=max_body,
                refuse=_never,
                wait=0,
                method=method,
                body=body,
            )
        hops[0] = HttpHop(url, response.status, response.headers)
        return HttpFetch(url, tuple(hops), response.body)
    except TimeoutError:
        return HttpFetch(url, tuple(hops), b"", f"timed out after {timeout:g} s", "timeout", True)
    except Failed as exc:
        return HttpFetch(url, tuple(hops), b"", exc.reason, "unreachable", True)
    finally:
        own.close()


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
        period = cache_period_from_headers(final.headers.pairs, now) if result.valid else None
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
