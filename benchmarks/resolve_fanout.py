"""Cold and warm fan-out: N distinct names, each delegated by .well-known and then SRV.

The names are the scenario catalog's fan-out entry (``scenarios.FANOUT``) stamped out N
times. The sandbox (DNS server and HTTPS host on loopback, ``_fanout_sandbox``) runs in a
child process so that it does not share the resolver's event loop; both run on this
machine. The resolver is built by ``_ours_driver``, as conformance.py builds it.
A benchmark, not a test: it asserts nothing and prints the figures.

    python benchmarks/resolve_fanout.py [--names 2000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import resource
import ssl
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import scenarios as sc
from _driver_io import Target
from _fanout_sandbox import sandbox
from _ours_driver import Driver

from matrix_delegation import Resolver, __version__
from matrix_delegation.cli.common import run
from matrix_delegation.sandbox import SandboxCA

ROUTE = sc.FANOUT["expect"]["route"]  # what every name must resolve by


async def _fan_out(
    resolver: Resolver, names: list[str], concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    pending = iter(names)

    async def worker() -> None:
        for server_name in pending:
            started = time.perf_counter()
            resolution = await resolver.resolve(server_name)
            latencies.append(time.perf_counter() - started)
            assert resolution.route == ROUTE, resolution

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def _warm(resolver: Resolver, names: list[str], rounds: int) -> tuple[float, int]:
    started = time.perf_counter()
    for _ in range(rounds):
        for server_name in names:
            await resolver.resolve(server_name)
    return time.perf_counter() - started, rounds * len(names)


def _resolver(target: Target) -> Resolver:
    return Driver(target, skewed=False).resolver


async def _measure(target: Target, names: list[str], concurrency: int) -> dict[str, object]:
    count = len(names)
    async with _resolver(target) as resolver:
        cold_wall, latencies = await _fan_out(resolver, names, concurrency)
        warm_wall, lookups = await _warm(resolver, names, rounds=max(1, 200_000 // count))
    latencies.sort()
    # Memory per cached name: the growth of a second, traced resolver between
    # half and all of the names, measured with its HTTP connections closed so
    # that only the caches remain. The slope leaves out fixed costs (the
    # library's own bounded caches, yarl's URL cache) that do not grow with N.
    half = count // 2
    resolver = _resolver(target)
    tracemalloc.start()
    traced = []
    for part in (names[:half], names[half:]):
        await _fan_out(resolver, part, concurrency)
        await resolver.close()
        gc.collect()
        traced.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    cached_bytes = (traced[1] - traced[0]) / (count - half)
    del resolver
    return {
        "names": count,
        "concurrency": concurrency,
        "cold_names_per_s": round(count / cold_wall, 1),
        "cold_p50_ms": round(1000 * statistics.median(latencies), 2),
        "cold_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
        "warm_lookups_per_s": round(lookups / warm_wall),
        "bytes_per_cached_name": round(cached_bytes),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def client_handshake_ms(rounds: int = 300) -> float:
    """CPU of one TLS client handshake with the sandbox's ECDSA certificates, in memory.

    The floor under any cold resolution, which needs one handshake for its
    .well-known fetch: no network, no event loop, just OpenSSL.
    """
    ca = SandboxCA()
    server, client = ca.server_context("x.test"), ca.client_context()
    spent = 0.0
    for _ in range(rounds):
        c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
        tls_client = client.wrap_bio(c_in, c_out, server_hostname="x.test")
        tls_server = server.wrap_bio(s_in, s_out, server_side=True)
        for _ in range(4):  # TLS 1.3: two round trips
            started = time.process_time()
            with contextlib.suppress(ssl.SSLWantReadError):
                tls_client.do_handshake()
            spent += time.process_time() - started
            s_in.write(c_out.read())
            with contextlib.suppress(ssl.SSLWantReadError):
                tls_server.do_handshake()
            c_in.write(s_out.read())
    return 1000 * spent / rounds


def machine() -> str:
    python = platform.python_version()
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {python}, {platform.platform()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with (
        tempfile.TemporaryDirectory(prefix="md-fanout-") as work,
        sandbox(args.names, Path(work)) as setup,
    ):
        figures = run(_measure(setup["target"], setup["names"], args.concurrency))
    figures["tls_client_handshake_cpu_ms"] = round(client_handshake_ms(), 3)
    figures["machine"] = machine()
    figures["version"] = __version__
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:>22}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
