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

import aiohttp

from ._core.cache import WELL_KNOWN_RETRY_INTERVAL, TtlCache, WellKnownCache
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
from ._core.plan import Policy, plan
from ._exceptions import (
    BlockedAddress,
    DiscoveryError,
    DnsLookupError,
    InvalidServerName,
    NoAddress,
    ServiceUnavailable,
)
from ._io.connect import DiscoveryResolver, checked_socket_factory
from ._io.dns import DnsBackend
from ._io.dns_choice import make_dns_backend
from ._io.http import WellKnownFetcher
from ._io.tls import client_context
from ._version import __version__

__all__ = ["Resolver", "resolve_server_name"]

_ERRORS: dict[str, type[DiscoveryError]] = {
    cls.code: cls for cls in (DnsLookupError, ServiceUnavailable, NoAddress, BlockedAddress)
}

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_CACHE_ENTRIES = 100_000


class Resolver:
    """Resolves Matrix server names; shares one HTTP session and its caches.

    Use it as an async context manager::

        async with Resolver() as resolver:
            resolution = await resolver.resolve("example.org")
            first = resolution.endpoints[0]

    Args:
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
        self._policy = Policy(
            ip_policy or IpPolicy.default(allow_ip_ranges),
            tuple(c if isinstance(c, ConnectTo) else ConnectTo.parse(c) for c in connect_to),
        )
        self._dns = dns or make_dns_backend(dns_backend, nameservers, timeout=timeout)
        self._ssl = ssl_context or client_context(ca_file)
        self._timeout = timeout
        self._clock, self._sleep = clock, sleep
        self._rng = rng or random.Random()
        self._well_known = WellKnownCache(max_cache_entries)
        self._srv: TtlCache[str, SrvLookup] = TtlCache(max_cache_entries)
        self._addresses: TtlCache[str, HostAddresses] = TtlCache(max_cache_entries)
        self._resolutions: TtlCache[str, Resolution] = TtlCache(max_cache_entries)
        self._session: aiohttp.ClientSession | None = None
        self._fetcher: WellKnownFetcher | None = None

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
        """Close the HTTP session; the resolver can still be used afterwards."""
        if self._session is not None:
            await self._session.close()
            self._session = self._fetcher = None

    async def resolve(self, server_name: str, *, skip_well_known: bool = False) -> Resolution:
        """Find where federation traffic for ``server_name`` goes.

        Args:
            server_name: The server name.
            skip_well_known: Resolve as a peer that cannot fetch ``.well-known``
                would (steps 4-6 straight away).

        Raises:
            InvalidServerName: ``server_name`` is not a server name.
            DiscoveryError: no endpoint was found; ``exc.resolution`` says why.
        """
        key = "\0" + server_name if skip_well_known else server_name
        cached = self._resolutions.get(key, self._clock())
        if cached is not None:
            return cached[0]
        name = ServerName.parse(server_name)
        steps = plan(name, self._policy, self._rng, skip_well_known=skip_well_known)
        fresh_until = float("inf")
        try:
            step = next(steps)
            while True:
                observation, until = await self._answer(step)
                fresh_until = min(fresh_until, until)
                step = steps.send(observation)
        except StopIteration as done:
            resolution: Resolution = done.value
        if resolution.error is not None:
            error = _ERRORS[resolution.error.code]
            raise error(resolution.error.message, resolution=resolution)
        self._resolutions.put(key, resolution, fresh_until)
        return resolution

    async def resolution(self, server_name: str, *, skip_well_known: bool = False) -> Resolution:
        """Like :meth:`resolve`, but a discovery failure is returned, not raised.

        The resolution's ``error`` then says why there is no endpoint.

        Raises:
            InvalidServerName: ``server_name`` is not a server name.
        """
        try:
            return await self.resolve(server_name, skip_well_known=skip_well_known)
        except DiscoveryError as exc:
            assert exc.resolution is not None  # resolve() always attaches it
            return exc.resolution

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
        if server_name is None:
            for cache in (self._well_known, self._srv, self._addresses, self._resolutions):
                cache.clear()
            return
        host = ServerName.parse(server_name).lookup_name
        stale = self._resolutions.get_stale(server_name)
        self._resolutions.pop(server_name)
        self._resolutions.pop("\0" + server_name)  # the variant without .well-known
        self._well_known.pop(host)
        hosts = {host}
        if stale is not None:
            resolution = stale[0]
            hosts |= {lookup.name.split(".", 2)[2] for lookup in resolution.srv}
            hosts |= {endpoint.target for endpoint in resolution.endpoints}
        for name in hosts:
            self._addresses.pop(name)
            for service in ("_matrix-fed._tcp", "_matrix._tcp"):
                self._srv.pop(f"{service}.{name}")

    # --- answering the core's questions ---------------------------------------

    async def _answer(self, step: Step) -> tuple[Observation, float]:
        if isinstance(step, FetchWellKnown):
            return await self._fetch_well_known(step.hostname)
        if isinstance(step, LookupSrv):
            return await self._lookup_srv(step.name)
        answers = await asyncio.gather(*(self._lookup_addresses(h) for h in step.hosts))
        until = min(until for _, until in answers)
        return AddressAnswers(tuple(answer for answer, _ in answers)), until

    async def _fetch_well_known(self, hostname: str) -> tuple[WellKnownResult, float]:
        now = self._clock()
        cached = self._well_known.fresh(hostname, now)
        if cached is not None:
            result, refresh_at = cached
            return replace(result, from_cache=True), refresh_at
        fetcher = self._get_fetcher()
        for attempt in range(self._well_known.attempts(hostname, now)):
            if attempt:
                await self._sleep(WELL_KNOWN_RETRY_INTERVAL)
            fetched = await fetcher.fetch(hostname)
            if not fetched.retryable:
                break
        return self._well_known.record(
            fetched.result, fetched.header_period, self._clock(), self._rng
        )

    async def _lookup_srv(self, name: str) -> tuple[SrvLookup, float]:
        now = self._clock()
        cached = self._srv.get(name, now)
        if cached is not None:
            return replace(cached[0], from_cache=True), cached[1]
        try:
            records, ttl = await self._dns.srv(name)
        except DnsLookupError as exc:
            # Like Synapse: a failing DNS server does not take down a name
            # whose records we saw before (docs/design.md §5.4).
            stale = self._srv.get_stale(name)
            if stale is not None:
                return replace(stale[0], error=str(exc), stale=True), now
            return SrvLookup(name, (), error=str(exc)), now
        lookup = SrvLookup(name, records)
        self._srv.put(name, lookup, now + ttl)
        return lookup, now + ttl

    async def _lookup_addresses(self, host: str) -> tuple[HostAddresses, float]:
        now = self._clock()
        cached = self._addresses.get(host, now)
        if cached is not None:
            return replace(cached[0], from_cache=True), cached[1]
        found = await self._dns.addresses(host)
        answer = HostAddresses(
            host, found.addresses, found.aliases, found.error, canonical=found.canonical
        )
        if found.error is None:
            self._addresses.put(host, answer, now + found.ttl)
        return answer, now + found.ttl if found.error is None else now

    async def _host_addresses(self, host: str) -> HostAddresses:
        answer, _ = await self._lookup_addresses(host)
        return answer

    def http_session(self) -> aiohttp.ClientSession:
        """The resolver's HTTP session: its DNS, IP policy, ``connect_to`` and trust store.

        For other requests that must obey the same rules (the checker's).
        """
        self._get_fetcher()
        assert self._session is not None
        return self._session

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The client TLS context (system trust store or the CA file)."""
        return self._ssl

    @property
    def policy(self) -> Policy:
        """The IP policy and ``connect_to`` rules."""
        return self._policy

    async def addresses(self, host: str) -> HostAddresses:
        """The (cached) A and AAAA answers for a host."""
        return await self._host_addresses(host)

    def _get_fetcher(self) -> WellKnownFetcher:
        if self._fetcher is None:
            connector = aiohttp.TCPConnector(
                resolver=DiscoveryResolver(self._host_addresses, self._policy),
                # The IP policy at the socket: aiohttp skips the resolver for IP literals.
                socket_factory=checked_socket_factory(self._policy.ip_policy),
                ssl=self._ssl,
                use_dns_cache=False,  # every connection is resolved (and checked) anew
                limit=0,
                # Each host is asked once a day at most: a kept-alive connection
                # only helps the redirects of one fetch. Idle TLS connections to
                # thousands of hosts held hundreds of MiB in bulk checks.
                keepalive_timeout=1.0,
            )
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
            self._fetcher = WellKnownFetcher(
                self._session,
                timeout=self._timeout,
                clock=self._clock,
                user_agent=f"matrix-delegation/{__version__}",
            )
        return self._fetcher


def resolve_server_name(server_name: str, **options: object) -> Resolution:
    """Resolve one name from synchronous code; ``options`` are :class:`Resolver`'s.

    Raises the same errors as :meth:`Resolver.resolve`.
    """

    async def run() -> Resolution:
        async with Resolver(**options) as resolver:  # type: ignore[arg-type]
            return await resolver.resolve(server_name)

    return asyncio.run(run())
