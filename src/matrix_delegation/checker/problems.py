"""Every problem the checker can report: a stable code, a severity, and the fix.

The catalog is the one source for ``docs/problems.md`` (a test keeps them in
step). Functions below turn facts (a resolution, an endpoint probe, a key
report) into problems with the concrete values seen; they are pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from .._core.model import HostAddresses, Resolution, Route, WellKnownResult
from .._core.plan import (
    ADDRESSES_CAPPED,
    ENDPOINTS_CAPPED,
    MAX_ADDRESSES_PER_HOST,
    MAX_ENDPOINTS,
)

__all__ = ["CATALOG", "Problem", "problem"]

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: ``code`` is stable, ``message`` has the values seen, ``fix`` says what to do."""

    code: str
    severity: Severity
    message: str
    fix: str


@dataclass(frozen=True, slots=True)
class Entry:
    """A code's fixed parts: severity, what it means, and the usual fix."""

    severity: Severity
    summary: str
    fix: str


_WK = "https://<server_name>/.well-known/matrix/server"

CATALOG: dict[str, Entry] = {
    # --- discovery --------------------------------------------------------------------
    "invalid-server-name": Entry(
        "error",
        "The name is not a Matrix server name.",
        "Use hostname[:port], e.g. example.com or example.com:8448.",
    ),
    "dns-error": Entry(
        "error",
        "A DNS query failed (SERVFAIL, REFUSED or timeout), so peers cannot tell where to go.",
        "Fix the authoritative DNS servers of the zone; a failure is not the same as 'no record'.",
    ),
    "service-unavailable": Entry(
        "error",
        "The only SRV record has the target '.', which says there is no federation here.",
        "Remove that SRV record, or point it at the homeserver.",
    ),
    "no-address": Entry(
        "error",
        "The federation target has no A or AAAA record.",
        "Publish an A and/or AAAA record for the target.",
    ),
    "blocked-address": Entry(
        "error",
        "The name resolves to a private, loopback or otherwise reserved address; servers on the internet will not connect there.",
        "Publish the server's public address in DNS.",
    ),
    "well-known-not-json": Entry(
        "error",
        f"{_WK} is not a JSON object, so it is ignored.",
        'Serve exactly {"m.server": "host:port"} with Content-Type: application/json.',
    ),
    "well-known-no-m-server": Entry(
        "error",
        f"{_WK} has no m.server string, so it is ignored.",
        'Add "m.server": "host:port" to the file.',
    ),
    "well-known-invalid-m-server": Entry(
        "error",
        "m.server is not a server name (a scheme, a path or spaces), so the file is ignored.",
        "Write m.server as host[:port], without https:// and without a path.",
    ),
    "well-known-redirect-http": Entry(
        "error",
        f"{_WK} redirects to plain http, which is not followed.",
        "Serve the file over https on port 443, or redirect only to https URLs.",
    ),
    "well-known-redirect-loop": Entry(
        "error",
        f"{_WK} redirects in a loop or too many times.",
        "Make the redirect end at the file itself within a few hops.",
    ),
    "well-known-cross-host-redirect": Entry(
        "warning",
        f"{_WK} redirects to another host; most servers follow it, but some older ones do not.",
        "Serve the file directly on the server name's host.",
    ),
    "well-known-unreachable": Entry(
        "warning",
        f"{_WK} could not be fetched (connection, TLS or timeout); peers fall back to SRV and port 8448.",
        "Serve the file on port 443 with a certificate valid for the server name, or rely on the fallback deliberately.",
    ),
    "well-known-server-error": Entry(
        "warning",
        f"{_WK} answers with a server error; peers treat it as missing for a while.",
        "Fix the web server answering for the server name.",
    ),
    "well-known-on-8448": Entry(
        "error",
        "The .well-known file is served on port 8448 but not on 443, where servers look for it.",
        "Serve /.well-known/matrix/server on port 443 (HTTPS) of the server name.",
    ),
    "well-known-addresses-disagree": Entry(
        "error",
        "The addresses of the server name serve different .well-known answers, so peers reach different places depending on the address they pick.",
        "Make every A and AAAA address of the server name serve the same file.",
    ),
    "fallback-route-fails": Entry(
        "info",
        "Federation works through .well-known, but a peer that cannot fetch it (or has cached a failure for up to an hour) would use SRV or port 8448, which does not work.",
        "Optionally make the fallback work too, or keep .well-known highly available.",
    ),
    "srv-target-cname": Entry(
        "warning",
        "An SRV target is an alias (CNAME), which RFC 2782 forbids; some resolvers refuse it.",
        "Point the SRV record at a name with its own A/AAAA records.",
    ),
    "too-many-addresses": Entry(
        "warning",
        f"A host has more than {MAX_ADDRESSES_PER_HOST} addresses; only the first"
        f" {MAX_ADDRESSES_PER_HOST} are checked, and peers may pick any of them.",
        "Publish only the addresses of the servers that answer federation (a handful).",
    ),
    "endpoints-capped": Entry(
        "warning",
        f"Discovery found more than {MAX_ENDPOINTS} endpoints; only the first"
        f" {MAX_ENDPOINTS} are checked, and peers may pick any of them.",
        "Publish fewer SRV targets and addresses: a few endpoints suffice for any server.",
    ),
    "srv-legacy-only": Entry(
        "warning",
        "Only the deprecated _matrix._tcp SRV record exists; it may stop being used.",
        "Publish the same record as _matrix-fed._tcp.",
    ),
    # --- endpoints --------------------------------------------------------------------
    "address-unreachable": Entry(
        "error",
        "An address published for the federation target does not accept connections.",
        "Open the port on that address, or remove the address from DNS.",
    ),
    "tls-handshake-failed": Entry(
        "error",
        "The TLS handshake with the federation endpoint failed.",
        "Serve TLS (HTTPS) on the federation port with a valid certificate.",
    ),
    "tls-cert-for-srv-target": Entry(
        "error",
        "The certificate is valid for the SRV target but not for the server name; with SRV delegation it must cover the server name.",
        "Get a certificate that also names the server name (or delegate with .well-known instead).",
    ),
    "tls-cert-wrong-name": Entry(
        "error",
        "The certificate does not cover the name servers check it against.",
        "Get a certificate whose subjectAltName includes that name.",
    ),
    "tls-cert-self-signed": Entry(
        "error",
        "The certificate is self-signed; servers reject it.",
        "Use a certificate from a public CA (for example Let's Encrypt).",
    ),
    "tls-cert-expired": Entry(
        "error", "The certificate has expired.", "Renew the certificate and reload the server."
    ),
    "tls-cert-untrusted": Entry(
        "error",
        "The certificate chain does not lead to a trusted CA: an incomplete chain (missing intermediate) or an unknown CA.",
        "Serve the full chain (leaf and intermediates, e.g. fullchain.pem), from a public CA.",
    ),
    "tls-cert-expiring": Entry(
        "warning",
        "The certificate expires within 14 days.",
        "Renew the certificate (and check that automatic renewal works).",
    ),
    "version-failed": Entry(
        "error",
        "GET /_matrix/federation/v1/version did not give a valid answer.",
        "Route /_matrix/federation/ on this host and port to the homeserver.",
    ),
    "response-too-large": Entry(
        "error",
        "A federation response is far larger than any real one.",
        "Check what is answering on the federation port.",
    ),
    "endpoints-disagree": Entry(
        "error",
        "Different addresses answer with different servers or keys, so federation depends on which address a peer picks.",
        "Point every address at the same homeserver.",
    ),
    "keys-not-json": Entry(
        "error",
        "GET /_matrix/key/v2/server is not a JSON object.",
        "Route /_matrix/key/ to the homeserver.",
    ),
    "keys-not-canonical": Entry(
        "error",
        "The key response has floats or out-of-range integers, so its signature cannot be checked.",
        "Route /_matrix/key/ to a homeserver that signs canonical JSON.",
    ),
    "keys-server-name-mismatch": Entry(
        "error",
        "The key response is for another server name; the homeserver's server_name is configured differently.",
        "Set server_name in the homeserver's config to the name being delegated, or fix the delegation.",
    ),
    "keys-expired": Entry(
        "error",
        "The server keys' valid_until_ts is in the past.",
        "Restart or fix the homeserver's key publishing.",
    ),
    "keys-expire-soon": Entry(
        "warning",
        "The server keys expire within an hour.",
        "Check the homeserver's key_refresh_interval.",
    ),
    "keys-malformed": Entry(
        "error",
        "The key response is malformed (missing or invalid fields or keys, or more than 16 keys in verify_keys or old_verify_keys, of which only the first 16 are checked).",
        "Route /_matrix/key/ to a correctly working homeserver.",
    ),
    "keys-no-ed25519": Entry(
        "error",
        "The key response has no ed25519 key.",
        "Check the homeserver's signing key configuration.",
    ),
    "keys-bad-signature": Entry(
        "error",
        "The key response is not correctly signed by its own keys.",
        "Check that nothing rewrites the response, and the homeserver's signing key.",
    ),
    "keys-unsigned-key": Entry(
        "warning",
        "A published ed25519 key did not sign the key response.",
        "Remove stale keys from verify_keys or sign with every published key.",
    ),
}


