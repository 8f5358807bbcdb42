"""The command line: in-process against the sandbox, plus one real subprocess."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from matrix_delegation._cli import main
from matrix_delegation.sandbox.scenarios import install
from matrix_delegation.sandbox.world import LOOPBACK_RANGES, Sandbox

JSON_KEYS = {
    "server_name", "route", "host_header", "tls_server_name", "endpoints",
    "well_known", "srv", "trace", "error",
}  # fmt: skip


def sandbox_flags(sandbox: Sandbox) -> list[str]:
    flags = ["--dns-server", sandbox.dns.nameserver, "--ca-file", str(sandbox.ca_file)]
    for cidr in LOOPBACK_RANGES:
        flags += ["--allow-ip-range", cidr]
    for rule in sandbox.connect_to:
        flags += ["--connect-to", rule]
    return flags


@pytest.fixture
async def demo_world(sandbox: Sandbox, tmp_path) -> Sandbox:
    await install(sandbox)
    sandbox.ca_file = sandbox.ca.write_ca_pem(tmp_path / "ca.pem")  # type: ignore[attr-defined]
    return sandbox


async def run(*argv: str) -> int:
    # main() runs its own event loop, so it gets a thread of its own.
    return await asyncio.to_thread(main, list(argv))


async def test_json_for_one_name_is_an_object_with_the_stable_keys(demo_world, capsys) -> None:
    status = await run("resolve", "wk-srv.sandbox.test", "--json", *sandbox_flags(demo_world))
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert set(report) == JSON_KEYS
    assert report["route"] == "well-known/srv"
    assert report["host_header"] == report["tls_server_name"] == "matrix.wk-srv.sandbox.test"
    assert report["endpoints"][0] == {
        "target": "fed.sandbox.test",
        "ip": report["endpoints"][0]["ip"],
        "port": 8448,
    }
    assert (
        report["well_known"]["status"] == 200
        and report["well_known"]["m_server"] == "matrix.wk-srv.sandbox.test"
    )
    assert report["srv"][0]["records"][0]["target"] == "fed.sandbox.test"
    assert report["error"] is None


async def test_several_names_keep_input_order_and_a_failure_gives_exit_1(
    demo_world, capsys
) -> None:
    names = ["servfail.sandbox.test", "127.0.0.2", "srv.sandbox.test", "nowhere.sandbox.test"]
    status = await run(
        "resolve", *names, "--json", "--concurrency", "2", *sandbox_flags(demo_world)
    )
    reports = json.loads(capsys.readouterr().out)
    assert status == 1
    assert [r["server_name"] for r in reports] == names
    assert [r["error"]["code"] if r["error"] else r["route"] for r in reports] == [
        "dns-error", "ip-literal", "srv", "no-address",
    ]  # fmt: skip
    failed = reports[0]
    assert failed["endpoints"] == [] and failed["route"] is None
    assert failed["host_header"] == "servfail.sandbox.test"


async def test_human_output_ends_with_where_to_connect(demo_world, capsys) -> None:
    status = await run("resolve", "srv.sandbox.test", *sandbox_flags(demo_world))
    out = capsys.readouterr().out
    assert status == 0
    assert "step 4" in out and "SRV _matrix-fed._tcp.srv.sandbox.test" in out
    assert out.rstrip().splitlines()[-1].strip().startswith("connect to ")
    assert "Host: srv.sandbox.test, certificate for srv.sandbox.test" in out


async def test_names_from_a_file_and_stdin(demo_world, capsys, tmp_path, monkeypatch) -> None:
    names = tmp_path / "names.txt"
    names.write_text("# comment\nsrv.sandbox.test\n\nwk-ip.sandbox.test\n")
    status = await run("resolve", "--from-file", str(names), "--json", *sandbox_flags(demo_world))
    assert status == 0
    assert [r["route"] for r in json.loads(capsys.readouterr().out)] == [
        "srv",
        "well-known/ip-literal",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["resolve", "bad_name.test"], "'_' is not allowed in a hostname"),
        (["resolve", "example.test:99999"], "port 99999 is out of range"),
        (["resolve", "bücher.test"], "xn--bcher-kva.test"),
        (
            ["resolve", "example.test", "--dns-server", "not-an-ip"],
            "'not-an-ip' is not an IP address",
        ),
        (["resolve", "example.test", "--dns-server", "127.0.0.1:70000"], "port '70000'"),
        (["resolve", "example.test", "--connect-to", "a:b:c"], "expected HOST1:PORT1:HOST2:PORT2"),
        (["resolve", "example.test", "--connect-to", "a:443:b:http"], "port 'http'"),
        (["resolve", "example.test", "--ca-file", "/nonexistent/ca.pem"], "cannot use CA file"),
        (["resolve", "example.test", "--timeout", "soon"], "'soon' is not a number of seconds"),
        (["resolve", "example.test", "--timeout", "-1"], "positive number"),
        (["resolve", "example.test", "--allow-ip-range", "10.0.0.0/33"], "invalid IP range"),
        (["resolve", "example.test", "--concurrency", "0"], "not a positive whole number"),
        (["resolve", "--from-file", "/nonexistent/names"], "cannot read names"),
        (["resolve"], "no server names given"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys) -> None:
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert message in lines[0] and "Traceback" not in captured.err


def test_invalid_name_in_a_file_names_the_line(tmp_path, capsys) -> None:
    names = tmp_path / "names.txt"
    names.write_text("good.test\nbad..test\n")
    assert main(["resolve", "--from-file", str(names)]) == 2
    assert f"{names}:2" in capsys.readouterr().err


def test_demo_shows_every_route_and_exits_0(capsys) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for route in (
        "ip-literal",
        "well-known/srv-legacy",
        "srv-legacy",
        "default-port",
        "blocked-address",
    ):
        assert route in out
    assert not any(line.startswith("FAIL") for line in out.splitlines())
    assert "Served by `matrix-delegation serve` for wk-srv.sandbox.test:" in out
    assert out.count("-> 200") == 3
    assert "ok   hs.sandbox.test: federation OK" in out
    for code in ("tls-cert-wrong-name", "keys-expired", "tls-cert-for-srv-target"):
        assert code in out


def test_module_runs_as_a_subprocess() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "matrix_delegation", "resolve", "not a name", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("matrix-delegation: error: invalid server name 'not a name'")
