"""The benchmarks still run (tiny sizes); their figures are never asserted."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).parents[2] / "benchmarks"


def run(script: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args, "--json"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_resolve_fanout_runs() -> None:
    figures = run("resolve_fanout.py", "--names", "20", "--concurrency", "5")
    assert figures["names"] == 20
    assert {"cold_names_per_s", "warm_lookups_per_s", "bytes_per_cached_name"} <= set(figures)


@pytest.mark.skipif(
    shutil.which("wrk") is None or shutil.which("nginx") is None, reason="needs wrk and nginx"
)
def test_serve_benchmark_runs() -> None:
    figures = run("serve.py", "--smoke")
    assert figures


def test_startup_runs() -> None:
    figures = run("startup.py", "--runs", "1", "--top", "3")
    commands = figures["commands"]
    assert isinstance(commands, dict) and "--help" in commands
    assert all({"median_s", "cpu_median_s", "imports"} <= set(c) for c in commands.values())


@pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx")
def test_check_bulk_reports_its_figures_and_the_machine_limit() -> None:
    figures = run("check_bulk.py", "--smoke")
    (checks,) = figures["runs"]
    assert checks["federation_ok"] == 40
    assert checks["connections_per_check"] >= 1  # every check reaches the sandbox over TCP
    assert checks["checks_per_s_over_limit"] is not None
    limit = figures["limit"]
    assert limit["one_process"]["handshakes"] == 40 and limit["limit_per_s"] > 0
    assert {"nproc", "cpu", "python", "openssl (python)"} <= set(figures["machine"])
