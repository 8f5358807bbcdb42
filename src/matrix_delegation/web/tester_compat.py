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

from .._core.model import HostAddresses, Resolution, SrvLookup, SrvRecord
from .._core.names import ServerName
from .._exceptions import InvalidServerName
from .._io.certs import CertificateInfo
from .._io.probe import KEYS_PATH, VERSION_PATH
from ..checker.check import EndpointReport, Report
from ..checker.keys_model import KEYS_NOT_JSON, KeyReport

__all__ = ["tester_report", "unchecked_report"]

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
        refused = _connection_error(endpoint)
        if refused is None:
            reports[address] = _connection_report(endpoint)
        else:
            errors[address] = _message(refused)
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
    if failure:
        document["Error"] = failure
    return document


def unchecked_report(error: str) -> dict[str, Any]:
    """The answer when no check was made: an invalid name, or a refusal (``Error`` says why).

    It is what the tester answers for an invalid name: every part at its zero
    value, ``FederationOK`` false, so a client that reads a report reads this too.
    """
    return {
        "WellKnownResult": _well_known(None),
        "DNSResult": _dns(None),
        "ConnectionReports": {},
        "ConnectionErrors": {},
        "Version": {},
        "FederationOK": False,
        "Problems": [],
        "Error": error,
    }


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


def _list_or_null(items: list[Any]) -> list[Any] | None:
    """An empty list as ``null``: Go writes a slice that was never appended to so."""
    return items or None


# --- .well-known and DNS ------------------------------------------------------------------


def _well_known(resolution: Resolution | None) -> dict[str, Any]:
    """``m.server`` and its expiry when delegation was taken; else ``result`` says why not."""
    document: dict[str, Any] = {"m.server": "", "CacheExpiresAt": 0}
    if resolution is None:
        return document
    result = resolution.well_known
    if result is None:
        document["result"] = "no .well-known lookup: the server name is an IP address or has a port"
    elif result.delegated_server is None:
        document["result"] = result.error or "no usable m.server"
    else:
        document["m.server"] = str(result.delegated_server)
        document["CacheExpiresAt"] = int(result.expires_at or 0)
    return document


def _dns(resolution: Resolution | None) -> dict[str, Any]:
    """The tester's DNSResult; all zero (``Hosts`` null) when discovery did not run."""
    if resolution is None:
        return {
            "SRVSkipped": False,
            "SRVCName": "",
            "SRVRecords": None,
            "SRVError": None,
            "Hosts": None,
            "Addrs": None,
        }
    skipped = _explicit_port(resolution)
    used = next((lookup for lookup in resolution.srv if lookup.records), None)
    hosts: dict[str, Any] = {}
    for entry in resolution.trace:
        answer = entry.answer
        # A name without addresses and without a DNS failure does not exist (or has no
        # A/AAAA): the tester's CNAME lookup fails there, and it leaves the host out.
        if isinstance(answer, HostAddresses) and (answer.addresses or answer.error):
            hosts[answer.host] = _host(answer)
    return {
        "SRVSkipped": skipped,
        "SRVCName": f"{used.name}." if used is not None else "",
        "SRVRecords": None if used is None else [_srv_record(r) for r in used.records] or None,
        "SRVError": None if skipped else _srv_error(resolution.srv, used),
        "Hosts": hosts,
        "Addrs": _list_or_null([_join(e.ip, e.port) for e in resolution.endpoints]),
    }


def _explicit_port(resolution: Resolution) -> bool:
    """Whether the name SRV would be looked up for (the delegated one, if any) has a port."""
    well_known = resolution.well_known
    if well_known is not None and well_known.delegated_server is not None:
        return well_known.delegated_server.port is not None
    try:
        return ServerName.parse(resolution.server_name).port is not None
    except InvalidServerName:
        return False


def _srv_record(record: SrvRecord) -> dict[str, Any]:
    target = record.target if record.target.endswith(".") else f"{record.target}."
    return {
        "Target": target,
        "Port": record.port,
        "Priority": record.priority,
        "Weight": record.weight,
    }


def _srv_error(lookups: tuple[SrvLookup, ...], used: SrvLookup | None) -> dict[str, str] | None:
    """Why SRV gave nothing, as Go's failed LookupSRV does: a DNS failure, or no record."""
    if used is not None or not lookups:
        return None
    failed = next((lookup.error for lookup in lookups if lookup.error), None)
    if failed:
        return _message(failed)
    names = " or ".join(lookup.name for lookup in lookups)
    return _message(f"no SRV record at {names}")


