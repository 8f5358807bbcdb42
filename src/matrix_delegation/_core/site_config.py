"""Turning configuration (our YAML, or Synapse's homeserver.yaml) into a :class:`Site`.

Pure: it takes the parsed YAML and the file name, and returns the site and
its warnings, or raises :class:`SiteConfigError` listing every problem, each
naming the file, the domain and the key. Rules come from the spec
(docs/design.md §2, §3.1, §3.2) and, for homeserver.yaml, from Synapse's own
(docs/design.md §5.9).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .._exceptions import ConfigurationError, InvalidServerName
from .names import ServerName, is_namespaced, is_support_role, is_user_id
from .site import DEFAULT_MAX_AGE, Contact, Domain, Site

__all__ = ["SiteConfigError", "site_from_config", "site_from_synapse"]

_TOP_KEYS = {"domains", "defaults"}
_DEFAULT_KEYS = {"max_age", "allow_http"}
_DOMAIN_KEYS = {"server_name", "m_server", "client", "support", "max_age", "tls", "allow_http"}
_CLIENT_KEYS = {"homeserver", "identity_server", "extra"}
_SUPPORT_KEYS = {"contacts", "support_page"}
_CONTACT_KEYS = {"role", "matrix_id", "email_address"}
_RESERVED_CLIENT_KEYS = {"m.homeserver", "m.identity_server"}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\Z")
_MAX_AGE_LIMIT = 2**31 - 1


class SiteConfigError(ConfigurationError):
    """The configuration is invalid; ``problems`` lists every one, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class _Report:
    """Collects problems and warnings with their place: file, domain, key."""

    source: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, where: str, message: str) -> None:
        self.problems.append(f"{self.source}: {where}: {message}")

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{self.source}: {where}: {message}")

    def unknown_keys(self, where: str, given: Mapping[str, Any], allowed: set[str]) -> None:
        for key in sorted(set(given) - allowed, key=str):
            self.error(
                f"{where}.{key}", f"unknown key (expected one of {', '.join(sorted(allowed))})"
            )


def site_from_config(data: Any, source: str) -> tuple[Site, list[str]]:
    """A site from our YAML format; returns it with its warnings.

    Raises:
        SiteConfigError: with every problem found.
    """
    report = _Report(source)
    if not isinstance(data, Mapping):
        raise SiteConfigError([f"{source}: the file must be a mapping with a 'domains' list"])
    report.unknown_keys("top level", data, _TOP_KEYS)
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        report.error("defaults", "must be a mapping")
        defaults = {}
    report.unknown_keys("defaults", defaults, _DEFAULT_KEYS)
    entries = data.get("domains")
    if not isinstance(entries, list) or not entries:
        report.error("domains", "must be a non-empty list of domains")
        entries = []
    domains = [_domain(entry, index, defaults, report) for index, entry in enumerate(entries)]
    _check_unique([d for d in domains if d is not None], report)
    if report.problems:
        raise SiteConfigError(report.problems)
    return Site(tuple(d for d in domains if d is not None)), report.warnings


def site_from_synapse(data: Any, source: str) -> tuple[Site, list[str]]:
    """A one-domain site from homeserver.yaml keys, with Synapse's semantics.

    ``serve_server_wellknown`` gives ``m.server`` = server name, port 443 unless
    it has one; the client file exists only when ``public_baseurl`` is set, which
    gets a trailing slash; ``extra_well_known_client_content`` adds keys that
    are not there yet and may not name ``m.homeserver`` or ``m.identity_server``.
    """
    report = _Report(source)
    if not isinstance(data, Mapping):
        raise SiteConfigError([f"{source}: the file must be a mapping of Synapse options"])
    name = _server_name(data.get("server_name"), "server_name", report)
    if name is None:
        raise SiteConfigError(report.problems)
    m_server = None
    if data.get("serve_server_wellknown", False) is True:
        m_server = f"{name.hostname}:{name.port or 443}"
    client = _synapse_client(data, report)
    if report.problems:
        raise SiteConfigError(report.problems)
    return Site((Domain(str(name), m_server, client),)), report.warnings


