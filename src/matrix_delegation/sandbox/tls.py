"""A throwaway certificate authority for the sandbox's HTTPS hosts."""

from __future__ import annotations

import datetime as dt
import os
import ssl
from pathlib import Path

import trustme

__all__ = ["SandboxCA"]

_Key = tuple[str, tuple[str, ...], bool]


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

    def server_context(self, *names: str, expired: bool = False) -> ssl.SSLContext:
        """A server-side context whose certificate this CA signed.

        Args:
            *names: DNS names and/or IP addresses for the certificate's SANs.
            expired: Issue a certificate whose validity ended yesterday.

        Returns:
            A context ready for a TLS server socket.
        """
        key = ("ca", names, expired)
        context = self._contexts.get(key)
        if context is None:
            not_before = not_after = None
            if expired:
                now = dt.datetime.now(dt.UTC)
                not_before, not_after = now - dt.timedelta(days=30), now - dt.timedelta(days=1)
            cert = self._ca.issue_cert(
                *names, not_before=not_before, not_after=not_after, key_type=trustme.KeyType.ECDSA
            )
            context = self._contexts[key] = _server_context(cert)
        return context

    def self_signed_context(self, *names: str) -> ssl.SSLContext:
        """A server-side context whose certificate this CA did *not* sign.

        The certificate comes from a second, untrusted CA: clients trusting
        only this one must reject it.
        """
        key = ("rogue", names, False)
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


def _server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    """Wrap a leaf certificate into a server context."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    return context
