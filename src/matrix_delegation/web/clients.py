"""Who a request comes from, for the per-client limits.

* :func:`client_address`: the peer's address, or, when the peer is one of the
  operator's trusted reverse proxies, the address that proxy saw
  (``X-Forwarded-For``).
* :func:`client_key`: the key the limits count by: an IPv4 address, or the
  IPv6 /56 around an address.

Why /56 for IPv6: an ISP hands each customer a whole prefix, usually a /56
(often a /48, rarely a /64 or /60), and every address inside it is the same
customer's to use. Counting /64s would give one customer 256 or more
buckets; a /56 gives a typical customer one, and a /48 customer 256 rather
than 65,536. Larger groups would start to put unrelated customers of one
ISP into one bucket.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from .._core.ipfilter import IpNetwork

__all__ = ["IPV6_CLIENT_PREFIX", "TrustedProxies", "client_address", "client_key"]

IPV6_CLIENT_PREFIX = 56
#: Addresses read from ``X-Forwarded-For`` at most (right to left): a chain of
#: proxies longer than this is a misconfiguration or a forgery.
MAX_FORWARDED_HOPS = 16

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
TrustedProxies = Sequence[IpNetwork]


def parse_address(text: str) -> IpAddress | None:
    """An address as an IPv4 or IPv6 address (IPv4-mapped IPv6 as IPv4); ``None`` if not one."""
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_key(remote: str | None) -> str:
    """The rate-limit key of a client: its IPv4 address, or its IPv6 /56."""
    if not remote:
        return "unknown"
    address = parse_address(remote)
    if address is None:
        return remote
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


def _trusted(address: IpAddress, trusted: TrustedProxies) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: TrustedProxies
) -> str | None:
    """The address of the client behind ``peer``.

    ``X-Forwarded-For`` is read only when the peer is a trusted proxy. Each
    proxy appends the address it saw, so the list is read from the right: the
    first address that is not itself a trusted proxy is the client's. What is
    left of it was written by the client and is never read. When the header
    is missing, unreadable where it matters, or longer than
    :data:`MAX_FORWARDED_HOPS`, the peer is the client.

    Args:
        peer: The address of the TCP peer.
        forwarded_for: The values of every ``X-Forwarded-For`` header, in order.
        trusted: The networks of the reverse proxies whose header is believed.
    """
    if peer is None or not trusted:
        return peer
    peer_address = parse_address(peer)
    if peer_address is None or not _trusted(peer_address, trusted):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    found = peer_address
    for hop in reversed(hops[-MAX_FORWARDED_HOPS:]):
        address = parse_address(hop)
        if address is None:
            return peer  # a trusted proxy wrote something we cannot read
        found = address
        if not _trusted(address, trusted):
            return str(address)
    if len(hops) > MAX_FORWARDED_HOPS:
        return peer
    return str(found)  # every hop is a trusted proxy: the left-most is the origin
