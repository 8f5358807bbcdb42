"""The client side of a domain: ``/.well-known/matrix/client`` and ``/.well-known/matrix/support``.

:func:`check_client` walks the client-server spec's auto-discovery flow the
way a login screen would (SPEC-NOTES 3.1) and reports the outcome a client
reaches (``PROMPT``, ``IGNORE``, ``FAIL_PROMPT`` or ``FAIL_ERROR``) together
with everything found along the way: the redirect chain and the CORS header
on each response, the homeserver's ``/_matrix/client/versions`` and the
identity server. :func:`check_support` validates the optional support file
(SPEC-NOTES 3.2).

The network part is small: :func:`fetch` gets one URL through the
resolver's session (its DNS, IP policy, ``--connect-to`` rules and trust
store), following redirects by hand, under one deadline and a 50 KiB body
cap, and never raises for what the remote side does. Everything else turns
what was fetched into findings with pure functions, testable without
sockets.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import aiohttp

from .. import __version__
from .._core.names import is_support_role, is_user_id
from .._core.wellknown import (
    REDIRECT_STATUSES,
    WELL_KNOWN_MAX_SIZE,
    RedirectRefused,
    next_redirect,
)
from .._io.http import describe_client_error

if TYPE_CHECKING:
    from ..resolver import Resolver

__all__ = [
    "CODES",
    "FAIL_ERROR",
    "FAIL_PROMPT",
    "IGNORE",
    "PROMPT",
    "ClientFile",
    "ClientReport",
    "CodeInfo",
    "Fetched",
    "Finding",
    "Hop",
    "SupportReport",
    "check_client",
    "check_support",
    "client_url",
    "fetch",
    "judge_client",
    "judge_support",
    "judge_versions",
    "read_client_file",
    "support_url",
]

PROMPT: Final = "PROMPT"
IGNORE: Final = "IGNORE"
FAIL_PROMPT: Final = "FAIL_PROMPT"
FAIL_ERROR: Final = "FAIL_ERROR"

CLIENT_PATH: Final = "/.well-known/matrix/client"
SUPPORT_PATH: Final = "/.well-known/matrix/support"
VERSIONS_PATH: Final = "/_matrix/client/versions"
IDENTITY_PATH: Final = "/_matrix/identity/v2"
#: The same cap as the server file's: a discovery document is a few hundred bytes.
MAX_BODY: Final = WELL_KNOWN_MAX_SIZE

_CORS_HEADER: Final = "Access-Control-Allow-Origin"
_HEADERS: Final = {"User-Agent": f"matrix-delegation/{__version__}", "Accept": "application/json"}


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


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """A code's fixed parts: severity, what it means and the usual fix."""

    severity: str
    summary: str
    fix: str


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


# --- fetching -----------------------------------------------------------------------------


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


class _TooLarge(Exception):
    pass


async def fetch(session: aiohttp.ClientSession, url: str, *, timeout: float) -> Fetched:
    """GET ``url`` and follow redirects by hand; never raises for what the server does.

    Redirects (301, 302, 303, 307, 308) are followed as the server file's are:
    https only, no loop, at most 10. The whole fetch, redirects and body
    included, runs under one ``timeout``; a 200 body over 50 KiB is refused
    (by ``Content-Length`` or while streaming), other bodies are cut there.
    """
    visited = [url]
    hops: list[Hop] = []
    status: int | None = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                async with session.get(
                    visited[-1], allow_redirects=False, headers=_HEADERS
                ) as response:
                    status = response.status
                    hops.append(Hop(visited[-1], status, _has_cors(response)))
                    if status not in REDIRECT_STATUSES:
                        body = await _read_body(response)
                        return Fetched(url, tuple(hops), status, body)
                    location = response.headers.get("Location")
                visited.append(next_redirect(visited[-1], location, tuple(visited)))
    except RedirectRefused as exc:
        return Fetched(url, tuple(hops), status, b"", exc.reason, "redirect")
    except _TooLarge:
        return Fetched(
            url, tuple(hops), status, b"", f"body larger than {MAX_BODY} bytes", "too-large"
        )
    except TimeoutError:
        error = f"timed out after {timeout:g} s"
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        # ValueError: aiohttp's InvalidURL and IDNA failures on a strange Location.
        error = describe_client_error(exc)
    if len(hops) < len(visited):
        hops.append(Hop(visited[-1], None, False))
    return Fetched(url, tuple(hops), status, b"", error, "network")


