"""`--workers`: bulk runs over several processes, as real subprocesses against the sandbox.

The sandbox serves from this test's event loop; the command line runs as
``python -m matrix_delegation`` (this checkout first on its path) with the
sandbox's DNS server, CA and loopback ranges on its command line, which it
passes on to its workers.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest
from test_cli import demo_world, sandbox_flags  # noqa: F401 (a fixture)

import matrix_delegation
from matrix_delegation.sandbox import Reply, WebHost
from matrix_delegation.sandbox.scenarios import install_homeservers
from matrix_delegation.sandbox.world import Sandbox

SRC = str(Path(matrix_delegation.__file__).resolve().parents[1])
RUN_LIMIT = 180.0  # seconds: a run that takes longer is a hang
STOP_LIMIT = 20.0  # seconds from a signal to the end of the run and of every child
WELL_KNOWN = "/.well-known/matrix/server"
EXIT_WORKER_FAILED, EXIT_INTERRUPTED = 3, 130


async def start(*argv: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "matrix_delegation", *argv,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True,
    )  # fmt: skip


async def cli(*argv: str) -> tuple[int, str, str]:
    process = await start(*argv)
    out, err = await asyncio.wait_for(process.communicate(), RUN_LIMIT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def children(pid: int) -> set[int]:
    """Every live descendant of ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # it ended meanwhile
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    left = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            left.add(pid)
    return left


def workers_of(pid: int) -> set[int]:
    found = set()
    for child in children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.add(child)
        except OSError:
            continue
    return found


# --- the same results with one process and with two -------------------------------


async def test_resolve_gives_the_same_output_in_the_same_order(demo_world, tmp_path) -> None:  # noqa: F811
    names = [
        "srv.sandbox.test", "wk-srv.sandbox.test", "nowhere.sandbox.test",
        "servfail.sandbox.test", "127.0.0.2", "wk-port.sandbox.test", "wk-ip.sandbox.test",
        "private.sandbox.test", "redirected.sandbox.test", "explicit.sandbox.test:8448",
    ]  # fmt: skip
    # (none of them sends a request to an address the sandbox does not own)
    listed = [*names, *names[:4], "SRV.sandbox.test"]  # duplicates, and another spelling
    path = tmp_path / "names.txt"
    path.write_text("# a list\n" + "\n\n".join(listed) + "\n")
    # One name at a time per process: a duplicate then always finds the first in the
    # cache, with one process as with two (each name has one owner).
    flags = ["--concurrency", "1", *sandbox_flags(demo_world)]
    outputs = {}
    for workers in ("1", "2"):
        for form in ("--json", "--timeout=5"):
            argv = ["--from-file", str(path), form, "--workers", workers, *flags]
            status, out, err = await cli("resolve", *argv)
            assert status == 1 and "Traceback" not in err  # nowhere and servfail fail
            outputs[workers, form] = re.sub(r'"expires_at": [-+.e0-9]+', '"expires_at": 0', out)
    assert outputs["1", "--json"] == outputs["2", "--json"]
    assert outputs["1", "--timeout=5"] == outputs["2", "--timeout=5"]
    assert outputs["2", "--timeout=5"].startswith("srv.sandbox.test\n")
    reports = json.loads(outputs["2", "--json"])
    assert [r["server_name"] for r in reports] == listed
    answers = [answer(report) for report in reports]
    assert answers[len(names) :] == [*answers[:4], answers[0]]  # duplicates: the same answer


def answer(report: dict[str, object]) -> tuple[object, ...]:
    """Where the traffic goes (the trace of a failure says what came from the cache)."""
    error = report["error"]
    code = error["code"] if isinstance(error, dict) else None
    return report["route"], report["endpoints"], report["tls_server_name"], code


async def test_resolve_one_name_from_a_file_is_an_object_as_before(demo_world, tmp_path) -> None:  # noqa: F811
    path = tmp_path / "names.txt"
    path.write_text("srv.sandbox.test\n")
    flags = sandbox_flags(demo_world)
    status, out, _ = await cli("resolve", "--from-file", str(path), "--json", *flags)
    assert status == 0 and json.loads(out)["route"] == "srv"


