"""``check``: does federation with a server work, and if not, exactly why.

This is the gathering half: discovery runs through the real resolver (its
trace is part of the report), every endpoint is probed as a homeserver would
connect to it, the fallback route and the per-address ``.well-known``
answers are fetched, and the client and support files are checked by the
client-server rules. What was found becomes a plain :class:`~.report.Facts`
value; the pure :func:`~.judge.judge` decides (see there what
``federation_ok`` means). Nothing the remote side does raises.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from .._core.model import Endpoint, Resolution, Route
from .._core.names import ServerName
from .._core.plan import MAX_ADDRESSES_PER_HOST, MAX_ENDPOINTS
from .._core.wellknown import parse_server_body
from .._exceptions import InvalidServerName
from .._io.network import Network
from .._io.probe import HttpResult
from .._io.scope import ConnectionScope
from ..resolver import Resolver
from .agents import gather_agents
from .client import ClientReport, SupportReport, check_client, check_support
from .endpoint_rules import judge_endpoint
from .judge import judge
from .notary import gather_third_party
from .notary_model import ThirdParty
from .peer_check import gather_peers, known_reports
from .report import EndpointReport, Facts, Fallback, FallbackFacts, PeerFacts, Report

__all__ = ["EndpointReport", "Facts", "Fallback", "Report", "check_server", "gather_facts"]

#: Connections one check has open at once: the endpoint probes and the per-address
#: .well-known fetches share them (the client-side files go through the HTTP session).
MAX_CONNECTIONS = 8
WELL_KNOWN_PATH = "/.well-known/matrix/server"


async def check_server(
    resolver: Resolver,
    server_name: str,
    *,
    timeout: float = 10.0,
    clock: Callable[[], float] = time.time,
    third_party: ThirdParty | None = None,
) -> Report:
    """Check one server name: gather the facts, then judge them.

    ``third_party`` asks for the tests through other servers (``--outbound``,
    ``--notary``; see :mod:`.notary`): none runs without it.
    """
    facts = await gather_facts(
        resolver, server_name, timeout=timeout, clock=clock, third_party=third_party
    )
    return judge(facts, clock())


async def gather_facts(
    resolver: Resolver,
    server_name: str,
    *,
    timeout: float = 10.0,
    clock: Callable[[], float] = time.time,
    third_party: ThirdParty | None = None,
) -> Facts:
    """Everything :func:`~.judge.judge` needs about one server name, from the network."""
    try:
        host = ServerName.parse(server_name).lookup_name
    except InvalidServerName as exc:
        return Facts(server_name, name_error=str(exc))
    # One scope per check: the .well-known files of https://host share a connection,
    # and the connections the check opened are counted for the report.
    with resolver.network.scope() as scope:
        facts = await _gather(resolver, server_name, host, timeout, clock, scope, third_party)
    return replace(facts, connections=scope.opened)


async def _gather(
    resolver: Resolver,
    server_name: str,
    host: str,
    timeout: float,
    clock: Callable[[], float],
    scope: ConnectionScope,
    third_party: ThirdParty | None,
) -> Facts:
    resolution = await resolver.resolution(server_name)
    client_side = asyncio.ensure_future(_client_side(resolver, host, timeout, scope))
    check = _Check(resolver, timeout, asyncio.Semaphore(MAX_CONNECTIONS), scope)
    try:
        endpoints = await _probe_all(check, resolution, clock())
        by_address, count = await _well_known_by_address(check, resolution, host)
        fallback = await _fallback(check, resolution, clock())
        agents = await gather_agents(
            check.network, resolution, host, endpoints,
            timeout=timeout, gate=check.gate, clock=clock,
        )  # fmt: skip
        host_ips = await _host_ips(check, resolution, host)
        peers = await _peers(check, resolution, endpoints, fallback, clock())
        client, support = await client_side
    finally:
        client_side.cancel()  # when this check is cancelled (a deadline), so are they
    outbound = notary = None
    if third_party is not None and third_party.asked:
        outbound, notary = await gather_third_party(
            resolver, server_name, resolution, endpoints, third_party, timeout=timeout, clock=clock
        )
    return Facts(
        server_name,
        resolution=resolution,
        endpoints=endpoints,
        fallback=fallback,
        host=host,
        host_addresses=count,
        well_known_by_address=by_address,
        client=client,
        support=support,
        agents=agents,
        host_ips=host_ips,
        peers=peers,
        outbound=outbound,
        notary=notary,
    )


async def _client_side(
    resolver: Resolver, host: str, timeout: float, scope: ConnectionScope
) -> tuple[ClientReport, SupportReport]:
    """The client and support files; then their kept-alive connection is let go at once."""
    client, support = await asyncio.gather(
        check_client(resolver.network, host, timeout=timeout),
        check_support(resolver.network, host, timeout=timeout),
    )
    scope.drop_idle()  # the probes go on: hold no more sockets than they need
    return client, support


@dataclass(frozen=True, slots=True)
class _Check:
    """What every connection of one check shares: the resolver, the timeout, the gate, the scope."""

    resolver: Resolver
    timeout: float
    gate: asyncio.Semaphore  # at most MAX_CONNECTIONS open at once
    scope: ConnectionScope  # what this check's GETs have received already

    @property
    def network(self) -> Network:
        """The network edge every connection of the check goes through."""
        return self.resolver.network


async def _fallback(check: _Check, resolution: Resolution, now: float) -> FallbackFacts | None:
    """When .well-known delegates, try the route of a peer that cannot fetch it."""
    if resolution.route is None or not resolution.route.via_well_known:
        return None
    alternative = await check.resolver.resolution(resolution.server_name, skip_well_known=True)
    if not alternative.ok:
        return FallbackFacts(alternative)
    return FallbackFacts(alternative, await _probe_all(check, alternative, now))


async def _peers(
    check: _Check,
    resolution: Resolution,
    endpoints: tuple[EndpointReport, ...],
    fallback: FallbackFacts | None,
    now: float,
) -> tuple[PeerFacts, ...]:
    """Each implementation's view, reusing the probes made above (docs/peers.md)."""
    made = [(resolution, endpoints)]
    if fallback is not None:
        made.append((fallback.resolution, fallback.endpoints))

    async def probe(peer: Resolution, new: tuple[Endpoint, ...]) -> tuple[EndpointReport, ...]:
        return await _probe_all(check, peer, now, new)

    known, name = known_reports(made), resolution.server_name
    return await gather_peers(check.resolver, name, known, probe, well_known=resolution.well_known)