def _has_cors(response: aiohttp.ClientResponse) -> bool:
    return bool(response.headers.get(_CORS_HEADER, "").strip())


async def _read_body(response: aiohttp.ClientResponse) -> bytes:
    """The body, at most :data:`MAX_BODY` bytes: too large a 200 is refused, others cut."""
    refuse = response.status == 200
    length = response.content_length
    if length is not None and length > MAX_BODY:
        if refuse:
            raise _TooLarge
        return b""
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > MAX_BODY:
            if refuse:
                raise _TooLarge
            return bytes(body[:MAX_BODY])
    return bytes(body)


# --- the client flow ----------------------------------------------------------------------


def client_url(hostname: str) -> str:
    """Where clients look for the discovery file: port 443 of the hostname."""
    return f"https://{hostname}{CLIENT_PATH}"


def support_url(hostname: str) -> str:
    """Where the support file is served: port 443 of the hostname."""
    return f"https://{hostname}{SUPPORT_PATH}"


@dataclass(frozen=True, slots=True)
class ClientFile:
    """What the discovery file alone says, before its base URLs are tried.

    Attributes:
        stopped: The outcome when the flow already stopped (steps 3.1 to 5.1);
            None when the homeserver's base URL is to be tried.
        document: The JSON object, when the body parsed as one.
        homeserver: ``m.homeserver.base_url`` as served, when a string.
        versions_url: The ``/_matrix/client/versions`` URL to try, when the base URL is valid.
        identity_server: ``m.identity_server.base_url`` as served, when a string.
        identity_url: The ``/_matrix/identity/v2`` URL to try, when that base URL is valid.
        identity_invalid: ``m.identity_server`` is there without a ``base_url`` (FAIL_PROMPT).
        findings: The problems of the file itself.
    """

    stopped: str | None
    document: dict[str, object] | None
    homeserver: str | None
    versions_url: str | None
    identity_server: str | None
    identity_url: str | None
    identity_invalid: bool
    findings: tuple[Finding, ...]


def read_client_file(fetched: Fetched) -> ClientFile:
    """Judge the fetched discovery file: steps 3.1 to 5.1 and 6 of the spec's client flow."""
    url = fetched.url
    findings = _cors_findings(fetched)

    def stop(outcome: str, code: str, message: str) -> ClientFile:
        found = (_finding(code, message), *findings)
        return ClientFile(outcome, None, None, None, None, None, False, found)

    if fetched.error is not None:
        if fetched.failure == "redirect":
            return stop(FAIL_PROMPT, "client-redirect-invalid", f"{url}: {fetched.error}")
        if fetched.failure == "too-large":
            return stop(FAIL_PROMPT, "client-invalid", f"{url}: {fetched.error}")
        where = fetched.final_url if fetched.final_url != url else url
        return stop(FAIL_PROMPT, "client-unreachable", f"{where}: {fetched.error}")
    if fetched.status == 404:
        message = (
            f"{url} answers 404, so clients cannot find the homeserver from a user ID on this"
            " domain: users must type the homeserver URL in"
        )
        return stop(IGNORE, "client-missing", message)
    if fetched.status != 200:
        return stop(FAIL_PROMPT, "client-invalid", f"{url} answers HTTP {fetched.status}")
    if not fetched.body.strip():
        return stop(FAIL_PROMPT, "client-invalid", f"{url} answers 200 with an empty body")
    document, error = _json_object(fetched.body)
    if document is None:
        return stop(FAIL_PROMPT, "client-invalid", f"{url}: {error}")

    found = list(findings)
    stopped: str | None = None
    homeserver: str | None = None
    versions_url: str | None = None
    m_homeserver = document.get("m.homeserver")
    raw_base = m_homeserver.get("base_url") if isinstance(m_homeserver, dict) else None
    if isinstance(raw_base, str):
        homeserver = raw_base
    if raw_base is None:
        stopped = FAIL_PROMPT
        found.insert(0, _finding("client-no-homeserver", _no_homeserver(url, m_homeserver)))
    else:
        base, why = _http_base(raw_base)
        if base is None:
            stopped = FAIL_ERROR
            message = f"m.homeserver.base_url {_show(raw_base)} in {url} {why}"
            found.insert(0, _finding("client-invalid-base-url", message))
        else:
            versions_url = base + VERSIONS_PATH
            if urlsplit(base).scheme == "http":
                message = f"m.homeserver.base_url {raw_base!r} in {url} uses plain http"
                found.append(_finding("client-base-url-insecure", message))

    identity_server, identity_url, identity_invalid = _read_identity(url, document, found)
    return ClientFile(
        stopped,
        document,
        homeserver,
        versions_url,
        identity_server,
        identity_url,
        identity_invalid,
        tuple(found),
    )