async def test_check_gives_the_same_verdicts(sandbox: Sandbox, tmp_path) -> None:
    scenarios = await install_homeservers(sandbox)
    flags = with_ca(sandbox, tmp_path)
    listed = [s.server_name for s in scenarios] + ["bad_name", scenarios[0].server_name]
    path = tmp_path / "names.txt"
    path.write_text("\n".join(listed) + "\n")
    verdicts, summaries = {}, {}
    for workers in ("1", "2"):
        status, out, err = await cli(
            "check", "--from-file", str(path), "--json", "--workers", workers, *flags
        )
        assert status == 1 and "Traceback" not in err
        reports = [json.loads(line) for line in out.splitlines()]
        assert sorted(r["server_name"] for r in reports) == sorted(listed)
        found: dict[str, set[tuple[bool, tuple[str, ...]]]] = {}
        for r in reports:
            codes = tuple(sorted(p["code"] for p in r["problems"]))
            found.setdefault(r["server_name"], set()).add((r["federation_ok"], codes))
        assert all(len(answers) == 1 for answers in found.values())  # duplicates agree
        verdicts[workers], summaries[workers] = found, err
    assert verdicts["1"] == verdicts["2"]
    assert summaries["1"] == summaries["2"]  # counted over both workers
    assert summaries["2"].startswith(f"checked {len(listed)}: ")
    assert verdicts["2"]["bad_name"] == {(False, ("invalid-server-name",))}
    for scenario in scenarios:
        assert verdicts["2"][scenario.server_name] == verdicts["1"][scenario.server_name]
        ((ok, _),) = verdicts["2"][scenario.server_name]
        assert ok is scenario.federation_ok


async def test_an_invalid_name_is_a_usage_error_before_any_output(tmp_path) -> None:
    path = tmp_path / "names.txt"
    path.write_text("good.test\nbad..test\n")
    status, out, err = await cli("resolve", "--from-file", str(path), "--workers", "2")
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and f"{path}:2" in err


# --- stopping: signals, and a worker that dies ---------------------------------------


def with_ca(sandbox: Sandbox, tmp_path: Path) -> list[str]:
    sandbox.ca_file = sandbox.ca.write_ca_pem(tmp_path / "ca.pem")  # type: ignore[attr-defined]
    return sandbox_flags(sandbox)


async def slow_world(sandbox: Sandbox, tmp_path: Path, count: int) -> WebHost:
    """``count`` names (in names.txt) whose .well-known answers only after a minute."""
    names = [f"slow{i}.sandbox.test" for i in range(count)]
    host = await sandbox.https_host(names)
    for name in names:
        host.set(name, WELL_KNOWN, Reply(body="{}", delay=60.0))
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    return host


async def started(
    command: str, sandbox: Sandbox, tmp_path: Path
) -> tuple[asyncio.subprocess.Process, set[int]]:
    """A ``--workers 2`` run over 40 slow names, once both workers have names in flight."""
    host = await slow_world(sandbox, tmp_path, 40)
    argv = [command, "--from-file", str(tmp_path / "names.txt"), "--workers", "2"]
    process = await start(*argv, "--timeout", "90", *with_ca(sandbox, tmp_path))
    for _ in range(600):  # 60 s at most
        workers = workers_of(process.pid)
        if len(workers) == 2 and len(host.requests) >= 4:
            return process, children(process.pid)
        assert process.returncode is None, await process.stderr.read()  # type: ignore[union-attr]
        await asyncio.sleep(0.1)
    raise AssertionError("the workers never started")


async def ended(process: asyncio.subprocess.Process, family: set[int]) -> tuple[int, str]:
    _, err = await asyncio.wait_for(process.communicate(), STOP_LIMIT)
    for _ in range(int(STOP_LIMIT * 10)):
        if not alive(family):
            break
        await asyncio.sleep(0.1)
    assert not alive(family), "a child outlived the run"
    assert process.returncode is not None
    return process.returncode, err.decode()


@pytest.mark.parametrize(
    ("command", "how"),
    [("check", "SIGINT"), ("resolve", "SIGINT to the group"), ("resolve", "SIGTERM")],
)
async def test_a_signal_stops_every_process(sandbox: Sandbox, tmp_path, command, how) -> None:
    process, family = await started(command, sandbox, tmp_path)
    assert workers_of(process.pid) <= family
    if how == "SIGINT to the group":  # Ctrl-C on a terminal: every process gets it
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT if how == "SIGINT" else signal.SIGTERM)
    status, err = await ended(process, family)
    assert status == EXIT_INTERRUPTED
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


async def test_a_worker_that_dies_fails_the_run(sandbox: Sandbox, tmp_path) -> None:
    process, family = await started("check", sandbox, tmp_path)
    victim = min(workers_of(process.pid))
    os.kill(victim, signal.SIGKILL)
    status, err = await ended(process, family)
    assert status == EXIT_WORKER_FAILED
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "worker" in line]
    assert lines == [f"matrix-delegation: error: worker {lines[0].split()[3]} (pid {victim}) "
                     "was killed by signal 9; stopping the run"]  # fmt: skip


async def test_without_workers_the_run_stays_in_one_process(sandbox: Sandbox, tmp_path) -> None:
    host = await slow_world(sandbox, tmp_path, 4)
    argv = ["check", "--from-file", str(tmp_path / "names.txt"), "--workers", "1"]
    process = await start(*argv, "--timeout", "90", *with_ca(sandbox, tmp_path))
    for _ in range(600):
        if host.requests:
            break
        await asyncio.sleep(0.1)
    assert workers_of(process.pid) == set()
    process.send_signal(signal.SIGINT)
    status, err = await ended(process, children(process.pid))
    assert status == EXIT_INTERRUPTED and "Traceback" not in err
