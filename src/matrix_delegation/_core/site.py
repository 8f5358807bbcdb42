"""What a delegation site publishes, and the exact bytes of every response.

A :class:`Site` is one or many domains, each with up to three files under
``/.well-known/matrix/``: ``server`` (S2S "Resolving server names", step 3),
``client`` and ``support`` (C-S "Server Discovery", "Well-known URIs").
:func:`render_site` turns a site into ready responses; the service sends them
as they are and the config generators write the same bodies and headers,
so nginx, Apache, HAProxy, Caddy and ``serve`` answer byte for byte alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .names import ServerName

__all__ = [
    "CORS_HEADERS",
    "WELL_KNOWN_FILES",
    "Contact",
    "Domain",
    "Response",
    "Site",
    "canonical_json",
    "not_found",
    "render_domain",
    "render_site",
]

WELL_KNOWN_PREFIX = "/.well-known/matrix/"
#: The files we publish, by path.
WELL_KNOWN_FILES = ("server", "client", "support")

#: The CORS headers the client-server spec recommends (C-S "Web Browser Clients").
#: Sent on all three files: a web client reads client and support, and a
#: browser-based checker reads server.
CORS_HEADERS: tuple[tuple[str, str], ...] = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS"),
    ("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization"),
)
JSON_TYPE = "application/json"
DEFAULT_MAX_AGE = 3600


@dataclass(frozen=True, slots=True)
class Contact:
    """A support contact (C-S ``/.well-known/matrix/support``)."""

    role: str
    matrix_id: str | None = None
    email_address: str | None = None


@dataclass(frozen=True, slots=True)
class Domain:
    """What one server name publishes.

    Attributes:
        server_name: The server name (its hostname selects the domain by Host).
        m_server: The delegated server for the server file; None: no server file.
        client: The whole client file as a JSON object; None: no client file.
        support_contacts: Support contacts; with ``support_page``, the support file.
        support_page: The support page URL.
        max_age: Seconds for ``Cache-Control: max-age``.
        certificate: PEM certificate chain for direct HTTPS, or None.
        private_key: PEM private key for direct HTTPS, or None.
    """

    server_name: str
    m_server: str | None
    client: Mapping[str, Any] | None = None
    support_contacts: tuple[Contact, ...] = ()
    support_page: str | None = None
    max_age: int = DEFAULT_MAX_AGE
    certificate: str | None = None
    private_key: str | None = None

    @property
    def hostname(self) -> str:
        """The lower-case hostname that selects this domain (port ignored)."""
        return ServerName.parse(self.server_name).lookup_name

    @property
    def has_support(self) -> bool:
        """Whether a support file is published."""
        return bool(self.support_contacts) or self.support_page is not None


@dataclass(frozen=True, slots=True)
class Site:
    """Every domain served, in configuration order."""

    domains: tuple[Domain, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response: status, headers in order, body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


def canonical_json(document: Any) -> bytes:
    """Compact JSON with sorted keys and raw UTF-8: the same bytes every time."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def file_document(domain: Domain, name: str) -> dict[str, Any] | None:
    """The JSON document of one file, or None when the domain does not publish it."""
    if name == "server":
        return None if domain.m_server is None else {"m.server": domain.m_server}
    if name == "client":
        return None if domain.client is None else dict(domain.client)
    if name == "support" and domain.has_support:
        document: dict[str, Any] = {}
        if domain.support_contacts:
            document["contacts"] = [_contact_json(c) for c in domain.support_contacts]
        if domain.support_page is not None:
            document["support_page"] = domain.support_page
        return document
    return None


def _contact_json(contact: Contact) -> dict[str, str]:
    fields = {"role": contact.role, "matrix_id": contact.matrix_id}
    fields["email_address"] = contact.email_address
    return {key: value for key, value in fields.items() if value is not None}


def ok_response(body: bytes, max_age: int) -> Response:
    """A 200 with the JSON headers, CORS, caching and a strong ETag."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = (
        ("Content-Type", JSON_TYPE),
        *CORS_HEADERS,
        ("Cache-Control", f"max-age={max_age}"),
        ("ETag", etag),
    )
    return Response(200, headers, body)


def not_found(error: str) -> Response:
    """The Matrix-style 404; CORS too, so that a browser can read why."""
    body = canonical_json({"errcode": "M_NOT_FOUND", "error": error})
    headers = (("Content-Type", JSON_TYPE), *CORS_HEADERS, ("Cache-Control", "no-cache"))
    return Response(404, headers, body)


def render_domain(domain: Domain) -> dict[str, Response]:
    """The responses of one domain, by path (``/.well-known/matrix/server``, ...)."""
    responses = {}
    for name in WELL_KNOWN_FILES:
        document = file_document(domain, name)
        response = (
            not_found(f"{domain.hostname} does not publish /.well-known/matrix/{name}")
            if document is None
            else ok_response(canonical_json(document), domain.max_age)
        )
        responses[WELL_KNOWN_PREFIX + name] = response
    return responses


def render_site(site: Site) -> dict[str, dict[str, Response]]:
    """Every response, by lower-case hostname and then by path."""
    return {domain.hostname: render_domain(domain) for domain in site.domains}