def _no_homeserver(url: str, m_homeserver: object) -> str:
    if m_homeserver is None:
        return f"{url} has no m.homeserver"
    if not isinstance(m_homeserver, dict):
        return f"m.homeserver in {url} is a JSON {_json_type(m_homeserver)}, not an object"
    return f"m.homeserver in {url} has no base_url"


def _read_identity(
    url: str, document: dict[str, object], found: list[Finding]
) -> tuple[str | None, str | None, bool]:
    """(base_url as served, URL to try, whether the entry is invalid); findings appended."""
    if "m.identity_server" not in document:
        return None, None, False
    entry = document["m.identity_server"]
    if not isinstance(entry, dict):
        message = f"m.identity_server in {url} is a JSON {_json_type(entry)}, not an object"
        found.append(_finding("client-invalid", message))
        return None, None, True
    if entry.get("base_url") is None:
        message = f"m.identity_server in {url} has no base_url"
        found.append(_finding("client-invalid", message))
        return None, None, True
    raw = entry["base_url"]
    base, why = _http_base(raw)
    if base is None:
        message = f"m.identity_server.base_url {_show(raw)} in {url} {why}"
        found.append(_finding("client-identity-server-failed", message))
        return (raw if isinstance(raw, str) else None), None, False
    return raw if isinstance(raw, str) else None, base + IDENTITY_PATH, False


def judge_versions(fetched: Fetched) -> tuple[tuple[str, ...], str | None]:
    """The versions a ``/_matrix/client/versions`` answer lists, or why it is not valid."""
    if fetched.error is not None:
        return (), fetched.error
    if fetched.status != 200:
        return (), f"HTTP {fetched.status}{_errcode(fetched.body)}"
    document, error = _json_object(fetched.body)
    if document is None:
        return (), error
    versions = document.get("versions")
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
        return (), "the answer has no versions list of strings"
    return tuple(versions), None


def _judge_identity(fetched: Fetched) -> str | None:
    """Why ``GET /_matrix/identity/v2`` is not a valid answer (None when it is)."""
    if fetched.error is not None:
        return fetched.error
    if fetched.status != 200:
        return f"HTTP {fetched.status}{_errcode(fetched.body)}"
    _, error = _json_object(fetched.body)
    return error


def judge_client(
    file: Fetched,
    read: ClientFile,
    versions: Fetched | None,
    identity: Fetched | None,
) -> ClientReport:
    """The report: the file as read, plus what its base URLs answered.

    Args:
        file: The fetch of the discovery file.
        read: :func:`read_client_file` of it.
        versions: The fetch of ``read.versions_url`` (None when there was none).
        identity: The fetch of ``read.identity_url`` (None when there was none).
    """
    found = list(read.findings)
    outcome = read.stopped
    listed: tuple[str, ...] = ()
    if versions is not None:
        listed, error = judge_versions(versions)
        if error is not None:
            base = read.homeserver or "?"
            message = f"GET {versions.url} (from base_url {base!r}) failed: {error}"
            if "/_matrix" in urlsplit(base).path:
                message += "; base_url must not contain /_matrix"
            found.append(_finding("client-base-url-unreachable", message))
            outcome = outcome or FAIL_ERROR
        elif not versions.hops[-1].cors:
            message = f"{versions.final_url} has no {_CORS_HEADER} header"
            found.append(_finding("client-base-url-no-cors", message))
    if read.identity_invalid:
        outcome = outcome or FAIL_PROMPT
    if identity is not None:
        error = _judge_identity(identity)
        if error is not None:
            base = read.identity_server or "?"
            message = (
                f"GET {identity.url} (from m.identity_server.base_url {base!r}) failed: {error}"
            )
            found.append(_finding("client-identity-server-failed", message))
    return ClientReport(
        url=file.url,
        outcome=outcome or PROMPT,
        hops=file.hops,
        document=read.document,
        homeserver=read.homeserver,
        versions=listed,
        identity_server=read.identity_server,
        findings=tuple(found),
    )


