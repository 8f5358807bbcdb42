"""The codes of the opt-in tests that ask third-party servers: outbound and key notaries.

Plain ``(severity, meaning, fix)`` tuples, so that :mod:`.codes` (which
builds its :class:`~.codes.Code` values from them and lists them in
``docs/problems.md``) keeps importing nothing from the checker. The tests are
described in :mod:`.notary`; the endpoint is the spec's ``POST
/_matrix/key/v2/query`` (Server-Server API, "Querying Keys Through Another
Server").
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["OUTSIDE_CODES"]

_EGRESS = (
    "Let the homeserver make outbound HTTPS connections: open the firewall's egress to port"
    " 8448 and 443 (and to the SRV ports), check the DNS resolver the homeserver uses"
    " (/etc/resolv.conf in its container), its IP range blocklist (Synapse:"
    " ip_range_blacklist / ip_range_whitelist) and its proxy settings (HTTPS_PROXY, no_proxy)."
)

#: code -> (severity, what it means, fix), in the order docs/problems.md lists them.
OUTSIDE_CODES: Final[dict[str, tuple[Literal["error", "warning", "info"], str, str]]] = {
    "outbound-failed": (
        "error",
        "Asked as a key notary for another server's keys (check --outbound), the server did not"
        " return them validly signed: it cannot make outbound federation requests to that server,"
        " so its users see rooms that never update.",
        _EGRESS,
    ),
    "outbound-via-unavailable": (
        "warning",
        "The server named with --outbound could not be reached from here, so the outbound test"
        " through it was not run (not a fault of the checked server).",
        "Name another server with --outbound, one this machine can reach.",
    ),
    "notary-cannot-reach": (
        "error",
        "A key notary (check --notary) could not fetch the server's keys: servers outside see no"
        " server at this name (split DNS, an inside-only address, a firewall that only lets the"
        " checker's network in).",
        "Publish the server's public DNS records and address, and let the internet in on the"
        " federation port; check from outside your network (--notary does).",
    ),
    "notary-keys-differ": (
        "error",
        "The keys a key notary fetched for the server are not the keys the server serves here:"
        " the notary reached a different server (split DNS, a stale or hijacked record, another"
        " host behind the same name).",
        "Make every DNS view and every address of the name reach the same homeserver, with one"
        " signing key; remove stale records.",
    ),
    "notary-unavailable": (
        "warning",
        "A key notary could not be used: it is unreachable from here, or its answer is not"
        " validly signed by it (or by the server it claims to quote). Not a fault of the checked"
        " server.",
        "Name another notary with --notary (a server you trust to answer key queries).",
    ),
}
