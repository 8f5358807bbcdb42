"""Gathering each implementation's view (docs/peers.md): its discovery, its endpoints' reports.

Every implementation's discovery runs through the same resolver and caches as
the spec's, so it costs no new query where it asks the same questions. An
endpoint the spec's check probed already (the same address, port, TLS name and
Host header) is not probed again: its report is reused. Only endpoints no one
probed yet are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from .._core.model import Endpoint, Resolution, WellKnownResult
from .._core.peers import PEERS, PeerPolicy
from ..resolver import Resolver
from .report import EndpointReport, PeerFacts

__all__ = ["ProbeKey", "Prober", "gather_peers", "probe_key"]

#: What makes two probes the same: address, port, TLS name and Host header.
ProbeKey = tuple[str, int, str | None, str]
#: Probes endpoints of a resolution (with its TLS name and Host header), in order.
Prober = Callable[[Resolution, tuple[Endpoint, ...]], Awaitable[tuple[EndpointReport, ...]]]


def probe_key(resolution: Resolution, ip: str, port: int) -> ProbeKey:
    """The key of a probe of ``ip:port`` made for ``resolution``."""
    host = resolution.host_header or resolution.server_name
    return (ip, port, resolution.tls_server_name, host)


def known_reports(
    made: Iterable[tuple[Resolution, tuple[EndpointReport, ...]]],
) -> dict[ProbeKey, EndpointReport]:
    """The probes a check made already, by key."""
    known: dict[ProbeKey, EndpointReport] = {}
    for resolution, reports in made:
        for report in reports:
            known.setdefault(probe_key(resolution, report.probe.ip, report.probe.port), report)
    return known


async def gather_peers(
    resolver: Resolver,
    server_name: str,
    known: dict[ProbeKey, EndpointReport],
    probe: Prober,
    policies: tuple[PeerPolicy, ...] = PEERS,
    well_known: WellKnownResult | None = None,
) -> tuple[PeerFacts, ...]:
    """Each implementation's discovery and endpoint reports, probing only what is new.

    ``well_known`` is the spec's result for the name: every implementation reads it
    (fetching again only when its rules need another fetch).
    """
    found = []
    for policy in policies:
        resolution = await resolver.resolution(server_name, peer=policy, well_known=well_known)
        endpoints = resolution.endpoints
        new = tuple(e for e in endpoints if probe_key(resolution, e.ip, e.port) not in known)
        for report in await probe(resolution, new) if new else ():
            known[probe_key(resolution, report.probe.ip, report.probe.port)] = report
        reports = tuple(known[probe_key(resolution, e.ip, e.port)] for e in endpoints)
        found.append(PeerFacts(policy, resolution, reports))
    return tuple(found)