def _cors_findings(fetched: Fetched) -> list[Finding]:
    """CORS problems of a chain that ends in a 200: browsers read nothing else anyway."""
    if not fetched.hops or fetched.hops[-1].status != 200:
        return []
    found = []
    last = fetched.hops[-1]
    if not last.cors:
        message = f"{last.url} answers 200 without an {_CORS_HEADER} header"
        found.append(_finding("client-no-cors", message))
    for hop in fetched.hops[:-1]:
        if not hop.cors:
            message = f"the redirect at {hop.url} (HTTP {hop.status}) has no {_CORS_HEADER} header"
            found.append(_finding("client-redirect-no-cors", message))
    return found


async def check_client(resolver: Resolver, hostname: str, *, timeout: float) -> ClientReport:
    """Run the spec's client discovery against ``https://<hostname>/.well-known/matrix/client``.

    Every request goes through ``resolver.http_session()``. The file is
    fetched first; then the homeserver's ``/_matrix/client/versions`` and the
    identity server's ``/_matrix/identity/v2`` are fetched side by side, each
    fetch under its own ``timeout``, so the whole check lasts at most about
    twice ``timeout``. Never raises for what the remote side does.

    Args:
        resolver: A :class:`~matrix_delegation.Resolver`.
        hostname: The hostname of the server name (no port).
        timeout: The bound on each fetch, redirects included, in seconds.
    """
    session = resolver.http_session()
    file = await fetch(session, client_url(hostname), timeout=timeout)
    read = read_client_file(file)
    versions, identity = await asyncio.gather(
        _maybe_fetch(session, read.versions_url, timeout),
        _maybe_fetch(session, read.identity_url, timeout),
    )
    return judge_client(file, read, versions, identity)


async def _maybe_fetch(
    session: aiohttp.ClientSession, url: str | None, timeout: float
) -> Fetched | None:
    return None if url is None else await fetch(session, url, timeout=timeout)


# --- the support file ---------------------------------------------------------------------


def judge_support(fetched: Fetched) -> SupportReport:
    """Judge a fetched ``/.well-known/matrix/support`` against the spec (MSC1929, v1.10)."""
    url = fetched.url

    def report(findings: list[Finding], *, present: bool, document: Any = None) -> SupportReport:
        valid = present and not any(f.code == "support-invalid" for f in findings)
        return SupportReport(url, fetched.status, present, valid, document, tuple(findings))

    if fetched.failure == "too-large":
        message = f"{url}: {fetched.error}"
        return report([_finding("support-invalid", message)], present=True)
    if fetched.error is not None:
        where = fetched.final_url
        return report([_finding("support-unreachable", f"{where}: {fetched.error}")], present=False)
    if fetched.status == 404:
        message = f"{url} answers 404: no support contacts are published"
        return report([_finding("support-missing", message)], present=False)
    if fetched.status != 200:
        message = f"{url} answers HTTP {fetched.status}"
        return report([_finding("support-unreachable", message)], present=False)
    document, error = _json_object(fetched.body)
    if document is None:
        return report([_finding("support-invalid", f"{url}: {error}")], present=True)
    problems = [
        _finding("support-invalid", f"{url}: {p}", fix) for p, fix in _support_problems(document)
    ]
    return report(problems, present=True, document=document)


def _support_problems(document: dict[str, object]) -> list[tuple[str, str | None]]:
    """(what is wrong, a fix when a more precise one helps) for a parsed support file."""
    problems: list[tuple[str, str | None]] = []
    has_contacts = "contacts" in document
    has_page = "support_page" in document
    if not has_contacts and not has_page:
        return [("it has neither contacts nor support_page; at least one is required", None)]
    if has_page:
        page = document["support_page"]
        if not isinstance(page, str) or _https_error(page) is not None:
            why = (
                f"is a JSON {_json_type(page)}, not a string"
                if not isinstance(page, str)
                else _https_error(page)
            )
            problems.append(
                (
                    f"support_page {_show(page)} {why}",
                    "Set support_page to the https URL of a web page where users get help.",
                )
            )
    if has_contacts:
        contacts = document["contacts"]
        if not isinstance(contacts, list):
            problems.append((f"contacts is a JSON {_json_type(contacts)}, not an array", None))
        elif not contacts and not has_page:
            problems.append(("contacts is empty and there is no support_page", None))
        else:
            for index, contact in enumerate(contacts):
                problems.extend(_contact_problems(index, contact))
    return problems