def _synapse_client(data: Mapping[str, Any], report: _Report) -> dict[str, Any] | None:
    base_url = data.get("public_baseurl")
    extra = data.get("extra_well_known_client_content") or {}
    if not isinstance(extra, Mapping):
        report.error("extra_well_known_client_content", "must be a mapping")
        extra = {}
    for key in sorted(_RESERVED_CLIENT_KEYS & set(extra)):
        report.error(
            f"extra_well_known_client_content.{key}",
            "may not be set here (use public_baseurl / default_identity_server)",
        )
    if base_url is None:
        return None  # Synapse serves no client file without an explicit public_baseurl
    url = _url(base_url, "public_baseurl", report, allow_http=True)
    if url is None:
        return None
    client: dict[str, Any] = {"m.homeserver": {"base_url": url if url.endswith("/") else url + "/"}}
    identity = data.get("default_identity_server")
    if identity is not None:
        client["m.identity_server"] = {"base_url": identity}
    for key, value in extra.items():
        client.setdefault(key, value)
    return client


def _domain(entry: Any, index: int, defaults: Mapping[str, Any], report: _Report) -> Domain | None:
    where = f"domains[{index}]"
    if not isinstance(entry, Mapping):
        report.error(where, "must be a mapping with at least server_name")
        return None
    name = _server_name(entry.get("server_name"), f"{where}.server_name", report)
    if name is None:
        return None
    where = f"domain {name}"
    report.unknown_keys(where, entry, _DOMAIN_KEYS)
    allow_http = bool(entry.get("allow_http", defaults.get("allow_http", False)))
    m_server = _m_server(entry, name, where, report)
    client = _client(entry.get("client"), f"{where}: client", allow_http, report)
    contacts, page = _support(entry.get("support"), f"{where}: support", report)
    max_age = _max_age(
        entry.get("max_age", defaults.get("max_age", DEFAULT_MAX_AGE)), where, report
    )
    certificate, key = _tls(entry.get("tls"), f"{where}: tls", report)
    return Domain(str(name), m_server, client, contacts, page, max_age, certificate, key)


def _server_name(value: Any, where: str, report: _Report) -> ServerName | None:
    if not isinstance(value, str):
        report.error(where, "is required and must be a string")
        return None
    try:
        return ServerName.parse(value)
    except InvalidServerName as exc:
        report.error(where, f"{value!r} is not a server name: {exc.reason}")
        return None


def _m_server(
    entry: Mapping[str, Any], name: ServerName, where: str, report: _Report
) -> str | None:
    if "m_server" not in entry:
        return f"{name.hostname}:{name.port or 443}"  # Synapse's rule (docs/design.md §5.9)
    value = entry["m_server"]
    if value is False or value is None:
        return None  # no server file: delegation by SRV, or none at all
    if not isinstance(value, str):
        report.error(f"{where}: m_server", "must be a string host[:port], or false")
        return None
    try:
        delegated = ServerName.parse(value)
    except InvalidServerName as exc:
        hint = _m_server_hint(value)
        report.error(f"{where}: m_server", f"{value!r} is not a server name: {exc.reason}{hint}")
        return None
    if delegated.lookup_name == name.lookup_name and delegated.port in (None, 8448):
        report.warn(
            f"{where}: m_server",
            f"{value!r} is where peers go without any delegation: this file changes nothing",
        )
    return value


def _m_server_hint(value: str) -> str:
    if "://" in value:
        return " (m.server is host[:port], without a scheme)"
    if "/" in value:
        return " (m.server is host[:port], without a path)"
    return ""


def _url(value: Any, where: str, report: _Report, *, allow_http: bool) -> str | None:
    if not isinstance(value, str) or not value:
        report.error(where, "must be a URL string")
        return None
    parts = urlsplit(value)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.netloc:
        hint = f" (did you mean 'https://{value}'?)" if "://" not in value else ""
        report.error(where, f"{value!r} must be an absolute {' or '.join(schemes)} URL{hint}")
        return None
    if parts.query or parts.fragment:
        report.error(where, f"{value!r} may not have a query or fragment")
        return None
    if parts.scheme == "http":
        report.warn(where, f"{value!r} is plain http: clients will send passwords unencrypted")
    return value


