"""Cold and warm fan-out: N distinct names, each delegated by .well-known and then SRV.

The sandbox (DNS server and HTTPS host on loopback) runs in a child process so
that it does not share the resolver's event loop; both run on this machine.
A benchmark, not a test: it asserts nothing and prints the figures.

    python benchmarks/resolve_fanout.py [--names 2000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from multiprocessing.connection import Connection

from matrix_delegation import Resolver, __version__
from matrix_delegation._cli import run
from matrix_delegation.sandbox import Reply, WebHost
from matrix_delegation.sandbox.world import Sandbox

DOMAIN = "bench.test"
PATH = "/.well-known/matrix/server"
TARGETS = 50  # distinct SRV targets shared by the names, as in real federations


def name(index: int) -> str:
    return f"n{index}.{DOMAIN}"


async def _serve(count: int, pipe: Connection) -> None:
    async with Sandbox() as sandbox:
        host = await sandbox.https_host([f"*.{DOMAIN}"], certificate_for=[f"*.{DOMAIN}"])
        sandbox.zone.remove(f"*.{DOMAIN}")
        _publish(sandbox, host, count)
        pipe.send(
            {
                "options": {
                    "nameservers": [sandbox.dns.nameserver],
                    "allow_ip_ranges": ["127.0.0.0/8", "::1/128"],
                    # Without root, the host listens elsewhere: send every :443 there.
                    "connect_to": [f":443:{host.host}:{host.port}"] if sandbox.connect_to else [],
                },
                "ca_pem": sandbox.ca.ca_pem.decode(),
            }
        )
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # wait for "stop"


def _publish(sandbox: Sandbox, host: WebHost, count: int) -> None:
    for index in range(TARGETS):
        sandbox.zone.add(f"fed{index}.{DOMAIN}", "A", f"127.0.2.{index + 1}", ttl=3600)
    for index in range(count):
        sandbox.zone.add(name(index), "A", host.host, ttl=3600)
        delegated = f"m{index}.{DOMAIN}"
        reply = Reply.json({"m.server": delegated})
        host.set(name(index), PATH, reply)
        target = f"fed{index % TARGETS}.{DOMAIN}."
        sandbox.zone.add(f"_matrix-fed._tcp.{delegated}", "SRV", f"10 5 8448 {target}", ttl=3600)


def _sandbox_process(count: int, pipe: Connection) -> None:
    run(_serve(count, pipe))


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
            assert resolution.route == "well-known/srv", resolution

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def _warm(resolver: Resolver, names: list[str], rounds: int) -> tuple[float, int]:
    started = time.perf_counter()
    for _ in range(rounds):
        for server_name in names:
            await resolver.resolve(server_name)
    return time.perf_counter() - started, rounds * len(names)


def _resolver(options: dict[str, object], ca_file: str) -> Resolver:
    return Resolver(**options, ca_file=ca_file, timeout=30.0)  # type: ignore[arg-type]


async def _measure(
    options: dict[str, object], ca_file: str, count: int, concurrency: int
) -> dict[str, object]:
    names = [name(i) for i in range(count)]
    async with _resolver(options, ca_file) as resolver:
        cold_wall, latencies = await _fan_out(resolver, names, concurrency)
        warm_wall, lookups = await _warm(resolver, names, rounds=max(1, 200_000 // count))
    latencies.sort()
    # Memory per cached name: a second, traced cold run, measured after the HTTP
    # connections are closed so that only the caches remain.
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    resolver = _resolver(options, ca_file)
    await _fan_out(resolver, names, concurrency)
    await resolver.close()
    gc.collect()
    cached_bytes = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    del resolver
    return {
        "names": count,
        "concurrency": concurrency,
        "cold_names_per_s": round(count / cold_wall, 1),
        "cold_p50_ms": round(1000 * statistics.median(latencies), 2),
        "cold_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
        "warm_lookups_per_s": round(lookups / warm_wall),
        "bytes_per_cached_name": round(cached_bytes / count),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def machine() -> str:
    python = platform.python_version()
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {python}, {platform.platform()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(target=_sandbox_process, args=(args.names, theirs), daemon=True)
    child.start()
    try:
        setup = ours.recv()
        ca_file = f"/tmp/matrix-delegation-bench-ca-{os.getpid()}.pem"
        with open(ca_file, "w") as handle:
            handle.write(setup["ca_pem"])
        figures = run(_measure(setup["options"], ca_file, args.names, args.concurrency))
        os.unlink(ca_file)
    finally:
        ours.send("stop")
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
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
