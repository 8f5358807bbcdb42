"""A sandbox of real loopback servers: DNS, HTTPS hosts and their CA.

Used by the ``demo`` command, the integration tests and the benchmarks.
Everything binds to loopback addresses only and talks to nothing else.
"""

from __future__ import annotations

from .addresses import free_loopback_address, loopback_addresses
from .dns_server import DnsServer, Zone
from .tls import SandboxCA
from .web import Reply, WebHost

__all__ = [
    "DnsServer",
    "Reply",
    "SandboxCA",
    "WebHost",
    "Zone",
    "free_loopback_address",
    "loopback_addresses",
]
