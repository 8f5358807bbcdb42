"""`matrix-delegation check` on the command line: JSON, JSON Lines, text, exit status."""

from __future__ import annotations

import asyncio
import json

from test_problem_codes import NAME, healthy, homeserver

from matrix_delegation._cli import main
from matrix_delegation.sandbox.world import LOOPBACK_RANGES, Sandbox

JSON_KEYS = {
    "server_name",
    "federation_ok",
    "resolution",
    "endpoints",
    "client",
    "support",
    "problems",
    "fallback",
    "well_known_by_address",
    "user_agents",
    "propagation",
    "families",
    "peers",
    "outbound",
    "notary",
    "connections",
}


def flags(sandbox: Sandbox, tmp_path) -> list[str]:
    ca = sandbox.ca.write_ca_pem(tmp_path / "ca.pem")
    found = ["--dns-server", sandbox.dns.nameserver, "--ca-file", str(ca), "--timeout", "3"]
    for cidr in LOOPBACK_RANGES:
        found += ["--allow-ip-range", cidr]
    for rule in sandbox.connect_to:
        found += ["--connect-to", rule]
    return found


async def run(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_json_for_a_healthy_server(sandbox: Sandbox, tmp_path, capsys) -> None:
    await healthy(sandbox)
    status = await run("check", NAME, "--json", *flags(sandbox, tmp_path))
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert set(report) == JSON_KEYS
    assert report["federation_ok"] is True
    assert report["resolution"]["route"] == "well-known/explicit-port"
    assert report["fallback"] == {"route": "default-port", "ok": False}
    endpoint = report["endpoints"][0]
    assert endpoint["tls"]["verified"] and endpoint["keys"]["ok"]
    assert endpoint["tls"]["certificate"]["sha256"].count(":") == 31
    assert all(set(p) == {"code", "severity", "message", "fix"} for p in report["problems"])


async def test_text_puts_the_verdict_and_fixes_first(sandbox: Sandbox, tmp_path, capsys) -> None:
    await homeserver(sandbox, certificate_for=["other.test"])
    status = await run("check", NAME, *flags(sandbox, tmp_path))
    out = capsys.readouterr().out
    assert status == 1
    assert out.startswith(f"{NAME}: federation FAILS")
    assert "[error] tls-cert-wrong-name" in out and "fix: Get a certificate" in out


async def test_a_list_gives_json_lines_and_reports_bad_lines(
    sandbox: Sandbox, tmp_path, capsys
) -> None:
    await healthy(sandbox)
    names = tmp_path / "names.txt"
    names.write_text(f"{NAME}\nbad_name\n# comment\nnowhere.test\n")
    status = await run("check", "--from-file", str(names), "--json", *flags(sandbox, tmp_path))
    lines = capsys.readouterr().out.strip().splitlines()
    reports = {r["server_name"]: r for r in map(json.loads, lines)}
    assert status == 1 and len(lines) == 3
    assert reports[NAME]["federation_ok"] is True
    assert reports["bad_name"]["problems"][0]["code"] == "invalid-server-name"
    assert "no-address" in {p["code"] for p in reports["nowhere.test"]["problems"]}


def test_bad_usage_is_exit_2(capsys) -> None:
    assert main(["check", "bad_name"]) == 2
    assert main(["check"]) == 2
    assert main(["check", NAME, "--timeout", "x"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_list_that_is_not_utf8_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    names = tmp_path / "names.txt"
    names.write_bytes(b"\xff\xfe\n")
    assert main(["check", "--from-file", str(names), "--dns-server", "127.0.0.1:9"]) == 2
    message = f"cannot read names from {str(names)!r}: not UTF-8 text"
    assert capsys.readouterr().err == f"matrix-delegation: error: {message}\n"


def test_a_utf8_list_with_a_comment_is_read(tmp_path, capsys) -> None:
    names = tmp_path / "names.txt"
    names.write_text("# only a comment, then a blank line\n\n", encoding="utf-8")
    assert main(["check", "--from-file", str(names), "--dns-server", "127.0.0.1:9"]) == 0
    assert capsys.readouterr().err.startswith("checked 0: 0 OK, 0 failing")


def test_text_is_coloured_only_when_asked() -> None:
    from matrix_delegation.checker.check import Report
    from matrix_delegation.checker.output import report_text

    report = Report("example.test", False, None, (), None, None, ())
    assert "\033[" not in report_text(report)
    coloured = report_text(report, colour=True)
    assert "\033[31mfederation FAILS\033[0m" in coloured
