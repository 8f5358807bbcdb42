"""Reading ``/.well-known/matrix/server`` responses and following their redirects.

Pure functions: the fetcher hands in raw facts (status, headers, body) and
gets back a :class:`WellKnownResult`. The spec (S2S step 3) says an invalid
response (not 200, not JSON, missing or invalid ``m.server``) makes discovery
go on to step 4; the reason is kept for the trace.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urljoin, urlsplit

from .._exceptions import InvalidServerName
from .jsondoc import json_type, read_json
from .model import WellKnownResult, well_known_url
from .names import ServerName

__all__ = [
    "REDIRECT_STATUSES",
    "WELL_KNOWN_MAX_REDIRECTS",
    "WELL_KNOWN_MAX_SIZE",
    "RedirectRefused",
    "failed_fetch",
    "next_redirect",
    "parse_server_body",
    "read_response",
    "well_known_url",
]

#: Synapse and gomatrixserverlib both cap the body at 50 KiB.
WELL_KNOWN_MAX_SIZE = 50 * 1024
#: The spec says to follow redirects but avoid loops; we stop after 10 hops.
WELL_KNOWN_MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class RedirectRefused(Exception):
    """A redirect that is not followed; ``temporary`` as for any fetch failure."""

    def __init__(self, reason: str, *, temporary: bool, kind: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary
        self.kind = kind


def next_redirect(
    current: str,
    location: str | None,
    visited: tuple[str, ...],
    *,
    allow_http: bool = False,
    max_redirects: int = WELL_KNOWN_MAX_REDIRECTS,
) -> str:
    """The URL to fetch next, or RedirectRefused saying why not.

    Args:
        current: The URL that answered with a redirect status.
        location: Its ``Location`` header.
        visited: Every URL fetched so far, the first one included.
        allow_http: Follow a hop to plain http, as some implementations do
            (docs/peers.md); the spec's fetch never does.
        max_redirects: How many redirects are followed at most.
    """
    if not location:
        raise RedirectRefused(
            f"redirect from {current} has no Location", temporary=True, kind="redirect-no-location"
        )
    target = urljoin(current, location.strip())
    scheme = urlsplit(target).scheme
    if scheme != "https" and not (allow_http and scheme == "http"):
        # Delegation must be authenticated by TLS; a hop to http would let
        # anyone on the path rewrite m.server. The response counts as invalid.
        raise RedirectRefused(
            f"redirect to {target} is not https", temporary=False, kind="redirect-http"
        )
    if target in visited:
        raise RedirectRefused(
            f"redirect loop back to {target}", temporary=True, kind="redirect-loop"
        )
    if len(visited) > max_redirects:
        raise RedirectRefused(
            f"more than {max_redirects} redirects",
            temporary=True,
            kind="too-many-redirects",
        )
    return target


def failed_fetch(
    hostname: str,
    error: str,
    *,
    temporary: bool,
    kind: str,
    status: int | None = None,
    redirects: tuple[str, ...] = (),
) -> WellKnownResult:
    """A result for a fetch that produced no usable body."""
    return WellKnownResult(
        hostname,
        status,
        None,
        None,
        error,
        temporary=temporary,
        redirects=redirects,
        error_kind=kind,
    )


def read_response(
    hostname: str, status: int, body: bytes, redirects: tuple[str, ...] = ()
) -> WellKnownResult:
    """Judge a final (non-redirect) response.

    A 5xx is temporary (the server may come back); any other non-200 and any
    bad body is a permanent, cacheable "no delegation here".
    """
    if status != 200:
        failed = failed_fetch(
            hostname,
            f"HTTP {status}",
            temporary=status >= 500,
            kind="server-error" if status >= 500 else "status",
            status=status,
            redirects=redirects,
        )
        unchecked, _, _, _ = parse_server_body(body)
        return replace(failed, unchecked_m_server=unchecked) if unchecked else failed
    m_server, server, error, error_kind = parse_server_body(body)
    return WellKnownResult(
        hostname, status, m_server, server, error, redirects=redirects, error_kind=error_kind
    )


ParsedBody = tuple[str | None, ServerName | None, str | None, str | None]


def parse_server_body(body: bytes) -> ParsedBody:
    """Parse a 200 body: (``m.server`` as served, parsed server name, error, error kind).

    The Content-Type is ignored, as the spec asks.
    """
    doc = read_json(body, max_bytes=WELL_KNOWN_MAX_SIZE)
    if doc.reason is not None:
        return None, None, f"body is {doc.reason}", "not-json"
    document = doc.value
    if "m.server" not in document:
        return None, None, "no m.server key", "no-m-server"
    m_server = document["m.server"]
    if not isinstance(m_server, str):
        message = f"m.server is a JSON {json_type(m_server)}, not a string"
        return None, None, message, "no-m-server"
    try:
        return m_server, ServerName.parse(m_server), None, None
    except InvalidServerName as exc:
        message = f"m.server {m_server!r} is not a server name: {exc.reason}"
        return m_server, None, message, "invalid-m-server"
