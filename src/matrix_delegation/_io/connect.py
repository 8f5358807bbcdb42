"""Where aiohttp connects: our DNS, ``--connect-to`` rules and the IP policy.

aiohttp asks its resolver for the addresses of every host it connects to, on
every connection, redirects included. Ours answers from the discovery DNS
(never the system resolver), applies ``--connect-to`` (keeping the original
hostname for SNI and the certificate check) and refuses a name with any
blocked address, checked at connect time so DNS rebinding cannot slip past.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable

from aiohttp.abc import AbstractResolver, ResolveResult

from .._core.model import HostAddresses
from .._core.overrides import apply_connect_to
from .._core.plan import Policy

__all__ = ["BlockedAddressError", "DiscoveryResolver", "NoAddressError"]

AddressLookup = Callable[[str], Awaitable[HostAddresses]]


class BlockedAddressError(OSError):
    """The host has an address in the IP blocklist; nothing was connected."""


class NoAddressError(OSError):
    """The host has no usable address."""


class DiscoveryResolver(AbstractResolver):
    """An aiohttp resolver backed by discovery's DNS lookup and policy."""

    def __init__(self, lookup: AddressLookup, policy: Policy) -> None:
        self._lookup = lookup
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        real_host, real_port, _ = apply_connect_to(self._policy.connect_to, host, port)
        addresses = await self._addresses(real_host)
        for ip in addresses:
            network = self._policy.ip_policy.blocked_by(ip)
            if network is not None:
                raise BlockedAddressError(
                    f"{real_host} has the address {ip}, in the blocked range {network}"
                )
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=real_port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in addresses
        ]

    async def close(self) -> None:
        """Nothing to release: the lookup belongs to the resolver."""

    async def _addresses(self, host: str) -> tuple[str, ...]:
        try:
            return (str(ipaddress.ip_address(host)),)
        except ValueError:
            pass
        answer = await self._lookup(host if host.islower() else host.lower())
        if not answer.addresses:
            raise NoAddressError(f"{host}: {answer.error or 'no A or AAAA records'}")
        return answer.addresses
