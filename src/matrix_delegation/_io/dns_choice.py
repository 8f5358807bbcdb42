"""Which DNS backend a resolver uses: c-ares when it is installed, else dnspython."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final

from .._exceptions import ConfigurationError
from .dns import DnsBackend, DnspythonBackend

__all__ = ["DNS_BACKENDS", "DNS_BACKEND_ENV", "default_dns_backend", "make_dns_backend"]

DNS_BACKENDS: Final = ("c-ares", "dnspython")
# Overrides the default choice (not an explicit one): lets a test run or a
# deployment pick a backend without a code change.
DNS_BACKEND_ENV: Final = "MATRIX_DELEGATION_DNS_BACKEND"


def default_dns_backend() -> str:
    """The environment's choice, else c-ares when importable, else dnspython."""
    chosen = os.environ.get(DNS_BACKEND_ENV, "").strip()
    if chosen:
        return chosen
    try:
        import pycares  # noqa: F401
    except ImportError:
        return "dnspython"
    return "c-ares"


def make_dns_backend(name: str | None, nameservers: Sequence[str], *, timeout: float) -> DnsBackend:
    """The named backend (the default one for None) on ``nameservers``."""
    chosen = name or default_dns_backend()
    if chosen == "dnspython":
        return DnspythonBackend(nameservers, timeout=timeout)
    if chosen != "c-ares":
        raise ConfigurationError(
            f"unknown DNS backend {chosen!r}: expected one of {', '.join(DNS_BACKENDS)}"
        )
    try:
        from .dns_cares import CaresBackend
    except ImportError:
        raise ConfigurationError(
            "the c-ares DNS backend needs pycares: install it or use --dns-backend dnspython"
        ) from None
    return CaresBackend(nameservers, timeout=timeout)
