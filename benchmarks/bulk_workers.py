"""`resolve --from-file` with one worker process and with several: names per second.

The sandbox of ``resolve_fanout.py`` (N names delegated by .well-known and then SRV,
one HTTPS host, a DNS server; ``_fanout_sandbox``) runs in a child process on this
machine, and so competes for the same cores. The command line runs as a real
subprocess, cold (a fresh process per run). A benchmark, not a test: it asserts
nothing but the exit status and prints the figures.

    python benchmarks/bulk_workers.py [--names 2000] [--workers 1 2] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _fanout_sandbox import sandbox

RUN_LIMIT = 600.0  # seconds: a run taking longer is stopped


def _flags(target: dict[str, Any]) -> list[str]:
    host, port = target["nameserver"]
    flags = ["--dns-server", f"{host}:{port}", "--ca-file", target["ca_file"]]
    for cidr in target["allow"]:
        flags += ["--allow-ip-range", cidr]
    for rule in target["connect_to"]:
        flags += ["--connect-to", rule]
    return [*flags, "--timeout", str(target["timeout"])]


def _cpu() -> float:
    """CPU seconds of every finished child, grandchildren (the workers) included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(names_file: Path, workers: int, concurrency: int, flags: list[str]) -> tuple[float, float]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-m", "matrix_delegation", "resolve", "--from-file", str(names_file)]
    argv += ["--json", "--workers", str(workers), "--concurrency", str(concurrency), *flags]
    started, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(argv, env=env, capture_output=True, timeout=RUN_LIMIT, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"workers={workers}: exit {done.returncode}: {done.stderr[-500:]!r}")
    return elapsed, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2, help="runs per worker count (best)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as work, sandbox(options.names, Path(work)) as setup:
        names_file = Path(work) / "names.txt"
        names_file.write_text("\n".join(setup["names"]) + "\n")
        flags = _flags(setup["target"])
        results = {}
        for workers in options.workers:
            best, cpu = min(
                _run(names_file, workers, options.concurrency, flags) for _ in range(options.rounds)
            )
            results[f"workers={workers}"] = {
                "seconds": round(best, 2),
                "names_per_second": round(options.names / best),
                "cpu_ms_per_name": round(1000 * cpu / options.names, 2),
            }
    print(
        json.dumps(
            {
                "names": options.names,
                "concurrency_per_worker": options.concurrency,
                "usable_cores": len(os.sched_getaffinity(0)),
                "load_average_1min": round(os.getloadavg()[0], 1),  # others' runs share it
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
