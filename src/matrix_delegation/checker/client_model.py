"""The client side's data: outcomes, reports and what a fetch got.

Plain values shared by the judging rules (:mod:`.client_rules`,
:mod:`.support_rules`) and the network part (:mod:`.client`, which
re-exports all of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .codes import Problem

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
    findings: tuple[Problem, ...]


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
    findings: tuple[Problem, ...]


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