def _client(value: Any, where: str, allow_http: bool, report: _Report) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        report.error(where, "must be a mapping with at least homeserver")
        return None
    report.unknown_keys(where, value, _CLIENT_KEYS)
    homeserver = _url(value.get("homeserver"), f"{where}.homeserver", report, allow_http=allow_http)
    client: dict[str, Any] = {"m.homeserver": {"base_url": homeserver}}
    if value.get("identity_server") is not None:
        identity = _url(
            value["identity_server"], f"{where}.identity_server", report, allow_http=allow_http
        )
        client["m.identity_server"] = {"base_url": identity}
    extra = value.get("extra") or {}
    if not isinstance(extra, Mapping):
        report.error(f"{where}.extra", "must be a mapping of namespaced keys")
        extra = {}
    for key, item in extra.items():
        if not is_namespaced(key):
            report.error(
                f"{where}.extra", f"key {key!r} must be namespaced, e.g. org.example.{key}"
            )
        elif key in _RESERVED_CLIENT_KEYS:
            report.error(f"{where}.extra.{key}", "use homeserver / identity_server instead")
        else:
            client[key] = item
    return client


def _support(value: Any, where: str, report: _Report) -> tuple[tuple[Contact, ...], str | None]:
    if value is None:
        return (), None
    if not isinstance(value, Mapping):
        report.error(where, "must be a mapping with contacts and/or support_page")
        return (), None
    report.unknown_keys(where, value, _SUPPORT_KEYS)
    page = None
    if value.get("support_page") is not None:
        page = _url(value["support_page"], f"{where}.support_page", report, allow_http=False)
    raw = value.get("contacts")
    if raw is None and page is None:
        report.error(where, "needs contacts or support_page (the spec requires one)")
    if raw is not None and (not isinstance(raw, list) or not raw):
        report.error(f"{where}.contacts", "must be a non-empty list")
        raw = []
    contacts = [
        _contact(item, f"{where}.contacts[{i}]", report) for i, item in enumerate(raw or [])
    ]
    return tuple(c for c in contacts if c is not None), page


def _contact(value: Any, where: str, report: _Report) -> Contact | None:
    if not isinstance(value, Mapping):
        report.error(where, "must be a mapping with role and matrix_id and/or email_address")
        return None
    report.unknown_keys(where, value, _CONTACT_KEYS)
    role, matrix_id, email = (value.get(k) for k in ("role", "matrix_id", "email_address"))
    if not is_support_role(role):
        report.error(
            f"{where}.role", f"{role!r} must be m.role.admin, m.role.security or namespaced"
        )
    if matrix_id is None and email is None:
        report.error(where, "needs matrix_id or email_address (the spec requires one)")
    if matrix_id is not None and not is_user_id(matrix_id):
        report.error(
            f"{where}.matrix_id", f"{matrix_id!r} is not a user ID like @admin:example.com"
        )
    if email is not None and not (isinstance(email, str) and _EMAIL.match(email)):
        report.error(f"{where}.email_address", f"{email!r} is not an email address")
    return Contact(str(role), matrix_id, email)


def _max_age(value: Any, where: str, report: _Report) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_AGE_LIMIT:
        report.error(f"{where}: max_age", f"{value!r} must be a whole number of seconds, 0 or more")
        return DEFAULT_MAX_AGE
    return value


def _tls(value: Any, where: str, report: _Report) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, Mapping) or set(value) != {"certificate", "key"}:
        report.error(where, "must be a mapping with exactly certificate and key (PEM file paths)")
        return None, None
    certificate, key = value["certificate"], value["key"]
    if not isinstance(certificate, str) or not isinstance(key, str):
        report.error(where, "certificate and key must be file paths")
        return None, None
    return certificate, key


def _check_unique(domains: list[Domain], report: _Report) -> None:
    seen: set[str] = set()
    for domain in domains:
        if domain.hostname in seen:
            report.error(
                f"domain {domain.server_name}", "is configured twice (hostnames must be unique)"
            )
        seen.add(domain.hostname)
