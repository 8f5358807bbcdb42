"""The client side of a domain: ``/.well-known/matrix/client`` and ``/.well-known/matrix/support``.

:func:`check_client` walks the client-server spec's auto-discovery flow the
way a login screen would (docs/design.md §3.1) and reports the outcome a client
reaches (``PROMPT``, ``IGNORE``, ``FAIL_PROMPT`` or ``FAIL_ERROR``) together
with everything found along the way: the redirect chain and the CORS header
on each response, the homeserver's ``/_matrix/client/versions`` and the
identity server. :func:`check_support` validates the optional support file
(docs/design.md §3.2).

The network part is small: :func:`fetch` gets one URL through the network
edge's one HTTP fetch (its DNS, IP policy, ``--connect-to`` rules and trust
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
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

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
    from .._io.network import Network

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

# --- fetching -----------------------------------------------------------------------------


#: What each kind of failed fetch is reported as.
_FAILURES: Final = {"too-large": "too-large", "timeout": "network", "unreachable": "network"}


async def fetch(network: Network, url: str, *, timeout: float) -> Fetched:
    """GET ``url`` through the network's one HTTP fetch; never raises for what the server does.

    Redirects (301, 302, 303, 307, 308) are followed as the server file's are:
    https only, no loop, at most 10. The whole fetch, redirects and body
    included, runs under one ``timeout``; a 200 body over 50 KiB is refused
    (by ``Content-Length`` or while streaming), other bodies are cut there.
    """
    got = await network.get(
        url, timeout=timeout, accept="application/json", refuse_oversized=_refused
    )
    hops = tuple(Hop(hop.url, hop.status, _has_cors(hop.headers)) for hop in got.hops)
    failure = None if got.kind is None else _FAILURES.get(got.kind, "redirect")
    return Fetched(url, hops, got.status, got.body, got.error, failure)


def _refused(status: int) -> bool:
    """Only a 200 over the cap is refused; the body of an error page is cut."""
    return status == 200


def _has_cors(headers: Mapping[str, str]) -> bool:
    return bool(headers.get(_CORS_HEADER, "").strip())


# --- the client flow ----------------------------------------------------------------------


async def check_client(network: Network, hostname: str, *, timeout: float) -> ClientReport:
    """Run the spec's client discovery against ``https://<hostname>/.well-known/matrix/client``.

    Every request goes through ``network`` (the resolver's). The file is
    fetched first; then the homeserver's ``/_matrix/client/versions`` and the
    identity server's ``/_matrix/identity/v2`` are fetched side by side, each
    fetch under its own ``timeout``, so the whole check lasts at most about
    twice ``timeout``. Never raises for what the remote side does.

    Args:
        network: The network edge (its DNS, IP policy, ``--connect-to`` and trust store).
        hostname: The hostname of the server name (no port).
        timeout: The bound on each fetch, redirects included, in seconds.
    """
    file = await fetch(network, client_url(hostname), timeout=timeout)
    read = read_client_file(file)
    versions, identity = await asyncio.gather(
        _maybe_fetch(network, read.versions_url, timeout),
        _maybe_fetch(network, read.identity_url, timeout),
    )
    return judge_client(file, read, versions, identity)


async def _maybe_fetch(network: Network, url: str | None, timeout: float) -> Fetched | None:
    return None if url is None else await fetch(network, url, timeout=timeout)


# --- the support file ---------------------------------------------------------------------


async def check_support(network: Network, hostname: str, *, timeout: float) -> SupportReport:
    """Fetch and judge ``https://<hostname>/.well-known/matrix/support``.

    Every request goes through ``network``, under one ``timeout`` for the
    whole fetch. Never raises for what the remote side does.

    Args:
        network: The network edge (its DNS, IP policy, ``--connect-to`` and trust store).
        hostname: The hostname of the server name (no port).
        timeout: The bound on the fetch, redirects included, in seconds.
    """
    fetched = await fetch(network, support_url(hostname), timeout=timeout)
    return judge_support(fetched)
