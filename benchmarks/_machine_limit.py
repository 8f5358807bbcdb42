"""The machine's limit, measured in the same run as the figures judged against it.

Fresh TLS handshakes plus one GET each (``_compare_tls.py``'s Python client on uvloop)
against nginx serving the ``.well-known`` file on loopback (``_compare_tls.nginx``:
serve.py's configuration, one worker), with the certificate and CA of the run's own
sandbox: once with ONE client process, once with as many client processes as this
process may run on cores (``os.sched_getaffinity``), started together. The limit is the
higher of the two rates: what this machine lets a Python client do at best, the ceiling
for anything that needs a fresh handshake per name.

"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _compare_common import cpu_seconds
from _compare_tls import nginx

HERE = Path(__file__).resolve().parent
READY_TIMEOUT = 60.0  # a client's imports, on a loaded machine
RUN_TIMEOUT = 300.0

__all__ = ["cores", "limit_ratio", "machine_limit"]


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def limit_ratio(rate: float | None, limit: dict[str, Any]) -> float | None:
    """``rate`` over the limit's rate, to two places; None where either is missing."""
    top = limit.get("limit_per_s")
    return round(rate / top, 2) if rate is not None and top else None


def _clients(
    spec: Path, address: str, port: int, count: int, concurrency: int, processes: int
) -> list[subprocess.Popen[str]]:
    share = -(-count // processes)  # every process gets as many names (ceil)
    found = []
    for index in range(processes):
        command = [sys.executable, "_compare_tls.py", str(spec), str(concurrency), address]
        command += [str(port), str(share), str(index * share)]
        found.append(
            subprocess.Popen(
                command,
                cwd=HERE,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return found


def _await_ready(clients: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    for client in clients:
        assert client.stdout is not None
        left = deadline - time.monotonic()
        ready, _, _ = select.select([client.stdout], [], [], max(left, 0))
        if not ready or client.stdout.readline().strip() != "ready":
            raise RuntimeError(f"a TLS client was not ready within {READY_TIMEOUT:.0f} s")


def _finish(clients: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    found = []
    for client in clients:
        out, err = client.communicate(timeout=RUN_TIMEOUT)
        lines = out.strip().splitlines()
        figures = json.loads(lines[-1]) if lines else {"error": err.strip()[-400:]}
        if "error" in figures:
            raise RuntimeError(f"TLS client: {figures['error']}")
        found.append(figures)
    return found


def _run(
    spec: Path, server: tuple[str, int, int], count: int, concurrency: int, processes: int
) -> dict[str, Any]:
    """``processes`` clients started together; their combined rate over the joint wall."""
    address, port, worker = server
    clients = _clients(spec, address, port, count, concurrency, processes)
    try:
        _await_ready(clients)
        nginx_cpu = cpu_seconds([worker])
        for client in clients:
            assert client.stdin is not None
            client.stdin.write("go\n")
            client.stdin.flush()  # communicate() closes it
        figures = _finish(clients)
        nginx_cpu = cpu_seconds([worker]) - nginx_cpu
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
                client.wait(10)
    wall = max(f["end"] for f in figures) - min(f["start"] for f in figures)
    total = sum(f["ok"] for f in figures)
    return {
        "processes": processes,
        "handshakes": total,
        "handshakes_per_s": round(total / wall, 1),
        "p50_ms": max(f["p50_ms"] for f in figures),
        "client_cpu_ms_per_handshake": round(1000 * sum(f["cpu_s"] for f in figures) / total, 2),
        "nginx_cpu_ms_per_handshake": round(1000 * nginx_cpu / total, 2),
        "wall_s": round(wall, 2),
    }


def machine_limit(
    work: Path, setup: dict[str, Any], count: int, concurrency: int
) -> dict[str, Any]:
    """One client process, then one per core, against nginx; the higher rate is the limit.

    ``setup`` gives ``files`` (certificate and key for nginx), ``ca_file`` and ``names``
    (the SNIs, all covered by the certificate). Never raises: a failure is reported.
    """
    spec = work / "tls-clients.json"
    spec.write_text(json.dumps({"names": setup["names"], "ca_file": setup["ca_file"]}))
    print("  running: machine limit (TLS handshakes + GET against nginx)", file=sys.stderr)
    found: dict[str, Any] = {"cores": cores(), "load_average": [os.getloadavg()[0]]}
    try:
        with nginx(work / "nginx-limit", setup) as server:
            found["one_process"] = _run(spec, server, count, concurrency, 1)
            found["per_core"] = _run(spec, server, count, concurrency, cores())
    except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as exc:
        found["error"] = str(exc) or type(exc).__name__
        return found
    found["load_average"].append(os.getloadavg()[0])
    best = max(found["one_process"], found["per_core"], key=lambda f: f["handshakes_per_s"])
    found["limit_per_s"] = best["handshakes_per_s"]
    found["limit_processes"] = best["processes"]
    return found
