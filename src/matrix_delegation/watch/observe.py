"""What one check is reduced to for comparing with the next: plain, JSON-ready values."""

from __future__ import annotations

from dataclasses import dataclass

from ..checker.report import Report

__all__ = ["Observation", "observe"]


@dataclass(frozen=True, slots=True)
class Observation:
    """One check, as the events and the history see it.

    Attributes:
        federation_ok: The checker's verdict.
        route: The spec step that applied (None: discovery failed).
        m_server: ``m.server`` as served, when ``.well-known`` answered one.
        endpoints: ``ip:port`` of every endpoint, sorted.
        certificates: SHA-256 fingerprint to expiry (seconds since the epoch) of
            every certificate the endpoints presented.
        key_ids: Every verify key ID the endpoints served, sorted.
        key_expires_at: The earliest ``valid_until_ts`` served, in seconds.
        versions: ``name version`` of every endpoint's server software, sorted.
        problems: The problem codes, sorted, each once.
        peers: Each implementation's verdict (docs/peers.md): its name and whether it
            reaches the server, in the checker's order; empty when none was judged.
    """

    federation_ok: bool
    route: str | None = None
    m_server: str | None = None
    endpoints: tuple[str, ...] = ()
    certificates: tuple[tuple[str, float], ...] = ()
    key_ids: tuple[str, ...] = ()
    key_expires_at: float | None = None
    versions: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    peers: tuple[tuple[str, bool], ...] = ()

    @property
    def cert_expires_at(self) -> float | None:
        """The earliest expiry of the certificates seen."""
        return min((expires for _, expires in self.certificates), default=None)

    @property
    def delegation(self) -> list[object] | None:
        """Route, ``m.server`` and endpoint set together; None when discovery failed."""
        if self.route is None:
            return None
        return [self.route, self.m_server, list(self.endpoints)]


def observe(report: Report) -> Observation:
    """The observation of one report."""
    resolution = report.resolution
    well_known = resolution.well_known if resolution is not None else None
    certificates: dict[str, float] = {}
    key_ids: set[str] = set()
    key_expiries: list[float] = []
    versions: set[str] = set()
    for endpoint in report.endpoints:
        tls = endpoint.probe.tls
        if tls is not None and tls.certificate is not None:
            certificates[tls.certificate.sha256] = tls.certificate.expires
        if endpoint.keys is not None:
            key_ids.update(endpoint.keys.verify_keys)
            if endpoint.keys.valid_until_ts is not None:
                key_expiries.append(endpoint.keys.valid_until_ts / 1000)
        if endpoint.server:
            versions.add(f"{endpoint.server.get('name')} {endpoint.server.get('version')}")
    return Observation(
        federation_ok=report.federation_ok,
        route=resolution.route.value if resolution and resolution.route else None,
        m_server=well_known.m_server if well_known is not None else None,
        endpoints=tuple(sorted({_address(e.probe.ip, e.probe.port) for e in report.endpoints})),
        certificates=tuple(sorted(certificates.items())),
        key_ids=tuple(sorted(key_ids)),
        key_expires_at=min(key_expiries, default=None),
        versions=tuple(sorted(versions)),
        problems=tuple(sorted({found.code for found in report.problems})),
        peers=tuple((peer.policy.name, peer.federation_ok) for peer in report.peers),
    )


def _address(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
