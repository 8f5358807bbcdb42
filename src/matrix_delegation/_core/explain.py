"""Resolutions as words and as JSON.

The JSON keys are a documented, stable interface (docs/resolve-json.md):
scripts and our own acceptance checks depend on them.
"""

from __future__ import annotations

from typing import Any

from .model import HostAddresses, Resolution, SrvLookup, SrvRecord, TraceEntry, WellKnownResult

__all__ = ["asked", "failure_json", "resolution_json", "summary", "told"]


def asked(entry: TraceEntry) -> str:
    """The question a trace entry answers, e.g. ``SRV _matrix-fed._tcp.example.org``."""
    answer = entry.answer
    if isinstance(answer, WellKnownResult):
        return f"GET {answer.url}"
    if isinstance(answer, SrvLookup):
        return f"SRV {answer.name}"
    if isinstance(answer, HostAddresses):
        return f"A/AAAA {answer.host}"
    return ""


def told(entry: TraceEntry) -> str:
    """What came back, in a few words."""
    answer = entry.answer
    if isinstance(answer, WellKnownResult):
        return _told_well_known(answer)
    if isinstance(answer, SrvLookup):
        return _told_srv(answer)
    if isinstance(answer, HostAddresses):
        return _told_addresses(answer)
    return ""


def _cached(from_cache: bool) -> str:
    return " (cached)" if from_cache else ""


def _told_well_known(result: WellKnownResult) -> str:
    if result.stale:
        return f"refresh failed ({result.error}); kept m.server {result.m_server!r}"
    # Each hop as it happened: "HTTP 301 -> https://...; " before the last answer.
    statuses = result.redirect_statuses or (None,) * len(result.redirects)
    hops = "".join(
        f"HTTP {status or '3xx'} -> {url}; "
        for status, url in zip(statuses, result.redirects, strict=False)
    )
    status = f"HTTP {result.status}" if result.status is not None else "no response"
    if result.valid:
        return f"{hops}{status}, m.server {result.m_server!r}{_cached(result.from_cache)}"
    return f"{hops}{status}: {result.error}{_cached(result.from_cache)}"


def _record_text(record: SrvRecord) -> str:
    return f"{record.priority} {record.weight} {record.port} {record.target}"


def _told_srv(lookup: SrvLookup) -> str:
    if lookup.error and not lookup.stale:
        return f"failed: {lookup.error}"
    records = ", ".join(_record_text(r) for r in lookup.records) or "no records"
    prefix = f"failed ({lookup.error}); expired answer: " if lookup.stale else ""
    return prefix + records + _cached(lookup.from_cache)


def _told_addresses(answer: HostAddresses) -> str:
    parts = []
    if answer.aliases:
        parts.append("CNAME " + " -> ".join(answer.aliases))
    parts.append(", ".join(answer.addresses) or "no addresses")
    if answer.error:
        parts.append(f"({answer.error})")
    return " ".join(parts) + _cached(answer.from_cache)


def summary(resolution: Resolution) -> str:
    """The last line of the human output: where to connect, or why not."""
    if resolution.error is not None:
        return f"failed: {resolution.error.message} [{resolution.error.code}]"
    first = resolution.endpoints[0]
    ip = f"[{first.ip}]" if ":" in first.ip else first.ip
    certificate = (
        f"certificate for {resolution.tls_server_name}"
        if resolution.tls_server_name
        else "no SNI, certificate for the IP address"
    )
    return f"connect to {ip}:{first.port}, Host: {resolution.host_header}, {certificate}"


def resolution_json(resolution: Resolution) -> dict[str, Any]:
    """The stable JSON object of ``resolve --json``."""
    error = resolution.error
    return {
        "server_name": resolution.server_name,
        "route": resolution.route.value if resolution.route else None,
        "host_header": resolution.host_header,
        "tls_server_name": resolution.tls_server_name,
        "endpoints": [
            {"target": e.target, "ip": e.ip, "port": e.port} for e in resolution.endpoints
        ],
        "well_known": _well_known_json(resolution.well_known),
        "srv": [_srv_json(lookup) for lookup in resolution.srv],
        "trace": [_trace_json(entry) for entry in resolution.trace],
        "error": {"code": error.code, "message": error.message} if error else None,
    }


def failure_json(server_name: str, code: str, message: str) -> dict[str, Any]:
    """The JSON object for a name that could not even be resolved (e.g. invalid)."""
    return {
        "server_name": server_name,
        "route": None,
        "host_header": None,
        "tls_server_name": None,
        "endpoints": [],
        "well_known": None,
        "srv": [],
        "trace": [],
        "error": {"code": code, "message": message},
    }


def _well_known_json(result: WellKnownResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "url": result.url,
        "status": result.status,
        "m_server": result.m_server,
        "error": result.error,
        "redirects": list(result.redirects),
        "redirect_statuses": list(result.redirect_statuses),
        "expires_at": result.expires_at,
        "from_cache": result.from_cache,
        "stale": result.stale,
    }


def _srv_json(lookup: SrvLookup) -> dict[str, Any]:
    return {
        "name": lookup.name,
        "records": [
            {"priority": r.priority, "weight": r.weight, "port": r.port, "target": r.target}
            for r in lookup.records
        ],
        "error": lookup.error,
        "stale": lookup.stale,
    }


def _trace_json(entry: TraceEntry) -> dict[str, Any]:
    return {
        "step": entry.step,
        "asked": asked(entry) or None,
        "answer": told(entry) or None,
        "rule": entry.rule,
        "level": entry.level,
    }
