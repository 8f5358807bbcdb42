"""Every problem the checker can report: a stable code, a severity, a meaning and the fix.

The one vocabulary of the checker: every rule (discovery, endpoints, server
keys, the client and support files, the web service's deadline) returns
:class:`Problem` values made by :func:`problem` from the catalogs below.
The catalogs are the one source for ``docs/problems.md`` (a test keeps them
in step). This module sits at the bottom of the checker: it imports nothing
from it but the plain catalog of :mod:`.codes_reach`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from .._core.plan import MAX_ADDRESSES_PER_HOST, MAX_ENDPOINTS
from .codes_reach import REACH

__all__ = ["ALL", "CLIENT", "FEDERATION", "SERVICE", "Code", "Problem", "Severity", "problem"]

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: ``code`` is stable, ``message`` has the values seen, ``fix`` says what to do."""

    code: str
    severity: Severity
    message: str
    fix: str


@dataclass(frozen=True, slots=True)
class Code:
    """A code's fixed parts: severity, what it means, and the usual fix."""

    severity: Severity
    summary: str
    fix: str


_WK = "https://<server_name>/.well-known/matrix/server"

#: Federation: discovery, the endpoints, their certificates and their server keys.
FEDERATION: Final[dict[str, Code]] = {
    # --- discovery --------------------------------------------------------------------
    "invalid-server-name": Code(
        "error",
        "The name is not a Matrix server name.",
        "Use hostname[:port], e.g. example.com or example.com:8448.",
    ),
    "dns-error": Code(
        "error",
        "A DNS query failed (SERVFAIL, REFUSED or timeout), so peers cannot tell where to go.",
        "Fix the authoritative DNS servers of the zone; a failure is not the same as 'no record'.",
    ),
    "service-unavailable": Code(
        "error",
        "The only SRV record has the target '.', which says there is no federation here.",
        "Remove that SRV record, or point it at the homeserver.",
    ),
    "no-address": Code(
        "error",
        "The federation target has no A or AAAA record.",
        "Publish an A and/or AAAA record for the target.",
    ),
    "blocked-address": Code(
        "error",
        "The name resolves to a private, loopback or otherwise reserved address; servers on the internet will not connect there.",
        "Publish the server's public address in DNS.",
    ),
    "well-known-not-json": Code(
        "error",
        f"{_WK} is not a JSON object, so it is ignored.",
        'Serve exactly {"m.server": "host:port"} with Content-Type: application/json.',
    ),
    "well-known-no-m-server": Code(
        "error",
        f"{_WK} has no m.server string, so it is ignored.",
        'Add "m.server": "host:port" to the file.',
    ),
    "well-known-invalid-m-server": Code(
        "error",
        "m.server is not a server name (a scheme, a path or spaces), so the file is ignored.",
        "Write m.server as host[:port], without https:// and without a path.",
    ),
    "well-known-redirect-http": Code(
        "error",
        f"{_WK} redirects to plain http, which is not followed.",
        "Serve the file over https on port 443, or redirect only to https URLs.",
    ),
    "well-known-redirect-loop": Code(
        "error",
        f"{_WK} redirects in a loop or too many times.",
        "Make the redirect end at the file itself within a few hops.",
    ),
    "well-known-cross-host-redirect": Code(
        "warning",
        f"{_WK} redirects to another host; most servers follow it, but some older ones do not.",
        "Serve the file directly on the server name's host.",
    ),
    "well-known-unreachable": Code(
        "warning",
        f"{_WK} could not be fetched (connection, TLS or timeout); peers fall back to SRV and port 8448.",
        "Serve the file on port 443 with a certificate valid for the server name, or rely on the fallback deliberately.",
    ),
    "well-known-server-error": Code(
        "warning",
        f"{_WK} answers with a server error; peers treat it as missing for a while.",
        "Fix the web server answering for the server name.",
    ),
    "well-known-on-8448": Code(
        "error",
        "The .well-known file is served on port 8448 but not on 443, where servers look for it.",
        "Serve /.well-known/matrix/server on port 443 (HTTPS) of the server name.",
    ),
    "well-known-addresses-disagree": Code(
        "error",
        "The addresses of the server name serve different .well-known answers, so peers reach different places depending on the address they pick.",
        "Make every A and AAAA address of the server name serve the same file.",
    ),
    "fallback-route-fails": Code(
        "info",
        "Federation works through .well-known, but a peer that cannot fetch it (or has cached a failure for up to an hour) would use SRV or port 8448, which does not work.",
        "Optionally make the fallback work too, or keep .well-known highly available.",
    ),
    "srv-target-cname": Code(
        "warning",
        "An SRV target is an alias (CNAME), which RFC 2782 forbids; some resolvers refuse it.",
        "Point the SRV record at a name with its own A/AAAA records.",
    ),
    "too-many-addresses": Code(
        "warning",
        f"A host has more than {MAX_ADDRESSES_PER_HOST} addresses; only the first"
        f" {MAX_ADDRESSES_PER_HOST} are checked, and peers may pick any of them.",
        "Publish only the addresses of the servers that answer federation (a handful).",
    ),
    "endpoints-capped": Code(
        "warning",
        f"Discovery found more than {MAX_ENDPOINTS} endpoints; only the first"
        f" {MAX_ENDPOINTS} are checked, and peers may pick any of them.",
        "Publish fewer SRV targets and addresses: a few endpoints suffice for any server.",
    ),
    "srv-legacy-only": Code(
        "warning",
        "Only the deprecated _matrix._tcp SRV record exists; it may stop being used.",
        "Publish the same record as _matrix-fed._tcp.",
    ),
    # --- endpoints --------------------------------------------------------------------
    "address-unreachable": Code(
        "error",
        "An address published for the federation target does not accept connections.",
        "Open the port on that address, or remove the address from DNS.",
    ),
    "tls-handshake-failed": Code(
        "error",
        "The TLS handshake with the federation endpoint failed.",
        "Serve TLS (HTTPS) on the federation port with a valid certificate.",
    ),
    "tls-cert-for-srv-target": Code(
        "error",
        "The certificate is valid for the SRV target but not for the server name; with SRV delegation it must cover the server name.",
        "Get a certificate that also names the server name (or delegate with .well-known instead).",
    ),
    "tls-cert-wrong-name": Code(
        "error",
        "The certificate does not cover the name servers check it against.",
        "Get a certificate whose subjectAltName includes that name.",
    ),
    "tls-cert-self-signed": Code(
        "error",
        "The certificate is self-signed; servers reject it.",
        "Use a certificate from a public CA (for example Let's Encrypt).",
    ),
    "tls-cert-expired": Code(
        "error", "The certificate has expired.", "Renew the certificate and reload the server."
    ),
    "tls-cert-untrusted": Code(
        "error",
        "The certificate chain does not lead to a trusted CA: an incomplete chain (missing intermediate) or an unknown CA.",
        "Serve the full chain (leaf and intermediates, e.g. fullchain.pem), from a public CA.",
    ),
    "tls-cert-expiring": Code(
        "warning",
        "The certificate expires within 14 days.",
        "Renew the certificate (and check that automatic renewal works).",
    ),
    "version-failed": Code(
        "error",
        "GET /_matrix/federation/v1/version did not give a valid answer.",
        "Route /_matrix/federation/ on this host and port to the homeserver.",
    ),
    "response-too-large": Code(
        "error",
        "A federation response is far larger than any real one.",
        "Check what is answering on the federation port.",
    ),
    "endpoints-disagree": Code(
        "error",
        "Different addresses answer with different servers or keys, so federation depends on which address a peer picks.",
        "Point every address at the same homeserver.",
    ),
    "keys-not-json": Code(
        "error",
        "GET /_matrix/key/v2/server is not a JSON object.",
        "Route /_matrix/key/ to the homeserver.",
    ),
    "keys-not-canonical": Code(
        "error",
        "The key response has floats or out-of-range integers, so its signature cannot be checked.",
        "Route /_matrix/key/ to a homeserver that signs canonical JSON.",
    ),
    "keys-server-name-mismatch": Code(
        "error",
        "The key response is for another server name; the homeserver's server_name is configured differently.",
        "Set server_name in the homeserver's config to the name being delegated, or fix the delegation.",
    ),
    "keys-expired": Code(
        "error",
        "The server keys' valid_until_ts is in the past.",
        "Restart or fix the homeserver's key publishing.",
    ),
    "keys-expire-soon": Code(
        "warning",
        "The server keys expire within an hour.",
        "Check the homeserver's key_refresh_interval.",
    ),
    "keys-malformed": Code(
        "error",
        "The key response is malformed (missing or invalid fields or keys, or more than 16 keys in verify_keys or old_verify_keys, of which only the first 16 are checked).",
        "Route /_matrix/key/ to a correctly working homeserver.",
    ),
    "keys-no-ed25519": Code(
        "error",
        "The key response has no ed25519 key.",
        "Check the homeserver's signing key configuration.",
    ),
    "keys-bad-signature": Code(
        "error",
        "The key response is not correctly signed by its own keys.",
        "Check that nothing rewrites the response, and the homeserver's signing key.",
    ),
    "keys-unsigned-key": Code(
        "warning",
        "A published ed25519 key did not sign the key response.",
        "Remove stale keys from verify_keys or sign with every published key.",
    ),
    # --- how real peers reach it (checker/codes_reach.py) --------------------------------
    **{code: Code(*entry) for code, entry in REACH.items()},
}


