"""The ``.well-known`` answer as an implementation reads it, from the spec's fetch.

The checker fetches the file once, as the spec says; most implementations
would have read the same answer. :func:`as_seen_by` turns the spec's result
into the one an implementation's policy (docs/peers.md) gives, or says that
it cannot (a redirect to http the spec refused, a body over the spec's cap):
only then is the file fetched again, with that implementation's rules.
"""

from __future__ import annotations

from dataclasses import replace

from .._base_errors import InvalidServerName
from .model import WellKnownResult
from .names import ServerName
from .peers import SPEC, PeerPolicy
from .wellknown import failed_fetch

__all__ = ["as_seen_by", "read_as"]


def as_seen_by(result: WellKnownResult, peer: PeerPolicy) -> WellKnownResult | None:
    """What ``peer`` makes of the spec's result; None when it must fetch the file itself."""
    if peer is SPEC or not result.fetched:
        return result
    kind = result.error_kind
    if kind == "redirect-http" and peer.follow_http_redirects:
        return None
    if kind == "too-large" and peer.fetch_cap > SPEC.fetch_cap:
        return None
    return read_as(result, peer)


def read_as(result: WellKnownResult, peer: PeerPolicy) -> WellKnownResult:
    """The rules that need no new fetch: fewer redirects, any status (docs/peers.md)."""
    if len(result.redirects) > peer.max_redirects:
        reason = f"more than {peer.max_redirects} redirects"
        return failed_fetch(
            result.hostname, reason, temporary=True, kind="too-many-redirects",
            status=result.status, redirects=result.redirects,
        )  # fmt: skip
    unchecked = result.unchecked_m_server
    if peer.any_status and unchecked is not None and result.status != 200:
        try:
            server: ServerName | None = ServerName.parse(unchecked)
            error, error_kind = None, None
        except InvalidServerName as exc:
            server, error = None, f"m.server {unchecked!r} is not a server name: {exc.reason}"
            error_kind = "invalid-m-server"
        return replace(
            result, m_server=unchecked, delegated_server=server, error=error,
            error_kind=error_kind, temporary=False,
        )  # fmt: skip
    return result
