"""TLS client contexts: the system trust store, or a CA bundle that replaces it."""

from __future__ import annotations

import ssl

from .._exceptions import ConfigurationError

__all__ = ["client_context"]


def client_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying client context; ``ca_file`` (PEM) replaces the system trust store."""
    if ca_file is None:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigurationError(f"cannot use CA file {ca_file!r}: {reason}") from None
    return context