_EXAMPLE_CLIENT = '{"m.homeserver": {"base_url": "https://matrix.example.com"}}'
_EXAMPLE_SUPPORT = (
    '{"contacts": [{"role": "m.role.admin", "matrix_id": "@admin:example.com", '
    '"email_address": "admin@example.com"}], "support_page": "https://example.com/support"}'
)

#: The client side: the discovery and support files.
CLIENT: Final[dict[str, Code]] = {
    "client-unreachable": Code(
        # A warning, like a 404's IGNORE in effect: many homeservers have no web
        # server on 443, and clients then ask the user for the homeserver URL.
        "warning",
        "/.well-known/matrix/client could not be fetched (connection, TLS or timeout): web"
        " clients cannot find the homeserver from a user ID.",
        "Serve https://<hostname>/.well-known/matrix/client on port 443 with a certificate"
        " valid for the hostname.",
    ),
    "client-redirect-invalid": Code(
        "error",
        "The redirects of /.well-known/matrix/client loop, go on for more than 10 hops,"
        " lead to plain http or lack a Location.",
        "Serve the file directly, or redirect to its https URL in one or two hops.",
    ),
    "client-missing": Code(
        "info",
        "/.well-known/matrix/client answers 404: clients cannot find the homeserver from a"
        " user ID, so users must type the homeserver URL in.",
        f"Serve {_EXAMPLE_CLIENT} at https://<hostname>/.well-known/matrix/client,"
        " with Access-Control-Allow-Origin: *.",
    ),
    "client-invalid": Code(
        "error",
        "/.well-known/matrix/client is not a usable JSON object (status, empty body, not JSON,"
        " too large or an m.identity_server without base_url); clients report discovery failed.",
        f"Serve status 200 with a JSON object such as {_EXAMPLE_CLIENT}"
        " (Content-Type: application/json).",
    ),
    "client-no-homeserver": Code(
        "error",
        "/.well-known/matrix/client has no m.homeserver.base_url; clients report discovery failed.",
        f'Add "m.homeserver": {{"base_url": "https://<homeserver>"}}, as in {_EXAMPLE_CLIENT}.',
    ),
    "client-invalid-base-url": Code(
        "error",
        "m.homeserver.base_url is not an absolute http(s) URL; clients stop login.",
        "Set m.homeserver.base_url to the full https URL of the client API, such as"
        " https://matrix.example.com (scheme and host, without /_matrix).",
    ),
    "client-base-url-insecure": Code(
        "warning",
        "m.homeserver.base_url uses plain http: passwords and tokens cross the network in clear"
        " text, and web clients served over https refuse it.",
        "Serve the client API over https and put the https URL in m.homeserver.base_url.",
    ),
    "client-base-url-unreachable": Code(
        "error",
        "GET <base_url>/_matrix/client/versions fails or is not a valid answer;"
        " clients stop login.",
        "Point m.homeserver.base_url at the host that reverse-proxies /_matrix/client to the"
        " homeserver, and check that <base_url>/_matrix/client/versions returns its versions.",
    ),
    "client-base-url-no-cors": Code(
        "warning",
        "<base_url>/_matrix/client/versions has no Access-Control-Allow-Origin header, so web"
        " clients in a browser cannot use the homeserver.",
        "Let the homeserver's CORS headers through the reverse proxy, or add"
        " Access-Control-Allow-Origin: * to /_matrix/client responses.",
    ),
    "client-no-cors": Code(
        "error",
        "/.well-known/matrix/client has no Access-Control-Allow-Origin header, so web clients"
        " in a browser cannot read it.",
        "Add the header Access-Control-Allow-Origin: * to the response of"
        " /.well-known/matrix/client.",
    ),
    "client-redirect-no-cors": Code(
        "warning",
        "A redirect on the way to /.well-known/matrix/client has no Access-Control-Allow-Origin"
        " header; the spec asks for it on every hop, and browsers may refuse the chain.",
        "Add Access-Control-Allow-Origin: * to the redirect responses too (or serve the file"
        " without redirecting).",
    ),
    "client-identity-server-failed": Code(
        "warning",
        "m.identity_server.base_url is not a URL or GET <base_url>/_matrix/identity/v2 fails;"
        " identity lookups (invites by email) will not work, and strict clients refuse login.",
        "Fix or remove m.identity_server in /.well-known/matrix/client (it is optional).",
    ),
    "support-missing": Code(
        "info",
        "/.well-known/matrix/support answers 404: no contact is published for the server.",
        f"Optionally serve {_EXAMPLE_SUPPORT} at https://<hostname>/.well-known/matrix/support.",
    ),
    "support-invalid": Code(
        "warning",
        "/.well-known/matrix/support is served but does not follow the spec.",
        f"Serve a JSON object such as {_EXAMPLE_SUPPORT}.",
    ),
    "support-unreachable": Code(
        "warning",
        "/.well-known/matrix/support could not be fetched, or answered with an error status.",
        "Serve https://<hostname>/.well-known/matrix/support (status 200), or let it answer 404"
        " if there is none.",
    ),
}


