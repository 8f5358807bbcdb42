"""Where every outgoing connection is made: our DNS, ``--connect-to`` rules and the IP policy.

The IP policy is enforced in one place, :func:`checked_socket_factory`, on the
address a socket is about to connect to, whatever the URL said: a hostname,
an IPv4 or IPv6 literal, or an IPv4 address in an IPv6 form. Every socket is
connected here: the HTTPS GET's through :func:`connect_checked` (happy
eyeballs over a host's addresses), the probes' through
:func:`open_checked_connection`; both count it in the current
:mod:`.scope`. A URL's IP literal is never looked up, so the check cannot live
in the address lookup alone.

:func:`find_destination` answers from the discovery DNS (never the system
resolver), applies ``--connect-to`` (the caller keeps the original hostname
for SNI and the certificate check) and refuses a name with any blocked
address, as Synapse does: asked anew on every connection, so DNS rebinding
cannot slip past.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohappyeyeballs import AddrInfoType, SocketFactoryType, start_connection

from .._core.ipfilter import IpPolicy
from .._core.model import HostAddresses
from .._core.overrides import ConnectTo, apply_connect_to
from .._core.plan import Policy
from .scope import count_connection

__all__ = [
    "BlockedAddressError",
    "Destination",
    "NoAddressError",
    "checked_socket_factory",
    "connect_checked",
    "find_destination",
    "open_checked_connection",
]

AddressLookup = Callable[[str], Awaitable[HostAddresses]]


class BlockedAddressError(OSError):
    """The destination is in the IP blocklist; nothing was connected.

    Its text is the reason a report shows: ``refused: 127.0.0.1 is in the
    blocked range 127.0.0.0/8``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"refused: {reason}")


class NoAddressError(OSError):
    """The host has no usable address."""


def checked_socket_factory(policy: IpPolicy) -> SocketFactoryType:
    """A socket factory (aiohappyeyeballs') that refuses blocked destinations.

    It receives the ``getaddrinfo``-style tuple of the address about to be
    connected and raises :class:`BlockedAddressError` before any socket exists
    when the policy blocks it.
    """

    def make(addr_info: AddrInfoType) -> socket.socket:
        family, kind, proto, _, address = addr_info
        ip = str(address[0])
        try:
            refusal = policy.refusal(ip)
        except ValueError:
            # "127.1" or "2130706433": the OS would take it for 127.0.0.1.
            raise BlockedAddressError(f"{ip} is not an IP address in standard form") from None
        if refusal is not None:
            raise BlockedAddressError(refusal)
        return socket.socket(family, kind, proto)

    return make


async def open_checked_connection(
    ip: str, port: int, policy: IpPolicy
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` to an IP address, through the policy check.

    Raises:
        BlockedAddressError: the policy blocks ``ip``, or it is not an IP address.
        OSError: the connection failed.
    """
    v6 = ":" in ip
    family = socket.AF_INET6 if v6 else socket.AF_INET
    address = (ip, port, 0, 0) if v6 else (ip, port)
    # The factory refuses what is blocked, and anything but a standard IP address.
    sock = checked_socket_factory(policy)((family, socket.SOCK_STREAM, 0, "", address))
    try:
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, address)
        except OSError as exc:
            raise _plain(exc) from None
        count_connection()
        return await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise


def _plain(exc: OSError) -> OSError:
    """The error with the system's words for its errno: asyncio's text for a refused
    connect repeats the address as a Python tuple ("Connect call failed ('…', 443)")."""
    if exc.errno is None or isinstance(exc, BlockedAddressError):
        return exc
    return OSError(exc.errno, os.strerror(exc.errno))  # the errno picks the subclass


#: Happy eyeballs as aiohttp does it (RFC 8305): the next address after 0.25 s.
HAPPY_EYEBALLS_DELAY = 0.25


async def connect_checked(addresses: tuple[str, ...], port: int, policy: IpPolicy) -> socket.socket:
    """A socket connected to one of ``addresses`` (tried in turn, RFC 8305), each checked.

    Raises:
        BlockedAddressError: the policy blocks an address, or it is not an IP address.
        OSError: no connection could be made.
    """
    infos = [_addr_info(ip, port) for ip in addresses]
    try:
        sock = await start_connection(
            infos,
            happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY if len(infos) > 1 else None,
            interleave=1,
            socket_factory=checked_socket_factory(policy),
        )
    except OSError as exc:
        raise _plain(exc) from None
    count_connection()
    return sock


def _addr_info(ip: str, port: int) -> AddrInfoType:
    if ":" in ip:
        return (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port))


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a connection to ``host:port`` goes: ``--connect-to`` applied, addresses allowed.

    Attributes:
        host: The host connected to (another one when a rule applied).
        port: The port connected to.
        addresses: Its addresses, every one allowed by the IP policy.
        rule: The ``--connect-to`` rule that applied, or None.
    """

    host: str
    port: int
    addresses: tuple[str, ...]
    rule: ConnectTo | None


async def find_destination(
    lookup: AddressLookup, policy: Policy, host: str, port: int
) -> Destination:
    """Apply ``--connect-to``, look the host up, and check every address against the policy.

    Raises:
        BlockedAddressError: an address is blocked; one disqualifies the name
            (Synapse's rule), so DNS rebinding cannot slip past.
        NoAddressError: the host has no address.
    """
    real_host, real_port, rule = apply_connect_to(policy.connect_to, host, port)
    addresses = await _addresses(lookup, real_host)
    ip_policy = policy.ip_policy
    for ip in addresses:
        network = ip_policy.blocked_by(ip)
        if network is None:
            continue
        blocked = f"in the blocked range {ip_policy.describe(network)}"
        if _is_ip(real_host):
            raise BlockedAddressError(f"{ip} is {blocked}")
        raise BlockedAddressError(f"{real_host} has the address {ip}, {blocked}")
    return Destination(real_host, real_port, addresses, rule)


async def _addresses(lookup: AddressLookup, host: str) -> tuple[str, ...]:
    if _is_ip(host):
        return (str(ipaddress.ip_address(host)),)
    answer = await lookup(host if host.islower() else host.lower())
    if not answer.addresses:
        raise NoAddressError(f"{host}: {answer.error or 'no A or AAAA records'}")
    return answer.addresses


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
