"""The one exception tree of matrix_delegation.

::

    DelegationError
    ├── InvalidServerName (also ValueError)    not a server name by the spec grammar; permanent
    ├── ConfigurationError (also ValueError)   a bad option: nameserver, --connect-to, CA file, CIDR
    └── DiscoveryError                         discovery ran and found no usable endpoint
        │                                      (.resolution holds the route and trace so far)
        ├── DnsLookupError                     SERVFAIL, REFUSED, timeout, no nameserver; temporary
        ├── ServiceUnavailable                 the sole SRV target is "." (RFC 2782); permanent
        ├── NoAddress                          the targets have no A/AAAA records
        ├── BlockedAddress                     every address found is in the IP blocklist
        └── InvalidWellKnown                   an implementation stricter than the spec
                                               stopped at an invalid .well-known (docs/peers.md)

Facts about a remote server that do not stop discovery (a 404 ``.well-known``,
invalid JSON, a bad certificate on the ``.well-known`` host) are not exceptions:
they are values in :class:`~matrix_delegation.Resolution` and its trace.
Exceptions of dnspython and aiohttp never leave this package.
The three classes that need no model live in ``_base_errors.py`` (re-exported here),
so that the name grammar can raise :class:`InvalidServerName` without an import circle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ._base_errors import ConfigurationError, DelegationError, InvalidServerName
from ._core.failures import FailureCode

if TYPE_CHECKING:
    from ._core.model import Resolution

__all__ = [
    "BlockedAddress",
    "ConfigurationError",
    "DelegationError",
    "DiscoveryError",
    "DnsLookupError",
    "InvalidServerName",
    "InvalidWellKnown",
    "NoAddress",
    "ServiceUnavailable",
]


class DiscoveryError(DelegationError):
    """Discovery finished without an endpoint to connect to.

    Attributes:
        code: A stable, documented error code (``dns-error``, ...).
        temporary: Whether trying again later may succeed.
        resolution: What discovery found before it failed: the route, the
            Host header and TLS name when known, the ``.well-known`` result,
            the SRV answers and the trace. Filled in by the resolver.
    """

    code: ClassVar[str] = "discovery-error"  # each subclass: its FailureCode
    temporary: ClassVar[bool] = False

    def __init__(self, message: str, *, resolution: Resolution | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.resolution = resolution


class DnsLookupError(DiscoveryError):
    """A DNS query failed (not "no such record"): SERVFAIL, REFUSED, timeout."""

    code = FailureCode.DNS_ERROR
    temporary = True


class ServiceUnavailable(DiscoveryError):
    """The only SRV record has the target ``.``: no federation here (RFC 2782)."""

    code = FailureCode.SERVICE_UNAVAILABLE


class NoAddress(DiscoveryError):
    """No target of the chosen route has an IPv4 or IPv6 address."""

    code = FailureCode.NO_ADDRESS


class BlockedAddress(DiscoveryError):
    """Every target that has addresses has one in the IP blocklist."""

    code = FailureCode.BLOCKED_ADDRESS


class InvalidWellKnown(DiscoveryError):
    """An invalid ``m.server`` ended discovery, as some implementations do (never the spec)."""

    code = FailureCode.INVALID_WELL_KNOWN
