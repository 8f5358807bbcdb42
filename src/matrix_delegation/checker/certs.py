"""Certificates as an admin needs to see them: read at the network edge, judged here."""

from __future__ import annotations

from .._io.certs import CertificateInfo, describe_certificate

__all__ = ["CertificateInfo", "describe_certificate"]
