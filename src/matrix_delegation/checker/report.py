"""What a check gathers (:class:`Facts`) and what it reports (:class:`Report`).

Plain values: :mod:`.check` gathers the facts over the network, and the pure
:func:`~.judge.judge` turns them into a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._core.model import Resolution
from .._core.peers import PeerPolicy
from .._core.propagation import Propagation
from .._io.probe import EndpointProbe
from .agents_model import AgentFacts, AgentRow
from .client_model import ClientReport, SupportReport
from .codes import Problem
from .keys_model import KeyReport
from .notary_model import NotaryResult, OutboundResult

__all__ = [
    "EndpointReport", "Facts", "Fallback", "FallbackFacts", "FamilyView", "PeerFacts",
    "PeerVerdict", "Report",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class EndpointReport:
    """One address: the probe, the parsed version and the key verdict.

    The probe keeps only an excerpt of each body (``BODY_EXCERPT``): what the
    judgement needed from the bodies is in the other fields.
    """

    probe: EndpointProbe
    server: dict[str, Any] | None  # {"name": ..., "version": ...} from the version endpoint
    keys: KeyReport | None
    ok: bool
    keys_document: Any = None  # the key response as served, when JSON and not too large
    well_known_server: str | None = None  # m.server, when the federation port serves the file


@dataclass(frozen=True, slots=True)
class Fallback:
    """The route of a peer that cannot fetch ``.well-known``, and whether it works."""

    resolution: Resolution
    ok: bool


@dataclass(frozen=True, slots=True)
class FamilyView:
    """What a peer with only one address family concludes.

    Attributes:
        family: ``ipv4`` or ``ipv6``.
        federation_ok: It finds endpoints of its family and every one of them works.
        endpoints: The endpoints it would use (its family's only).
        well_known: How it fares with ``.well-known``: ``fetched``, ``not used``
            (discovery did not delegate by it) or why it cannot fetch it.
    """

    family: str
    federation_ok: bool
    endpoints: tuple[EndpointReport, ...]
    well_known: str


@dataclass(frozen=True, slots=True)
class PeerVerdict:
    """What one implementation concludes (docs/peers.md): reached or not, and how.

    Attributes:
        policy: The implementation's discovery policy (its name and basis).
        federation_ok: Whether it reaches the server.
        resolution: Its discovery.
        endpoints: The reports of its endpoints, in the order it tries them.
        differs: Why its view differs from the spec's, one line each; empty when
            it is the same (route, endpoints and verdict).
    """

    policy: PeerPolicy
    federation_ok: bool
    resolution: Resolution
    endpoints: tuple[EndpointReport, ...]
    differs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the checker found for one server name."""

    server_name: str
    federation_ok: bool
    resolution: Resolution | None
    endpoints: tuple[EndpointReport, ...]
    client: ClientReport | None
    support: SupportReport | None
    problems: tuple[Problem, ...]
    fallback: Fallback | None = None
    well_known_by_address: tuple[tuple[str, str], ...] = ()
    user_agents: tuple[AgentRow, ...] = ()
    propagation: Propagation | None = None
    families: tuple[FamilyView, ...] = ()  # ipv4, then ipv6 (none without a resolution)
    peers: tuple[PeerVerdict, ...] = ()
    #: ``check --outbound`` and ``--notary`` (None when not asked; see :mod:`.notary`).
    outbound: tuple[OutboundResult, ...] | None = None
    notary: tuple[NotaryResult, ...] | None = None
    #: The TCP connections the check opened (DNS aside).
    connections: int = 0


@dataclass(frozen=True, slots=True)
class FallbackFacts:
    """The route without ``.well-known`` and its endpoints (none when it found none)."""

    resolution: Resolution
    endpoints: tuple[EndpointReport, ...] = ()


@dataclass(frozen=True, slots=True)
class PeerFacts:
    """One implementation's discovery and the reports of its endpoints, in its order.

    The reports are those of the spec's probes where the endpoint (address,
    port, TLS name and Host) is the same: no endpoint is probed twice.
    """

    policy: PeerPolicy
    resolution: Resolution
    endpoints: tuple[EndpointReport, ...] = ()


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything a check gathered for one server name: what the judge decides on.

    Each endpoint's bodies are judged as soon as they arrive (signature
    checks are CPU work, run off the event loop), so the facts hold the
    :class:`EndpointReport` with its key verdict and only an excerpt of each
    body, never the bodies themselves.

    Attributes:
        server_name: The name as given.
        name_error: Why it is not a server name; then nothing else was gathered.
        resolution: Discovery's result, trace included.
        endpoints: One report per endpoint discovery found.
        fallback: When ``.well-known`` delegates: the route of a peer that cannot fetch it.
        host: The hostname of the server name (no port).
        host_addresses: How many addresses ``host`` has, when its ``.well-known`` answers
            were compared address by address (0 when they were not).
        well_known_by_address: Each compared address and what its ``.well-known`` answered.
        client: The client discovery file's report.
        support: The support file's report.
        agents: The ``.well-known`` and key fetches made with each implementation's
            User-Agent, and the headers of our own ``.well-known`` answer.
        host_ips: Every A and AAAA address of ``host`` in DNS (for the address families).
        peers: Each implementation's discovery and endpoints (docs/peers.md).
        outbound: The outbound tests, when asked for (``check --outbound``).
        notary: What each key notary saw, when asked for (``check --notary``).
        connections: The TCP connections the check opened (DNS aside).
    """

    server_name: str
    name_error: str | None = None
    resolution: Resolution | None = None
    endpoints: tuple[EndpointReport, ...] = ()
    fallback: FallbackFacts | None = None
    host: str = ""
    host_addresses: int = 0
    well_known_by_address: tuple[tuple[str, str], ...] = ()
    client: ClientReport | None = None
    support: SupportReport | None = None
    agents: AgentFacts | None = None
    host_ips: tuple[str, ...] = ()
    peers: tuple[PeerFacts, ...] = ()
    outbound: tuple[OutboundResult, ...] | None = None
    notary: tuple[NotaryResult, ...] | None = None
    connections: int = 0
