"""The physical limit under a cold resolution: fresh TLS handshakes plus one GET, per second.

    python benchmarks/_compare_tls.py SETUP.json CONCURRENCY HOST PORT COUNT [OFFSET]

SETUP.json holds ``names`` (the SNIs to use, in turn from ``OFFSET``) and ``ca_file``. The
client prints ``ready`` once imported and waits for a line on stdin before it starts, so
that several of them (``_machine_limit``) start together; then one JSON line of figures,
with its start and end on the machine's monotonic clock and its own CPU time.

A Python client (asyncio on uvloop, as our resolver runs) opens ``COUNT`` connections,
``CONCURRENCY`` at a time, each a full TLS handshake (no session resumption) with SNI
``n<i>.bench.test``, verifying the sandbox's certificate against the sandbox CA, then
one ``GET /.well-known/matrix/server`` with ``Connection: close``, read to the end. Run
against the sandbox's own HTTPS host and against nginx (one worker) serving a file with
the same wildcard certificate from the same CA. ``nginx()`` starts and stops that nginx
(serve.py's configuration: one worker) and yields its address, port and worker's pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _compare_common import emitted, summary

PATH = "/.well-known/matrix/server"
READY_TIMEOUT = 20.0
BODY = b'{"m.server": "m0.bench.test"}'


async def _handshakes(
    host: str, port: int, names: list[str], ca_file: str, concurrency: int
) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=ca_file)
    pending = iter(names)
    latencies: list[float] = []
    ok = 0

    async def worker() -> None:
        nonlocal ok
        for server_name in pending:
            started = time.perf_counter()
            reader, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=server_name
            )
            request = f"GET {PATH} HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n"
            writer.write(request.encode("ascii"))
            response = await reader.read()
            writer.close()
            latencies.append(time.perf_counter() - started)
            ok += response.startswith(b"HTTP/1.1 200")

    started, cpu, clock = time.perf_counter(), time.process_time(), time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), 600)
    figures = summary(len(names), time.perf_counter() - started, latencies)
    timing = {"start": clock, "end": time.monotonic(), "cpu_s": time.process_time() - cpu}
    return {"handshakes_per_s": figures.pop("names_per_s"), **figures, "ok": ok, **timing}


@contextlib.contextmanager
def nginx(work: Path, setup: dict[str, Any]) -> Iterator[tuple[str, int, int]]:
    """nginx (one worker) serving the file over TLS with ``setup["files"]``."""
    from serve import child_pid, launch, log_tail, nginx_config, stop

    from matrix_delegation._core.site import Response
    from matrix_delegation.sandbox import free_loopback_address

    if shutil.which("nginx") is None:
        raise RuntimeError("nginx is not installed")
    port = 8443
    address = free_loopback_address(port, first=150)
    if address is None:
        raise RuntimeError(f"no 127.0.0.X has port {port} free")
    work.mkdir(exist_ok=True)
    # serve.py's configuration (one worker, one location), answering one small file.
    response = Response(200, (("Content-Type", "application/json"),), BODY)
    conf = nginx_config(work, (address, port, True), setup["files"], response)
    command = ["nginx", "-p", str(work), "-e", str(work / "nginx-error.log"), "-c", str(conf)]
    process = launch(command, work / "nginx.log", work)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not listening(address, port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start:\n{log_tail(work / 'nginx-error.log')}")
            time.sleep(0.05)
        yield address, port, child_pid(process.pid)
    finally:
        stop(process)


def listening(address: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=1):
        return True
    return False


def main(argv: list[str]) -> int:
    with open(argv[0]) as handle:
        setup = json.load(handle)
    concurrency, host, port, count = int(argv[1]), argv[2], int(argv[3]), int(argv[4])
    offset = int(argv[5]) if len(argv) > 5 else 0
    known = setup["names"]
    names = [known[(offset + index) % len(known)] for index in range(count)]

    def measure() -> dict[str, Any]:
        import uvloop

        print("ready", flush=True)
        sys.stdin.readline()  # "go" (or end of input: go at once)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(_handshakes(host, port, names, setup["ca_file"], concurrency))

    return emitted(measure)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
