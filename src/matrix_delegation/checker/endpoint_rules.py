"""One endpoint's verdict: its bodies judged, then its TLS and HTTP problems.

Pure functions: :func:`judge_endpoint` reads the bodies of a probe once
(signature checks: CPU work, which the gathering runs off the event loop)
and keeps only excerpts; :func:`endpoint_problems` names what is wrong.
"""

from __future__ import annotations

from typing import Any

from .._core.jsondoc import read_json
from .._core.model import Resolution
from .._io.certs import CertificateInfo
from .._io.probe import MAX_RESPONSE, EndpointProbe
from .codes import Problem, problem
from .kept import bounded_server, kept_probe, keys_document, served_m_server
from .keys import check_server_keys
from .report import EndpointReport

__all__ = ["EXPIRY_WARNING_DAYS", "address", "endpoint_problems", "judge_endpoint"]

EXPIRY_WARNING_DAYS = 14


def judge_endpoint(probe: EndpointProbe, server_name: str, now: float) -> EndpointReport:
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


def endpoint_problems(report: EndpointReport, resolution: Resolution, now: float) -> list[Problem]:
    """What is wrong with one endpoint: connection, TLS, certificate, version, keys."""
    probe = report.probe
    where = f"{address(probe.ip, probe.port)} ({probe.target})"
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


def address(ip: str, port: int) -> str:
    """``ip:port``, with the IPv6 address in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
