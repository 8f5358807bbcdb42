"""`check --from-file`: JSON Lines on stdout, a summary on stderr, progress only on a terminal."""

from __future__ import annotations

import asyncio
import io
import json
import re

import pytest
from test_check_command import flags
from test_problem_codes import NAME, healthy

from matrix_delegation._cli import main
from matrix_delegation.cli import check as cli
from matrix_delegation.sandbox.world import Sandbox


async def run(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


def counts(section: str, err: str) -> dict[str, int]:
    """``{key: count}`` from one section of the summary on stderr."""
    block = err.split(f"{section}:\n", 1)[1]
    found = {}
    for line in block.splitlines():
        match = re.fullmatch(r" +(\d+)  (\S+)", line)
        if match is None:
            break
        found[match[2]] = int(match[1])
    return found


async def test_the_summary_counts_routes_and_codes(sandbox: Sandbox, tmp_path, capsys) -> None:
    await healthy(sandbox)
    names = tmp_path / "names.txt"
    names.write_text(f"{NAME}\nbad_name\nnowhere.test\nalso.nowhere.test\n{NAME}\n")
    status = await run("check", "--from-file", str(names), "--json", *flags(sandbox, tmp_path))
    out, err = capsys.readouterr()
    assert status == 1
    assert len(out.splitlines()) == 5  # stdout holds the reports and nothing else
    assert all("server_name" in json.loads(line) for line in out.splitlines())
    assert err.startswith("checked 5: 2 OK, 3 failing\n")
    # A name without addresses still took a route; only the invalid one has none.
    routes = {"well-known/explicit-port": 2, "default-port": 2, "failed": 1}
    assert counts("by route", err) == routes
    codes = counts("by problem code", err)
    assert codes["invalid-server-name"] == 1 and codes["no-address"] == 2
    assert list(codes.values()) == sorted(codes.values(), reverse=True)


async def test_invalid_lines_are_reported_and_the_run_goes_on(
    sandbox: Sandbox, tmp_path, capsys
) -> None:
    await healthy(sandbox)
    names = tmp_path / "names.txt"
    names.write_text(f"bad_name\n# a comment\n\n  \nexa mple.test\n{NAME}\n")
    status = await run("check", "--from-file", str(names), "--json", *flags(sandbox, tmp_path))
    reports = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 1
    by_name = {r["server_name"]: r for r in reports}
    assert set(by_name) == {"bad_name", "exa mple.test", NAME}
    for bad in ("bad_name", "exa mple.test"):
        assert [p["code"] for p in by_name[bad]["problems"]] == ["invalid-server-name"]
    assert by_name[NAME]["federation_ok"] is True


async def test_names_from_stdin(
    sandbox: Sandbox, tmp_path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    await healthy(sandbox)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{NAME}\n# nothing else\n"))
    status = await run("check", "--from-file", "-", "--json", *flags(sandbox, tmp_path))
    out, err = capsys.readouterr()
    assert status == 0
    assert [json.loads(line)["server_name"] for line in out.splitlines()] == [NAME]
    assert err.startswith("checked 1: 1 OK, 0 failing\n")


async def test_no_progress_bar_unless_stderr_is_a_terminal(
    sandbox: Sandbox, tmp_path, capsys
) -> None:
    names = tmp_path / "names.txt"
    names.write_text("bad_name\nnowhere.test\n")
    await run("check", "--from-file", str(names), *flags(sandbox, tmp_path))
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err
    assert err.startswith("checked 2: 0 OK, 2 failing\n")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_progress_on_a_terminal(
    sandbox: Sandbox, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr(cli, "_PROGRESS_EVERY", 0.0)
    names = tmp_path / "names.txt"
    names.write_text("bad_name\nnowhere.test\n")
    await run("check", "--from-file", str(names), "--json", *flags(sandbox, tmp_path))
    drawn = terminal.getvalue()
    assert "\r\x1b[K1 checked, 0 OK, 1 failing" in drawn
    assert "\r\x1b[Kchecked 2: 0 OK, 2 failing\n" in drawn  # the line is cleared first


def test_a_single_name_gets_no_summary(capsys) -> None:
    summary = cli.Summary()
    assert summary.text() == "checked 0: 0 OK, 0 failing\n"
    assert main(["check", "bad_name"]) == 2  # a usage error, as before
    assert "checked" not in capsys.readouterr().err
