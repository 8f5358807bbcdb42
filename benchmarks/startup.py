"""Start-up time of the command line: wall clock of whole runs, and what imports cost.

Each command runs ``--runs`` times in a fresh interpreter (``python -m
matrix_delegation ...``, with this checkout's ``src`` first on the path); the
median and the fastest wall-clock time are reported, and the median CPU time
(user + system, which a loaded machine inflates less than wall time). ``python -c pass`` is
measured the same way: the interpreter's own start (site, ``.pth`` files) is
the floor under every figure. Then each command runs once more under ``-X
importtime`` and the modules with the largest cumulative import time are listed.

    python benchmarks/startup.py [--runs 10] [--top 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
_TIMEOUT = 60.0  # seconds: one run that takes longer is a failure, not a figure

#: Label and arguments of each measured command; ``None``: the bare interpreter.
COMMANDS: dict[str, list[str] | None] = {
    "python -c pass": None,
    "--help": ["--help"],
    "resolve 1.2.3.4": ["resolve", "1.2.3.4"],
    "resolve --json 1.2.3.4": ["resolve", "--json", "1.2.3.4"],
    "check --help": ["check", "--help"],
    "web --help": ["web", "--help"],
}


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


def _argv(words: list[str] | None, *flags: str) -> list[str]:
    if words is None:
        return [sys.executable, *flags, "-c", "pass"]
    return [sys.executable, *flags, "-m", "matrix_delegation", *words]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv, capture_output=True, text=True, env=_environment(), timeout=_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr[-500:]}")
    return done


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wall_times(words: list[str] | None, runs: int) -> dict[str, float]:
    """Median and fastest wall-clock seconds of ``runs`` runs, and their median CPU seconds."""
    seconds, cpu = [], []
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), _children_cpu()
        _run(_argv(words))
        seconds.append(time.perf_counter() - start)
        cpu.append(_children_cpu() - cpu_start)
    return {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "cpu_median_s": statistics.median(cpu),
    }


def top_imports(words: list[str] | None, top: int) -> list[dict[str, Any]]:
    """The ``top`` modules by cumulative import time (microseconds), as ``-X importtime`` says."""
    rows = []
    for line in _run(_argv(words, "-X", "importtime")).stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|", 2)
        rows.append({"module": name.strip(), "self_us": int(own), "cumulative_us": int(cumulative)})
    rows.sort(key=lambda row: row["cumulative_us"], reverse=True)
    return rows[:top]


def measure(runs: int, top: int) -> dict[str, Any]:
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": os.getloadavg(),
        },
        "runs": runs,
        "commands": {
            label: {**wall_times(words, runs), "imports": top_imports(words, top)}
            for label, words in COMMANDS.items()
        },
    }


def _print_report(figures: dict[str, Any]) -> None:
    machine = figures["machine"]
    print(
        f"{machine['cpus']} CPUs, Python {machine['python']}, "
        f"load average {machine['load_average'][0]:.2f}; {figures['runs']} runs each"
    )
    print(f"{'command':<26} {'median':>8} {'fastest':>8} {'CPU':>8}")
    for label, result in figures["commands"].items():
        print(
            f"{label:<26} {result['median_s']:>7.3f}s {result['min_s']:>7.3f}s"
            f" {result['cpu_median_s']:>7.3f}s"
        )
    for label, result in figures["commands"].items():
        print(f"\n{label}: top imports by cumulative time")
        for row in result["imports"]:
            print(f"  {row['cumulative_us'] / 1000:>7.1f} ms  {row['module']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each command (default 10)")
    parser.add_argument("--top", type=int, default=10, help="modules listed (default 10)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    figures = measure(max(1, args.runs), max(1, args.top))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        _print_report(figures)


if __name__ == "__main__":
    main()
