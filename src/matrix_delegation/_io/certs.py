"""Certificates as an admin needs to see them, whether or not they were trusted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes

__all__ = ["CertificateInfo", "describe_certificate"]


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """The leaf certificate: who it names, who signed it, until when."""

    subject: str
    issuer: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_before: str  # ISO 8601, UTC
    not_after: str
    expires: float  # seconds since the epoch
    sha256: str  # colon-separated hex
    self_issued: bool
    #: Why the names could not be read (a malformed subjectAltName), else None.
    defect: str | None = None

    def days_left(self, now: float) -> int:
        """Whole days until expiry (negative once expired)."""
        return int((self.expires - now) // 86400)

    def covers(self, name: str) -> bool:
        """Whether the certificate names ``name`` (one wildcard label allowed, RFC 6125)."""
        wanted = name.lower().rstrip(".")
        if wanted in self.ip_addresses:
            return True
        for pattern in (n.lower() for n in self.dns_names):
            if pattern == wanted:
                return True
            wildcard = pattern.startswith("*.") and "." in wanted
            if wildcard and wanted.split(".", 1)[1] == pattern[2:]:
                return True
        return False


def describe_certificate(der: bytes) -> CertificateInfo | None:
    """Parse a DER certificate; None if it cannot be parsed at all."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    dns_names, ips, defect = _names(cert)
    after = cert.not_valid_after_utc
    return CertificateInfo(
        subject=_rfc4514(cert.subject),
        issuer=_rfc4514(cert.issuer),
        dns_names=dns_names,
        ip_addresses=ips,
        not_before=_iso(cert.not_valid_before_utc),
        not_after=_iso(after),
        expires=after.timestamp(),
        sha256=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        self_issued=cert.subject == cert.issuer,
        defect=defect,
    )


def _names(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    """DNS names and IP addresses of the subjectAltName, or why they cannot be read.

    ``cryptography`` parses extensions lazily and raises ValueError for malformed
    ones; a peer's certificate must not be able to crash the check.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = tuple(str(v) for v in san.get_values_for_type(x509.DNSName))
        ips = tuple(str(v) for v in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        return (), (), None
    except ValueError:
        return (), (), "its extensions (subjectAltName among them) are malformed and cannot be read"
    return dns_names, ips, None


def _rfc4514(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except ValueError:  # pragma: no cover - an attribute cryptography cannot render
        return "(unreadable name)"


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
