"""Which IP addresses discovery may connect to.

By default the ranges of Synapse's ``ip_range_blacklist`` (loopback, private,
link-local, shared, documentation, benchmarking and multicast space), plus
"this network" ``0.0.0.0/8``, the reserved ``240.0.0.0/4`` (broadcast
included), ``::``, local-use NAT64 ``64:ff9b:1::/48`` and Teredo
``2001::/32`` (a Teredo address carries an IPv4 address a relay reaches on
our behalf). Every blocked IPv4 range is also blocked in its IPv6 spellings
that reach it: IPv4-compatible ``::a.b.c.d``, IPv4-mapped
``::ffff:a.b.c.d``, 6to4 ``2002:AABB:CCDD::/48`` and well-known-prefix NAT64
``64:ff9b::a.b.c.d`` (so ``64:ff9b::7f00:1`` is loopback, while the NAT64
form of a public address stays usable). An allowlist on top lets an operator
(or a test on loopback) through. The checks run at every connect, in
``_io/connect.py``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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
    "0.0.0.0/8",  # "this network" (RFC 1122); 0.0.0.0 itself reaches the local host
    "240.0.0.0/4",  # reserved, and 255.255.255.255 (broadcast)
    "::1/128",
    "fe80::/10",
    "fc00::/7",
    "2001:db8::/32",
    "ff00::/8",
    "fec0::/10",
    "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215): translates to private networks
    "2001::/32",  # Teredo: the IPv4 server and client are inside the address
)

# Synapse always blocks the unspecified addresses, whatever the configuration.
_ALWAYS_BLOCKED = ("0.0.0.0/32", "::/128")

# The well-known NAT64 prefix (RFC 6052): 64:ff9b::a.b.c.d is translated to a.b.c.d.
_NAT64 = 0x64FF9B << 96


def parse_network(text: str) -> IpNetwork:
    """Parse a CIDR range (``10.0.0.0/8``, ``::1``) or raise ConfigurationError."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ConfigurationError(f"invalid IP range {text!r}: {exc}") from None


def _ipv6_forms(network: ipaddress.IPv4Network) -> list[tuple[ipaddress.IPv6Network, str]]:
    """The IPv6 spellings of an IPv4 range that also reach it, each with its name."""
    base, bits = int(network.network_address), network.prefixlen
    return [
        (ipaddress.IPv6Network((base, 96 + bits)), "IPv4-compatible"),  # ::a.b.c.d
        (ipaddress.IPv6Network((0xFFFF << 32 | base, 96 + bits)), "IPv4-mapped"),
        (ipaddress.IPv6Network((0x2002 << 112 | base << 80, 16 + bits)), "6to4"),
        (ipaddress.IPv6Network((_NAT64 | base, 96 + bits)), "NAT64"),
    ]


def _expand(networks: Iterable[IpNetwork]) -> tuple[tuple[IpNetwork, ...], dict[IpNetwork, str]]:
    """The ranges with the IPv6 forms of the IPv4 ones, and what each form stands for."""
    given = list(networks)
    expanded: list[IpNetwork] = list(given)
    origins: dict[IpNetwork, str] = {}
    for network in given:
        if isinstance(network, ipaddress.IPv4Network):
            for form, name in _ipv6_forms(network):
                expanded.append(form)
                if form not in given:  # ::/128 is itself, not 0.0.0.0 in disguise
                    origins[form] = f"{form} ({network} in {name} form)"
    return tuple(expanded), origins


@dataclass(frozen=True, slots=True)
class IpPolicy:
    """A blocklist with an allowlist on top: blocked = in blocklist and not allowed."""

    blocklist: tuple[IpNetwork, ...]
    allowlist: tuple[IpNetwork, ...] = ()
    #: How to name a derived IPv6 range in a message: ``::ffff:7f00:0/104 (127.0.0.0/8 ...)``.
    origins: Mapping[IpNetwork, str] = field(default_factory=dict, compare=False)

    @classmethod
    def default(cls, allow: Iterable[str] = ()) -> IpPolicy:
        """Synapse's default blocklist, with the given CIDR ranges allowed."""
        return cls.build(DEFAULT_IP_BLOCKLIST, allow)

    @classmethod
    def build(cls, block: Iterable[str], allow: Iterable[str] = ()) -> IpPolicy:
        """A policy from CIDR strings; unspecified addresses are always blocked."""
        blocked, origins = _expand(parse_network(text) for text in (*block, *_ALWAYS_BLOCKED))
        allowed, _ = _expand(parse_network(text) for text in allow)
        return cls(blocked, allowed, origins)

    @classmethod
    def allow_all(cls) -> IpPolicy:
        """A policy that blocks nothing (for trusted, internal use only)."""
        return cls(())

    def blocked_by(self, ip: str | IpAddress) -> IpNetwork | None:
        """The blocklist range that blocks this address, or None if it may be used.

        Of several ranges, the narrowest: ``::1`` is blocked as ``::1/128``, not
        as the IPv4-compatible form of ``0.0.0.0/8``.
        """
        address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        blocking = [net for net in self.blocklist if address in net]
        if not blocking or any(address in net for net in self.allowlist):
            return None
        return max(blocking, key=lambda net: net.prefixlen)

    def describe(self, network: IpNetwork) -> str:
        """A blocked range for a message, with the IPv4 range an IPv6 form stands for."""
        return self.origins.get(network, str(network))

    def refusal(self, ip: str | IpAddress) -> str | None:
        """Why this address may not be used (``127.0.0.1 is in the blocked range ...``)."""
        network = self.blocked_by(ip)
        if network is None:
            return None
        return f"{ip} is in the blocked range {self.describe(network)}"
