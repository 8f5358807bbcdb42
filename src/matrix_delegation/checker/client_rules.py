"""The client file's judging rules: ``/.well-known/matrix/client`` and its base URLs.

Pure functions that turn what :func:`~.client.fetch` got into findings
(docs/design.md §3.1), testable without sockets; :mod:`.client` runs them after
fetching and re-exports them. The small JSON and URL helpers at the end
serve the support file's rules too.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .._core.jsondoc import json_type as _json_type
from .._core.jsondoc import read_json
from .._core.wellknown import WELL_KNOWN_MAX_SIZE
from .client_model import (
    _CORS_HEADER,
    CLIENT_PATH,
    FAIL_ERROR,
    FAIL_PROMPT,
    IDENTITY_PATH,
    IGNORE,
    PROMPT,
    SUPPORT_PATH,
    VERSIONS_PATH,
    ClientReport,
    Fetched,
)
from .codes import Problem, problem

__all__ = [
    "ClientFile",
    "client_url",
    "judge_client",
    "judge_versions",
    "read_client_file",
    "support_url",
]


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
    findings: tuple[Problem, ...]


def read_client_file(fetched: Fetched) -> ClientFile:
    """Judge the fetched discovery file: steps 3.1 to 5.1 and 6 of the spec's client flow."""
    url = fetched.url
    findings = _cors_findings(fetched)

    def stop(outcome: str, code: str, message: str) -> ClientFile:
        found = (problem(code, message), *findings)
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
        found.insert(0, problem("client-no-homeserver", _no_homeserver(url, m_homeserver)))
    else:
        base, why = _http_base(raw_base)
        if base is None:
            stopped = FAIL_ERROR
            message = f"m.homeserver.base_url {_show(raw_base)} in {url} {why}"
            found.insert(0, problem("client-invalid-base-url", message))
        else:
            versions_url = base + VERSIONS_PATH
            if urlsplit(base).scheme == "http":
                message = f"m.homeserver.base_url {raw_base!r} in {url} uses plain http"
                found.append(problem("client-base-url-insecure", message))

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
    url: str, document: dict[str, object], found: list[Problem]
) -> tuple[str | None, str | None, bool]:
    """(base_url as served, URL to try, whether the entry is invalid); findings appended."""
    if "m.identity_server" not in document:
        return None, None, False
    entry = document["m.identity_server"]
    if not isinstance(entry, dict):
        message = f"m.identity_server in {url} is a JSON {_json_type(entry)}, not an object"
        found.append(problem("client-invalid", message))
        return None, None, True
    if entry.get("base_url") is None:
        message = f"m.identity_server in {url} has no base_url"
        found.append(problem("client-invalid", message))
        return None, None, True
    raw = entry["base_url"]
    base, why = _http_base(raw)
    if base is None:
        message = f"m.identity_server.base_url {_show(raw)} in {url} {why}"
        found.append(problem("client-identity-server-failed", message))
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
            found.append(problem("client-base-url-unreachable", message))
            outcome = outcome or FAIL_ERROR
        elif not versions.hops[-1].cors:
            message = f"{versions.final_url} has no {_CORS_HEADER} header"
            found.append(problem("client-base-url-no-cors", message))
    if read.identity_invalid:
        outcome = outcome or FAIL_PROMPT
    if identity is not None:
        error = _judge_identity(identity)
        if error is not None:
            base = read.identity_server or "?"
            message = (
                f"GET {identity.url} (from m.identity_server.base_url {base!r}) failed: {error}"
            )
            found.append(problem("client-identity-server-failed", message))
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


def _cors_findings(fetched: Fetched) -> list[Problem]:
    """CORS problems of a chain that ends in a 200: browsers read nothing else anyway."""
    if not fetched.hops or fetched.hops[-1].status != 200:
        return []
    found = []
    last = fetched.hops[-1]
    if not last.cors:
        message = f"{last.url} answers 200 without an {_CORS_HEADER} header"
        found.append(problem("client-no-cors", message))
    for hop in fetched.hops[:-1]:
        if not hop.cors:
            message = f"the redirect at {hop.url} (HTTP {hop.status}) has no {_CORS_HEADER} header"
            found.append(problem("client-redirect-no-cors", message))
    return found


# --- small helpers ------------------------------------------------------------------------


def _json_object(body: bytes) -> tuple[dict[str, object] | None, str | None]:
    """Parse a body as a JSON object (a UTF-8 byte order mark is allowed, as browsers do)."""
    doc = read_json(body, max_bytes=WELL_KNOWN_MAX_SIZE, allow_bom=True)
    if doc.reason is not None:
        return None, f"the body is {doc.reason}"
    document: dict[str, object] = doc.value
    return document, None


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
