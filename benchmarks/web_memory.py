"""The web checker's memory after many distinct reports of a large server.

Starts the sandbox (loopback only) with one homeserver reachable through 24 SRV
targets, publishes ``--names`` distinct server names that all delegate to it,
then runs ``web`` in a child process (so that its RSS is its own) with a report
cache big enough to keep every report, and asks it for a report of each name.
The version and key answers are padded to ``--padding`` bytes, so a report
that kept raw bodies would hold 48 of them per name.

Prints the child's RSS (``VmRSS``) and peak (``VmHWM``) before and after, and
how long the checks took. A benchmark, not a test: it asserts nothing.

    python benchmarks/web_memory.py [--names 1000] [--padding 16384] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import signedjson.key
import signedjson.sign
from aiohttp import web

from matrix_delegation.sandbox import Reply
from matrix_delegation.sandbox.homeserver import KEYS_PATH, VERSION_PATH, key_response
from matrix_delegation.sandbox.world import Sandbox

ENDPOINTS = 24
KEY = signedjson.key.generate_signing_key("mem")
CONCURRENCY = 16
MAX_WAIT_READY = 200  # 50 ms polls: at most 10 s for the child to listen


def _serve(options: dict[str, Any], port: int, names: int) -> None:
    """The child: the web app with a cache that keeps every report, until killed."""
    import ssl

    from matrix_delegation import ResolverConfig
    from matrix_delegation.web.app import WebSettings, create_app

    ca_file = options.pop("ca_file")
    options["ssl_context"] = ssl.create_default_context(cafile=ca_file)
    settings = WebSettings(
        resolver_options=ResolverConfig(**options),
        check_timeout=10.0,
        deadline=60.0,
        rate_per_minute=1e9,
        burst=1_000_000,
        max_running=CONCURRENCY,
        max_running_per_client=CONCURRENCY,  # one client asks everything here
        cache_ttl=3600.0,
        cache_size=names * 2,
    )
    web.run_app(create_app(settings), host="127.0.0.1", port=port, print=None)


def _memory(pid: int) -> dict[str, int]:
    """The child's VmRSS and VmHWM in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


async def _publish(sandbox: Sandbox, names: int, padding: int) -> list[str]:
    host = await sandbox.https_host(["hs.mem.test"], port=8448, certificate_for=["*.mem.test"])
    version = {"server": {"name": "Sandbox", "version": "1"}, "padding": "v" * padding}
    host.set("*", VERSION_PATH, Reply.json(version))
    listed = [f"n{index}.mem.test" for index in range(names)]
    for name in listed:
        document = key_response(name, KEY)
        del document["signatures"]
        document["padding"] = "k" * padding
        host.set(name, KEYS_PATH, Reply.json(signedjson.sign.sign_json(document, name, KEY)))
        for target in range(ENDPOINTS):
            sandbox.zone.add(f"_matrix-fed._tcp.{name}", "SRV", f"10 1 8448 t{target}.mem.test.")
    for target in range(ENDPOINTS):
        sandbox.zone.add(f"t{target}.mem.test", "A", host.host)
    return listed


async def _ask_all(base: str, names: list[str]) -> int:
    pending = iter(names)
    ok = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal ok
        for name in pending:
            url = f"{base}/api/v1/check"
            async with session.get(url, params={"server_name": name}) as response:
                report = await response.json()
                if response.status != 200:
                    raise SystemExit(f"{name}: HTTP {response.status}: {report}")
                ok += bool(report.get("federation_ok"))

    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    return ok


async def _wait_ready(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(MAX_WAIT_READY):
            try:
                async with session.get(f"{base}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise SystemExit("the web child did not start")


async def main(names: int, padding: int, port: int) -> dict[str, Any]:
    async with Sandbox() as sandbox:
        listed = await _publish(sandbox, names, padding)
        with tempfile.TemporaryDirectory(prefix="md-webmem-") as work:
            options = sandbox.resolver_options(timeout=10.0)
            options["ca_file"] = str(sandbox.ca.write_ca_pem(Path(work) / "ca.pem"))
            del options["ssl_context"]
            child = multiprocessing.get_context("spawn").Process(
                target=_serve, args=(options, port, names), daemon=True
            )
            child.start()
            assert child.pid is not None
            base = f"http://127.0.0.1:{port}"
            try:
                await _wait_ready(base)
                before = _memory(child.pid)
                started = time.perf_counter()
                ok = await _ask_all(base, listed)
                seconds = time.perf_counter() - started
                after = _memory(child.pid)
            finally:
                child.kill()
                child.join(10)
    return {
        "names": names,
        "endpoints_per_name": ENDPOINTS,
        "padding_bytes": padding,
        "federation_ok": ok,
        "seconds": round(seconds, 1),
        "rss_before_mib": round(before["VmRSS"] / 1024, 1),
        "rss_after_mib": round(after["VmRSS"] / 1024, 1),
        "peak_rss_mib": round(after["VmHWM"] / 1024, 1),
    }


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=1000, help="distinct names (default 1000)")
    parser.add_argument("--padding", type=int, default=16384, help="bytes per body (16384)")
    parser.add_argument("--port", type=int, default=18099, help="the web child's port")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = asyncio.run(main(max(1, min(args.names, 10_000)), args.padding, args.port))
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    cli()
