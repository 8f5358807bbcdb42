"""The speed runs' sandbox (``resolve_fanout.py``, ``compare.py``), in a child process.

N names stamped out of the catalog's fan-out entry (``scenarios.fanout``), behind one
HTTPS host with a wildcard certificate (``scenarios.install_shared``). The DNS server
listens on 127.0.0.X:53 when it may, so that a resolver that only reads
``/etc/resolv.conf`` (which has no port) can be pointed at it from a private mount
namespace. The wildcard certificate is also written to files, from the
same CA, for nginx in the TLS-handshake measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import scenarios as sc

from matrix_delegation.cli.common import run
from matrix_delegation.sandbox import free_loopback_address
from matrix_delegation.sandbox.dns_server import DnsServer
from matrix_delegation.sandbox.world import LOOPBACK_RANGES, Sandbox

DNS_PORT = 53
SETUP_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0
RESOLVE_TIMEOUT = 30.0


async def _serve(count: int, work: str, pipe: Connection) -> None:
    sandbox = Sandbox()
    dns_ip = free_loopback_address(DNS_PORT, first=200)
    if dns_ip is not None:  # root: the real DNS port, as resolv.conf can name no other
        sandbox.dns = DnsServer(sandbox.zone, host=dns_ip, port=DNS_PORT)
    async with sandbox:
        wildcard = f"*.{sc.FANOUT_DOMAIN}"
        host = await sandbox.https_host([wildcard], certificate_for=[wildcard])
        sandbox.zone.remove(wildcard)
        names = sc.fanout(count)
        sc.install_shared(sandbox, host, names)
        files = sandbox.ca.issue_files(wildcard, work)
        ca_file = str(sandbox.ca.write_ca_pem(Path(work) / "ca.pem"))
        pipe.send(
            {
                "dns_host": sandbox.dns.nameserver.rsplit(":", 1)[0],
                "dns_port": sandbox.dns.port,
                "https_host": host.host,
                "https_port": host.port,
                "ca_file": ca_file,
                "files": files,
                "names": [scenario["server_name"] for scenario in names],
                "expected": [scenario["expect"]["endpoints"][0] for scenario in names],
                "target": {
                    "nameserver": [sandbox.dns.host, sandbox.dns.port],
                    "ca_file": ca_file,
                    "allow": list(LOOPBACK_RANGES),
                    # Without root, the host listens elsewhere: send every :443 there.
                    "connect_to": [f":443:{host.host}:{host.port}"] if sandbox.connect_to else [],
                    "timeout": RESOLVE_TIMEOUT,
                },
            }
        )
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # until "stop"


def _sandbox_process(count: int, work: str, pipe: Connection) -> None:
    run(_serve(count, work, pipe))


@contextlib.contextmanager
def sandbox(count: int, work: Path) -> Iterator[dict[str, Any]]:
    """Run the sandbox with ``count`` names in a child process; yield its setup."""
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(
        target=_sandbox_process, args=(count, str(work), theirs), daemon=True
    )
    child.start()
    try:
        if not ours.poll(SETUP_TIMEOUT):
            raise RuntimeError(f"the sandbox did not start within {SETUP_TIMEOUT:.0f} s")
        setup: dict[str, Any] = ours.recv()
        setup["sandbox_pid"] = child.pid
        setup["server_pids"] = [child.pid]  # whose CPU the run's servers take
        yield setup
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        child.join(timeout=STOP_TIMEOUT)
        if child.is_alive():
            child.kill()
            child.join(timeout=STOP_TIMEOUT)
