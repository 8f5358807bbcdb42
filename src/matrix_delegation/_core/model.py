"""Plain data exchanged between the discovery core and the network edge.

The core (:mod:`._core.plan`) yields *questions* (:data:`Step`) and receives
*answers* (:data:`Observation`); the result is a :class:`Resolution`. Every
value is a frozen, slotted dataclass so that resolutions can be cached and
shared between callers without copying, and cost little memory per name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from .failures import FailureCode
from .names import ServerName

__all__ = [
    "AddressAnswers",
    "Endpoint",
    "Fact",
    "Failure",
    "FailureCode",
    "FetchWellKnown",
    "HostAddresses",
    "LookupAddresses",
    "LookupSrv",
    "Observation",
    "Resolution",
    "Route",
    "SrvLookup",
    "SrvRecord",
    "Step",
    "TraceEntry",
    "WellKnownResult",
    "well_known_url",
]

#: The default federation port, registered with IANA (S2S "Resolving server names").
DEFAULT_FEDERATION_PORT = 8448


def well_known_url(hostname: str) -> str:
    """The URL of the server file for a (lower-case) hostname: always port 443."""
    return f"https://{hostname}/.well-known/matrix/server"


class Route(StrEnum):
    """Which step of the spec's "Resolving server names" chose the endpoints."""

    IP_LITERAL = "ip-literal"  # step 1
    EXPLICIT_PORT = "explicit-port"  # step 2
    WELL_KNOWN_IP_LITERAL = "well-known/ip-literal"  # step 3.1
    WELL_KNOWN_EXPLICIT_PORT = "well-known/explicit-port"  # step 3.2
    WELL_KNOWN_SRV = "well-known/srv"  # step 3.3
    WELL_KNOWN_SRV_LEGACY = "well-known/srv-legacy"  # step 3.4 (deprecated)
    WELL_KNOWN_DEFAULT_PORT = "well-known/default-port"  # step 3.5
    SRV = "srv"  # step 4
    SRV_LEGACY = "srv-legacy"  # step 5 (deprecated)
    DEFAULT_PORT = "default-port"  # step 6

    @property
    def spec_step(self) -> str:
        """The step number in the spec, e.g. ``"3.3"``."""
        return _SPEC_STEPS[self]

    @property
    def via_well_known(self) -> bool:
        """Whether ``.well-known`` delegated (steps 3.1-3.5)."""
        return self.value.startswith("well-known/")

    @property
    def via_srv(self) -> bool:
        """Whether SRV records chose the targets (steps 3.3, 3.4, 4 and 5)."""
        return self in _SRV

    @property
    def legacy_srv(self) -> bool:
        """Whether the deprecated ``_matrix._tcp`` record chose the targets (3.4 and 5)."""
        return self in (Route.SRV_LEGACY, Route.WELL_KNOWN_SRV_LEGACY)


_SPEC_STEPS = dict(
    zip(Route, ("1", "2", "3.1", "3.2", "3.3", "3.4", "3.5", "4", "5", "6"), strict=True)
)
_SRV = frozenset({Route.SRV, Route.SRV_LEGACY, Route.WELL_KNOWN_SRV, Route.WELL_KNOWN_SRV_LEGACY})


# --- questions ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchWellKnown:
    """Ask for ``https://<hostname>/.well-known/matrix/server`` (step 3)."""

    hostname: str


@dataclass(frozen=True, slots=True)
class LookupSrv:
    """Ask for the SRV records of a service name such as ``_matrix-fed._tcp.example.org``."""

    name: str


@dataclass(frozen=True, slots=True)
class LookupAddresses:
    """Ask for the A and AAAA records of each host, all at once."""

    hosts: tuple[str, ...]


Step = FetchWellKnown | LookupSrv | LookupAddresses


# --- answers -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WellKnownResult:
    """What the ``.well-known/matrix/server`` step found.

    Attributes:
        hostname: The host the file was fetched from (port 443).
        status: The HTTP status of the last response, or None when none came back.
        m_server: The ``m.server`` string as served (even when invalid), or None.
        delegated_server: ``m.server`` parsed, when the response was valid.
        error: Why the response is not usable, or None when it is valid.
        temporary: Whether the error may go away by itself (network, 5xx, timeout).
        expires_at: When the cached result expires (seconds since the epoch).
        redirects: The URLs redirected to, in order.
        redirect_statuses: The status of each redirect response, in order.
        from_cache: The result came from the cache, not from a fetch now.
        stale: A refresh failed temporarily and the last good result was kept.
        error_kind: What kind of failure, for programs: ``status``,
            ``server-error``, ``not-json``, ``no-m-server``, ``invalid-m-server``,
            ``redirect-http``, ``redirect-loop``, ``too-many-redirects``,
            ``redirect-no-location``, ``too-large``, ``timeout`` or ``unreachable``;
            ``not-fetched`` when the driver did not fetch the file at all
            (:meth:`not_fetched`).
    """

    hostname: str
    status: int | None
    m_server: str | None
    delegated_server: ServerName | None
    error: str | None
    temporary: bool = False
    expires_at: float | None = None
    redirects: tuple[str, ...] = ()
    from_cache: bool = False
    stale: bool = False
    error_kind: str | None = None
    redirect_statuses: tuple[int, ...] = ()

    @property
    def url(self) -> str:
        """The URL of the file (before any redirect)."""
        return well_known_url(self.hostname)

    @property
    def valid(self) -> bool:
        """Whether the response delegates to a valid server name."""
        return self.delegated_server is not None

    @classmethod
    def not_fetched(cls, hostname: str) -> WellKnownResult:
        """The answer of a driver that does not fetch the file (as a peer that cannot)."""
        return cls(hostname, None, None, None, "not fetched", error_kind=NOT_FETCHED)

    @property
    def fetched(self) -> bool:
        """Whether the file was asked for (False for :meth:`not_fetched`)."""
        return self.error_kind != NOT_FETCHED


