"""Queries per second and CPU per query of the two DNS backends, on loopback.

The sandbox DNS server runs in a child process, so this process's CPU time
(``time.process_time``, all threads: c-ares's event thread included) is the
client's alone. Each round asks ``--queries`` questions (SRV, then A+AAAA
through ``addresses``) at ``--concurrency`` at once, with fresh names' answers
served from the server's memo: what is measured is the client's codec and I/O.

    python benchmarks/dns_backends.py [--queries 4000] [--concurrency 20] [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from matrix_delegation._io.dns import DnsBackend
from matrix_delegation._io.dns_choice import DNS_BACKENDS, make_dns_backend

_NAMES = 50  # distinct hosts, each with an SRV record and A + AAAA records
_ROUNDS = 3
_DEADLINE = 120.0  # seconds: a round that takes longer is abandoned


async def _serve() -> None:
    from matrix_delegation.sandbox import DnsServer, Zone

    zone = Zone()
    for i in range(_NAMES):
        zone.add(f"_matrix-fed._tcp.h{i}.test", "SRV", f"10 5 8448 h{i}.test.")
        zone.add(f"h{i}.test", "A", f"127.0.0.{i + 1}")
        zone.add(f"h{i}.test", "AAAA", f"::ffff:127.0.0.{i + 1}")
    async with DnsServer(zone) as server:
        print(server.nameserver, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def _round(backend: DnsBackend, queries: int, concurrency: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) for ``queries`` DNS questions."""
    jobs = iter(range(queries // 3))  # each job: SRV + AAAA + A

    async def worker() -> None:
        for i in jobs:
            host = f"h{i % _NAMES}.test"
            records, _ = await backend.srv(f"_matrix-fed._tcp.{host}")
            found = await backend.addresses(host)
            assert records and len(found.addresses) == 2, (records, found)

    cpu, wall = time.process_time(), time.perf_counter()
    async with asyncio.timeout(_DEADLINE):
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - wall, time.process_time() - cpu


async def _measure(nameserver: str, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name in DNS_BACKENDS:
        backend = make_dns_backend(name, [nameserver], timeout=5.0)
        await _round(backend, 300, args.concurrency)  # warm-up
        best = min([await _round(backend, args.queries, args.concurrency) for _ in range(_ROUNDS)])
        asked = args.queries // 3 * 3
        figures[name] = {
            "queries_per_s": round(asked / best[0]),
            "cpu_us_per_query": round(1e6 * best[1] / asked, 1),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--uvloop", action="store_true", help="run the client on uvloop")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve())
        return
    args.queries = max(30, min(args.queries, 100_000))
    args.concurrency = max(1, min(args.concurrency, 500))
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        nameserver = child.stdout.readline().strip()
        if args.uvloop:
            import uvloop

            figures = uvloop.run(_measure(nameserver, args))
        else:
            figures = asyncio.run(_measure(nameserver, args))
    finally:
        child.communicate("", timeout=10)
    print(
        json.dumps(
            {
                "queries": args.queries,
                "concurrency": args.concurrency,
                "uvloop": args.uvloop,
                **figures,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
