"""HTTPS for the service: one certificate per domain, chosen by SNI."""

from __future__ import annotations

import ssl

from .._core.site import Site
from .._core.site_config import SiteConfigError

__all__ = ["server_context"]


def server_context(site: Site) -> ssl.SSLContext:
    """A server context that presents each domain's own certificate (SNI).

    A client without SNI gets the first domain's certificate.

    Raises:
        SiteConfigError: A domain has no certificate, or one cannot be loaded.
    """
    contexts: dict[str, ssl.SSLContext] = {}
    problems: list[str] = []
    for domain in site.domains:
        if domain.certificate is None or domain.private_key is None:
            problems.append(f"domain {domain.server_name}: tls: --tls needs a certificate and key")
            continue
        try:
            contexts[domain.hostname] = _load(domain.certificate, domain.private_key)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
            problems.append(
                f"domain {domain.server_name}: tls: cannot load {domain.certificate}: {reason}"
            )
    if problems:
        raise SiteConfigError(problems)
    first = site.domains[0]
    assert first.certificate is not None and first.private_key is not None
    default = _load(first.certificate, first.private_key)

    def pick(connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        chosen = contexts.get(server_name.lower()) if server_name else None
        if chosen is not None:
            connection.context = chosen

    default.sni_callback = pick
    return default


def _load(certificate: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    return context