def problem(code: str, message: str) -> Problem:
    """A problem from the catalog, with the concrete message."""
    entry = CATALOG[code]
    return Problem(code, entry.severity, message, entry.fix)


def discovery_problems(resolution: Resolution) -> list[Problem]:
    """Problems visible in the resolution alone: its error, the .well-known, SRV quirks."""
    found: list[Problem] = []
    if resolution.error is not None:
        found.append(problem(resolution.error.code, resolution.error.message))
    if resolution.well_known is not None:
        found.extend(_well_known_problems(resolution.well_known))
    for entry in resolution.trace:
        if "alias (CNAME)" in entry.rule and entry.answer is not None:
            target = getattr(entry.answer, "host", "?")
            found.append(problem("srv-target-cname", f"the SRV target {target} is a CNAME"))
        elif entry.rule.endswith(ADDRESSES_CAPPED) and isinstance(entry.answer, HostAddresses):
            found.append(addresses_capped(entry.answer.host, len(entry.answer.addresses)))
        elif entry.rule.endswith(ENDPOINTS_CAPPED):
            found.append(problem("endpoints-capped", entry.rule))
    if resolution.route in (Route.SRV_LEGACY, Route.WELL_KNOWN_SRV_LEGACY):
        name = resolution.srv[-1].name if resolution.srv else "?"
        found.append(problem("srv-legacy-only", f"only {name} exists, no _matrix-fed._tcp record"))
    return found