#: What the web service adds to a check's own problems.
SERVICE: Final[dict[str, Code]] = {
    "check-timeout": Code(
        "error",
        "The check did not finish within the web service's deadline: DNS or an endpoint"
        " answers too slowly.",
        "Check that DNS and every endpoint answer promptly; slow answers break federation too.",
    ),
}

#: Every code, in the order docs/problems.md lists them.
ALL: Final[dict[str, Code]] = {**FEDERATION, **CLIENT, **SERVICE}


def problem(code: str, message: str, fix: str | None = None) -> Problem:
    """The problem ``code`` with the concrete message (and a more precise fix, if given)."""
    entry = ALL[code]
    return Problem(code, entry.severity, message, entry.fix if fix is None else fix)


def problems_markdown() -> str:
    """``docs/problems.md``, generated from the catalogs (a test keeps the file in step)."""
    lines = [
        "# Problem codes",
        "",
        "Every finding of `matrix-delegation check` has a stable `code`, a `severity`",
        "(`error`: federation or login breaks for some or all peers; `warning`: likely to",
        "break some; `info`: worth knowing), a `message` with the values seen, and a `fix`.",
        "This page is generated from `src/matrix_delegation/checker/codes.py`;",
        "`tests/checker/test_problems_doc.py` keeps it in step.",
        "",
        "| code | severity | what it means | fix |",
        "|---|---|---|---|",
    ]
    for code, entry in ALL.items():
        summary, fix = (text.replace("|", "\\|") for text in (entry.summary, entry.fix))
        lines.append(f"| `{code}` | {entry.severity} | {summary} | {fix} |")
    return "\n".join(lines) + "\n"
