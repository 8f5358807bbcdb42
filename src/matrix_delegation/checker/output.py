"""Check reports as JSON (docs/check-json.md) and as text for a person."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any

from .._core.explain import resolution_json, summary
from .._core.propagation import PeerRefetch, Propagation
from .agents import rows_json
from .check import EndpointReport, Report
from .report import FamilyView, PeerVerdict

__all__ = ["peers_table", "report_json", "report_text"]

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def report_json(report: Report) -> dict[str, Any]:
    """The stable JSON object of ``check --json``."""
    return {
        "server_name": report.server_name,
        "federation_ok": report.federation_ok,
        "resolution": resolution_json(report.resolution) if report.resolution else None,
        "endpoints": [_endpoint_json(e) for e in report.endpoints],
        "client": asdict(report.client) if report.client else None,
        "support": asdict(report.support) if report.support else None,
        "problems": [asdict(p) for p in _ordered(report)],
        "fallback": None if report.fallback is None else {
            "route": route.value if (route := report.fallback.resolution.route) else None,
            "ok": report.fallback.ok,
        },
        "well_known_by_address": [
            {"ip": ip, "outcome": outcome} for ip, outcome in report.well_known_by_address
        ],
        "user_agents": rows_json(report.user_agents),
        "propagation": _propagation_json(report.propagation),
        "families": {view.family: _family_json(view) for view in report.families} or None,
        "peers": [_peer_json(verdict) for verdict in report.peers],
        "outbound": None if report.outbound is None else [
            {"via": o.via, "endpoint": o.endpoint, "ok": o.ok, "error": o.error,
             "elapsed_ms": o.elapsed_ms}
            for o in report.outbound
        ],
        "notary": None if report.notary is None else [
            {"notary": n.notary, "ok": n.ok, "keys_match": n.keys_match, "error": n.error}
            for n in report.notary
        ],
        "connections": report.connections,
    }  # fmt: skip


def _iso(when: float | None) -> str | None:
    if when is None:
        return None
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _propagation_json(found: Propagation | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "fetched_at": _iso(found.fetched_at),
        "well_known": {"cache_control": found.cache_control, "expires": found.expires},
        "peers": [
            {
                "implementation": peer.implementation,
                "refetch_by": _iso(peer.refetch_by),
                "why": peer.why,
                "failure_kept_for": peer.failure_kept_for,
            }
            for peer in found.peers
        ],
        "advice": found.advice,
    }


def _family_json(view: FamilyView) -> dict[str, Any]:
    return {
        "federation_ok": view.federation_ok,
        "well_known": view.well_known,
        "endpoints": [
            {"target": e.probe.target, "ip": e.probe.ip, "port": e.probe.port, "ok": e.ok}
            for e in view.endpoints
        ],
    }


def propagation_sentence(peer: PeerRefetch, fetched_at: float) -> str:
    """One sentence: when a peer of this implementation that fetched now fetches again."""
    if peer.refetch_by is None:
        return f"{peer.implementation}: {peer.why}."
    if peer.refetch_by <= fetched_at:
        return f"{peer.implementation}: at once ({peer.why})."
    return f"{peer.implementation}: by {_iso(peer.refetch_by)} ({peer.why})."


def _peer_json(verdict: PeerVerdict) -> dict[str, Any]:
    resolution = verdict.resolution
    return {
        "implementation": verdict.policy.name,
        "basis": verdict.policy.basis,
        "federation_ok": verdict.federation_ok,
        "route": resolution.route.value if resolution.route else None,
        "endpoints": [
            {"target": e.target, "ip": e.ip, "port": e.port} for e in resolution.endpoints
        ],
        "differs": list(verdict.differs),
    }


def _endpoint_json(report: EndpointReport) -> dict[str, Any]:
    probe = report.probe
    tls = probe.tls
    return {
        "target": probe.target,
        "ip": probe.ip,
        "port": probe.port,
        "ok": report.ok,
        "connect_ms": probe.connect_ms,
        "error": probe.error,
        "tls": None if tls is None else {
            "version": tls.version,
            "cipher": tls.cipher,
            "sni": tls.sni,
            "verified": tls.verified,
            "verify_error": tls.verify_error,
            "certificate": asdict(tls.certificate) if tls.certificate else None,
        },
        "version": report.server,
        "keys": None if report.keys is None else _keys_json(report),
    }  # fmt: skip


def _keys_json(report: EndpointReport) -> dict[str, Any]:
    keys = report.keys
    assert keys is not None
    document = {field.name: getattr(keys, field.name) for field in fields(keys)}
    document["verify_keys"] = dict(keys.verify_keys)  # a read-only mapping: copy it
    document["ed25519_checks"] = [asdict(check) for check in keys.ed25519_checks]
    # A key problem is shown as code and message: its severity and fix are in the check's own.
    document["problems"] = [{"code": p.code, "message": p.message} for p in keys.problems]
    document["ok"] = keys.ok
    return document


def _ordered(report: Report) -> list[Any]:
    return sorted(report.problems, key=lambda p: _SEVERITY_ORDER.get(p.severity, 3))


# ANSI colours for a terminal: green, red, yellow, blue, bold, reset.
_COLOURS = {"ok": "32", "error": "31", "warning": "33", "info": "34", "bold": "1"}


def _paint(text: str, colour: str, enabled: bool) -> str:
    return f"\033[{_COLOURS[colour]}m{text}\033[0m" if enabled else text


def report_text(report: Report, *, colour: bool = False) -> str:
    """The verdict first, then the problems with their fixes, then the details.

    Args:
        report: The check report.
        colour: Colour the verdict and severities (for a terminal).
    """
    verdict = "federation OK" if report.federation_ok else "federation FAILS"
    painted = _paint(verdict, "ok" if report.federation_ok else "error", colour)
    lines = [f"{_paint(report.server_name, 'bold', colour)}: {painted}"]
    lines += peers_table(report.peers, colour)
    problems = _ordered(report)
    if problems:
        lines.append("")
        for found in problems:
            severity = _paint(f"[{found.severity}]", found.severity, colour)
            lines.append(f"  {severity} {found.code}: {found.message}")
            lines.append(f"      fix: {found.fix}")
    if report.resolution is not None:
        route = report.resolution.route
        lines += ["", f"  discovery: {route.value if route else 'failed'}"]
        lines.append(f"  {summary(report.resolution)}")
    for endpoint in report.endpoints:
        lines.append(_endpoint_line(endpoint))
    if report.client is not None:
        lines.append(f"  client file: {report.client.outcome}")
    lines.extend(_reach_lines(report))
    lines += _third_party_lines(report)
    return "\n".join(lines) + "\n"


def _reach_lines(report: Report) -> list[str]:
    """Address families, then when a change of .well-known reaches each implementation."""
    lines = [
        f"  {view.family} only: {'ok' if view.federation_ok else 'FAILS'} (.well-known"
        f" {view.well_known})"
        for view in report.families
    ]
    found = report.propagation
    if found is not None:
        lines += ["", "  when a change of .well-known reaches peers that fetched it now:"]
        lines += [f"    {propagation_sentence(p, found.fetched_at)}" for p in found.peers]
        lines.append(f"    {found.advice}")
    return lines


def peers_table(peers: tuple[PeerVerdict, ...], colour: bool = False) -> list[str]:
    """One row per implementation: reaches or not, route, endpoints; why it differs below."""
    if not peers:
        return []
    lines = ["", f"  {'as seen by':<18} {'reaches':<8} {'route':<24} endpoints"]
    for verdict in peers:
        resolution = verdict.resolution
        route = resolution.route.value if resolution.route else "failed"
        where = ", ".join(_address(e.ip, e.port) for e in resolution.endpoints) or "-"
        reach = _paint(f"{'yes' if verdict.federation_ok else 'NO':<8}",
                       "ok" if verdict.federation_ok else "error", colour)  # fmt: skip
        lines.append(f"  {verdict.policy.name:<18} {reach} {route:<24} {where}")
        lines.extend(f"      {reason}" for reason in verdict.differs)
    return lines


def _address(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _third_party_lines(report: Report) -> list[str]:
    """One line per outbound test and per notary asked (none when not asked)."""
    lines = []
    for tried in report.outbound or ():
        through = f" through {tried.endpoint}" if tried.endpoint else ""
        outcome = "ok" if tried.ok else f"FAIL: {tried.error}"
        lines.append(f"  outbound to {tried.via}{through}: {outcome}")
    for asked in report.notary or ():
        if asked.ok and asked.keys_match is not False:
            outcome = "sees the same keys" if asked.keys_match else "returned the keys"
        else:
            outcome = f"FAIL: {asked.error}"
        lines.append(f"  notary {asked.notary}: {outcome}")
    return lines


def _endpoint_line(report: EndpointReport) -> str:
    probe = report.probe
    status = "ok" if report.ok else "FAIL"
    tls = probe.tls
    details = [f"{probe.connect_ms} ms" if probe.connect_ms is not None else (probe.error or "")]
    if tls is not None and tls.version:
        details.append(f"{tls.version} {tls.cipher}")
    if tls is not None and tls.certificate is not None:
        details.append(f"cert until {tls.certificate.not_after}")
    if report.server:
        details.append(f"{report.server.get('name')} {report.server.get('version')}")
    address = f"[{probe.ip}]:{probe.port}" if ":" in probe.ip else f"{probe.ip}:{probe.port}"
    return f"  {status:<4} {address} ({probe.target}): " + ", ".join(d for d in details if d)