def addresses_capped(host: str, count: int) -> Problem:
    """The problem for a host with more addresses than are checked."""
    message = f"{host} has {count} addresses: only the first {MAX_ADDRESSES_PER_HOST} are checked"
    return problem("too-many-addresses", message)


#: What each kind of failed .well-known fetch is reported as (None: not a problem).
_WELL_KNOWN_KINDS: dict[str, str | None] = {
    "status": None,  # e.g. a 404: no delegation by .well-known is a choice, not a problem
    "server-error": "well-known-server-error",
    "not-json": "well-known-not-json",
    "no-m-server": "well-known-no-m-server",
    "invalid-m-server": "well-known-invalid-m-server",
    "redirect-http": "well-known-redirect-http",
    "redirect-loop": "well-known-redirect-loop",
    "too-many-redirects": "well-known-redirect-loop",
    "redirect-no-location": "well-known-redirect-loop",
    "too-large": "well-known-not-json",
    "timeout": "well-known-unreachable",
    "unreachable": "well-known-unreachable",
}


def _well_known_problems(result: WellKnownResult) -> list[Problem]:
    found = []
    hops = result.redirects
    if hops and urlsplit(hops[-1]).hostname != result.hostname:
        found.append(
            problem("well-known-cross-host-redirect", f"{result.url} redirects to {hops[-1]}")
        )
    code = _WELL_KNOWN_KINDS.get(result.error_kind or "")
    if code is not None and not result.valid:
        found.append(problem(code, f"{result.url}: {result.error}"))
    return found


def all_codes() -> dict[str, Entry]:
    """Every code the checker reports: federation (above) and the client-side files."""
    from .client import CODES as CLIENT_CODES

    return {**CATALOG, **CLIENT_CODES}


def problems_markdown() -> str:
    """``docs/problems.md``, generated from the catalog (a test keeps the file in step)."""
    lines = [
        "# Problem codes",
        "",
        "Every finding of `matrix-delegation check` has a stable `code`, a `severity`",
        "(`error`: federation or login breaks for some or all peers; `warning`: likely to",
        "break some; `info`: worth knowing), a `message` with the values seen, and a `fix`.",
        "This page is generated from `src/matrix_delegation/checker/problems.py` and",
        "`checker/client_model.py`; `tests/checker/test_problems_doc.py` keeps it in step.",
        "",
        "| code | severity | what it means | fix |",
        "|---|---|---|---|",
    ]
    for code, entry in all_codes().items():
        summary, fix = (text.replace("|", "\\|") for text in (entry.summary, entry.fix))
        lines.append(f"| `{code}` | {entry.severity} | {summary} | {fix} |")
    return "\n".join(lines) + "\n"
