"""Our resolver and resolvematrix on the fan-out, each in a process of its own.

    python benchmarks/_compare_workers.py ours|memory|resolvematrix SETUP.json CONCURRENCY

- ``ours``: a fresh ``Resolver`` (uvloop, as the command line runs it) resolves every
  name, ``CONCURRENCY`` at a time (resolve_fanout's ``_fan_out``), then the same names
  again from its cache, 100 rounds (resolve_fanout's ``_warm``).
- ``memory``: resolve_fanout's whole measurement, for its bytes per cached name (the
  tracemalloc slope), kept apart so that tracing weighs on no other figure.
- ``resolvematrix``: its synchronous ``ServerResolver`` from ``CONCURRENCY`` threads. Its
  SRV and A/AAAA queries go to the sandbox through the ``dns_resolver`` it accepts; its
  ``.well-known`` fetch (httpx) resolves through getaddrinfo, which must be pointed at the
  sandbox from outside (compare.py runs this in a private mount namespace with its own
  resolv.conf). ``ServerResolver.resolve`` writes its cache but never reads it, so
  "warm" is what a caller does: ``resolver.cache.get(name)``.

Each resolver is built by its implementation's driver (``_ours_driver``,
``_resolvematrix_driver``), the one ``conformance.py`` runs too; a name is right when the
driver's outcome has the endpoint the catalog expects.
"""

from __future__ import annotations

import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _compare_common import cpu_seconds, emitted, load, peak_rss_mib, right, servers_cpu, summary

WARM_LOOKUPS = 200_000


def ours(setup: dict[str, Any], expected: dict[str, str], concurrency: int) -> dict[str, Any]:
    """Cold and warm figures of our Resolver, as resolve_fanout measures them."""
    from _ours_driver import Driver
    from resolve_fanout import _fan_out, _warm

    from matrix_delegation.cli.common import run

    batch = list(expected)

    async def measure() -> dict[str, Any]:
        driver = Driver(setup["target"], skewed=False)
        try:
            servers = cpu_seconds(setup["server_pids"])
            wall, latencies = await _fan_out(driver.resolver, batch, concurrency)
            cold = summary(len(batch), wall, latencies) | {"peak_rss_mib": peak_rss_mib()}
            cold |= servers_cpu(setup, servers, wall)
            outcomes = [await driver.resolve(server_name) for server_name in batch]
            cold["right"] = sum(map(right, outcomes, (expected[n] for n in batch)))
            rounds = max(1, WARM_LOOKUPS // len(batch))
            warm_wall, lookups = await _warm(driver.resolver, batch, rounds)
        finally:
            await driver.close()
        warm = {"lookups_per_s": round(lookups / warm_wall), "rounds": rounds}
        return {"cold": cold, "warm": warm, "peak_rss_mib": peak_rss_mib()}

    return run(measure())


def memory(setup: dict[str, Any], expected: dict[str, str], concurrency: int) -> dict[str, Any]:
    """resolve_fanout's own measurement, for its memory per cached name."""
    import os

    from resolve_fanout import _measure

    from matrix_delegation.cli.common import run

    figures = run(_measure(setup["target"], list(expected), concurrency))
    figures["pid"] = os.getpid()
    return figures


def resolvematrix(
    setup: dict[str, Any], expected: dict[str, str], concurrency: int
) -> dict[str, Any]:
    """Cold figures of resolvematrix's ServerResolver from a pool of threads."""
    from _resolvematrix_driver import Driver

    first = next(iter(expected))
    seen = {info[4][0] for info in socket.getaddrinfo(first, 443, type=socket.SOCK_STREAM)}
    if seen != {setup["https_host"]}:  # getaddrinfo must reach the sandbox, or nothing
        raise RuntimeError(f"getaddrinfo({first}) gave {sorted(seen)}, not the sandbox")
    driver = Driver(setup["target"], sandbox_backend=False, cache=True)
    latencies: list[float] = []

    def one(server_name: str) -> bool:
        started = time.perf_counter()
        outcome = driver.resolve_here(server_name)
        latencies.append(time.perf_counter() - started)
        return right(outcome, expected[server_name])

    batch = list(expected)
    servers, started = cpu_seconds(setup["server_pids"]), time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        count = sum(pool.map(one, batch))
    wall = time.perf_counter() - started
    cold = summary(len(batch), wall, latencies) | {"right": count, "peak_rss_mib": peak_rss_mib()}
    cold |= servers_cpu(setup, servers, wall)
    rounds = max(1, WARM_LOOKUPS // len(batch))
    started = time.perf_counter()
    for _ in range(rounds):
        for server_name in batch:
            driver.resolver.cache.get(server_name)
    warm = {"lookups_per_s": round(rounds * len(batch) / (time.perf_counter() - started))}
    driver.resolver.client.close()
    return {"cold": cold, "warm": warm | {"rounds": rounds}, "peak_rss_mib": peak_rss_mib()}


WORKERS = {"ours": ours, "memory": memory, "resolvematrix": resolvematrix}


def main(argv: list[str]) -> int:
    setup, expected, concurrency = load(argv[1:])
    return emitted(lambda: WORKERS[argv[0]](setup, expected, concurrency))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
