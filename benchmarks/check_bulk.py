"""Bulk checks: `check --from-file` over N stand-in homeservers, JSON Lines out.

The sandbox (DNS server, one HTTPS homeserver on 127.0.0.X:8448 with a
wildcard certificate answering for every name, and a 404-only HTTPS host on
the same address's port 443) runs in a child process. The checker runs as the
real command line in another process, 200 checks at once; this script reads
its JSON Lines as they arrive and measures wall time and the checker's peak
RSS. A benchmark, not a test: it asserts nothing and prints the figures.

    python benchmarks/check_bulk.py [--names 2000] [--concurrency 200] [--compare-sizes]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import signedjson.key

from matrix_delegation import __version__
from matrix_delegation.cli.common import run
from matrix_delegation.sandbox import Reply, WebHost
from matrix_delegation.sandbox.homeserver import KEYS_PATH, VERSION_PATH, key_response
from matrix_delegation.sandbox.world import Sandbox

DOMAIN = "bulk.test"
SIZES = (2000, 20_000)  # --compare-sizes
SECONDS_PER_NAME_LIMIT = 0.05  # a run taking 20 times the target is stopped (no hang)


def name(index: int) -> str:
    return f"h{index}.{DOMAIN}"


# --- the sandbox, in a child process ---------------------------------------------------


async def _serve(count: int, pipe: Connection) -> None:
    async with Sandbox() as sandbox:
        context = sandbox.ca.server_context(f"*.{DOMAIN}")
        federation = await _federation_host(sandbox, context)
        web, connect_to = await _web_host(federation.host, context)
        try:
            _publish(sandbox, federation, federation.host, count)
            pipe.send(
                {
                    "dns_server": sandbox.dns.nameserver,
                    "connect_to": connect_to,
                    "ca_pem": sandbox.ca.ca_pem.decode(),
                    "pid": os.getpid(),
                }
            )
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "stop"
        finally:
            await web.stop()
            await federation.stop()


async def _federation_host(sandbox: Sandbox, context: Any) -> WebHost:
    """The homeserver on 127.0.0.X:8448 (other programs may take an address meanwhile)."""
    for _ in range(20):
        host = WebHost(sandbox.address(8448), 8448, context)
        try:
            await host.start()
        except OSError:
            continue
        return host
    raise OSError("no free loopback address for port 8448")


async def _web_host(ip: str, context: Any) -> tuple[WebHost, list[str]]:
    """The names' port 443: nothing but 404 (no .well-known, client or support file)."""
    try:
        host = WebHost(ip, 443, context)
        await host.start()
        return host, []
    except OSError:  # not root: any port, and every :443 goes there
        host = WebHost(ip, 0, context)
        await host.start()
        return host, [f":443:{ip}:{host.port}"]


def _publish(sandbox: Sandbox, federation: WebHost, ip: str, count: int) -> None:
    key = signedjson.key.generate_signing_key("bulk")
    federation.set("*", VERSION_PATH, Reply.json({"server": {"name": "Bulk", "version": "1"}}))
    for index in range(count):
        sandbox.zone.add(name(index), "A", ip, ttl=3600)
        federation.set(name(index), KEYS_PATH, Reply.json(key_response(name(index), key)))


def _sandbox_process(count: int, pipe: Connection) -> None:
    run(_serve(count, pipe))


# --- the checker, as a subprocess --------------------------------------------------------


