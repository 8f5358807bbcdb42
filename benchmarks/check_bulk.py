"""Bulk checks: `check --from-file` over N stand-in homeservers, JSON Lines out.

The sandbox (DNS server, one HTTPS homeserver on 127.0.0.X:8448 with a
wildcard certificate answering for every name, and a 404-only HTTPS host on
the same address's port 443) runs in a child process. The checker runs as the
real command line in another process, 200 checks at once; this script reads
its JSON Lines as they arrive and measures wall time and the checker's peak
RSS. A benchmark, not a test: it asserts nothing and prints the figures.

In the same run: the machine's limit (``_machine_limit``: fresh TLS handshakes plus one
GET against nginx with the sandbox's certificate, one client process and one per core,
the higher), each rate as a ratio to it; the TCP connections the sandbox accepted per
check; and the sandbox's CPU as a share of the machine (wall time times cores).

    python benchmarks/check_bulk.py [--names 2000] [--concurrency 200] [--compare-sizes]
    python benchmarks/check_bulk.py --smoke --json    # tiny sizes, quick (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import signedjson.key
from _compare_common import cpu_seconds, servers_cpu
from _machine_limit import cores, limit_ratio, machine_limit
from aiohttp import web_server

from matrix_delegation import __version__
from matrix_delegation.checker.agents_model import EXTRA_REQUESTS
from matrix_delegation.cli.common import run
from matrix_delegation.sandbox import Reply, WebHost
from matrix_delegation.sandbox.homeserver import KEYS_PATH, VERSION_PATH, key_response
from matrix_delegation.sandbox.world import Sandbox

DOMAIN = "bulk.test"
SIZES = (2000, 20_000)  # --compare-sizes
SECONDS_PER_NAME_LIMIT = 0.05  # a run taking 20 times the target is stopped (no hang)
LIMIT_HANDSHAKES = 2000  # per client set-up of the machine-limit measurement
LIMIT_CONCURRENCY = 50  # handshakes at a time per client process, as compare.py's
SMOKE = {"names": 40, "concurrency": 10, "handshakes": 40}


def name(index: int) -> str:
    return f"h{index}.{DOMAIN}"


# --- the sandbox, in a child process ---------------------------------------------------


def _count_accepts() -> list[int]:
    """Count every TCP connection the sandbox's web hosts accept, in this process.

    The sandbox's WebHost keeps no such count; aiohttp's server is told of each accepted
    connection (``Server.connection_made``), so this process (the benchmark's own
    sandbox child) wraps that to count.
    """
    accepted = [0]
    made = web_server.Server.connection_made

    def counted(self: web_server.Server, handler: Any, transport: Any) -> None:
        accepted[0] += 1
        made(self, handler, transport)

    web_server.Server.connection_made = counted  # type: ignore[method-assign]
    return accepted


async def _serve(count: int, work: str, pipe: Connection) -> None:
    accepted = _count_accepts()
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
                    "ca_file": str(sandbox.ca.write_ca_pem(Path(work) / "ca.pem")),
                    "files": sandbox.ca.issue_files(f"*.{DOMAIN}", work),  # for nginx
                    "server_pids": [os.getpid()],
                }
            )
            loop = asyncio.get_running_loop()
            while await loop.run_in_executor(None, pipe.recv) == "accepted":  # until "stop"
                pipe.send(accepted[0])
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


def _sandbox_process(count: int, work: str, pipe: Connection) -> None:
    run(_serve(count, work, pipe))


# --- the checker, as a subprocess --------------------------------------------------------


def _command(setup: dict[str, Any], names_file: str, ca_file: str, concurrency: int) -> list[str]:
    command = [sys.executable, "-m", "matrix_delegation", "check", "--from-file", names_file]
    command += ["--json", "--concurrency", str(concurrency), "--timeout", "30"]
    command += ["--dns-server", setup["dns_server"], "--ca-file", ca_file]
    command += ["--allow-ip-range", "127.0.0.0/8"]
    for rule in setup["connect_to"]:
        command += ["--connect-to", rule]
    return command


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
    command = ["py-spy", "record", "--pid", str(pid), "--subprocesses", "-o", out, "-f", "raw"]
    command += ["--rate", "250"]
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
    setup: dict[str, Any],
    accepted: Callable[[], int],
    count: int,
    concurrency: int,
    profile: str | None = None,
) -> dict[str, object]:
    """One run of ``check --from-file`` over the first ``count`` names."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as names:
        names.writelines(f"{name(i)}\n" for i in range(count))
    command = _command(setup, names.name, setup["ca_file"], concurrency)
    sandbox_cpu, connections = cpu_seconds(setup["server_pids"]), accepted()
    try:
        with tempfile.TemporaryFile("w+") as stderr:
            figures = _run_checker(command, count, profile, stderr)
            stderr.seek(0)
            summary = stderr.read().strip().splitlines()
    finally:
        os.unlink(names.name)
    connections = accepted() - connections
    sandbox = servers_cpu(setup, sandbox_cpu, float(figures["wall_s"]))
    return {
        "names": count,
        "concurrency": concurrency,
        **figures,
        "sandbox_cpu_ms_per_check": round(1000 * sandbox["servers_cpu_s"] / count, 2),
        "sandbox_share_of_machine": sandbox["servers_share"],
        "connections_per_check": round(connections / count, 2),  # accepted by the sandbox
        "summary": summary[0] if summary else "",
    }