def _host(answer: HostAddresses) -> dict[str, Any]:
    return {
        "CName": f"{answer.canonical or answer.host}.",
        "Aliases": list(answer.aliases),
        "Addrs": _list_or_null(list(answer.addresses)),
        "Error": _message(answer.error) if answer.error else None,
    }


# --- connections --------------------------------------------------------------------------


def _connection_error(endpoint: EndpointReport) -> str | None:
    """Why the tester would list this endpoint under ``ConnectionErrors``, or None.

    The tester's connection report needs a TLS session (trusted or not) and a
    200 answer to the key request whose body is a JSON object; anything short
    of that is a connection error.
    """
    probe = endpoint.probe
    tls = probe.tls
    if tls is None or not (tls.verified or tls.certificate is not None):
        return probe.error or (tls.verify_error if tls is not None else None) or "no connection"
    answer = probe.keys
    if answer is None or answer.status is None:
        reason = answer.error if answer is not None else probe.error
        return f"GET {KEYS_PATH} gave no answer" + (f": {reason}" if reason else "")
    if answer.status != 200:
        return f"GET {KEYS_PATH} answered {answer.status}, not 200"
    keys = endpoint.keys
    not_json = (
        None
        if keys is None
        else next((found.message for found in keys.problems if found.code == KEYS_NOT_JSON), None)
    )
    if keys is None or not_json is not None:
        return f"GET {KEYS_PATH}: {not_json or 'the body is not a JSON object'}"
    return None


def _connection_report(endpoint: EndpointReport) -> dict[str, Any]:
    probe = endpoint.probe
    tls = probe.tls
    keys = endpoint.keys
    assert tls is not None and keys is not None  # see _connection_error
    ed25519 = keys.ed25519_checks
    checks = {
        "AllChecksOK": endpoint.ok,
        "MatchingServerName": keys.matching_server_name,
        "FutureValidUntilTS": keys.future_valid_until_ts,
        "HasEd25519Key": keys.has_ed25519_key,
        # The tester writes null here when there is no ed25519 key; its own page then
        # fails on Object.keys(null), so this stays a boolean (docs/web-api.md).
        "AllEd25519ChecksOK": keys.all_ed25519_checks_ok,
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
        "Certificates": [_certificate(tls.certificate)] if tls.certificate else None,
        "Cipher": {
            "Version": _TLS_VERSIONS.get(tls.version or "", tls.version or ""),
            "CipherSuite": tls.cipher or "",
        },
        "Checks": checks,
        "Errors": [_message(text) for text in _endpoint_errors(endpoint)],
        "Ed25519VerifyKeys": _verify_keys(keys),
        "Keys": endpoint.keys_document,
        "Info": {},
    }


def _verify_keys(keys: KeyReport) -> dict[str, str] | None:
    """The keys that signed the response, as the tester lists them: null unless all checks pass."""
    passed = (
        keys.matching_server_name
        and keys.future_valid_until_ts
        and keys.has_ed25519_key
        and keys.all_ed25519_checks_ok
    )
    if not passed:
        return None
    return {check.key_id: check.key for check in keys.ed25519_checks if check.matching_signature}


def _endpoint_errors(endpoint: EndpointReport) -> list[str]:
    probe = endpoint.probe
    found: list[str] = []
    if probe.tls is not None and not probe.tls.verified and probe.tls.verify_error:
        found.append(probe.tls.verify_error)
    if endpoint.server is None:
        found.append(f"GET {VERSION_PATH} gave no valid answer")
    if endpoint.keys is not None:
        found.extend(problem.message for problem in endpoint.keys.problems)
    return found


def _certificate(info: CertificateInfo) -> dict[str, Any]:
    fingerprint = bytes.fromhex(info.sha256.replace(":", ""))
    return {
        "SubjectCommonName": _common_name(info.subject),
        "IssuerCommonName": _common_name(info.issuer),
        # Go's Base64String: standard alphabet, no padding.
        "SHA256Fingerprint": base64.b64encode(fingerprint).decode("ascii").rstrip("="),
        "DNSNames": _list_or_null(list(info.dns_names)),
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
    """The first valid version answer; ``name`` and ``version`` left out when empty, as Go does."""
    for endpoint in endpoints:
        if endpoint.server is not None:
            fields = {key: _text(endpoint.server.get(key)) for key in ("name", "version")}
            return {key: value for key, value in fields.items() if value}
    if not endpoints:
        return {"error": "no endpoint to ask"}
    return {"error": f"no endpoint gave a valid {VERSION_PATH} answer"}


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else json.dumps(value)
