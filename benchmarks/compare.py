"""Side by side: our resolver against Synapse's and resolvematrix, on the same sandbox.

A benchmark, not a test: it asserts nothing and prints the figures.

    python benchmarks/compare.py [--names 2000] [--concurrency 50] [--json] [--write-docs]
    python benchmarks/compare.py --servers nginx-dnsmasq   # the names served by C servers
    python benchmarks/compare.py --smoke --json      # tiny sizes, quick (CI)

One process tree on loopback. The sandbox (``_fanout_sandbox``: the scenario catalog's
fan-out entry stamped out N times, names delegated by ``.well-known``, then SRV) runs in
a child process; each implementation then resolves the same N names, the same number at
a time, in a fresh process of its own with empty caches (``_compare_workers.py``,
``_compare_synapse.py``, each built by that implementation's conformance driver), cold
and then warm. Then the
TLS-handshake limit on the same certificates (``_compare_tls.py``), our memory per
cached name (resolve_fanout's method), and ``serve.py --json`` for serving.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _compare_report import docs_section, ratios, table, targets, write_docs
from _fanout_native import native
from _fanout_sandbox import sandbox
from _machine_limit import machine_limit

HERE = Path(__file__).resolve().parent
STOP_TIMEOUT = 10.0
SERVERS = {"python": sandbox, "nginx-dnsmasq": native}  # --servers: who serves the names


def worker(command: list[str], timeout: float) -> dict[str, Any]:
    """Run one worker to the end (bounded); its JSON figures, or why there are none."""
    from serve import plain_environment

    process = subprocess.Popen(
        command,
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=plain_environment(),
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"no answer within {timeout:.0f} s"}
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT)
    for text in (out, *out.strip().splitlines()[-1:]):  # all of it (serve.py), or the last line
        with contextlib.suppress(json.JSONDecodeError):
            figures: dict[str, Any] = json.loads(text)
            return figures
    return {"error": f"exit {process.returncode}: {err.strip()[-800:]}"}


def namespaced(setup: dict[str, Any], work: Path) -> tuple[list[str], str]:
    """The prefix running a command with the sandbox DNS as its resolv.conf, or why not.

    A private mount namespace (``unshare --mount``, propagation private) in which a
    resolv.conf naming the sandbox's DNS server is bind-mounted over /etc/resolv.conf:
    the machine's own file is never touched.
    """
    if setup["dns_port"] != 53:
        return [], "the sandbox DNS could not bind port 53 (resolv.conf names no port)"
    if shutil.which("unshare") is None:
        return [], "unshare is not installed"
    resolv = work / "resolv.conf"
    resolv.write_text(f"nameserver {setup['dns_host']}\noptions timeout:2 attempts:2\n")
    probe = ["unshare", "--mount", "--propagation", "private", "true"]
    if subprocess.run(probe, capture_output=True, timeout=30, check=False).returncode != 0:
        return [], "no private mount namespace here (unshare --mount needs root)"
    script = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(resolv)], ""


def resolvers(setup: dict[str, Any], work: Path, concurrency: int) -> dict[str, Any]:
    """Each implementation in its own fresh process, one after the other."""
    setup_file = work / "setup.json"
    setup_file.write_text(json.dumps(setup))
    common = [str(setup_file), str(concurrency)]
    limit = 120 + len(setup["names"]) / 5
    python = [sys.executable]
    found: dict[str, Any] = {}
    for label, script in [
        ("ours", ["_compare_workers.py", "ours"]),
        ("synapse", ["_compare_synapse.py"]),
        ("resolvematrix", ["_compare_workers.py", "resolvematrix"]),
        ("memory", ["_compare_workers.py", "memory"]),
    ]:
        prefix = python
        if label == "resolvematrix":
            wrapper, reason = namespaced(setup, work)
            if reason:
                found[label] = {"not_measured": reason}
                continue
            prefix = wrapper + python
        print(f"  running: {label}", file=sys.stderr)
        found[label] = worker([*prefix, *script, *common], limit)
    return found


def serving(smoke: bool) -> dict[str, Any]:
    """serve.py's own figures and ratios, from its --json (not re-implemented here)."""
    if shutil.which("wrk") is None:
        return {"not_measured": "wrk is not installed"}
    print("  running: serve.py", file=sys.stderr)
    command = [sys.executable, "serve.py", "--json", *(["--smoke"] if smoke else [])]
    return worker(command, 900)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--names", type=int, help="distinct names (2000; --smoke: 40)")
    parser.add_argument("--concurrency", type=int, help="resolutions at a time (50; smoke: 5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, quick: proves it works")
    parser.add_argument(
        "--servers",
        choices=SERVERS,
        default="python",
        help="who serves the names: the Python sandbox, or nginx and dnsmasq",
    )
    parser.add_argument(
        "--write-docs", action="store_true", help="rewrite the section in docs/benchmarks.md"
    )
    args = parser.parse_args(argv)
    count = args.names or (40 if args.smoke else 2000)
    concurrency = args.concurrency or (5 if args.smoke else 50)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    if args.servers == "nginx-dnsmasq" and shutil.which("dnsmasq") is None:
        print(
            "dnsmasq is not installed (Debian: apt-get install -y dnsmasq): skipped",
            file=sys.stderr,
        )
        return 2
    started, load = time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="md-compare-") as directory:
        work = Path(directory)
        os.chmod(work, 0o755)  # nginx's worker may run as nobody
        with SERVERS[args.servers](count, work) as setup:
            found = resolvers(setup, work, concurrency)
            found["tls"] = machine_limit(work, setup, 2 * count, concurrency)
    found["serve"] = serving(args.smoke)
    command = ["python", "benchmarks/compare.py", *(sys.argv[1:] if argv is None else argv)]
    report = {
        "command": shlex.join(command),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "names": count,
        "concurrency": concurrency,
        "servers": args.servers,
        "seconds": round(time.monotonic() - started),
        "load_average": [load, os.getloadavg()[0]],  # 1-minute, at start and end
        **found,
    }
    report["machine"] = machine(report)
    report["ratios"] = ratios(report)
    report["targets"] = targets(report)
    print(json.dumps(report, indent=2) if args.json else table(report))
    if args.write_docs:
        write_docs(HERE.parent / "docs" / "benchmarks.md", docs_section(report))
    return 0


def machine(report: dict[str, Any]) -> dict[str, Any]:
    """The machine and every version measured (serve.py's list, plus the resolvers)."""
    import importlib.metadata

    from serve import machine as serve_machine

    found = serve_machine()
    for package in ("matrix-delegation", "resolvematrix"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    with contextlib.suppress(KeyError, TypeError):
        found["nginx"] = report["serve"]["machine"]["nginx"]
    return found


if __name__ == "__main__":
    sys.exit(main())
