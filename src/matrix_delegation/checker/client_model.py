"""The client side's data: outcomes, findings, reports and the catalog of codes.

Plain values shared by the judging rules (:mod:`.client_rules`,
:mod:`.support_rules`) and the network part (:mod:`.client`, which
re-exports all of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .problems import Entry

PROMPT: Final = "PROMPT"
IGNORE: Final = "IGNORE"
FAIL_PROMPT: Final = "FAIL_PROMPT"
FAIL_ERROR: Final = "FAIL_ERROR"

CLIENT_PATH: Final = "/.well-known/matrix/client"
SUPPORT_PATH: Final = "/.well-known/matrix/support"
VERSIONS_PATH: Final = "/_matrix/client/versions"
IDENTITY_PATH: Final = "/_matrix/identity/v2"

_CORS_HEADER: Final = "Access-Control-Allow-Origin"


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """Something the checker turns into a problem.

    Attributes:
        code: A stable identifier (see :data:`CODES`).
        severity: ``"error"``, ``"warning"`` or ``"info"``.
        message: What was seen, with the concrete URLs and values.
        fix: What the admin should change.
    """

    code: str
    severity: str
    message: str
    fix: str


@dataclass(frozen=True, slots=True)
class Hop:
    """One URL requested while following a redirect chain.

    Attributes:
        url: The URL requested.
        status: The HTTP status it answered with; None when no response came.
        cors: Whether the response carried an ``Access-Control-Allow-Origin`` header.
    """

    url: str
    status: int | None
    cors: bool


@dataclass(frozen=True, slots=True)
class ClientReport:
    """What a client learns from ``/.well-known/matrix/client``, and what is wrong with it.

    ``outcome`` is the spec's verdict about the homeserver: the first step of
    the flow that stopped decides it. A failing identity server only adds a
    warning (identity servers are optional, and clients such as Element let
    users log in without one). ``findings`` lists every problem seen, not
    only the one that decided the outcome.

    Attributes:
        url: ``https://<hostname>/.well-known/matrix/client``.
        outcome: ``"PROMPT"`` (valid and usable), ``"IGNORE"`` (404, no file),
            ``"FAIL_PROMPT"`` (invalid or empty) or ``"FAIL_ERROR"`` (valid
            but the homeserver cannot be used).
        hops: Every response on the way to the file, the last one included.
        document: The JSON object as served, when it parsed as one.
        homeserver: ``m.homeserver.base_url`` as served, when it is a string.
        versions: The versions ``/_matrix/client/versions`` lists, when reachable.
        identity_server: ``m.identity_server.base_url`` as served, when a string.
        findings: The problems found: the file's own, then its base URLs'.
    """

    url: str
    outcome: str
    hops: tuple[Hop, ...]
    document: dict[str, object] | None
    homeserver: str | None
    versions: tuple[str, ...]
    identity_server: str | None
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class SupportReport:
    """What ``/.well-known/matrix/support`` says, and what is wrong with it.

    Attributes:
        url: ``https://<hostname>/.well-known/matrix/support``.
        status: The final HTTP status; None when no response came.
        present: Whether the file was served (status 200).
        valid: Whether it was served and follows the spec.
        document: The JSON object as served, when it parsed as one.
        findings: The problems found.
    """

    url: str
    status: int | None
    present: bool
    valid: bool
    document: dict[str, object] | None
    findings: tuple[Finding, ...]


# --- the codes ----------------------------------------------------------------------------


# A code's fixed parts (severity, what it means, the usual fix): the checker's one shape.
CodeInfo = Entry

_EXAMPLE_CLIENT = '{"m.homeserver": {"base_url": "https://matrix.example.com"}}'
_EXAMPLE_SUPPORT = (
    '{"contacts": [{"role": "m.role.admin", "matrix_id": "@admin:example.com", '
    '"email_address": "admin@example.com"}], "support_page": "https://example.com/support"}'
)

#: Every code this module produces.
CODES: Final[dict[str, CodeInfo]] = {
    "client-unreachable": CodeInfo(
        # A warning, like a 404's IGNORE in effect: many homeservers have no web
        # server on 443, and clients then ask the user for the homeserver URL.
        "warning",
        "/.well-known/matrix/client could not be fetched (connection, TLS or timeout): web"
        " clients cannot find the homeserver from a user ID.",
        "Serve https://<hostname>/.well-known/matrix/client on port 443 with a certificate"
        " valid for the hostname.",
    ),
    "client-redirect-invalid": CodeInfo(
        "error",
        "The redirects of /.well-known/matrix/client loop, go on for more than 10 hops,"
        " lead to plain http or lack a Location.",
        "Serve the file directly, or redirect to its https URL in one or two hops.",
    ),
    "client-missing": CodeInfo(
        "info",
        "/.well-known/matrix/client answers 404: clients cannot find the homeserver from a"
        " user ID, so users must type the homeserver URL in.",
        f"Serve {_EXAMPLE_CLIENT} at https://<hostname>/.well-known/matrix/client,"
        " with Access-Control-Allow-Origin: *.",
    ),
    "client-invalid": CodeInfo(
        "error",
        "/.well-known/matrix/client is not a usable JSON object (status, empty body, not JSON,"
        " too large or an m.identity_server without base_url); clients report discovery failed.",
        f"Serve status 200 with a JSON object such as {_EXAMPLE_CLIENT}"
        " (Content-Type: application/json).",
    ),
    "client-no-homeserver": CodeInfo(
        "error",
        "/.well-known/matrix/client has no m.homeserver.base_url; clients report discovery failed.",
        f'Add "m.homeserver": {{"base_url": "https://<homeserver>"}}, as in {_EXAMPLE_CLIENT}.',
    ),
    "client-invalid-base-url": CodeInfo(
        "error",
        "m.homeserver.base_url is not an absolute http(s) URL; clients stop login.",
        "Set m.homeserver.base_url to the full https URL of the client API, such as"
        " https://matrix.example.com (scheme and host, without /_matrix).",
    ),
    "client-base-url-insecure": CodeInfo(
        "warning",
        "m.homeserver.base_url uses plain http: passwords and tokens cross the network in clear"
        " text, and web clients served over https refuse it.",
        "Serve the client API over https and put the https URL in m.homeserver.base_url.",
    ),
    "client-base-url-unreachable": CodeInfo(
        "error",
        "GET <base_url>/_matrix/client/versions fails or is not a valid answer;"
        " clients stop login.",
        "Point m.homeserver.base_url at the host that reverse-proxies /_matrix/client to the"
        " homeserver, and check that <base_url>/_matrix/client/versions returns its versions.",
    ),
    "client-base-url-no-cors": CodeInfo(
        "warning",
        "<base_url>/_matrix/client/versions has no Access-Control-Allow-Origin header, so web"
        " clients in a browser cannot use the homeserver.",
        "Let the homeserver's CORS headers through the reverse proxy, or add"
        " Access-Control-Allow-Origin: * to /_matrix/client responses.",
    ),
    "client-no-cors": CodeInfo(
        "error",
        "/.well-known/matrix/client has no Access-Control-Allow-Origin header, so web clients"
        " in a browser cannot read it.",
        "Add the header Access-Control-Allow-Origin: * to the response of"
        " /.well-known/matrix/client.",
    ),
    "client-redirect-no-cors": CodeInfo(
        "warning",
        "A redirect on the way to /.well-known/matrix/client has no Access-Control-Allow-Origin"
        " header; the spec asks for it on every hop, and browsers may refuse the chain.",
        "Add Access-Control-Allow-Origin: * to the redirect responses too (or serve the file"
        " without redirecting).",
    ),
    "client-identity-server-failed": CodeInfo(
        "warning",
        "m.identity_server.base_url is not a URL or GET <base_url>/_matrix/identity/v2 fails;"
        " identity lookups (invites by email) will not work, and strict clients refuse login.",
        "Fix or remove m.identity_server in /.well-known/matrix/client (it is optional).",
    ),
    "support-missing": CodeInfo(
        "info",
        "/.well-known/matrix/support answers 404: no contact is published for the server.",
        f"Optionally serve {_EXAMPLE_SUPPORT} at https://<hostname>/.well-known/matrix/support.",
    ),
    "support-invalid": CodeInfo(
        "warning",
        "/.well-known/matrix/support is served but does not follow the spec.",
        f"Serve a JSON object such as {_EXAMPLE_SUPPORT}.",
    ),
    "support-unreachable": CodeInfo(
        "warning",
        "/.well-known/matrix/support could not be fetched, or answered with an error status.",
        "Serve https://<hostname>/.well-known/matrix/support (status 200), or let it answer 404"
        " if there is none.",
    ),
}


def _finding(code: str, message: str, fix: str | None = None) -> Finding:
    info = CODES[code]
    return Finding(code, info.severity, message, fix if fix is not None else info.fix)


# --- a fetch's result ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fetched:
    """One GET with its redirects followed, as raw facts for the judging functions.

    Attributes:
        url: The first URL requested.
        hops: Every URL requested; a hop without a status is where the fetch broke.
        status: The last HTTP status received; None when none came.
        body: The final response's body (empty on failure or for a redirect).
        error: Why there is no final response; None when there is one.
        failure: The kind of error: ``"network"`` (connection, TLS, timeout),
            ``"redirect"`` (a redirect that is not followed) or ``"too-large"``.
    """

    url: str
    hops: tuple[Hop, ...]
    status: int | None
    body: bytes
    error: str | None = None
    failure: str | None = None

    @property
    def final_url(self) -> str:
        """The URL of the last hop (the first URL when nothing was requested)."""
        return self.hops[-1].url if self.hops else self.url