def _command(setup: dict[str, Any], names_file: str, ca_file: str, concurrency: int) -> list[str]:
    command = [sys.executable, "-m", "matrix_delegation", "check", "--from-file", names_file]
    command += ["--json", "--concurrency", str(concurrency), "--timeout", "30"]
    command += ["--dns-server", setup["dns_server"], "--ca-file", ca_file]
    command += ["--allow-ip-range", "127.0.0.0/8"]
    for rule in setup["connect_to"]:
        command += ["--connect-to", rule]
    return command


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _watch(process: subprocess.Popen[str], deadline: float, samples: list[int]) -> None:
    """Every 0.1 s: the checker's RSS; kill it past the deadline.

    It never reaps the child (no ``poll()``): ``os.wait4`` in the main thread must.
    """
    while Path(f"/proc/{process.pid}").exists() and process.returncode is None:
        if time.monotonic() > deadline:
            process.kill()
            return
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            return
        rss = [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")]
        if not rss:
            return  # a zombie: it has exited
        samples += rss
        time.sleep(0.1)


def _read(process: subprocess.Popen[str]) -> tuple[int, int, int]:
    """Lines read, lines that parse as a report, reports with federation OK."""
    lines = parsed = ok = 0
    assert process.stdout is not None
    for line in process.stdout:  # ends at EOF: when the checker exits or is killed
        lines += 1
        try:
            report = json.loads(line)
        except ValueError:
            continue
        parsed += isinstance(report, dict) and "federation_ok" in report
        ok += report.get("federation_ok") is True
    return lines, parsed, ok


def _profiler(pid: int, out: str | None) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the checker (--py-spy OUT): raw folded stacks, for a flame graph."""
    if out is None:
        return None
    command = ["py-spy", "record", "--pid", str(pid), "-o", out, "-f", "raw", "--rate", "250"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _run_checker(
    command: list[str], count: int, profile: str | None, stderr: Any
) -> dict[str, Any]:
    """Run the checker, read its reports as they come; wall time and the child's rusage."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    profiler = _profiler(process.pid, profile)
    samples: list[int] = []
    deadline = time.monotonic() + 60 + count * SECONDS_PER_NAME_LIMIT
    watcher = threading.Thread(target=_watch, args=(process, deadline, samples), daemon=True)
    watcher.start()
    try:
        lines, parsed, ok = _read(process)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS and CPU
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
    finally:
        if process.returncode is None:
            process.kill()
            process.wait(timeout=10)
        watcher.join(timeout=5)
        if profiler is not None:
            profiler.wait(timeout=60)
    return {
        "exit_status": process.returncode,
        "reports": lines,
        "reports_parsed": parsed,
        "federation_ok": ok,
        "wall_s": round(wall, 2),
        "checks_per_s": round(count / wall, 1),
        "checker_cpu_ms_per_check": round(1000 * (usage.ru_utime + usage.ru_stime) / count, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "rss_mid_run_mib": round(samples[len(samples) // 2] / 1024, 1) if samples else None,
    }


def measure(
    setup: dict[str, Any], ca_file: str, count: int, concurrency: int, profile: str | None = None
) -> dict[str, object]:
    """One run of ``check --from-file`` over the first ``count`` names."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as names:
        names.writelines(f"{name(i)}\n" for i in range(count))
    command = _command(setup, names.name, ca_file, concurrency)
    sandbox_cpu = _cpu_seconds(setup["pid"])
    try:
        with tempfile.TemporaryFile("w+") as stderr:
            figures = _run_checker(command, count, profile, stderr)
            stderr.seek(0)
            summary = stderr.read().strip().splitlines()
    finally:
        os.unlink(names.name)
    sandbox_ms = 1000 * (_cpu_seconds(setup["pid"]) - sandbox_cpu) / count
    return {
        "names": count,
        "concurrency": concurrency,
        **figures,
        "sandbox_cpu_ms_per_check": round(sandbox_ms, 2),
        "summary": summary[0] if summary else "",
    }


def machine() -> str:
    python = platform.python_version()
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {python}, {platform.platform()}"


def _runs(sizes: list[int], concurrency: int, profile: str | None) -> list[dict[str, object]]:
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(target=_sandbox_process, args=(max(sizes), theirs))
    child.daemon = True
    child.start()
    workdir = tempfile.mkdtemp(prefix="matrix-delegation-bulk-")
    try:
        for _ in range(300):  # the sandbox signs a key response per name: a few seconds
            if ours.poll(1) or not child.is_alive():
                break
        if not ours.poll(0):
            raise RuntimeError("the sandbox did not start (see above)")
        setup = ours.recv()
        ca_file = os.path.join(workdir, "ca.pem")
        Path(ca_file).write_text(setup["ca_pem"])
        return [measure(setup, ca_file, size, concurrency, profile) for size in sizes]
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
            child.join(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--compare-sizes", action="store_true", help=f"run {SIZES} names")
    parser.add_argument(
        "--sizes", type=lambda t: [int(n) for n in t.split(",")], help="with --compare-sizes"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--py-spy", metavar="OUT", help="profile the checker into OUT (raw)")
    args = parser.parse_args(argv)
    sizes = (args.sizes or list(SIZES)) if args.compare_sizes else [args.names]
    figures: dict[str, Any] = {"runs": _runs(sizes, args.concurrency, args.py_spy)}
    if args.compare_sizes:
        first, last = figures["runs"][0], figures["runs"][-1]
        figures["peak_rss_ratio"] = round(last["peak_rss_mib"] / first["peak_rss_mib"], 3)
    figures["machine"] = machine()
    figures["version"] = __version__
    figures["self_peak_rss_mib"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for run_figures in figures.pop("runs"):
        for key, value in run_figures.items():
            print(f"{key:>26}  {value}")
        print()
    for key, value in figures.items():
        print(f"{key:>26}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
