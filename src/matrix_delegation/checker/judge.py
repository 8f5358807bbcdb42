"""The verdict on what a check gathered: :func:`judge` turns :class:`~.report.Facts` into a report.

Pure and cheap (the CPU-heavy signature checks ran while gathering, in
:func:`~.endpoint_rules.judge_endpoint`), so every problem code can be tested
from facts built by hand, without sockets. ``federation_ok`` means: discovery
found endpoints, and every one of them completes a verified TLS handshake
and serves a valid version and correctly signed keys for this server name
(as the matrix-federation-tester defines it), and all serve the same keys.
"""

from __future__ import annotations

from .._core.model import Resolution
from .._core.plan import MAX_ADDRESSES_PER_HOST
from .._core.propagation import Propagation, propagation
from .agents import agent_problems, agent_rows, defer_to_challenge
from .codes import Problem, problem
from .discovery_rules import addresses_capped, discovery_problems
from .endpoint_rules import address, endpoint_problems
from .families import families, family_problems
from .notary_model import third_party_problems
from .peer_rules import judge_peers, peer_problems
from .report import EndpointReport, Facts, Fallback, FallbackFacts, Report

__all__ = ["judge"]


def judge(facts: Facts, now: float) -> Report:
    """The report on ``facts``, with ``now`` (seconds since the epoch) for certificate expiry."""
    resolution = facts.resolution
    if facts.name_error is not None or resolution is None:
        invalid = (problem("invalid-server-name", facts.name_error or "not checked"),)
        return Report(facts.server_name, False, None, (), None, None, invalid)  # nothing opened
    fallback = _fallback(facts.fallback)
    found = _federation_problems(facts, resolution, fallback, now)
    views = families(
        resolution, facts.endpoints, facts.fallback, facts.host_ips, facts.well_known_by_address
    )
    found.extend(family_problems(views, facts.host_ips))
    if facts.agents is not None:
        found = defer_to_challenge([*found, *agent_problems(facts.agents)], facts.agents)
    for side in (facts.client, facts.support):
        found.extend(side.findings if side is not None else ())
    # Outbound and the outside view have their own problems; federation_ok stays the
    # inbound verdict from here (docs/check-json.md).
    found.extend(third_party_problems(facts.outbound, facts.notary))
    # Every address must work, and all must be the same server: a peer picks one.
    disagree = any(p.code == "endpoints-disagree" for p in found)
    endpoints = facts.endpoints
    ok = resolution.ok and bool(endpoints) and all(e.ok for e in endpoints) and not disagree
    peers = judge_peers(facts.peers, resolution, endpoints, ok)
    found.extend(peer_problems(peers, ok))
    return Report(
        facts.server_name,
        ok,
        resolution,
        endpoints,
        facts.client,
        facts.support,
        tuple(found),
        fallback,
        facts.well_known_by_address,
        agent_rows(facts.agents) if facts.agents is not None else (),
        _propagation(facts, resolution),
        views,
        peers,
        outbound=facts.outbound,
        notary=facts.notary,
        connections=facts.connections,
    )


def _propagation(facts: Facts, resolution: Resolution) -> Propagation | None:
    """When peers fetch the delegation again, from our own fresh ``.well-known`` answer."""
    agents, well_known = facts.agents, resolution.well_known
    if agents is None or agents.fetched_at is None or well_known is None:
        return None
    return propagation(agents.well_known_headers, agents.fetched_at, well_known.valid)


def _federation_problems(
    facts: Facts, resolution: Resolution, fallback: Fallback | None, now: float
) -> list[Problem]:
    """Discovery, .well-known details, the fallback route, then each endpoint, in that order."""
    found = discovery_problems(resolution)
    found.extend(_well_known_on_8448(facts.endpoints))
    if facts.host_addresses > MAX_ADDRESSES_PER_HOST:
        capped = addresses_capped(facts.host, facts.host_addresses)
        if capped not in found:  # discovery says so already when the host is the target
            found.append(capped)
    found.extend(_address_disagreement(facts.well_known_by_address))
    if fallback is not None and not fallback.ok:
        found.append(_fallback_problem(fallback))
    for report in facts.endpoints:
        found.extend(endpoint_problems(report, resolution, now))
    found.extend(_consistency(facts.endpoints))
    return found


def _fallback(facts: FallbackFacts | None) -> Fallback | None:
    if facts is None:
        return None
    endpoints = facts.endpoints
    ok = facts.resolution.ok and bool(endpoints) and all(e.ok for e in endpoints)
    return Fallback(facts.resolution, ok)


def _fallback_problem(fallback: Fallback) -> Problem:
    alternative = fallback.resolution
    route = alternative.route.value if alternative.route else "no route"
    why = alternative.error.message if alternative.error else "its endpoints fail the checks"
    message = f"without .well-known, peers would use {route}: {why}"
    return problem("fallback-route-fails", message)


def _address_disagreement(by_address: tuple[tuple[str, str], ...]) -> list[Problem]:
    if len({outcome for _, outcome in by_address}) <= 1:
        return []
    detail = "; ".join(f"{address(ip, 443)}: {outcome}" for ip, outcome in by_address)
    return [problem("well-known-addresses-disagree", detail)]


def _consistency(endpoints: tuple[EndpointReport, ...]) -> list[Problem]:
    seen = {}
    for report in endpoints:
        if report.keys is not None and report.keys.ok:
            fingerprint = (report.keys.server_name, tuple(sorted(report.keys.verify_keys.items())))
            seen[fingerprint] = address(report.probe.ip, report.probe.port)
    if len(seen) <= 1:
        return []
    described = "; ".join(f"{where}: keys {sorted(dict(f[1]))}" for f, where in seen.items())
    return [problem("endpoints-disagree", f"different keys by address: {described}")]


def _well_known_on_8448(endpoints: tuple[EndpointReport, ...]) -> list[Problem]:
    """The classic mistake: the file is on the federation port instead of 443.

    Seen on the default-port route, where the probes connect to port 8448 of the
    server name itself and fetch the file there over the same connection.
    """
    for report in endpoints:
        server = report.well_known_server
        if server is not None:
            where = address(report.probe.ip, report.probe.port)
            message = f"{where} serves m.server {server!r}, but port 443 does not"
            return [problem("well-known-on-8448", message)]
    return []
