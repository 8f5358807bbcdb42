"""Problem codes of the client side: the client and support discovery files.

Kept apart from :mod:`.codes` for size; :mod:`.codes` turns them into its
``CLIENT`` catalog (so they are in ``docs/problems.md`` with the others).
Plain ``(severity, summary, fix)`` triples: this module imports nothing.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["CLIENT_CODES"]

_EXAMPLE_CLIENT = '{"m.homeserver": {"base_url": "https://matrix.example.com"}}'
_EXAMPLE_SUPPORT = (
    '{"contacts": [{"role": "m.role.admin", "matrix_id": "@admin:example.com", '
    '"email_address": "admin@example.com"}], "support_page": "https://example.com/support"}'
)

#: code -> (severity, what it means, the usual fix)
CLIENT_CODES: Final[dict[str, tuple[Literal["error", "warning", "info"], str, str]]] = {
    "client-unreachable": (
        # A warning, like a 404's IGNORE in effect: many homeservers have no web
        # server on 443, and clients then ask the user for the homeserver URL.
        "warning",
        "/.well-known/matrix/client could not be fetched (connection, TLS or timeout): web"
        " clients cannot find the homeserver from a user ID.",
        "Serve https://<hostname>/.well-known/matrix/client on port 443 with a certificate"
        " valid for the hostname.",
    ),
    "client-redirect-invalid": (
        "error",
        "The redirects of /.well-known/matrix/client loop, go on for more than 10 hops,"
        " lead to plain http or lack a Location.",
        "Serve the file directly, or redirect to its https URL in one or two hops.",
    ),
    "client-missing": (
        "info",
        "/.well-known/matrix/client answers 404: clients cannot find the homeserver from a"
        " user ID, so users must type the homeserver URL in.",
        f"Serve {_EXAMPLE_CLIENT} at https://<hostname>/.well-known/matrix/client,"
        " with Access-Control-Allow-Origin: *.",
    ),
    "client-invalid": (
        "error",
        "/.well-known/matrix/client is not a usable JSON object (status, empty body, not JSON,"
        " too large or an m.identity_server without base_url); clients report discovery failed.",
        f"Serve status 200 with a JSON object such as {_EXAMPLE_CLIENT}"
        " (Content-Type: application/json).",
    ),
    "client-no-homeserver": (
        "error",
        "/.well-known/matrix/client has no m.homeserver.base_url; clients report discovery failed.",
        f'Add "m.homeserver": {{"base_url": "https://<homeserver>"}}, as in {_EXAMPLE_CLIENT}.',
    ),
    "client-invalid-base-url": (
        "error",
        "m.homeserver.base_url is not an absolute http(s) URL; clients stop login.",
        "Set m.homeserver.base_url to the full https URL of the client API, such as"
        " https://matrix.example.com (scheme and host, without /_matrix).",
    ),
    "client-base-url-insecure": (
        "warning",
        "m.homeserver.base_url uses plain http: passwords and tokens cross the network in clear"
        " text, and web clients served over https refuse it.",
        "Serve the client API over https and put the https URL in m.homeserver.base_url.",
    ),
    "client-base-url-unreachable": (
        "error",
        "GET <base_url>/_matrix/client/versions fails or is not a valid answer;"
        " clients stop login.",
        "Point m.homeserver.base_url at the host that reverse-proxies /_matrix/client to the"
        " homeserver, and check that <base_url>/_matrix/client/versions returns its versions.",
    ),
    "client-base-url-no-cors": (
        "warning",
        "<base_url>/_matrix/client/versions has no Access-Control-Allow-Origin header, so web"
        " clients in a browser cannot use the homeserver.",
        "Let the homeserver's CORS headers through the reverse proxy, or add"
        " Access-Control-Allow-Origin: * to /_matrix/client responses.",
    ),
    "client-no-cors": (
        "error",
        "/.well-known/matrix/client has no Access-Control-Allow-Origin header, so web clients"
        " in a browser cannot read it.",
        "Add the header Access-Control-Allow-Origin: * to the response of"
        " /.well-known/matrix/client.",
    ),
    "client-redirect-no-cors": (
        "warning",
        "A redirect on the way to /.well-known/matrix/client has no Access-Control-Allow-Origin"
        " header; the spec asks for it on every hop, and browsers may refuse the chain.",
        "Add Access-Control-Allow-Origin: * to the redirect responses too (or serve the file"
        " without redirecting).",
    ),
    "client-identity-server-failed": (
        "warning",
        "m.identity_server.base_url is not a URL or GET <base_url>/_matrix/identity/v2 fails;"
        " identity lookups (invites by email) will not work, and strict clients refuse login.",
        "Fix or remove m.identity_server in /.well-known/matrix/client (it is optional).",
    ),
    "support-missing": (
        "info",
        "/.well-known/matrix/support answers 404: no contact is published for the server.",
        f"Optionally serve {_EXAMPLE_SUPPORT} at https://<hostname>/.well-known/matrix/support.",
    ),
    "support-invalid": (
        "warning",
        "/.well-known/matrix/support is served but does not follow the spec.",
        f"Serve a JSON object such as {_EXAMPLE_SUPPORT}.",
    ),
    "support-unreachable": (
        "warning",
        "/.well-known/matrix/support could not be fetched, or answered with an error status.",
        "Serve https://<hostname>/.well-known/matrix/support (status 200), or let it answer 404"
        " if there is none.",
    ),
}