#: The ``error_kind`` of :meth:`WellKnownResult.not_fetched`.
NOT_FETCHED = "not-fetched"


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """One SRV record. ``target`` has no trailing dot; the root target is ``"."``."""

    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True, slots=True)
class SrvLookup:
    """The answer to one SRV query.

    Attributes:
        name: The queried name, e.g. ``_matrix-fed._tcp.example.org``.
        records: The records as received (not yet in RFC 2782 order); empty
            for NXDOMAIN and NODATA.
        error: The DNS failure (SERVFAIL, timeout, ...), or None.
        stale: The query failed and an expired cached answer was used instead.
        from_cache: The answer came from the cache.
    """

    name: str
    records: tuple[SrvRecord, ...]
    error: str | None = None
    stale: bool = False
    from_cache: bool = False


@dataclass(frozen=True, slots=True)
class HostAddresses:
    """The A and AAAA answers for one host.

    Attributes:
        host: The name queried (lower case, no trailing dot).
        addresses: IPv6 and IPv4 addresses, as text.
        aliases: The CNAME chain followed to get there (empty when none).
        error: A DNS failure of either family, or None.
        from_cache: The answer came from the cache.
        canonical: The name the CNAME chain ended at; None when there are no aliases.
    """

    host: str
    addresses: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    error: str | None = None
    from_cache: bool = False
    canonical: str | None = None


@dataclass(frozen=True, slots=True)
class AddressAnswers:
    """Answers to :class:`LookupAddresses`, one per host and in the same order."""

    hosts: tuple[HostAddresses, ...]


Observation = WellKnownResult | SrvLookup | AddressAnswers


# --- the result --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One address to connect to, in the order to try them."""

    target: str
    ip: str
    port: int


@dataclass(frozen=True, slots=True)
class Failure:
    """Why discovery found no endpoint: a stable code and a message."""

    code: FailureCode
    message: str


Level = Literal["info", "warning", "error"]


class Fact(StrEnum):
    """What a trace step established, for programs (the rule says it in words)."""

    SRV_TARGET_ALIAS = "srv-target-alias"  # an SRV target is a CNAME (RFC 2782 forbids it)
    ADDRESSES_CAPPED = "addresses-capped"  # a host had more addresses than are used
    ENDPOINTS_CAPPED = "endpoints-capped"  # discovery found more endpoints than are used


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One step of discovery: what was asked, what came back, which rule applied.

    The answer is the observation object itself (shared with the caches), so a
    trace costs a few pointers per step; :func:`describe` renders it as text.

    Attributes:
        step: The spec step, e.g. ``"3"`` or ``"3.3"``.
        rule: The rule that applied, in words.
        answer: The answer the rule was applied to, when there was a question.
        level: ``"warning"`` for something likely to break some peers,
            ``"error"`` for what made discovery fail.
        fact: What the step established, when a program acts on it (the checker
            reports it as a problem); None for the ordinary steps.
    """

    step: str
    rule: str
    answer: WellKnownResult | SrvLookup | HostAddresses | None = None
    level: Level = "info"
    fact: Fact | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where federation traffic for a server name goes.

    Attributes:
        server_name: The server name that was resolved, as given.
        route: The spec step that applied, or None when it is not known.
        host_header: The ``Host`` header to send.
        tls_server_name: The name the certificate must be valid for and the
            SNI to send; None for an IP address (no SNI, the certificate must
            carry the IP).
        endpoints: The addresses to try, in order.
        well_known: The ``.well-known`` result, or None when no fetch applies.
        srv: The SRV lookups made, in order.
        trace: Every step, in order.
        error: Why there is no endpoint, or None.
    """

    server_name: str
    route: Route | None
    host_header: str | None
    tls_server_name: str | None
    endpoints: tuple[Endpoint, ...]
    well_known: WellKnownResult | None
    srv: tuple[SrvLookup, ...]
    trace: tuple[TraceEntry, ...]
    error: Failure | None = None

    @property
    def ok(self) -> bool:
        """Whether there is at least one endpoint to connect to."""
        return self.error is None
