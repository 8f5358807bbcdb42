"""The web checker against hostile servers: does ``/health`` keep answering?

Starts the sandbox (loopback only) with two hostile homeservers, then the web
service in this process, and checks each name a few times (no report cache)
while polling ``/health`` as fast as it answers:

* ``bomb.test`` serves a key response of 2,900 signed keys (~500 KiB);
* ``nested.test`` serves 20,000 nested arrays as its ``.well-known`` files,
  version document, key response and client ``/versions``.

Prints each check's duration and the ``/health`` p50 and p99 in milliseconds.
A benchmark, not a test: it asserts nothing.

    python benchmarks/hostile.py [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import aiohttp
import signedjson.key
from aiohttp import web

from matrix_delegation.checker.client_model import CLIENT_PATH, SUPPORT_PATH, VERSIONS_PATH
from matrix_delegation.resolver import ResolverConfig
from matrix_delegation.sandbox import Reply
from matrix_delegation.sandbox.homeserver import KEYS_PATH, VERSION_PATH, publish_homeserver
from matrix_delegation.sandbox.hostile import key_bomb, nested_json
from matrix_delegation.sandbox.world import Sandbox
from matrix_delegation.web.app import WebSettings, create_app

WK = "/.well-known/matrix/server"
MAX_HEALTH_POLLS = 100_000  # the poller's bound, on top of the checks' end


async def build(sandbox: Sandbox) -> list[str]:
    """The two hostile servers; returns their names."""
    key = signedjson.key.generate_signing_key("bomb")
    bomb = await sandbox.https_host(["bomb.test"], port=8448)
    publish_homeserver(bomb, "*", "bomb.test", key)
    bomb.set("*", KEYS_PATH, Reply(body=key_bomb("bomb.test", key)))

    nested = Reply(body=nested_json(), headers={"Access-Control-Allow-Origin": "*"})
    files = await sandbox.https_host(["nested.test"])
    for path in (WK, CLIENT_PATH, SUPPORT_PATH):
        files.set("nested.test", path, nested)
    federation = await sandbox.https_host(["nested.test"], port=8448)
    for path in (VERSION_PATH, KEYS_PATH, VERSIONS_PATH):
        federation.set("*", path, nested)
    return ["bomb.test", "nested.test"]


async def poll_health(
    session: aiohttp.ClientSession, base: str, stop: asyncio.Event
) -> list[float]:
    latencies: list[float] = []
    for _ in range(MAX_HEALTH_POLLS):
        if stop.is_set():
            break
        started = time.perf_counter()
        async with session.get(f"{base}/health") as response:
            await response.read()
        latencies.append(time.perf_counter() - started)
    return latencies


async def main(rounds: int) -> dict[str, Any]:
    async with Sandbox() as sandbox:
        names = await build(sandbox)
        settings = WebSettings(
            resolver_options=ResolverConfig(**sandbox.resolver_options(timeout=3.0)),
            check_timeout=3.0,
            deadline=20.0,
            rate_per_minute=6000.0,
            burst=1000,
            cache_ttl=0.0,
        )
        runner = web.AppRunner(create_app(settings), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with aiohttp.ClientSession() as session:
                stop = asyncio.Event()
                poller = asyncio.create_task(poll_health(session, base, stop))
                checks: dict[str, list[float]] = {name: [] for name in names}
                for _ in range(rounds):
                    for name in names:
                        started = time.perf_counter()
                        url = f"{base}/api/v1/check"
                        async with session.get(url, params={"server_name": name}) as response:
                            await response.read()
                        checks[name].append(round(time.perf_counter() - started, 3))
                stop.set()
                latencies = sorted(await poller)
        finally:
            await runner.cleanup()
    return {
        "rounds": rounds,
        "check_seconds": checks,
        "health_requests": len(latencies),
        "health_p50_ms": round(1000 * statistics.median(latencies), 2),
        "health_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
    }


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="checks per name (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = asyncio.run(main(max(1, min(args.rounds, 100))))
    if args.json:
        print(json.dumps(figures))
        return
    for name, seconds in figures["check_seconds"].items():
        print(f"{name}: checks took {', '.join(f'{s:.3f}' for s in seconds)} s")
    print(
        f"/health: {figures['health_requests']} requests, "
        f"p50 {figures['health_p50_ms']} ms, p99 {figures['health_p99_ms']} ms"
    )


if __name__ == "__main__":
    cli()
