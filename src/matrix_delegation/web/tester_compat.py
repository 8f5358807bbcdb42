"""Our report in the shape of the matrix-federation-tester's ``/api/report``.

Scripts and pages written for federationtester.matrix.org read field names
such as ``FederationOK`` and ``ConnectionReports[addr].Checks.AllChecksOK``;
:func:`tester_report` gives them those names and types, filled from a
:class:`~matrix_delegation.checker.check.Report`. It is pure: no I/O, no clock.
``docs/web-api.md`` documents every field, where it comes from, and the
fields we add (``Problems``, ``Aliases``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from typing import Any

from .._core.model import HostAddresses, Resolution, Route, SrvLookup
from .._io.certs import CertificateInfo
from ..checker.check import EndpointReport, Report

__all__ = ["tester_report"]

_SRV_ROUTES = (Route.SRV, Route.SRV_LEGACY, Route.WELL_KNOWN_SRV, Route.WELL_KNOWN_SRV_LEGACY)
# Python's names for the protocol versions, as Go's crypto/tls writes them.
_TLS_VERSIONS = {
    "TLSv1": "TLS 1.0",
    "TLSv1.1": "TLS 1.1",
    "TLSv1.2": "TLS 1.2",
    "TLSv1.3": "TLS 1.3",
}


def tester_report(report: Report) -> dict[str, Any]:
    """The federation-tester JSON object for ``report``."""
    resolution = report.resolution
    reports: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for endpoint in report.endpoints:
        address = _join(endpoint.probe.ip, endpoint.probe.port)
        if _connected(endpoint):
            reports[address] = _connection_report(endpoint)
        else:
            errors[address] = _message(endpoint.probe.error or _tls_error(endpoint))
    document: dict[str, Any] = {
        "WellKnownResult": _well_known(resolution),
        "DNSResult": _dns(resolution),
        "ConnectionReports": reports,
        "ConnectionErrors": errors,
        "Version": _version(report.endpoints),
        "FederationOK": report.federation_ok,
        "Problems": [asdict(found) for found in report.problems],
    }
    failure = _failure(report)
    if failure is not None:
        document["Error"] = failure
    return document


def _failure(report: Report) -> str | None:
    """Why no endpoint was checked: the tester's top-level ``Error``."""
    if report.resolution is not None:
        error = report.resolution.error
        return None if error is None else error.message
    errors = [found.message for found in report.problems if found.severity == "error"]
    return errors[0] if errors else None


def _message(text: str) -> dict[str, str]:
    return {"Message": text}


