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
"""

from __future__ import annotations

import socket
import ssl
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _compare_common import emit, load, peak_rss_mib, summary

WARM_LOOKUPS = 200_000


def ours(setup: dict[str, Any], expected: dict[str, str], concurrency: int) -> dict[str, Any]:
    """Cold and warm figures of our Resolver, as resolve_fanout measures them."""
    from resolve_fanout import _fan_out, _resolver, _warm

    from matrix_delegation.cli.common import run

    batch = list(expected)

    async def measure() -> dict[str, Any]:
        async with _resolver(setup["options"], setup["ca_file"]) as resolver:
            wall, latencies = await _fan_out(resolver, batch, concurrency)
            cold = summary(len(batch), wall, latencies) | {"peak_rss_mib": peak_rss_mib()}
            answers = [await resolver.resolve(server_name) for server_name in batch]
            cold["right"] = sum(
                bool(a.endpoints) and a.endpoints[0].ip == expected[a.server_name]
                and a.endpoints[0].port == 8448
                for a in answers
            )  # fmt: skip
            rounds = max(1, WARM_LOOKUPS // len(batch))
            warm_wall, lookups = await _warm(resolver, batch, rounds)
        warm = {"lookups_per_s": round(lookups / warm_wall), "rounds": rounds}
        return {"cold": cold, "warm": warm, "peak_rss_mib": peak_rss_mib()}

    return run(measure())


def memory(setup: dict[str, Any], expected: dict[str, str], concurrency: int) -> dict[str, Any]:
    """resolve_fanout's own measurement, for its memory per cached name."""
    import os

    from resolve_fanout import _measure

    from matrix_delegation.cli.common import run

    if len(expected) < 2 or next(iter(expected)) != "n0.bench.test":
        raise ValueError("resolve_fanout's names n0 … n<N-1> are expected")
    figures = run(_measure(setup["options"], setup["ca_file"], len(expected), concurrency))
    figures["pid"] = os.getpid()
    return figures


def resolvematrix(
    setup: dict[str, Any], expected: dict[str, str], concurrency: int
) -> dict[str, Any]:
    """Cold figures of resolvematrix's ServerResolver from a pool of threads."""
    import dns.resolver
    import httpx
    from resolvematrix.server import ServerResolver

    first = next(iter(expected))
    seen = {info[4][0] for info in socket.getaddrinfo(first, 443, type=socket.SOCK_STREAM)}
    if seen != {setup["https_host"]}:  # getaddrinfo must reach the sandbox, or nothing
        raise RuntimeError(f"getaddrinfo({first}) gave {sorted(seen)}, not the sandbox")
    dns_client = dns.resolver.Resolver(configure=False)
    dns_client.nameservers = [setup["dns_host"]]
    dns_client.port = setup["dns_port"]
    http = httpx.Client(
        headers={"User-Agent": "compare.py"},
        timeout=30.0,
        trust_env=False,  # no proxy from the environment: loopback only
        verify=ssl.create_default_context(cafile=setup["ca_file"]),
    )
    resolver = ServerResolver(client=http, dns_resolver=dns_client)
    latencies: list[float] = []

    def one(server_name: str) -> bool:
        started = time.perf_counter()
        destination = resolver.resolve(server_name)
        latencies.append(time.perf_counter() - started)
        # It returns the SRV target by name; the sandbox gives fed<k> the address 127.0.2.<k+1>.
        target = int(expected[server_name].rsplit(".", 1)[1]) - 1
        return bool(destination.hostname == f"fed{target}.bench.test:8448")

    batch = list(expected)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        right = sum(pool.map(one, batch))
    wall = time.perf_counter() - started
    cold = summary(len(batch), wall, latencies) | {"right": right, "peak_rss_mib": peak_rss_mib()}
    rounds = max(1, WARM_LOOKUPS // len(batch))
    started = time.perf_counter()
    for _ in range(rounds):
        for server_name in batch:
            resolver.cache.get(server_name)
    warm = {"lookups_per_s": round(rounds * len(batch) / (time.perf_counter() - started))}
    http.close()
    return {"cold": cold, "warm": warm | {"rounds": rounds}, "peak_rss_mib": peak_rss_mib()}


WORKERS = {"ours": ours, "memory": memory, "resolvematrix": resolvematrix}


def main(argv: list[str]) -> int:
    setup, expected, concurrency = load(argv[1:])
    try:
        figures = WORKERS[argv[0]](setup, expected, concurrency)
    except Exception as exc:  # reported, not hidden: compare.py shows why
        emit({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
