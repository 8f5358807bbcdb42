"""The stable codes of a discovery that found no endpoint, in one place.

The :class:`~._core.model.Failure` of a resolution carries one, each
:class:`~matrix_delegation.DiscoveryError` subclass names one, and the checker
reports it as a problem code: a ``StrEnum``, so it compares and serialises as
its text (``"dns-error"``).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FailureCode"]


class FailureCode(StrEnum):
    """Why discovery found no endpoint to connect to."""

    DNS_ERROR = "dns-error"  # SERVFAIL, REFUSED, timeout: may go away by itself
    SERVICE_UNAVAILABLE = "service-unavailable"  # the sole SRV target is "." (RFC 2782)
    NO_ADDRESS = "no-address"  # no target has an A or AAAA record
    BLOCKED_ADDRESS = "blocked-address"  # every address found is in the IP blocklist
    # .well-known made discovery stop: only implementations stricter than the spec do
    # that (an invalid m.server), see docs/peers.md; the spec goes on to SRV instead.
    INVALID_WELL_KNOWN = "invalid-well-known"

    @property
    def message(self) -> str:
        """What the code means when no more precise message applies."""
        return _MESSAGES[self]


_MESSAGES = {
    FailureCode.DNS_ERROR: "the address lookup failed",
    FailureCode.SERVICE_UNAVAILABLE: 'the sole SRV target is "."',
    FailureCode.NO_ADDRESS: "no target has an IPv4 or IPv6 address",
    FailureCode.BLOCKED_ADDRESS: "every address found is in the IP blocklist",
    FailureCode.INVALID_WELL_KNOWN: "the .well-known file is invalid",
}
