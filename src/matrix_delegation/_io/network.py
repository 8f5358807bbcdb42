"""The network edge as one value: every outgoing connection the program makes goes through it.

A :class:`Network` holds the DNS backend, the IP policy
with the ``--connect-to`` rules, the TLS context, the limits and the user
agent, all built from one frozen :class:`NetworkConfig`. The resolver and
the checker receive the same one, so a rule applies once, here, to every
DNS query, ``.well-known`` fetch, client-file fetch and endpoint probe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType

from .._core.ipfilter import IpPolicy
from .._core.model import HostAddresses
from .._core.overrides import ConnectTo
from .._core.peers import SPEC, PeerPolicy
from .._core.plan import Policy
from .._core.wellknown import well_known_url
from .._version import __version__
from .config import DEFAULT_TIMEOUT, NetworkConfig
from .connect import AddressLookup, Destination, find_destination
from .dns import DnsBackend
from .dns_choice import make_dns_backend
from .http import Fetched, HttpFetch, http_get, http_post, read_well_known
from .https import Edge
from .probe import (
    PROBE_USER_AGENT,
    EndpointProbe,
    HttpResult,
    fetch_path,
    fetch_paths,
    probe_endpoint,
)
from .scope import ConnectionScope, connection_scope
from .tls import client_context

__all__ = ["DEFAULT_TIMEOUT", "Network", "NetworkConfig"]

USER_AGENT = f"matrix-delegation/{__version__}"


def _parsed(rules: Iterable[str | ConnectTo]) -> tuple[ConnectTo, ...]:
    return tuple(rule if isinstance(rule, ConnectTo) else ConnectTo.parse(rule) for rule in rules)


class Network:
    """The DNS, policy, TLS context and limits; an async context manager.

    Raises:
        ConfigurationError: a malformed nameserver, ``--connect-to`` rule,
            CIDR range or CA file in the config.
    """

    def __init__(self, config: NetworkConfig | None = None) -> None:
        config = config or NetworkConfig()
        self.config = config
        ip_policy = config.ip_policy or IpPolicy.default(config.allow_ip_ranges)
        self.policy = Policy(ip_policy, _parsed(config.connect_to))
        self.dns: DnsBackend = config.dns or make_dns_backend(
            config.dns_backend, config.nameservers, timeout=config.timeout
        )
        self.ssl_context = config.ssl_context or client_context(config.ca_file)
        self.timeout, self.clock = config.timeout, config.clock
        self.user_agent = USER_AGENT
        #: How connections find a host's addresses: plain DNS, unless a resolver
        #: driving this network answers from its cache (see ``Resolver``).
        self.address_lookup: AddressLookup = self._dns_addresses
        self._edge: Edge | None = None

    async def __aenter__(self) -> Network:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the DNS client's sockets; later requests open new ones.

        Nothing else stays open between GETs (each scope closes its own connections).
        A DNS backend passed in through the config belongs to the caller and stays open.
        """
        close_dns = getattr(self.dns, "close", None)
        if self.config.dns is None and close_dns is not None:
            close_dns()

    def edge(self) -> Edge:
        """What every GET connects with: our DNS, the IP policy, ``--connect-to``, our TLS."""
        if self._edge is None:
            self._edge = Edge(self.addresses, self.policy, self.ssl_context)
        return self._edge

    def scope(self) -> AbstractContextManager[ConnectionScope]:
        """Run one unit of work (a check) inside: its connections counted, kept alive
        between its GETs (same scheme, host and port only) and all closed at the end."""
        return connection_scope()

    # --- DNS ------------------------------------------------------------------------------

    async def addresses(self, host: str) -> HostAddresses:
        """The A and AAAA answers for a host (from the resolver's cache when it has one)."""
        return await self.address_lookup(host)

    async def destination(self, host: str, port: int) -> Destination:
        """Where a connection to ``host:port`` goes, as every connection here is checked.

        Raises:
            BlockedAddressError: an address of the host is blocked.
            NoAddressError: the host has no address.
        """
        return await find_destination(self.addresses, self.policy, host, port)

    async def _dns_addresses(self, host: str) -> HostAddresses:
        found = await self.dns.addresses(host)
        return HostAddresses(
            host, found.addresses, found.aliases, found.error, canonical=found.canonical
        )

    # --- HTTPS ----------------------------------------------------------------------------

    async def get(
        self,
        url: str,
        *,
        timeout: float | None = None,
        accept: str | None = None,
        refuse_oversized: Callable[[int], bool] = lambda status: True,
        user_agent: str | None = "",
    ) -> HttpFetch:
        """GET ``url`` with redirects followed, under one deadline and the body cap.

        ``user_agent``: ours when empty (the default), none at all when None.
        """
        agent = self.user_agent if user_agent == "" else user_agent
        # No Accept-Encoding: bodies come uncompressed, so none can inflate past the cap.
        headers = {"Accept": accept or "*/*"}
        headers.update({"User-Agent": agent} if agent is not None else {})
        return await http_get(
            self.edge(),
            url,
            headers=headers,
            timeout=self.timeout if timeout is None else timeout,
            max_body=self.config.max_body,
            refuse_oversized=refuse_oversized,
        )

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        headers: Mapping[str, str],
        timeout: float | None = None,
        method: str = "POST",
    ) -> HttpFetch:
        """POST (or PUT) ``body`` to ``url`` (a webhook, a Matrix homeserver) through the
        same DNS, IP policy and TLS as every fetch."""
        return await http_post(
            self.edge(),
            url,
            body,
            headers={"User-Agent": self.user_agent, **headers},
            timeout=self.timeout if timeout is None else timeout,
            max_body=self.config.max_body,
            method=method,
        )

    async def fetch_well_known(self, hostname: str, peer: PeerPolicy = SPEC) -> Fetched:
        """Fetch and judge ``https://<hostname>/.well-known/matrix/server``.

        ``peer`` fetches it as an implementation does (its redirect rules and
        body cap, docs/peers.md); the default is the spec's fetch.
        """
        if peer is SPEC:
            fetched = await self.get(well_known_url(hostname))
        else:
            fetched = await http_get(
                self.edge(),
                well_known_url(hostname),
                headers={"User-Agent": self.user_agent},
                timeout=self.timeout,
                max_body=peer.fetch_cap,
                allow_http=peer.follow_http_redirects,
                max_redirects=peer.max_redirects,
            )
        return read_well_known(hostname, fetched, self.clock())

    # --- raw TLS: the checker's probes ----------------------------------------------------

    async def probe_endpoint(
        self,
        target: str,
        ip: str,
        port: int,
        *,
        tls_name: str | None,
        host_header: str,
        timeout: float,
        also_well_known: bool = False,
    ) -> EndpointProbe:
        """Connect to ``ip:port`` as a homeserver would; see :func:`.probe.probe_endpoint`."""
        return await probe_endpoint(
            target,
            ip,
            port,
            tls_name=tls_name,
            host_header=host_header,
            context=self.ssl_context,
            timeout=timeout,
            policy=self.policy.ip_policy,
            also_well_known=also_well_known,
        )

    async def fetch_path(
        self,
        ip: str,
        port: int,
        path: str,
        *,
        tls_name: str,
        host_header: str,
        timeout: float,
        user_agent: str | None = PROBE_USER_AGENT,
        body: bytes | None = None,
    ) -> HttpResult:
        """GET one path (POST ``body`` when given) from one address over verified TLS.

        The response is capped (``probe.MAX_RESPONSE``), the exchange has one
        deadline, and the address goes through the IP policy; see
        :func:`.probe.fetch_path`.
        """
        return await fetch_path(
            ip,
            port,
            path,
            tls_name=tls_name,
            host_header=host_header,
            context=self.ssl_context,
            timeout=timeout,
            policy=self.policy.ip_policy,
            user_agent=user_agent,
            body=body,
        )

    async def fetch_paths(
        self,
        ip: str,
        port: int,
        asks: Sequence[tuple[str, str | None]],
        *,
        tls_name: str,
        host_header: str,
        timeout: float,
    ) -> tuple[HttpResult, ...]:
        """GET each (path, User-Agent) in turn on one connection, as :meth:`fetch_path` does
        one; the answers of the first asks, up to the first that leaves no open connection
        (see :func:`.probe.fetch_paths`)."""
        return await fetch_paths(
            ip,
            port,
            asks,
            tls_name=tls_name,
            host_header=host_header,
            context=self.ssl_context,
            timeout=timeout,
            policy=self.policy.ip_policy,
        )
