"""The client side of a domain: ``/.well-known/matrix/client`` and ``/.well-known/matrix/support``.

:func:`check_client` walks the client-server spec's auto-discovery flow the
way a login screen would (docs/design.md §3.1) and reports the outcome a client
reaches (``PROMPT``, ``IGNORE``, ``FAIL_PROMPT`` or ``FAIL_ERROR``) together
with everything found along the way: the redirect chain and the CORS header
on each response, the homeserver's ``/_matrix/client/versions`` and the
identity server. :func:`check_support` validates the optional support file
(docs/design.md §3.2).

The network part is small: :func:`fetch` gets one URL through the
resolver's session (its DNS, IP policy, ``--connect-to`` rules and trust
store), following redirects by hand, under one deadline and a 50 KiB body
cap, and never raises for what the remote side does. Everything else turns
what was fetched into findings with pure functions, testable without
sockets; the codes are in :mod:`.codes`.

The pure part lives beside this module: :mod:`.client_model` (the
dataclasses), :mod:`.client_rules` (the client file) and
:mod:`.support_rules` (the support file). Every name is re-exported here,
where callers import it from.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

import aiohttp

from .._core.wellknown import (
    REDIRECT_STATUSES,
    WELL_KNOWN_MAX_SIZE,
    RedirectRefused,
    next_redirect,
)
from .._io.http import describe_client_error
from .._version import __version__
from .client_model import (
    _CORS_HEADER,
    FAIL_ERROR,
    FAIL_PROMPT,
    IGNORE,
    PROMPT,
    ClientReport,
    Fetched,
    Hop,
    SupportReport,
)
from .client_model import CLIENT_PATH as CLIENT_PATH
from .client_model import IDENTITY_PATH as IDENTITY_PATH
from .client_model import SUPPORT_PATH as SUPPORT_PATH
from .client_model import VERSIONS_PATH as VERSIONS_PATH
from .client_rules import (
    ClientFile,
    client_url,
    judge_client,
    judge_versions,
    read_client_file,
    support_url,
)
from .support_rules import judge_support

if TYPE_CHECKING:
    from ..resolver import Resolver

__all__ = [
    "FAIL_ERROR",
    "FAIL_PROMPT",
    "IGNORE",
    "PROMPT",
    "ClientFile",
    "ClientReport",
    "Fetched",
    "Hop",
    "SupportReport",
    "check_client",
    "check_support",
    "client_url",
    "fetch",
    "judge_client",
    "judge_support",
    "judge_versions",
    "read_client_file",
    "support_url",
]

#: The same cap as the server file's: a discovery document is a few hundred bytes.
MAX_BODY: Final = WELL_KNOWN_MAX_SIZE

_HEADERS: Final = {"User-Agent": f"matrix-delegation/{__version__}", "Accept": "application/json"}


# --- fetching -----------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


async def fetch(session: aiohttp.ClientSession, url: str, *, timeout: float) -> Fetched:
    """GET ``url`` and follow redirects by hand; never raises for what the server does.

    Redirects (301, 302, 303, 307, 308) are followed as the server file's are:
    https only, no loop, at most 10. The whole fetch, redirects and body
    included, runs under one ``timeout``; a 200 body over 50 KiB is refused
    (by ``Content-Length`` or while streaming), other bodies are cut there.
    """
    visited = [url]
    hops: list[Hop] = []
    status: int | None = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                async with session.get(
                    visited[-1], allow_redirects=False, headers=_HEADERS
                ) as response:
                    status = response.status
                    hops.append(Hop(visited[-1], status, _has_cors(response)))
                    if status not in REDIRECT_STATUSES:
                        body = await _read_body(response)
                        return Fetched(url, tuple(hops), status, body)
                    location = response.headers.get("Location")
                visited.append(next_redirect(visited[-1], location, tuple(visited)))
    except RedirectRefused as exc:
        return Fetched(url, tuple(hops), status, b"", exc.reason, "redirect")
    except _TooLarge:
        return Fetched(
            url, tuple(hops), status, b"", f"body larger than {MAX_BODY} bytes", "too-large"
        )
    except TimeoutError:
        error = f"timed out after {timeout:g} s"
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        # ValueError: aiohttp's InvalidURL and IDNA failures on a strange Location.
        error = describe_client_error(exc)
    if len(hops) < len(visited):
        hops.append(Hop(visited[-1], None, False))
    return Fetched(url, tuple(hops), status, b"", error, "network")


def _has_cors(response: aiohttp.ClientResponse) -> bool:
    return bool(response.headers.get(_CORS_HEADER, "").strip())


async def _read_body(response: aiohttp.ClientResponse) -> bytes:
    """The body, at most :data:`MAX_BODY` bytes: too large a 200 is refused, others cut."""
    refuse = response.status == 200
    length = response.content_length
    if length is not None and length > MAX_BODY:
        if refuse:
            raise _TooLarge
        return b""
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > MAX_BODY:
            if refuse:
                raise _TooLarge
            return bytes(body[:MAX_BODY])
    return bytes(body)


# --- the client flow ----------------------------------------------------------------------


async def check_client(resolver: Resolver, hostname: str, *, timeout: float) -> ClientReport:
    """Run the spec's client discovery against ``https://<hostname>/.well-known/matrix/client``.

    Every request goes through ``resolver.http_session()``. The file is
    fetched first; then the homeserver's ``/_matrix/client/versions`` and the
    identity server's ``/_matrix/identity/v2`` are fetched side by side, each
    fetch under its own ``timeout``, so the whole check lasts at most about
    twice ``timeout``. Never raises for what the remote side does.

    Args:
        resolver: A :class:`~matrix_delegation.Resolver`.
        hostname: The hostname of the server name (no port).
        timeout: The bound on each fetch, redirects included, in seconds.
    """
    session = resolver.http_session()
    file = await fetch(session, client_url(hostname), timeout=timeout)
    read = read_client_file(file)
    versions, identity = await asyncio.gather(
        _maybe_fetch(session, read.versions_url, timeout),
        _maybe_fetch(session, read.identity_url, timeout),
    )
    return judge_client(file, read, versions, identity)


async def _maybe_fetch(
    session: aiohttp.ClientSession, url: str | None, timeout: float
) -> Fetched | None:
    return None if url is None else await fetch(session, url, timeout=timeout)


# --- the support file ---------------------------------------------------------------------


async def check_support(resolver: Resolver, hostname: str, *, timeout: float) -> SupportReport:
    """Fetch and judge ``https://<hostname>/.well-known/matrix/support``.

    Every request goes through ``resolver.http_session()``, under one
    ``timeout`` for the whole fetch. Never raises for what the remote side does.

    Args:
        resolver: A :class:`~matrix_delegation.Resolver`.
        hostname: The hostname of the server name (no port).
        timeout: The bound on the fetch, redirects included, in seconds.
    """
    fetched = await fetch(resolver.http_session(), support_url(hostname), timeout=timeout)
    return judge_support(fetched)
