"""compare.py still runs end to end at tiny sizes; its figures are never asserted."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

COMPARE = pathlib.Path(__file__).parents[2] / "benchmarks" / "compare.py"
IMPLEMENTATIONS = ("ours", "synapse", "resolvematrix")


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(COMPARE), "--smoke", "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures: dict[str, object] = json.loads(done.stdout)
    return figures


def test_report_has_every_part(report: dict[str, object]) -> None:
    expected = {"command", "machine", "names", "concurrency", "memory", "tls", "serve"}
    assert expected | {"ratios", "targets", *IMPLEMENTATIONS} <= set(report)
    assert report["names"] == 40 and report["concurrency"] == 5


def test_each_resolver_measured_or_says_why(report: dict[str, object]) -> None:
    for name in IMPLEMENTATIONS:
        part = report[name]
        assert isinstance(part, dict)
        if "not_measured" in part:  # resolvematrix needs a private mount namespace
            assert name == "resolvematrix" and part["not_measured"]
            continue
        assert "error" not in part, part
        assert {"names_per_s", "p50_ms", "p99_ms", "peak_rss_mib"} <= set(part["cold"])
        assert "lookups_per_s" in part["warm"]
        assert part["cold"]["right"] == 40  # every name resolved to its SRV target


def test_ratios_and_targets(report: dict[str, object]) -> None:
    ratios = report["ratios"]
    assert isinstance(ratios, dict)
    assert {"cold ours/synapse", "cold ours/tls limit", "warm ours/synapse"} <= set(ratios)
    targets = report["targets"]
    assert isinstance(targets, list) and len(targets) == 6
    assert all({"target", "measured", "met"} <= set(target) for target in targets)
    assert isinstance(report["memory"], dict) and "bytes_per_cached_name" in report["memory"]


@pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx")
def test_machine_limit_measured_with_one_and_many_clients(report: dict[str, object]) -> None:
    tls = report["tls"]
    assert isinstance(tls, dict) and "error" not in tls, tls
    one, many = tls["one_process"], tls["per_core"]
    assert one["processes"] == 1 and many["processes"] == tls["cores"]
    assert one["handshakes"] == 80  # 2 x names, every one answered 200
    assert many["handshakes"] >= 80  # the same count, shared out (rounded up)
    assert tls["limit_per_s"] == max(one["handshakes_per_s"], many["handshakes_per_s"])
    assert report["ratios"]["cold ours/tls limit"] is not None


def test_servers_share_of_the_machine_measured(report: dict[str, object]) -> None:
    for name in ("ours", "synapse"):
        cold = report[name]["cold"]
        assert cold["servers_cpu_s"] >= 0 and cold["servers_share"] is not None