_CONTACT_FIX: Final = (
    'Give every contact a "role" (m.role.admin or m.role.security) and a "matrix_id"'
    ' (such as @admin:example.com) and/or an "email_address".'
)


def _contact_problems(index: int, contact: object) -> list[tuple[str, str | None]]:
    where = f"contacts[{index}]"
    if not isinstance(contact, dict):
        return [(f"{where} is a JSON {_json_type(contact)}, not an object", _CONTACT_FIX)]
    problems: list[tuple[str, str | None]] = []
    role = contact.get("role")
    if role is None:
        problems.append((f"{where} has no role", _CONTACT_FIX))
    elif not isinstance(role, str):
        problems.append((f"{where}.role is a JSON {_json_type(role)}, not a string", _CONTACT_FIX))
    elif not is_support_role(role):
        message = f"{where}.role {role!r} is neither m.role.admin, m.role.security nor namespaced"
        problems.append((message, _CONTACT_FIX))
    matrix_id = contact.get("matrix_id")
    email = contact.get("email_address")
    if matrix_id is None and email is None:
        problems.append((f"{where} has neither matrix_id nor email_address", _CONTACT_FIX))
    if matrix_id is not None and not is_user_id(matrix_id):
        problems.append((f"{where}.matrix_id {_show(matrix_id)} is not a user ID", _CONTACT_FIX))
    if email is not None and not (isinstance(email, str) and "@" in email.strip("@")):
        message = f"{where}.email_address {_show(email)} is not an email address"
        problems.append((message, _CONTACT_FIX))
    return problems


async def check_support(resolver: Resolver, hostname: str, *, timeout: float) -> SupportReport:
    """Fetch and judge ``https://<hostname>/.well-known/matrix/support``.

    Every request goes through ``resolver.http_session()``, under one
    ``timeout`` for the whole fetch. Never raises for what the remote side does.

    Args:
        resolver: A :class:`~matrix_delegation.Resolver`.
        hostname: The hostname of the server name (no port).
        timeout: The bound on the fetch, redirects included, in seconds.
    """
    fetched = await fetch(resolver.http_session(), support_url(hostname), timeout=timeout)
    return judge_support(fetched)


# --- small helpers ------------------------------------------------------------------------


def _json_object(body: bytes) -> tuple[dict[str, object] | None, str | None]:
    """Parse a body as a JSON object (a UTF-8 byte order mark is allowed, as browsers do)."""
    try:
        document = json.loads(body.decode("utf-8-sig"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        return None, "the body is not UTF-8"
    except ValueError as exc:  # json.JSONDecodeError, and NaN or Infinity
        return None, f"the body is not JSON ({exc})"
    except RecursionError:
        return None, "the body is not JSON (nested too deeply)"
    if not isinstance(document, dict):
        return None, f"the body is a JSON {_json_type(document)}, not an object"
    return document, None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _show(value: object) -> str:
    """A value for a message: repr of a string, the JSON type of anything else."""
    return repr(value) if isinstance(value, str) else f"(a JSON {_json_type(value)})"


def _http_base(value: object) -> tuple[str | None, str]:
    """A base URL without trailing slashes, or (None, why it is not an absolute http(s) URL)."""
    if not isinstance(value, str):
        return None, "is not a string"
    text = value.strip()
    if not text or any(c.isspace() for c in text):
        return None, "is not a URL (empty or contains spaces)"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as exc:
        return None, f"is not a URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return None, "is not an absolute http(s) URL (it needs https:// and a host)"
    if not parts.hostname:
        return None, "has no host"
    # Query and fragment are dropped, as clients build request URLs from the path.
    return f"{parts.scheme.lower()}://{parts.netloc}{parts.path.rstrip('/')}", ""


def _https_error(value: str) -> str | None:
    base, why = _http_base(value)
    if base is None:
        return why
    if not base.startswith("https://"):
        return "is not an https URL"
    return None


def _errcode(body: bytes) -> str:
    """`` (M_SOMETHING)`` when an error body carries a Matrix errcode."""
    document, _ = _json_object(body)
    errcode = document.get("errcode") if document is not None else None
    return f" ({errcode})" if isinstance(errcode, str) and len(errcode) < 100 else ""