def machine() -> dict[str, Any]:
    """nproc, CPU model, Python, OpenSSL, nginx (serve.py's list) and the load now."""
    from serve import machine as serve_machine

    found = serve_machine()
    found["nproc"] = cores()
    found["load_average"] = round(os.getloadavg()[0], 2)
    return found


def _started(child: multiprocessing.Process, ours: Connection) -> dict[str, Any]:
    for _ in range(300):  # the sandbox signs a key response per name: a few seconds
        if ours.poll(1) or not child.is_alive():
            break
    if not ours.poll(0):
        raise RuntimeError("the sandbox did not start (see above)")
    setup: dict[str, Any] = ours.recv()
    return setup


@contextlib.contextmanager
def sandbox_child(count: int, workdir: str) -> Iterator[tuple[dict[str, Any], Connection]]:
    """The sandbox with ``count`` names in a child process: its setup and the pipe to it."""
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(
        target=_sandbox_process, args=(count, workdir, theirs), daemon=True
    )
    child.start()
    try:
        yield _started(child, ours), ours
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
            child.join(timeout=10)


def _runs(
    sizes: list[int], concurrency: int, profile: str | None, handshakes: int
) -> dict[str, Any]:
    """Every size's run, then the machine's limit with the sandbox's certificate."""
    workdir = tempfile.mkdtemp(prefix="matrix-delegation-bulk-")
    os.chmod(workdir, 0o755)  # nginx's worker may run as nobody
    try:
        with sandbox_child(max(sizes), workdir) as (setup, ours):

            def accepted() -> int:
                ours.send("accepted")
                return int(ours.recv())

            runs = [measure(setup, accepted, size, concurrency, profile) for size in sizes]
            setup["names"] = [name(i) for i in range(min(max(sizes), 1000))]
            limit = machine_limit(Path(workdir), setup, handshakes, LIMIT_CONCURRENCY)
            return {"runs": runs, "limit": limit}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--names", type=int, help="names to check (2000; --smoke: 40)")
    parser.add_argument("--concurrency", type=int, help="checks at a time (200; --smoke: 10)")
    parser.add_argument("--compare-sizes", action="store_true", help=f"run {SIZES} names")
    parser.add_argument(
        "--sizes", type=lambda t: [int(n) for n in t.split(",")], help="with --compare-sizes"
    )
    parser.add_argument(
        "--limit-handshakes", type=int, help=f"per limit run ({LIMIT_HANDSHAKES}; --smoke: 40)"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, quick: proves it works")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--py-spy", metavar="OUT", help="profile the checker into OUT (raw)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    defaults = SMOKE if args.smoke else {"names": 2000, "concurrency": 200}
    count = args.names or defaults["names"]
    handshakes = args.limit_handshakes or (SMOKE["handshakes"] if args.smoke else LIMIT_HANDSHAKES)
    sizes = (args.sizes or list(SIZES)) if args.compare_sizes else [count]
    load = os.getloadavg()[0]
    concurrency = args.concurrency or defaults["concurrency"]
    figures: dict[str, Any] = _runs(sizes, concurrency, args.py_spy, handshakes)
    for run_figures in figures["runs"]:
        rate = float(run_figures["checks_per_s"])
        run_figures["checks_per_s_over_limit"] = limit_ratio(rate, figures["limit"])
    if len(sizes) > 1:
        first, last = figures["runs"][0], figures["runs"][-1]
        figures["peak_rss_ratio"] = round(last["peak_rss_mib"] / first["peak_rss_mib"], 3)
    figures["load_average"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    figures["machine"] = machine()
    figures["version"] = __version__
    # The User-Agent fetches of each check (checker/agents_model.py), part of these runs.
    figures["agent_requests_per_check"] = EXTRA_REQUESTS
    figures["self_peak_rss_mib"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    print(json.dumps(figures, indent=2) if args.json else _table(figures))
    return 0


def _table(figures: dict[str, Any]) -> str:
    from _compare_report import limit_lines

    lines = []
    for run_figures in figures["runs"]:
        lines += [f"{key:>26}  {value}" for key, value in run_figures.items()]
        lines.append("")
    lines += [*limit_lines(figures["limit"]), ""]
    rest = {key: value for key, value in figures.items() if key not in ("runs", "limit")}
    lines += [f"{key:>26}  {value}" for key, value in rest.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
