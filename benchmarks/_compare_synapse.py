"""Synapse's own resolver on the fan-out: its code, its reactor, the sandbox's DNS.

    python benchmarks/_compare_synapse.py SETUP.json CONCURRENCY

One resolution is what Synapse does before its first federation request to a name:
``WellKnownResolver.get_well_known`` (built by ``MatrixFederationAgent``, so with its
connection pool, TLS policy and IP blocklist), then ``MatrixHostnameEndpoint``'s
``_resolve_server`` (``SrvResolver``: ``_matrix-fed._tcp``, legacy ``_matrix._tcp``,
fallback to 8448), then the A/AAAA of the first target through the reactor's name
resolver behind Synapse's ``BlocklistingReactorWrapper``.

Pointed at the sandbox and nowhere else, with the conformance driver's pieces
(``_synapse_driver``): SRV through ``twisted.names.client.Resolver`` with the sandbox
server only, A/AAAA through its reactor name resolver asking the same server (never
getaddrinfo), and a configuration parsed by Synapse itself (``federation_custom_ca_list``
= the sandbox CA, loopback let through ``ip_range_whitelist``). Concurrency is bounded
with a ``DeferredSemaphore``. Synapse caches ``.well-known`` and SRV answers itself;
addresses it leaves to the system, so a warm resolution still asks DNS for A/AAAA.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from _compare_common import emit, load, peak_rss_mib, summary
from twisted.internet import defer, epollreactor

epollreactor.install()  # type: ignore[no-untyped-call]  # what Synapse runs on under Linux (before anything imports reactor)

from _synapse_driver import SandboxNameResolver, _config, _resolve  # noqa: E402
from synapse.crypto.context_factory import FederationPolicyForHTTPS  # noqa: E402
from synapse.http.client import BlocklistingReactorWrapper  # noqa: E402
from synapse.http.federation.matrix_federation_agent import (  # noqa: E402
    MatrixFederationAgent,
    MatrixHostnameEndpoint,
)
from synapse.http.federation.srv_resolver import SrvResolver  # noqa: E402
from synapse.util.clock import Clock  # noqa: E402
from twisted.internet import reactor as _reactor  # noqa: E402
from twisted.names import client  # noqa: E402
from twisted.web.client import URI  # noqa: E402

ALLOW = ["127.0.0.0/8", "::1/128"]
reactor: Any = _reactor  # Twisted types the global reactor loosely


class SynapseResolver:
    """Synapse's discovery chain, wired as MatrixFederationAgent wires it."""

    def __init__(self, setup: dict[str, Any]) -> None:
        servers = [(setup["dns_host"], setup["dns_port"])]
        self.dns = client.Resolver(servers=servers)  # type: ignore[no-untyped-call]
        reactor.installNameResolver(SandboxNameResolver(self.dns))
        config = _config(setup["ca_file"], ALLOW)
        allow, block = (
            config.server.federation_ip_range_allowlist,
            config.server.federation_ip_range_blocklist,
        )
        self.tls = FederationPolicyForHTTPS(config)
        self.srv = SrvResolver(dns_client=self.dns, cache={})  # not the module-wide cache
        agent = MatrixFederationAgent(
            server_name="bench.local",
            reactor=reactor,
            clock=Clock(reactor, server_name="bench.local"),
            tls_client_options_factory=self.tls,
            user_agent=b"compare.py",
            ip_allowlist=allow,
            ip_blocklist=block,
            _srv_resolver=self.srv,
        )
        self.well_known = agent._well_known_resolver
        self.blocking = BlocklistingReactorWrapper(reactor, allow, block)

    async def resolve(self, server_name: str) -> list[str]:
        """The addresses (``ip:port``) Synapse would connect to for ``server_name``."""
        result = await self.well_known.get_well_known(server_name.encode())
        delegated = result.delegated_server or server_name.encode()
        uri = URI.fromBytes(b"matrix-federation://" + delegated + b"/")  # type: ignore[no-untyped-call]
        endpoint = MatrixHostnameEndpoint(
            reactor=reactor,
            proxy_reactor=reactor,
            tls_client_options_factory=self.tls,
            srv_resolver=self.srv,
            proxy_config=None,
            parsed_uri=uri,
        )
        servers = await endpoint._resolve_server()
        first = servers[0]
        return await self.addresses(first.host.decode(), first.port)

    async def addresses(self, host: str, port: int) -> list[str]:
        """``ip:port`` for ``host``, through Synapse's blocklisting name resolver."""
        return [f"{ip}:{port}" for ip in await _resolve(self.blocking.nameResolver, host, port)]

    async def cached(self, server_name: str) -> None:
        """Only the two caches Synapse keeps: .well-known and SRV."""
        result = await self.well_known.get_well_known(server_name.encode())
        await self.srv.resolve_service(b"_matrix-fed._tcp." + (result.delegated_server or b""))


async def fan_out(
    synapse: SynapseResolver, expected: dict[str, str], concurrency: int
) -> tuple[float, list[float], int]:
    """Resolve every name, ``concurrency`` at a time; wall time, latencies, right answers."""
    semaphore = defer.DeferredSemaphore(concurrency)
    latencies: list[float] = []
    right = 0

    async def one(server_name: str) -> None:
        nonlocal right
        started = time.perf_counter()
        found = await synapse.resolve(server_name)
        latencies.append(time.perf_counter() - started)
        right += found == [f"{expected[server_name]}:8448"]

    started = time.perf_counter()
    await defer.gatherResults(
        [semaphore.run(one, server_name) for server_name in expected],
        consumeErrors=True,
    )
    return time.perf_counter() - started, latencies, right


async def measure(
    setup: dict[str, Any], expected: dict[str, str], concurrency: int
) -> dict[str, Any]:
    """Cold, warm and cache-only figures of one fresh Synapse resolver."""
    count = len(expected)
    synapse = SynapseResolver(setup)
    wall, latencies, right = await fan_out(synapse, expected, concurrency)
    cold = summary(count, wall, latencies) | {"right": right, "peak_rss_mib": peak_rss_mib()}
    wall, latencies, right = await fan_out(synapse, expected, concurrency)
    warm = {"lookups_per_s": round(count / wall), "right": right, "rounds": 1}
    rounds = max(1, 20_000 // count)
    started = time.perf_counter()
    for _ in range(rounds):
        for server_name in expected:
            await synapse.cached(server_name)
    warm["cache_only_lookups_per_s"] = round(rounds * count / (time.perf_counter() - started))
    return {"cold": cold, "warm": warm, "peak_rss_mib": peak_rss_mib()}


def main(argv: list[str]) -> int:
    # Synapse logs each fetch at INFO and warns that metrics outside a request's
    # logging context are lost; writing that out is left out of its timings.
    logging.getLogger("synapse").setLevel(logging.ERROR)
    setup, expected, concurrency = load(argv)
    outcome: dict[str, Any] = {}

    async def run() -> None:
        try:
            outcome.update(await measure(setup, expected, concurrency))
        except Exception as exc:  # reported, not hidden: compare.py shows why
            outcome["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            reactor.stop()

    reactor.callWhenRunning(lambda: defer.ensureDeferred(run()))
    reactor.run()
    emit(outcome)
    return 0 if "error" not in outcome else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
