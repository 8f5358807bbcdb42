"""Synapse's own resolver on the fan-out: its code, its reactor, the sandbox's DNS.

    python benchmarks/_compare_synapse.py SETUP.json CONCURRENCY

One resolution is what Synapse does before its first federation request to a name, as
the conformance driver (``_synapse_driver.Driver``) runs it: ``MatrixFederationAgent``
fetches ``.well-known`` (``WellKnownResolver``, with its connection pool, TLS policy and
IP blocklist) and rewrites the request, then ``MatrixHostnameEndpoint``'s
``_resolve_server`` (``SrvResolver``: ``_matrix-fed._tcp``, legacy ``_matrix._tcp``,
fallback to 8448), then the A/AAAA of the first target through the reactor's name
resolver behind Synapse's ``BlocklistingReactorWrapper``; the request itself is never
sent.

Pointed at the sandbox and nowhere else, by that driver: SRV through
``twisted.names.client.Resolver`` with the sandbox server only, A/AAAA through its
reactor name resolver asking the same server (never getaddrinfo), and a configuration
parsed by Synapse itself (``federation_custom_ca_list`` = the sandbox CA, loopback let
through ``ip_range_whitelist``). Concurrency is bounded with a ``DeferredSemaphore``.
Synapse caches ``.well-known`` and SRV answers itself; addresses it leaves to the system,
so a warm resolution still asks DNS for A/AAAA.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from _compare_common import cpu_seconds, emit, load, peak_rss_mib, right, servers_cpu, summary
from twisted.internet import defer, epollreactor

# What Synapse runs on under Linux; installed before anything imports the reactor.
epollreactor.install()  # type: ignore[no-untyped-call]

from _synapse_driver import Driver  # noqa: E402
from twisted.internet import reactor as _reactor  # noqa: E402

reactor: Any = _reactor  # Twisted types the global reactor loosely


async def cached(driver: Driver, server_name: str) -> None:
    """Only the two caches Synapse keeps: .well-known and SRV."""
    result = await driver.agent._well_known_resolver.get_well_known(server_name.encode())
    await driver.srv.resolve_service(b"_matrix-fed._tcp." + (result.delegated_server or b""))


async def fan_out(
    driver: Driver, expected: dict[str, str], concurrency: int
) -> tuple[float, list[float], int]:
    """Resolve every name, ``concurrency`` at a time; wall time, latencies, right answers."""
    semaphore = defer.DeferredSemaphore(concurrency)
    latencies: list[float] = []
    count = 0

    async def one(server_name: str) -> None:
        nonlocal count
        started = time.perf_counter()
        outcome = await driver.resolve(server_name)
        latencies.append(time.perf_counter() - started)
        count += right(outcome, expected[server_name])

    started = time.perf_counter()
    await defer.gatherResults(
        [semaphore.run(one, server_name) for server_name in expected],
        consumeErrors=True,
    )
    return time.perf_counter() - started, latencies, count


async def measure(
    setup: dict[str, Any], expected: dict[str, str], concurrency: int
) -> dict[str, Any]:
    """Cold, warm and cache-only figures of one fresh Synapse resolver."""
    count = len(expected)
    driver = Driver(setup["target"], server_name="bench.local")
    servers = cpu_seconds(setup["server_pids"])
    wall, latencies, good = await fan_out(driver, expected, concurrency)
    cold = summary(count, wall, latencies) | {"right": good, "peak_rss_mib": peak_rss_mib()}
    cold |= servers_cpu(setup, servers, wall)
    wall, latencies, good = await fan_out(driver, expected, concurrency)
    warm = {"lookups_per_s": round(count / wall), "right": good, "rounds": 1}
    rounds = max(1, 20_000 // count)
    started = time.perf_counter()
    for _ in range(rounds):
        for server_name in expected:
            await cached(driver, server_name)
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
