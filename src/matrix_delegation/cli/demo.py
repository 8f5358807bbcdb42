"""``matrix-delegation demo``: every route, resolved for real inside the sandbox."""

from __future__ import annotations

import argparse
import json

from .._core.explain import resolution_json
from .._core.model import Resolution
from .._io.network import Network
from ..checker.check import Report, check_server
from ..checker.output import peers_table, report_json
from ..resolver import Resolver
from ..sandbox.scenarios import SHOWCASE, CheckScenario, Scenario, install, install_homeservers
from ..sandbox.world import Sandbox
from .common import EXIT_FAILED, EXIT_OK, Commands
from .common import run as run_loop

__all__ = ["add_parser", "run", "run_demo"]


def add_parser(commands: Commands, help: str) -> None:
    """Add ``demo`` and its option."""
    parser = commands.add_parser(
        "demo",
        help=help,
        description="Start a sandbox of DNS and HTTPS servers on loopback, resolve one name per"
        " route of the spec, show the files `serve` publishes there and check stand-in"
        " homeservers. Nothing leaves the machine.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every route and check came out as the spec says."""
    return run_loop(run_demo(json_output=args.json))


async def run_demo(*, json_output: bool = False) -> int:
    """Start the sandbox, resolve each scenario, print the table; 0 if all match the spec."""
    async with Sandbox() as sandbox:
        scenarios = await install(sandbox)
        servers = await install_homeservers(sandbox)
        async with Resolver(**sandbox.resolver_options()) as resolver:
            outcomes = await resolver.resolve_all(s.server_name for s in scenarios)
            reports = [
                await check_server(resolver, s.server_name, timeout=5, third_party=s.third_party)
                for s in servers
            ]
            files = await _fetch_showcase(resolver.network)
    resolutions = [o for o in outcomes if isinstance(o, Resolution)]  # the names are valid
    rows = list(zip(scenarios, resolutions, strict=True))
    checks = list(zip(servers, reports, strict=True))
    if json_output:
        document = {
            "resolutions": [_row_json(s, r) for s, r in rows],
            "files": files,
            "checks": [report_json(report) for _, report in checks],
        }
        print(json.dumps(document, indent=2))
    else:
        print(_table(rows, sandbox))
        print(_files_text(files))
        print(_checks_text(checks))
    resolved = all(_outcome(r) == s.expected for s, r in rows)
    return EXIT_OK if resolved and all(_as_expected(s, r) for s, r in checks) else EXIT_FAILED


def _as_expected(scenario: CheckScenario, report: Report) -> bool:
    codes = {found.code for found in report.problems}
    expected = scenario.expected_code is None or scenario.expected_code in codes
    return report.federation_ok == scenario.federation_ok and expected


def _checks_text(checks: list[tuple[CheckScenario, Report]]) -> str:
    lines = ["", "Federation checks (matrix-delegation check):"]
    for scenario, report in checks:
        mark = "ok" if _as_expected(scenario, report) else "FAIL"
        verdict = "federation OK" if report.federation_ok else "federation FAILS"
        lines.append(f"{mark:<4} {scenario.server_name}: {verdict}  ({scenario.about})")
        for tried in report.outbound or ():
            outcome = "ok" if tried.ok else "FAILS"
            lines.append(f"       outbound to {tried.via} through {tried.endpoint}: {outcome}")
        for found in report.problems:
            if found.severity == "error":
                lines.append(f"       {found.code}: {found.message}")
                lines.append(f"         fix: {found.fix}")
        if scenario.expected_code == "peer-disagreement":  # how each implementation sees it
            lines.extend(f"     {line}".rstrip() for line in peers_table(report.peers))
    return "\n".join(lines)


async def _fetch_showcase(network: Network) -> list[dict[str, object]]:
    """The three files of one domain, fetched over HTTPS from the running `serve`.

    Through the sandbox's network edge: its DNS names the service, its CA trusts it.
    """
    shown: list[dict[str, object]] = []
    for name in ("server", "client", "support"):
        url = f"https://{SHOWCASE}/.well-known/matrix/{name}"
        fetched = await network.get(url)
        final = fetched.hops[-1]
        headers = {k: final.headers[k] for k in _SHOWN_HEADERS if k in final.headers}
        shown.append({"url": url, "status": fetched.status, "headers": headers,
                      "body": fetched.body.decode("utf-8", "replace")})  # fmt: skip
    return shown


_SHOWN_HEADERS = ("Content-Type", "Access-Control-Allow-Origin", "Cache-Control", "ETag")


def _files_text(files: list[dict[str, object]]) -> str:
    lines = ["", f"Served by `matrix-delegation serve` for {SHOWCASE}:"]
    for shown in files:
        lines.append(f"  GET {shown['url']} -> {shown['status']}")
        headers = shown["headers"]
        assert isinstance(headers, dict)
        lines.extend(f"    {name}: {value}" for name, value in headers.items())
        lines.append(f"    {shown['body']}")
    return "\n".join(lines)


def _outcome(resolution: Resolution) -> str:
    if resolution.error is not None:
        return resolution.error.code
    return resolution.route.value if resolution.route else "?"


def _address(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _row_json(scenario: Scenario, resolution: Resolution) -> dict[str, object]:
    return {
        "scenario": scenario.about,
        "expected": scenario.expected,
        "as_expected": _outcome(resolution) == scenario.expected,
        "resolution": resolution_json(resolution),
    }


def _table(rows: list[tuple[Scenario, Resolution]], sandbox: Sandbox) -> str:
    header = ("", "server name", "outcome", "connect to", "Host", "certificate for")
    lines = [header]
    for scenario, resolution in rows:
        first = resolution.endpoints[0] if resolution.endpoints else None
        lines.append(
            (
                "ok" if _outcome(resolution) == scenario.expected else "FAIL",
                scenario.server_name,
                _outcome(resolution),
                _address(first.ip, first.port) if first else "-",
                resolution.host_header or "-",
                resolution.tls_server_name or ("(IP, no SNI)" if first else "-"),
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in lines
    ]
    notes = [f"  {s.server_name}: {s.about}" for s, _ in rows]
    where = (
        f"Sandbox: DNS at {sandbox.dns.nameserver}, HTTPS hosts on 127.0.0.X:443"
        if not sandbox.connect_to
        else f"Sandbox: DNS at {sandbox.dns.nameserver}, HTTPS hosts via --connect-to (no root)"
    )
    return "\n".join([where, "", *text, "", "What each name shows:", *notes])
