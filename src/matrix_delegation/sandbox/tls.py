"""A throwaway certificate authority for the sandbox's HTTPS hosts."""

from __future__ import annotations

import datetime as dt
import os
import ssl
import tempfile
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID

__all__ = ["SandboxCA"]

_Key = tuple[str, tuple[str, ...], bool, int | None]


class SandboxCA:
    """A private CA minting server certificates for loopback hosts.

    Keys are ECDSA because the benchmark opens thousands of TLS
    connections and ECDSA handshakes are much cheaper than RSA ones.
    Server contexts are cached, so asking twice for the same names costs
    nothing.
    """

    def __init__(self) -> None:
        """Create a fresh CA (its key never leaves the process)."""
        self._ca = trustme.CA(key_type=trustme.KeyType.ECDSA)
        self._rogue: trustme.CA | None = None
        self._contexts: dict[_Key, ssl.SSLContext] = {}

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate in PEM form."""
        return self._ca.cert_pem.bytes()

    def write_ca_pem(self, path: str | os.PathLike[str]) -> Path:
        """Write the CA certificate as PEM to ``path`` and return the path."""
        target = Path(path)
        target.write_bytes(self.ca_pem)
        return target

    def server_context(
        self, *names: str, expired: bool = False, days_left: int | None = None
    ) -> ssl.SSLContext:
        """A server-side context whose certificate this CA signed.

        Args:
            *names: DNS names and/or IP addresses for the certificate's SANs.
            expired: Issue a certificate whose validity ended yesterday.
            days_left: Issue a certificate that expires in that many days.

        Returns:
            A context ready for a TLS server socket.
        """
        key = ("ca", names, expired, days_left)
        context = self._contexts.get(key)
        if context is None:
            not_before = not_after = None
            now = dt.datetime.now(dt.UTC)
            if expired:
                not_before, not_after = now - dt.timedelta(days=30), now - dt.timedelta(days=1)
            elif days_left is not None:
                not_before = now - dt.timedelta(days=30)
                not_after = now + dt.timedelta(days=days_left, hours=12)
            cert = self._ca.issue_cert(
                *names, not_before=not_before, not_after=not_after, key_type=trustme.KeyType.ECDSA
            )
            context = self._contexts[key] = _server_context(cert)
        return context

    def self_signed_context(self, *names: str, malformed_san: bool = False) -> ssl.SSLContext:
        """A server-side context whose certificate signed itself (no CA at all).

        With ``malformed_san`` the subjectAltName extension holds bytes that are
        not valid DER, as a hostile server might send.
        """
        key = ("malformed" if malformed_san else "self", names, False, None)
        context = self._contexts.get(key)
        if context is None:
            certificate, private_key = _self_signed(names, malformed_san)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            with tempfile.TemporaryDirectory() as folder:
                cert_path, key_path = Path(folder, "cert.pem"), Path(folder, "key.pem")
                cert_path.write_bytes(certificate)
                key_path.write_bytes(private_key)
                context.load_cert_chain(cert_path, key_path)
            self._contexts[key] = context
        return context

    def untrusted_context(self, *names: str) -> ssl.SSLContext:
        """A server-side context whose certificate this CA did *not* sign.

        The certificate comes from a second, untrusted CA: clients trusting
        only this one must reject it (as for a missing intermediate).
        """
        key = ("rogue", names, False, None)
        context = self._contexts.get(key)
        if context is None:
            if self._rogue is None:
                self._rogue = trustme.CA(key_type=trustme.KeyType.ECDSA)
            cert = self._rogue.issue_cert(*names, key_type=trustme.KeyType.ECDSA)
            context = self._contexts[key] = _server_context(cert)
        return context

    def issue_files(self, name: str, directory: str | os.PathLike[str]) -> dict[str, str]:
        """Write a certificate chain and key for ``name`` as PEM files.

        Returns:
            ``{"certificate": path, "key": path}``, the shape of a domain's
            ``tls`` entry in a site configuration.
        """
        cert = self._ca.issue_cert(name, key_type=trustme.KeyType.ECDSA)
        folder = Path(directory)
        chain, key = folder / f"{name}.pem", folder / f"{name}.key"
        chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
        key.write_bytes(cert.private_key_pem.bytes())
        return {"certificate": str(chain), "key": str(key)}

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting this CA only, with hostname checks on."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._ca.configure_trust(context)
        return context

    def renew(self, *names: str) -> None:
        """A renewal: issue a new certificate into the context of ``names``, so that a
        host serving with it presents the new one from its next handshake on."""
        context = self.server_context(*names)
        cert = self._ca.issue_cert(*names, key_type=trustme.KeyType.ECDSA)
        cert.configure_cert(context)


def _server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    """Wrap a leaf certificate into a server context."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    return context


def _self_signed(names: tuple[str, ...], malformed_san: bool) -> tuple[bytes, bytes]:
    """PEM certificate and key of a leaf that is its own issuer."""
    san: x509.ExtensionType = x509.SubjectAlternativeName([x509.DNSName(n) for n in names])
    if malformed_san:
        # The first name, but with a long-form length where DER demands the short
        # form: OpenSSL serves it, strict DER parsers (cryptography's) refuse it.
        name = names[0].encode("ascii")
        general_name = b"\x82" + bytes([len(name)]) + name
        ber = b"\x30\x81" + bytes([len(general_name)]) + general_name
        san = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ber)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(san, False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem
