"""The asyncio resolver: drives the discovery core with real DNS and HTTPS.

:class:`Resolver` answers the questions :func:`~._core.plan.plan` asks, from
its caches when it can. Caching follows docs/design.md §1.3 and §5.1-5.4:
``.well-known`` results by :class:`~._core.cache.WellKnownCache`, SRV and
address answers by their TTL (an expired SRV answer stands in when the DNS
server fails), and whole resolutions until the first of their parts needs
refreshing, so a warm lookup is a dictionary hit.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from types import TracebackType
from typing import cast

from ._core.cache import WELL_KNOWN_RETRY_INTERVAL
from ._core.caches import DEFAULT_MAX_CACHE_ENTRIES, ResolverCaches
from ._core.failures import FailureCode
from ._core.ipfilter import IpPolicy
from ._core.model import (
    AddressAnswers,
    FetchWellKnown,
    HostAddresses,
    LookupSrv,
    Observation,
    Resolution,
    SrvLookup,
    Step,
    WellKnownResult,
)
from ._core.names import ServerName
from ._core.overrides import ConnectTo
from ._core.plan import plan
from ._exceptions import (
    BlockedAddress,
    DiscoveryError,
    DnsLookupError,
    InvalidServerName,
    NoAddress,
    ServiceUnavailable,
)
from ._io.config import DEFAULT_TIMEOUT, NetworkConfig, ResolverConfig
from ._io.dns import DnsBackend
from ._io.network import Network

__all__ = ["DEFAULT_TIMEOUT", "Resolver", "ResolverConfig", "resolve_server_name"]

_ERRORS: dict[FailureCode, type[DiscoveryError]] = {
    FailureCode(cls.code): cls
    for cls in (DnsLookupError, ServiceUnavailable, NoAddress, BlockedAddress)
}


class Resolver:
    """Resolves Matrix server names over one :class:`~._io.network.Network`, with caches.

    Use it as an async context manager::

        async with Resolver() as resolver:
            resolution = await resolver.resolve("example.org")
            first = resolution.endpoints[0]

    Args:
        network: The network to use (shared with the checker); the options
            below that describe a network are then ignored, and closing the
            resolver leaves it open.
        nameservers: DNS servers as ``IP[:PORT]``; the system's when empty.
        ca_file: A PEM bundle that replaces the system trust store.
        allow_ip_ranges: CIDR ranges let through the default IP blocklist.
        ip_policy: A complete IP policy, instead of the default blocklist.
        connect_to: ``HOST1:PORT1:HOST2:PORT2`` overrides (as curl's).
        timeout: The bound on each network operation, in seconds.
        dns: A DNS backend to use instead of a built-in one (for embedding).
        dns_backend: The built-in DNS backend, ``"c-ares"`` or ``"dnspython"``;
            c-ares when it is installed if None.
        ssl_context: A client TLS context, instead of one made from ``ca_file``.
        clock: The wall clock, for cache expiry.
        rng: The randomness for SRV weights and cache jitter.
        sleep: The pause between ``.well-known`` retries.
        max_cache_entries: The bound of each cache (least recently used first out).
    """

    def __init__(
        self,
        *,
        network: Network | None = None,
        nameservers: Sequence[str] = (),
        ca_file: str | None = None,
        allow_ip_ranges: Iterable[str] = (),
        ip_policy: IpPolicy | None = None,
        connect_to: Iterable[str | ConnectTo] = (),
        timeout: float = DEFAULT_TIMEOUT,
        dns: DnsBackend | None = None,
        dns_backend: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_cache_entries: int = DEFAULT_MAX_CACHE_ENTRIES,
    ) -> None:
        self._owns_network = network is None
        if network is None:
            config = NetworkConfig(
                nameservers=tuple(nameservers),
                ca_file=ca_file,
                allow_ip_ranges=tuple(allow_ip_ranges),
                ip_policy=ip_policy,
                connect_to=tuple(connect_to),
                timeout=timeout,
                dns=dns,
                dns_backend=dns_backend,
                ssl_context=ssl_context,
                clock=clock,
            )
            network = Network(config)
        self.network = network
        # Connections (the .well-known fetch, the checker's) find addresses in our cache.
        network.address_lookup = self._host_addresses
        self.caches = ResolverCaches(max_cache_entries)
        self._clock, self._sleep = network.clock, sleep
        self._rng = rng or random.Random()

    @classmethod
    def from_config(cls, config: ResolverConfig) -> Resolver:
        """A resolver, and the network it owns, from a typed configuration."""
        return cls(
            network=Network(config),
            rng=config.rng,
            sleep=config.sleep,
            max_cache_entries=config.max_cache_entries,
        )._owning()

    def _owning(self) -> Resolver:
        self._owns_network = True
        return self

    async def __aenter__(self) -> Resolver:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session of the network it built; it can still be used afterwards."""
        if self._owns_network:
            await self.network.close()

    async def resolution(self, server_name: str, *, skip_well_known: bool = False) -> Resolution:
        """Find where federation traffic for ``server_name`` goes; a failure is data.

        The resolution's ``error`` says why there is no endpoint.

        Args:
            server_name: The server name.
            skip_well_known: Resolve as a peer that cannot fetch ``.well-known``
                would (steps 4-6 straight away): every fetch is answered "not fetched".

        Raises:
            InvalidServerName: ``server_name`` is not a server name.
        """
        key = ResolverCaches.resolution_key(server_name, well_known=not skip_well_known)
        cached = self.caches.resolutions.get(key, self._clock())
        if cached is not None:
            return cached[0]
        steps = plan(ServerName.parse(server_name), self.network.policy, self._rng)
        fresh_until = float("inf")
        try:
            step = next(steps)
            while True:
                observation, until = await self._answer(step, skip_well_known)
                fresh_until = min(fresh_until, until)
                step = steps.send(observation)
        except StopIteration as done:
            resolution: Resolution = done.value
        if resolution.ok:
            self.caches.resolutions.put(key, resolution, fresh_until)
        return resolution

    async def resolve(self, server_name: str, *, skip_well_known: bool = False) -> Resolution:
        """Like :meth:`resolution`, but a discovery failure is raised.

        Raises:
            InvalidServerName: ``server_name`` is not a server name.
            DiscoveryError: no endpoint was found; ``exc.resolution`` says why.
        """
        resolution = await self.resolution(server_name, skip_well_known=skip_well_known)
        if resolution.error is not None:
            error = _ERRORS[resolution.error.code]
            raise error(resolution.error.message, resolution=resolution)
        return resolution

    async def resolve_all(
        self, server_names: Iterable[str], *, concurrency: int = 50
    ) -> list[Resolution | InvalidServerName]:
        """Resolve many names, at most ``concurrency`` at once; outcomes in input order.

        A discovery failure is a resolution whose ``error`` says why; an invalid
        name is its :class:`InvalidServerName`.
        """
        names = list(server_names)
        outcomes: list[Resolution | InvalidServerName | None] = [None] * len(names)
        pending = iter(enumerate(names))

        async def worker() -> None:
            # A fixed pool of workers rather than a task per name: a list of a
            # million names costs a million small results, not a million tasks.
            for index, name in pending:
                try:
                    outcomes[index] = await self.resolution(name)
                except InvalidServerName as exc:
                    outcomes[index] = exc

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(names)))))
        return cast(list[Resolution | InvalidServerName], outcomes)

    def flush(self, server_name: str | None = None) -> None:
        """Forget everything cached, or only what concerns one server name."""
        self.caches.flush(server_name)

    # --- answering the core's questions ---------------------------------------

    async def _answer(self, step: Step, skip_well_known: bool) -> tuple[Observation, float]:
        if isinstance(step, FetchWellKnown):
            if skip_well_known:
                return WellKnownResult.not_fetched(step.hostname), float("inf")
            return await self._fetch_well_known(step.hostname)
        if isinstance(step, LookupSrv):
            return await self._lookup_srv(step.name)
        answers = await asyncio.gather(*(self._lookup_addresses(h) for h in step.hosts))
        until = min(until for _, until in answers)
        return AddressAnswers(tuple(answer for answer, _ in answers)), until

    async def _fetch_well_known(self, hostname: str) -> tuple[WellKnownResult, float]:
        cache, now = self.caches.well_known, self._clock()
        cached = cache.fresh(hostname, now)
        if cached is not None:
            result, refresh_at = cached
            return replace(result, from_cache=True), refresh_at
        for attempt in range(cache.attempts(hostname, now)):
            if attempt:
                await self._sleep(WELL_KNOWN_RETRY_INTERVAL)
            fetched = await self.network.fetch_well_known(hostname)
            if not fetched.retryable:
                break
        return cache.record(fetched.result, fetched.header_period, self._clock(), self._rng)

    async def _lookup_srv(self, name: str) -> tuple[SrvLookup, float]:
        cache, now = self.caches.srv, self._clock()
        cached = cache.get(name, now)
        if cached is not None:
            return replace(cached[0], from_cache=True), cached[1]
        try:
            records, ttl = await self.network.dns.srv(name)
        except DnsLookupError as exc:
            # Like Synapse: a failing DNS server does not take down a name
            # whose records we saw before (docs/design.md §5.4).
            stale = cache.get_stale(name)
            if stale is not None:
                return replace(stale[0], error=str(exc), stale=True), now
            return SrvLookup(name, (), error=str(exc)), now
        lookup = SrvLookup(name, records)
        cache.put(name, lookup, now + ttl)
        return lookup, now + ttl

    async def _lookup_addresses(self, host: str) -> tuple[HostAddresses, float]:
        cache, now = self.caches.addresses, self._clock()
        cached = cache.get(host, now)
        if cached is not None:
            return replace(cached[0], from_cache=True), cached[1]
        found = await self.network.dns.addresses(host)
        answer = HostAddresses(
            host, found.addresses, found.aliases, found.error, canonical=found.canonical
        )
        if found.error is None:
            cache.put(host, answer, now + found.ttl)
        return answer, now + found.ttl if found.error is None else now

    async def _host_addresses(self, host: str) -> HostAddresses:
        answer, _ = await self._lookup_addresses(host)
        return answer


def resolve_server_name(server_name: str, **options: object) -> Resolution:
    """Resolve one name from synchronous code; ``options`` are :class:`Resolver`'s.

    Raises the same errors as :meth:`Resolver.resolve`.
    """

    async def run() -> Resolution:
        async with Resolver(**options) as resolver:  # type: ignore[arg-type]
            return await resolver.resolve(server_name)

    return asyncio.run(run())
