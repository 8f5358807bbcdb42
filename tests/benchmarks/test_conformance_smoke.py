"""The conformance command runs, and our resolver does what the spec requires.

A correctness check, not a timing one: ``--smoke`` runs a few scenarios through
our resolver only, against the loopback sandbox, in a child process.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

COMMAND = pathlib.Path(__file__).parents[2] / "benchmarks" / "conformance.py"


def test_our_resolver_matches_the_spec_on_every_smoke_scenario() -> None:
    done = subprocess.run(
        [sys.executable, str(COMMAND), "--smoke", "--json"],
        capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)
    rows = document["scenarios"]
    assert rows, "the smoke run resolved nothing"
    verdicts = {row["id"]: row["results"]["ours"] for row in rows}
    wrong = {name: result for name, result in verdicts.items() if result["verdict"] != "matches"}
    assert not wrong, wrong
