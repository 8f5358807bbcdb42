"""Which IP addresses discovery may connect to.

By default the same ranges as Synapse's ``ip_range_blacklist`` (SPEC-NOTES 5.7):
loopback, private, link-local, shared, documentation, benchmarking and
multicast space, plus ``0.0.0.0`` and ``::``, and for every IPv4 range its
IPv4-compatible, IPv4-mapped and 6to4 IPv6 forms. An allowlist on top lets an
operator (or a test on loopback) through.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from .._exceptions import ConfigurationError

__all__ = ["DEFAULT_IP_BLOCKLIST", "IpNetwork", "IpPolicy", "parse_network"]

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_IP_BLOCKLIST: tuple[str, ...] = (
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "192.0.0.0/24",
    "169.254.0.0/16",
    "192.88.99.0/24",
    "198.18.0.0/15",
    "192.0.2.0/24",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "::1/128",
    "fe80::/10",
    "fc00::/7",
    "2001:db8::/32",
    "ff00::/8",
    "fec0::/10",
)

# Synapse always blocks the unspecified addresses, whatever the configuration.
_ALWAYS_BLOCKED = ("0.0.0.0/32", "::/128")


def parse_network(text: str) -> IpNetwork:
    """Parse a CIDR range (``10.0.0.0/8``, ``::1``) or raise ConfigurationError."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ConfigurationError(f"invalid IP range {text!r}: {exc}") from None


def _ipv6_forms(network: ipaddress.IPv4Network) -> list[ipaddress.IPv6Network]:
    """The IPv6 spellings of an IPv4 range that also reach it."""
    base, bits = int(network.network_address), network.prefixlen
    return [
        ipaddress.IPv6Network((base, 96 + bits)),  # IPv4-compatible ::a.b.c.d
        ipaddress.IPv6Network((0xFFFF << 32 | base, 96 + bits)),  # IPv4-mapped
        ipaddress.IPv6Network((0x2002 << 112 | base << 80, 16 + bits)),  # 6to4
    ]


def _expand(networks: Iterable[IpNetwork]) -> tuple[IpNetwork, ...]:
    expanded: list[IpNetwork] = []
    for network in networks:
        expanded.append(network)
        if isinstance(network, ipaddress.IPv4Network):
            expanded.extend(_ipv6_forms(network))
    return tuple(expanded)


@dataclass(frozen=True, slots=True)
class IpPolicy:
    """A blocklist with an allowlist on top: blocked = in blocklist and not allowed."""

    blocklist: tuple[IpNetwork, ...]
    allowlist: tuple[IpNetwork, ...] = ()

    @classmethod
    def default(cls, allow: Iterable[str] = ()) -> IpPolicy:
        """Synapse's default blocklist, with the given CIDR ranges allowed."""
        return cls.build(DEFAULT_IP_BLOCKLIST, allow)

    @classmethod
    def build(cls, block: Iterable[str], allow: Iterable[str] = ()) -> IpPolicy:
        """A policy from CIDR strings; unspecified addresses are always blocked."""
        blocked = [parse_network(text) for text in (*block, *_ALWAYS_BLOCKED)]
        allowed = [parse_network(text) for text in allow]
        return cls(_expand(blocked), _expand(allowed))

    @classmethod
    def allow_all(cls) -> IpPolicy:
        """A policy that blocks nothing (for trusted, internal use only)."""
        return cls(())

    def blocked_by(self, ip: str | IpAddress) -> IpNetwork | None:
        """The blocklist range that blocks this address, or None if it may be used."""
        address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        blocking = next((net for net in self.blocklist if address in net), None)
        if blocking is None or any(address in net for net in self.allowlist):
            return None
        return blocking
