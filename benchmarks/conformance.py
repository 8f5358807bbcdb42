"""Conformance: every scenario through our resolver, Synapse's and resolvematrix's.

Measures correctness, not speed: the scenario catalog (``scenarios.SCENARIOS``) is
published in a sandbox (DNS server, CA, HTTPS hosts on 127.0.0.X:443) in this process;
each implementation's driver (``_ours_driver.py``, ``_synapse_driver.py``,
``_resolvematrix_driver.py``, the same ones compare.py measures) runs as a child process
of its own, pointed at the sandbox's DNS server and trusting only its CA, one after the
other. The table says what each did and whether that is what the spec requires.

    python benchmarks/conformance.py [--write docs/conformance.md] [--json] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import pathlib
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

import _conformance_report as report
import scenarios as sc

from matrix_delegation.sandbox.world import LOOPBACK_RANGES, Sandbox

HERE = pathlib.Path(__file__).parent
DRIVERS = {
    "ours": "_ours_driver.py",
    "synapse": "_synapse_driver.py",
    "resolvematrix": "_resolvematrix_driver.py",
}
NEEDS = {"ours": "matrix_delegation", "synapse": "synapse", "resolvematrix": "resolvematrix"}
LINE_TIMEOUT = 120.0  # one scenario, in the slowest implementation, with room to spare
EXIT_TIMEOUT = 10.0
DNS_TIMEOUT = 3.0


class DriverFailed(Exception):
    """A driver crashed, hung or said something this script does not understand."""


async def _drain(stream: asyncio.StreamReader, keep: list[bytes]) -> None:
    while chunk := await stream.read(65536):
        keep.append(chunk)
        del keep[:-8]  # only the tail matters, for the error message


async def run_driver(
    implementation: str, config: dict[str, Any], sandbox: Sandbox, by_id: dict[str, sc.Scenario]
) -> dict[str, dict[str, Any]]:
    """Run one implementation's driver over the scenarios; outcomes by scenario id."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / DRIVERS[implementation]),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin and process.stdout and process.stderr
    errors: list[bytes] = []
    drain = asyncio.create_task(_drain(process.stderr, errors))
    outcomes: dict[str, dict[str, Any]] = {}
    try:
        process.stdin.write(json.dumps(config).encode() + b"\n")
        await process.stdin.drain()
        while line := await asyncio.wait_for(process.stdout.readline(), LINE_TIMEOUT):
            message = json.loads(line)
            if message.get("event") == "between":
                sc.apply_between(sandbox, by_id[message["id"]])
                process.stdin.write(b"go\n")
                await process.stdin.drain()
            else:
                outcomes[message.pop("id")] = message
        code = await asyncio.wait_for(process.wait(), EXIT_TIMEOUT)
        if code != 0:
            tail = b"".join(errors).decode(errors="replace")[-1500:]
            raise DriverFailed(f"{implementation} driver exited with {code}: {tail}")
    except (TimeoutError, json.JSONDecodeError) as exc:
        raise DriverFailed(f"{implementation} driver: {exc!r}") from exc
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drain
    return outcomes


def _unavailable(implementation: str, sandbox: Sandbox) -> str | None:
    """Why an implementation cannot run here, or None."""
    if importlib.util.find_spec(NEEDS[implementation]) is None:
        return f"{NEEDS[implementation]} is not installed"
    if implementation == "synapse" and sandbox.connect_to:
        return "Synapse's agent always connects to port 443: needs the right to bind it (root)"
    return None


async def run_all(
    scenarios: Sequence[sc.Scenario], implementations: Sequence[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Outcomes, by implementation then scenario id; a whole-driver failure is recorded."""
    by_id = {scenario["id"]: scenario for scenario in scenarios}
    results: dict[str, dict[str, dict[str, Any]]] = {}
    async with Sandbox() as sandbox:
        plain = await sc.install(sandbox, scenarios)
        try:
            with tempfile.TemporaryDirectory() as scratch:
                config = {
                    "nameserver": [sandbox.dns.host, sandbox.dns.port],
                    "ca_file": str(sandbox.ca.write_ca_pem(pathlib.Path(scratch) / "ca.pem")),
                    "allow": list(LOOPBACK_RANGES),
                    "connect_to": list(sandbox.connect_to),
                    "timeout": DNS_TIMEOUT,
                    "scenarios": [dict(scenario) for scenario in scenarios],
                }
                for implementation in implementations:
                    reason = _unavailable(implementation, sandbox)
                    try:
                        if reason is None:
                            results[implementation] = await run_driver(
                                implementation, config, sandbox, by_id
                            )
                    except DriverFailed as exc:
                        reason = str(exc)
                    finally:
                        sc.reset(sandbox, scenarios)
                    if reason is not None:
                        results[implementation] = {"*": {"not_run": reason}}
        finally:
            for host in plain:
                await host.stop()
    return results


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--write", metavar="PATH", help="write the Markdown report there")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--smoke", action="store_true", help="a few scenarios, ours only")
    parser.add_argument(
        "--implementations", default=None, help="comma-separated subset of " + ",".join(DRIVERS)
    )
    parser.add_argument("--scenarios", metavar="FILE", help="a YAML list of scenarios")
    parser.add_argument("--only", action="append", default=[], help="run this scenario id")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    scenarios = sc.load(args.scenarios) if args.scenarios else list(sc.SCENARIOS)
    wanted = set(args.only) or (set(sc.SMOKE) if args.smoke else None)
    if wanted:
        scenarios = [scenario for scenario in scenarios if scenario["id"] in wanted]
    default = "ours" if args.smoke else ",".join(DRIVERS)
    implementations = (args.implementations or default).split(",")
    unknown = set(implementations) - set(DRIVERS)
    if unknown:
        raise SystemExit(f"unknown implementation(s): {', '.join(sorted(unknown))}")
    results = asyncio.run(run_all(scenarios, implementations))
    document = report.build(scenarios, implementations, results)
    if args.write:
        pathlib.Path(args.write).write_text(report.markdown(document))
    print(json.dumps(document, indent=2) if args.json else report.text_table(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
