"""benchmarks/watch.py still runs (tiny sizes); its figures are never asserted, only present."""

from __future__ import annotations

from benchmarks.test_smoke import run


def test_watch_benchmark_runs() -> None:
    figures = run("watch.py", "--smoke")
    found = figures["run"]
    assert isinstance(found, dict)
    assert found["exit_status"] == 0 and found["tracebacks"] == 0
    assert found["names_checked"] == found["names"] == 20
    assert {"lateness_p50_s", "lateness_p99_s", "overdue_at_end", "database_bytes_per_result",
            "rss_growth_mib_per_min"} <= set(found)  # fmt: skip
    assert {"nproc", "python", "load_average"} <= set(figures["machine"])  # type: ignore[arg-type]
