"""What every worker of ``compare.py`` shares: the names, the right answers, the figures.

Each implementation runs in a fresh process (``python benchmarks/_compare_*.py SETUP C``)
that reads the sandbox's setup from a JSON file and prints its figures as one JSON
object on stdout; start-up (imports, building the resolver) is not in the timings.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "cpu_seconds", "emit", "emitted", "load", "peak_rss_mib", "right", "servers_cpu", "summary",
]  # fmt: skip


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of the processes so far (those gone count 0)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def servers_cpu(setup: Mapping[str, Any], since: float, wall: float) -> dict[str, Any]:
    """How much of the machine the run's own servers took over ``wall`` seconds.

    ``since`` is their CPU time (``cpu_seconds(setup["server_pids"])``) when the run
    began; the share is of the wall time times the cores this process may use.
    """
    spent = cpu_seconds(setup["server_pids"]) - since
    machine = wall * len(os.sched_getaffinity(0))
    return {
        "servers_cpu_s": round(spent, 2),
        "servers_share": round(spent / machine, 3) if machine > 0 else None,
    }


def summary(count: int, wall: float, latencies: list[float]) -> dict[str, float]:
    """Names per second over the whole batch and the p50 and p99 latencies."""
    ordered = sorted(latencies)
    return {
        "names_per_s": round(count / wall, 1),
        "p50_ms": round(1000 * statistics.median(ordered), 2) if ordered else float("nan"),
        "p99_ms": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 2)
        if ordered
        else float("nan"),
        "wall_s": round(wall, 3),
    }


def load(argv: list[str]) -> tuple[dict[str, Any], dict[str, str], int]:
    """The worker's arguments: the setup, the names with their right answers, concurrency.

    The names and the endpoint each must end at (the catalog's expectation: its SRV
    target's address, port 8448) come from the sandbox, so that no worker imports the
    catalog (and with it our package, which would weigh in the other implementations'
    memory).
    """
    setup_file, concurrency = argv
    with open(setup_file) as handle:
        setup: dict[str, Any] = json.load(handle)
    return setup, dict(zip(setup["names"], setup["expected"], strict=True)), int(concurrency)


def emit(figures: dict[str, Any]) -> None:
    """Hand the figures back to compare.py: one JSON line on stdout."""
    sys.stdout.write(json.dumps(figures) + "\n")
    sys.stdout.flush()


def right(outcome: Mapping[str, Any], endpoint: str) -> bool:
    """Whether a driver's outcome ends at the endpoint the catalog expects (``ip:port``)."""
    return bool(outcome.get("endpoint") == endpoint)


def emitted(measure: Callable[[], dict[str, Any]]) -> int:
    """Run ``measure`` and hand its figures, or why there are none, to compare.py."""
    try:
        figures = measure()
    except Exception as exc:  # reported, not hidden: compare.py shows why
        emit({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    emit(figures)
    return 0