async def _well_known_by_address(
    check: _Check, resolution: Resolution, host: str
) -> tuple[tuple[tuple[str, str], ...], int]:
    """The .well-known answer of each address of the server name (when it has several).

    At most :data:`MAX_ADDRESSES_PER_HOST` addresses are asked; the count of
    all the addresses comes too (0 when none were asked), to say when there
    were more.
    """
    if resolution.well_known is None:
        return (), 0
    try:
        # The edge applies --connect-to and the IP policy (a blocked address refuses all).
        destination = await check.network.destination(host, 443)
    except OSError:
        return (), 0
    addresses = destination.addresses
    if destination.rule is not None or len(addresses) < 2:
        return (), 0  # an override decides the address, or there is one: nothing to compare
    count = len(addresses)
    addresses = addresses[:MAX_ADDRESSES_PER_HOST]

    # Discovery fetched the file from one of the addresses in this check: not again.
    known = check.scope.answers.get((("https", host, 443), WELL_KNOWN_PATH))

    async def one(ip: str) -> str:
        if known is not None and known.ip == ip:
            return _well_known_outcome(HttpResult(known.status, known.body))
        async with check.gate:
            result = await check.network.fetch_path(
                ip, 443, WELL_KNOWN_PATH, tls_name=host, host_header=host, timeout=check.timeout
            )
        return _well_known_outcome(result)  # fmt: skip

    outcomes = await asyncio.gather(*(one(ip) for ip in addresses))
    return tuple(zip(addresses, outcomes, strict=True)), count


async def _host_ips(check: _Check, resolution: Resolution, host: str) -> tuple[str, ...]:
    """The A and AAAA addresses of the server name (from the resolver's cache), when it
    delegates by ``.well-known``: a peer of one family fetches the file over that family."""
    if resolution.well_known is None:
        return ()
    return (await check.network.addresses(host)).addresses


def _well_known_outcome(result: HttpResult) -> str:
    if result.status is None:
        return f"no answer ({result.error})"
    if result.status != 200:
        return f"HTTP {result.status}"
    _, server, error, _ = parse_server_body(result.body)
    return f"m.server {server}" if server is not None else f"invalid ({error})"


async def _probe_all(
    check: _Check,
    resolution: Resolution,
    now: float,
    only: tuple[Endpoint, ...] | None = None,
) -> tuple[EndpointReport, ...]:
    """Probe the endpoints of a resolution (or ``only`` these of them), as a peer connects."""

    async def one(endpoint: Endpoint) -> EndpointReport:
        async with check.gate:
            probe = await check.network.probe_endpoint(
                endpoint.target,
                endpoint.ip,
                endpoint.port,
                tls_name=resolution.tls_server_name,
                host_header=resolution.host_header or resolution.server_name,
                timeout=check.timeout,
                also_well_known=resolution.route is Route.DEFAULT_PORT,
            )
        # Judging verifies signatures: CPU work, kept off the event loop so that
        # other checks (and a web service's /health) go on meanwhile.
        return await asyncio.to_thread(judge_endpoint, probe, resolution.server_name, now)

    # Discovery caps the endpoints (and says so in the trace); this is the last guard.
    endpoints = (resolution.endpoints if only is None else only)[:MAX_ENDPOINTS]
    return tuple(await asyncio.gather(*(one(e) for e in endpoints)))