def _join(ip: str, port: int) -> str:
    """``ip:port`` as Go's net.JoinHostPort writes it (IPv6 in brackets)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


# --- .well-known and DNS ------------------------------------------------------------------


def _well_known(resolution: Resolution | None) -> dict[str, Any]:
    result = resolution.well_known if resolution is not None else None
    document: dict[str, Any] = {"m.server": "", "CacheExpiresAt": 0}
    if result is None:
        return document
    if result.delegated_server is not None:
        document["m.server"] = str(result.delegated_server)
    if result.expires_at is not None:
        document["CacheExpiresAt"] = int(result.expires_at)
    if not result.valid:
        document["error"] = {
            "Error": result.error or "no usable m.server",
            "ErrorCode": result.error_kind or "unknown",
        }
    return document


def _dns(resolution: Resolution | None) -> dict[str, Any]:
    lookups = resolution.srv if resolution is not None else ()
    used = _srv_used(resolution)
    failed = next((lookup.error for lookup in lookups if lookup.error), None)
    hosts: dict[str, Any] = {}
    if resolution is not None:
        for entry in resolution.trace:
            if isinstance(entry.answer, HostAddresses):
                hosts[entry.answer.host] = _host(entry.answer)
    endpoints = resolution.endpoints if resolution is not None else ()
    return {
        "SRVSkipped": not lookups,
        "SRVCName": f"{used.name}." if used is not None else "",
        "SRVRecords": [
            {
                "Target": record.target if record.target.endswith(".") else f"{record.target}.",
                "Port": record.port,
                "Priority": record.priority,
                "Weight": record.weight,
            }
            for record in (used.records if used is not None else ())
        ],
        "SRVError": _message(failed) if failed else None,
        "Hosts": hosts,
        "Addrs": [_join(endpoint.ip, endpoint.port) for endpoint in endpoints],
    }


def _srv_used(resolution: Resolution | None) -> SrvLookup | None:
    """The SRV lookup whose records chose the endpoints, if SRV did."""
    if resolution is None or resolution.route not in _SRV_ROUTES:
        return None
    return next((lookup for lookup in reversed(resolution.srv) if lookup.records), None)


def _host(answer: HostAddresses) -> dict[str, Any]:
    return {
        "CName": f"{answer.host}.",
        "Aliases": list(answer.aliases),
        "Addrs": list(answer.addresses),
        "Error": _message(answer.error) if answer.error else None,
    }


# --- connections --------------------------------------------------------------------------


def _connected(endpoint: EndpointReport) -> bool:
    """Whether a TLS session was made (verified or not): a connection report exists."""
    tls = endpoint.probe.tls
    return tls is not None and (tls.verified or tls.certificate is not None)


def _tls_error(endpoint: EndpointReport) -> str:
    tls = endpoint.probe.tls
    return (tls.verify_error if tls is not None else None) or "no connection"


def _connection_report(endpoint: EndpointReport) -> dict[str, Any]:
    probe = endpoint.probe
    tls = probe.tls
    assert tls is not None
    keys = endpoint.keys
    ed25519 = keys.ed25519_checks if keys is not None else ()
    checks = {
        "AllChecksOK": endpoint.ok,
        "MatchingServerName": bool(keys and keys.matching_server_name),
        "FutureValidUntilTS": bool(keys and keys.future_valid_until_ts),
        "HasEd25519Key": bool(keys and keys.has_ed25519_key),
        "AllEd25519ChecksOK": bool(keys and keys.all_ed25519_checks_ok),
        "Ed25519Checks": {
            check.key_id: {
                "ValidEd25519": check.valid_key,
                "MatchingSignature": check.matching_signature,
            }
            for check in ed25519
        },
        "ValidCertificates": tls.verified,
    }
    return {
        "Certificates": [_certificate(tls.certificate)] if tls.certificate else [],
        "Cipher": {
            "Version": _TLS_VERSIONS.get(tls.version or "", tls.version or ""),
            "CipherSuite": tls.cipher or "",
        },
        "Checks": checks,
        "Errors": [_message(text) for text in _endpoint_errors(endpoint)],
        "Ed25519VerifyKeys": {check.key_id: check.key for check in ed25519},
        "Keys": endpoint.keys_document,
        "Info": {},
    }


def _endpoint_errors(endpoint: EndpointReport) -> list[str]:
    probe = endpoint.probe
    found: list[str] = []
    if probe.tls is not None and not probe.tls.verified and probe.tls.verify_error:
        found.append(probe.tls.verify_error)
    if endpoint.server is None:
        found.append("GET /_matrix/federation/v1/version gave no valid answer")
    if endpoint.keys is not None:
        found.extend(problem.message for problem in endpoint.keys.problems)
    elif probe.keys is None or probe.keys.status != 200:
        found.append("GET /_matrix/key/v2/server gave no answer")
    return found


def _certificate(info: CertificateInfo) -> dict[str, Any]:
    fingerprint = bytes.fromhex(info.sha256.replace(":", ""))
    return {
        "SubjectCommonName": _common_name(info.subject),
        "IssuerCommonName": _common_name(info.issuer),
        # Go's Base64String: standard alphabet, no padding.
        "SHA256Fingerprint": base64.b64encode(fingerprint).decode("ascii").rstrip("="),
        "DNSNames": list(info.dns_names),
    }


def _common_name(rfc4514: str) -> str:
    """The CN of an RFC 4514 name such as ``CN=example.org,O=Example``, or ``""``."""
    for part in _rdns(rfc4514):
        key, _, value = part.partition("=")
        if key.strip().upper() == "CN":
            return value.replace("\\", "")
    return ""


def _rdns(rfc4514: str) -> list[str]:
    """Split at unescaped commas and plus signs."""
    parts, current, escaped = [], [], False
    for char in rfc4514:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",+":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


# --- version ------------------------------------------------------------------------------


def _version(endpoints: tuple[EndpointReport, ...]) -> dict[str, str]:
    for endpoint in endpoints:
        if endpoint.server is not None:
            name, version = endpoint.server.get("name"), endpoint.server.get("version")
            return {"name": _text(name), "version": _text(version)}
    if not endpoints:
        return {"error": "no endpoint to ask"}
    return {"error": "no endpoint gave a valid /_matrix/federation/v1/version answer"}


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else json.dumps(value)
