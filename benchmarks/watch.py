"""`watch` over N stand-in homeservers: is the schedule kept, how big is the history, is RSS flat?

The sandbox of ``check_bulk.py`` (DNS, one HTTPS homeserver on 127.0.0.X:8448 with a
wildcard certificate answering for every name, a 404-only host on port 443) runs in a
child process; ``matrix-delegation watch`` runs as the real command line in another, with
SQLite, ``--jitter 0`` and every name healthy, for ``--minutes``. Then, from its database:

- lateness: how long after it was due each check started. With no jitter a name is due
  ``--interval`` after its previous check ended (``checked_at``); a check starts at
  ``checked_at - duration``. The first check of each name (due at a random point of the
  start-up spread) is left out. ``overdue_at_end`` counts the names whose due time had
  passed by more than 5 s when the run stopped: a backlog the lateness of the checks that
  were made cannot show.
- the database file (with its WAL) per check result recorded;
- the TCP connections (each a TLS handshake) the sandbox accepted per check: each check is
  a first look with a new resolver, so nothing is reused from one check to the next;
- the watch process's RSS, sampled every ``--sample-every`` seconds, and its growth over
  the run after the first interval (start-up and the first round left out).

A benchmark, not a test: it asserts nothing and prints the figures.

    python benchmarks/watch.py [--names 10000] [--interval 60] [--minutes 30]
    python benchmarks/watch.py --smoke --json    # tiny sizes, quick (CI)
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from check_bulk import machine, name, sandbox_child

from matrix_delegation import __version__

SMOKE = {"names": 20, "interval": 2.0, "minutes": 0.25, "sample_every": 0.5, "concurrency": 10}
OVERDUE = 5.0  # seconds past due at the end that count as a backlog
STOP_LIMIT = 120.0  # seconds for watch to finish its checks in flight after SIGTERM


def _command(setup: dict[str, Any], args: argparse.Namespace, work: Path) -> list[str]:
    command = [sys.executable, "-m", "matrix_delegation", "watch"]
    command += ["--from-file", str(work / "names.txt"), "--database", f"sqlite:///{work}/w.db"]
    command += ["--interval", str(args.interval), "--failing-interval", str(args.interval)]
    command += ["--jitter", "0", "--concurrency", str(args.concurrency), "--timeout", "10"]
    command += ["--dns-server", setup["dns_server"], "--ca-file", setup["ca_file"]]
    command += ["--allow-ip-range", "127.0.0.0/8"]
    for rule in setup["connect_to"]:
        command += ["--connect-to", rule]
    return command


def _rss_kib(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _run_watch(command: list[str], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Watch for ``--minutes``, sampling RSS; then SIGTERM and wait for the exit."""
    with open(work / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    started = time.monotonic()
    samples: list[tuple[float, int]] = []
    cpu = 0.0
    try:
        end = started + args.minutes * 60
        while time.monotonic() < end and process.poll() is None:
            rss = _rss_kib(process.pid)
            if rss is not None:
                samples.append((time.monotonic() - started, rss))
            time.sleep(min(args.sample_every, max(0.0, end - time.monotonic())))
        if process.poll() is None:
            cpu = _cpu_s(process.pid)
        stopped_at = time.time()
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=STOP_LIMIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    return {"exit_status": status, "samples": samples, "cpu_s": cpu, "stopped_at": stopped_at}


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _schedule(database: Path, interval: float, stopped_at: float) -> dict[str, Any]:
    """Lateness of every check but each name's first, and the backlog at the end."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute(
            "SELECT server_name, checked_at, duration, federation_ok FROM check_results"
            " ORDER BY server_name, checked_at"
        ).fetchall()
        overdue = db.execute(
            "SELECT count(*) FROM names WHERE active AND next_check_at < ?",
            (stopped_at - OVERDUE,),
        ).fetchone()[0]
    late: list[float] = []
    for (before, previous, _, _), (now, checked, duration, _) in itertools.pairwise(rows):
        if before == now:
            late.append(checked - duration - (previous + interval))
    names_checked = len({row[0] for row in rows})
    return {
        "results": len(rows),
        "federation_ok": sum(1 for row in rows if row[3]),
        "names_checked": names_checked,
        "lateness_checks": len(late),
        "lateness_p50_s": _rounded(_percentile(late, 0.50)),
        "lateness_p99_s": _rounded(_percentile(late, 0.99)),
        "lateness_max_s": _rounded(max(late, default=None)),
        "overdue_at_end": overdue,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _rss(samples: list[tuple[float, int]], interval: float) -> dict[str, Any]:
    """RSS at a few points, and its growth (least squares) after the first interval."""
    steady = [(t, kib / 1024) for t, kib in samples if t >= interval] or [
        (t, kib / 1024) for t, kib in samples
    ]
    slope = None
    if len(steady) >= 2 and len({t for t, _ in steady}) >= 2:
        slope = statistics.linear_regression([t for t, _ in steady], [m for _, m in steady]).slope
    mib = [kib / 1024 for _, kib in samples]
    return {
        "rss_samples": len(samples),
        "rss_first_mib": round(mib[0], 1) if mib else None,
        "rss_after_first_interval_mib": round(steady[0][1], 1) if steady else None,
        "rss_end_mib": round(mib[-1], 1) if mib else None,
        "rss_max_mib": round(max(mib), 1) if mib else None,
        "rss_growth_mib_per_min": None if slope is None else round(slope * 60, 3),
        "rss_by_minute_mib": _by_minute(samples),
    }


def _by_minute(samples: list[tuple[float, int]]) -> list[float]:
    """The last sample of each whole minute (of each tenth of the run when shorter)."""
    if not samples:
        return []
    step = min(60.0, max(samples[-1][0] / 10, 1e-3))
    found: dict[int, int] = {}
    for t, kib in samples:
        found[int(t // step)] = kib
    return [round(kib / 1024, 1) for _, kib in sorted(found.items())]


def measure(setup: dict[str, Any], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    (work / "names.txt").write_text("".join(f"{name(i)}\n" for i in range(args.names)))
    run = _run_watch(_command(setup, args, work), args, work)
    database = work / "w.db"
    schedule = _schedule(database, args.interval, run["stopped_at"])
    size = sum(p.stat().st_size for p in work.glob("w.db*"))
    results = schedule["results"]
    stderr = (work / "stderr.txt").read_text()
    return {
        "names": args.names,
        "interval_s": args.interval,
        "minutes": args.minutes,
        "concurrency": args.concurrency,
        "exit_status": run["exit_status"],
        "checks_needed_per_s": round(args.names / args.interval, 1),
        "checks_made_per_s": round(results / (args.minutes * 60), 1),
        **schedule,
        "database_bytes": size,
        "database_bytes_per_result": round(size / results) if results else None,
        "watch_cpu_ms_per_check": round(1000 * run["cpu_s"] / results, 2) if results else None,
        **_rss(run["samples"], args.interval),
        "tracebacks": stderr.count("Traceback"),
    }


def _runs(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="matrix-delegation-watch-"))
    try:
        with sandbox_child(args.names, str(work)) as (setup, pipe):
            figures = measure(setup, args, work)
            pipe.send("accepted")  # TCP connections the sandbox accepted, over the run
            accepted = int(pipe.recv())
            results = figures["results"]
            figures["connections_per_check"] = round(accepted / results, 2) if results else None
            return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--names", type=int, help="names to watch (10000; --smoke: 20)")
    parser.add_argument("--interval", type=float, help="seconds between checks (60; --smoke: 2)")
    parser.add_argument("--minutes", type=float, help="how long to watch (30; --smoke: 0.25)")
    parser.add_argument("--concurrency", type=int, help="checks at once (50; --smoke: 10)")
    parser.add_argument("--sample-every", type=float, help="seconds between RSS samples (5)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, quick: proves it works")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    defaults = SMOKE if args.smoke else {
        "names": 10_000, "interval": 60.0, "minutes": 30.0, "sample_every": 5.0, "concurrency": 50
    }  # fmt: skip
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    figures = {"version": __version__, "machine": machine(), "run": _runs(args)}
    figures["machine"]["load_average_end"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in {**figures["machine"], **figures["run"]}.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
