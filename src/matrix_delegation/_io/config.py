"""The typed configuration of the network edge and the resolver: plain values only.

Kept apart from :mod:`.network` so that code which only describes a
configuration (the command line, the web settings) imports no HTTP client.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._core.caches import DEFAULT_MAX_CACHE_ENTRIES
from .._core.ipfilter import IpPolicy
from .._core.overrides import ConnectTo
from .._core.wellknown import WELL_KNOWN_MAX_SIZE

if TYPE_CHECKING:
    from .dns import DnsBackend

__all__ = ["DEFAULT_TIMEOUT", "NetworkConfig", "ResolverConfig"]

DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """How to reach the network; see :class:`~matrix_delegation.Resolver` for each field."""

    nameservers: tuple[str, ...] = ()
    ca_file: str | None = None
    allow_ip_ranges: tuple[str, ...] = ()
    ip_policy: IpPolicy | None = None
    connect_to: tuple[str | ConnectTo, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    dns: DnsBackend | None = None
    #: ``"c-ares"`` or ``"dnspython"``; None: c-ares when installed (see ``dns_choice``).
    dns_backend: str | None = None
    ssl_context: ssl.SSLContext | None = None
    clock: Callable[[], float] = time.time
    #: The body cap of the ``.well-known`` files (Synapse's and gomatrixserverlib's).
    max_body: int = WELL_KNOWN_MAX_SIZE


@dataclass(frozen=True, slots=True)
class ResolverConfig(NetworkConfig):
    """Everything a :class:`~matrix_delegation.Resolver` is built from: its network,
    randomness and caches."""

    rng: random.Random | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    max_cache_entries: int = DEFAULT_MAX_CACHE_ENTRIES
