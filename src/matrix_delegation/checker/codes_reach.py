"""Problem codes about how real peers reach a server: user agents, bot walls, address families.

Kept apart from :mod:`.codes` for size; :mod:`.codes` appends them to its
federation catalog (so they are in ``docs/problems.md`` with the others).
Plain ``(severity, summary, fix)`` triples: this module imports nothing.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["REACH"]

_AGENTS = (
    "Synapse/, Go-http-client/ (Dendrite, the federation tester), continuwuity/ and none (Conduit)"
)

#: code -> (severity, what it means, the usual fix)
REACH: Final[dict[str, tuple[Literal["error", "warning", "info"], str, str]]] = {
    "user-agent-blocked": (
        "error",
        "Some homeserver User-Agents are refused or answered differently while others are"
        " served, so peers of those implementations cannot federate (a WAF, CDN or bot rule).",
        "Let every homeserver User-Agent through the WAF or CDN for /.well-known/matrix/server"
        f" and /_matrix/: {_AGENTS}; rules on 'bot' or 'Go-http-client' cut off whole"
        " implementations.",
    ),
    "cdn-challenge": (
        "error",
        "A bot challenge or CDN block page (cf-mitigated: challenge, or an HTML page with 403"
        " or 503 from a CDN) is served instead of JSON; homeservers cannot solve it.",
        "Exempt /.well-known/matrix/server and /_matrix/ from bot protection (e.g. a Cloudflare"
        " WAF skip rule or 'Bot Fight Mode' off for these paths), or serve them from a host"
        " that is not behind it.",
    ),
    "ipv4-unreachable": (
        "warning",
        "A peer with only IPv4 cannot reach the server (no A record for .well-known or the"
        " endpoints, or the IPv4 endpoints fail), while IPv6 works.",
        "Publish A records for the server name and the federation target, and make the"
        " homeserver (and the web server of .well-known) listen on IPv4 too.",
    ),
    "ipv6-unreachable": (
        "warning",
        "The server publishes IPv6 addresses, but a peer with only IPv6 cannot reach it"
        " while IPv4 works.",
        "Make every published AAAA address serve .well-known and federation, or remove the"
        " AAAA records that do not.",
    ),
}
