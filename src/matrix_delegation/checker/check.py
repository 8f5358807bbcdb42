"""``check``: does federation with a server work, and if not, exactly why.

Discovery runs through the real resolver (its trace is part of the report);
then every endpoint is probed as a homeserver would connect to it, and the
client and support files are checked by the client-server rules. Facts become
:class:`~.problems.Problem` values; nothing the remote side does raises.
``federation_ok`` means: discovery found endpoints, and every one of them
completes a verified TLS handshake and serves a valid version and correctly
signed keys for this server name (as the matrix-federation-tester defines it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._core.jsondoc import read_json
from .._core.model import Endpoint, Resolution, Route
from .._core.names import ServerName
from .._core.plan import MAX_ADDRESSES_PER_HOST, MAX_ENDPOINTS
from .._core.wellknown import parse_server_body
from .._exceptions import InvalidServerName
from .._io.network import Network
from .._io.probe import MAX_RESPONSE, EndpointProbe, HttpResult
from ..resolver import Resolver
from .certs import CertificateInfo
from .client import ClientReport, SupportReport, check_client, check_support
from .kept import bounded_server, kept_probe, keys_document, served_m_server
from .keys import KeyReport, check_server_keys
from .problems import Problem, addresses_capped, discovery_problems, problem

__all__ = ["EndpointReport", "Report", "check_server"]

EXPIRY_WARNING_DAYS = 14
#: Connections one check has open at once: the endpoint probes and the per-address
#: .well-known fetches share them (the client-side files go through the HTTP session).
MAX_CONNECTIONS = 8
WELL_KNOWN_PATH = "/.well-known/matrix/server"


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


@dataclass(frozen=True, slots=True)
class Fallback:
    """The route of a peer that cannot fetch ``.well-known``, and whether it works."""

    resolution: Resolution
    ok: bool


async def check_server(
    resolver: Resolver,
    server_name: str,
    *,
    timeout: float = 10.0,
    clock: Callable[[], float] = time.time,
) -> Report:
    """Check one server name; see the module docstring for what OK means."""
    try:
        host = ServerName.parse(server_name).lookup_name
    except InvalidServerName as exc:
        invalid = (problem("invalid-server-name", str(exc)),)
        return Report(server_name, False, None, (), None, None, invalid)
    resolution = await resolver.resolution(server_name)
    client_side = asyncio.gather(
        check_client(resolver.network, host, timeout=timeout),
        check_support(resolver.network, host, timeout=timeout),
    )
    try:
        endpoints, found, fallback, by_address = await _federation_side(
            _Check(resolver, timeout, asyncio.Semaphore(MAX_CONNECTIONS)), resolution, host, clock
        )
        client, support = await client_side
    finally:
        client_side.cancel()  # when this check is cancelled (a deadline), so are they
    found.extend(_from_findings(client.findings + support.findings))
    # Every address must work, and all must be the same server: a peer picks one.
    disagree = any(p.code == "endpoints-disagree" for p in found)
    ok = resolution.ok and bool(endpoints) and all(e.ok for e in endpoints) and not disagree
    return Report(
        server_name,
        ok,
        resolution,
        tuple(endpoints),
        client,
        support,
        tuple(found),
        fallback,
        tuple(by_address),
    )


@dataclass(frozen=True, slots=True)
class _Check:
    """What every connection of one check shares: the resolver, the timeout, the gate."""

    resolver: Resolver
    timeout: float
    gate: asyncio.Semaphore  # at most MAX_CONNECTIONS open at once

    @property
    def network(self) -> Network:
        """The network edge every connection goes through (the resolver's)."""
        return self.resolver.network


async def _federation_side(
    check: _Check, resolution: Resolution, host: str, clock: Callable[[], float]
) -> tuple[list[EndpointReport], list[Problem], Fallback | None, list[tuple[str, str]]]:
    """Endpoints, .well-known details and the fallback route, with their problems."""
    endpoints = await _probe_all(check, resolution, clock())
    found = discovery_problems(resolution)
    found.extend(_well_known_on_8448(resolution, endpoints))
    by_address, capped = await _well_known_by_address(check, resolution, host)
    if capped is not None and capped not in found:
        found.append(capped)
    found.extend(_address_disagreement(by_address))
    fallback = await _fallback(check, resolution, clock())
    if fallback is not None and not fallback.ok:
        found.append(_fallback_problem(fallback))
    for report in endpoints:
        found.extend(_endpoint_problems(report, resolution, clock()))
    found.extend(_consistency(endpoints))
    return endpoints, found, fallback, by_address


async def _fallback(check: _Check, resolution: Resolution, now: float) -> Fallback | None:
    """When .well-known delegates, try the route of a peer that cannot fetch it."""
    if resolution.route is None or not resolution.route.via_well_known:
        return None
    alternative = await check.resolver.resolution(resolution.server_name, skip_well_known=True)
    if not alternative.ok:
        return Fallback(alternative, False)
    reports = await _probe_all(check, alternative, now)
    return Fallback(alternative, bool(reports) and all(r.ok for r in reports))


def _fallback_problem(fallback: Fallback) -> Problem:
    alternative = fallback.resolution
    route = alternative.route.value if alternative.route else "no route"
    why = alternative.error.message if alternative.error else "its endpoints fail the checks"
    message = f"without .well-known, peers would use {route}: {why}"
    return problem("fallback-route-fails", message)


async def _well_known_by_address(
    check: _Check, resolution: Resolution, host: str
) -> tuple[list[tuple[str, str]], Problem | None]:
    """The .well-known answer of each address of the server name (when it has several).

    At most :data:`MAX_ADDRESSES_PER_HOST` addresses are asked; the problem
    says when there were more.
    """
    if resolution.well_known is None:
        return [], None
    try:
        # The edge applies --connect-to and the IP policy (a blocked address refuses all).
        destination = await check.network.destination(host, 443)
    except OSError:
        return [], None
    addresses = destination.addresses
    if destination.rule is not None or len(addresses) < 2:
        return [], None  # an override decides the address, or there is one: nothing to compare
    capped = None
    if len(addresses) > MAX_ADDRESSES_PER_HOST:
        capped = addresses_capped(host, len(addresses))
        addresses = addresses[:MAX_ADDRESSES_PER_HOST]

    async def one(ip: str) -> str:
        async with check.gate:
            result = await check.network.fetch_path(
                ip, 443, WELL_KNOWN_PATH, tls_name=host, host_header=host, timeout=check.timeout
            )
        return _well_known_outcome(result)  # fmt: skip

    outcomes = await asyncio.gather(*(one(ip) for ip in addresses))
    return list(zip(addresses, outcomes, strict=True)), capped


def _well_known_outcome(result: HttpResult) -> str:
    if result.status is None:
        return f"no answer ({result.error})"
    if result.status != 200:
        return f"HTTP {result.status}"
    _, server, error, _ = parse_server_body(result.body)
    return f"m.server {server}" if server is not None else f"invalid ({error})"


def _address_disagreement(by_address: list[tuple[str, str]]) -> list[Problem]:
    if len({outcome for _, outcome in by_address}) <= 1:
        return []
    detail = "; ".join(f"{_address(ip, 443)}: {outcome}" for ip, outcome in by_address)
    return [problem("well-known-addresses-disagree", detail)]


async def _probe_all(check: _Check, resolution: Resolution, now: float) -> list[EndpointReport]:
    async def one(endpoint: Endpoint) -> EndpointReport:
        async with check.gate:
            probe = await check.network.probe_endpoint(
                endpoint.target,
                endpoint.ip,
                endpoint.port,
                tls_name=resolution.tls_server_name,
                host_header=resolution.host_header or resolution.server_name,
                timeout=check.timeout,
                also_well_known=resolution.route is Route.DEFAULT_PORT,
            )
        # Judging verifies signatures: CPU work, kept off the event loop so that
        # other checks (and a web service's /health) go on meanwhile.
        return await asyncio.to_thread(_judge, probe, resolution.server_name, now)

    # Discovery caps the endpoints (and says so in the trace); this is the last guard.
    endpoints = resolution.endpoints[:MAX_ENDPOINTS]
    return list(await asyncio.gather(*(one(e) for e in endpoints)))


def _judge(probe: EndpointProbe, server_name: str, now: float) -> EndpointReport:
    """Judge the bodies once, then keep the verdicts and only an excerpt of each body."""
    server = _parse_version(probe)
    keys = None
    if probe.keys is not None and probe.keys.status == 200:
        keys = check_server_keys(probe.keys.body, server_name, int(now * 1000))
    ok = bool(probe.tls and probe.tls.verified and server is not None and keys and keys.ok)
    well_known = served_m_server(probe.well_known)
    return EndpointReport(kept_probe(probe), server, keys, ok, keys_document(probe), well_known)


def _parse_version(probe: EndpointProbe) -> dict[str, Any] | None:
    if probe.version is None or probe.version.status != 200:
        return None
    document = read_json(probe.version.body, max_bytes=MAX_RESPONSE).value
    server = document.get("server") if isinstance(document, dict) else None
    return bounded_server(server) if isinstance(server, dict) else None


def _endpoint_problems(report: EndpointReport, resolution: Resolution, now: float) -> list[Problem]:
    probe = report.probe
    where = f"{_address(probe.ip, probe.port)} ({probe.target})"
    if probe.tls is None:
        return [problem("address-unreachable", f"{where}: {probe.error}")]
    found = _tls_problems(probe, resolution, where, now)
    if probe.tls.certificate is None and not probe.tls.verified:
        return found
    found.extend(_http_problems(report, where))
    return found


def _tls_problems(
    probe: EndpointProbe, resolution: Resolution, where: str, now: float
) -> list[Problem]:
    tls = probe.tls
    assert tls is not None
    certificate = tls.certificate
    if certificate is None and not tls.verified:
        return [problem("tls-handshake-failed", f"{where}: {tls.verify_error}")]
    found: list[Problem] = []
    if not tls.verified:
        found.append(_certificate_problem(probe, resolution, where))
    if certificate is not None and 0 <= certificate.days_left(now) < EXPIRY_WARNING_DAYS:
        message = f"{where}: the certificate expires on {certificate.not_after}"
        found.append(problem("tls-cert-expiring", message))
    return found


# OpenSSL verification codes (X509_V_ERR_*) and what they mean to an admin.
_VERIFY_CODES = {10: "tls-cert-expired", 18: "tls-cert-self-signed", 19: "tls-cert-self-signed"}


def _certificate_problem(probe: EndpointProbe, resolution: Resolution, where: str) -> Problem:
    tls = probe.tls
    assert tls is not None
    names = _certificate_names(tls.certificate)
    wanted = resolution.tls_server_name or probe.ip
    detail = f"{where}: {tls.verify_error} (wanted {wanted}; the certificate names {names})"
    if tls.verify_code == 62:  # hostname mismatch
        srv = resolution.route is not None and resolution.route.via_srv
        if srv and tls.certificate is not None and tls.certificate.covers(probe.target):
            return problem("tls-cert-for-srv-target", detail)
        return problem("tls-cert-wrong-name", detail)
    return problem(_VERIFY_CODES.get(tls.verify_code or 0, "tls-cert-untrusted"), detail)


def _certificate_names(certificate: CertificateInfo | None) -> str:
    if certificate is None:
        return "?"
    if certificate.defect is not None:
        return f"nothing readable: {certificate.defect}"
    return ", ".join(certificate.dns_names + certificate.ip_addresses)


def _http_problems(report: EndpointReport, where: str) -> list[Problem]:
    probe = report.probe
    found = []
    for result, path in ((probe.version, "version"), (probe.keys, "key/v2/server")):
        if result is not None and result.error and "larger than" in result.error:
            found.append(problem("response-too-large", f"{where}: {path}: {result.error}"))
    if report.server is None:
        seen = _seen(probe.version)
        found.append(problem("version-failed", f"{where}: /_matrix/federation/v1/version: {seen}"))
    if report.keys is not None:
        found.extend(problem(p.code, f"{where}: {p.message}") for p in report.keys.problems)
    elif probe.keys is not None and not (probe.keys.error and "larger than" in probe.keys.error):
        found.append(
            problem("keys-malformed", f"{where}: /_matrix/key/v2/server: {_seen(probe.keys)}")
        )
    return found


def _seen(result: Any) -> str:
    if result is None:
        return "no answer"
    if result.error:
        return str(result.error)
    return f"HTTP {result.status}" + (f": {result.body[:80]!r}" if result.status == 200 else "")


def _consistency(endpoints: list[EndpointReport]) -> list[Problem]:
    seen = {}
    for report in endpoints:
        if report.keys is not None and report.keys.ok:
            fingerprint = (report.keys.server_name, tuple(sorted(report.keys.verify_keys.items())))
            seen[fingerprint] = _address(report.probe.ip, report.probe.port)
    if len(seen) <= 1:
        return []
    described = "; ".join(f"{where}: keys {sorted(dict(f[1]))}" for f, where in seen.items())
    return [problem("endpoints-disagree", f"different keys by address: {described}")]


def _well_known_on_8448(resolution: Resolution, endpoints: list[EndpointReport]) -> list[Problem]:
    """The classic mistake: the file is on the federation port instead of 443.

    Seen on the default-port route, where the probes connect to port 8448 of the
    server name itself and fetch the file there over the same connection.
    """
    for report in endpoints:
        server = report.well_known_server
        if server is not None:
            where = _address(report.probe.ip, report.probe.port)
            message = f"{where} serves m.server {server!r}, but port 443 does not"
            return [problem("well-known-on-8448", message)]
    return []


def _from_findings(findings: tuple[Any, ...]) -> list[Problem]:
    return [Problem(f.code, f.severity, f.message, f.fix) for f in findings]


def _address(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
