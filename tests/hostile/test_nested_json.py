"""20,000 nested arrays in every document read from the network: a problem, never a crash.

Each body is 40 KB, under every byte cap, so only the reader's depth bound
stops it. Served over real TLS on loopback; the checker runs as a library, on
the command line and behind the web service.
"""

from __future__ import annotations

import json
from typing import Any

from test_check_command import flags, run
from test_problem_codes import NAME, healthy, homeserver, well_known

from matrix_delegation import Resolver
from matrix_delegation.checker.check import check_server
from matrix_delegation.checker.client_model import (
    CLIENT_PATH,
    IDENTITY_PATH,
    SUPPORT_PATH,
    VERSIONS_PATH,
)
from matrix_delegation.sandbox import Reply
from matrix_delegation.sandbox.homeserver import VERSION_PATH
from matrix_delegation.sandbox.hostile import nested_json
from matrix_delegation.sandbox.world import Sandbox
from web.conftest import MakeClient

WK = "/.well-known/matrix/server"
MATRIX = "matrix.example.test"
CORS = {"Access-Control-Allow-Origin": "*"}
NESTED = Reply(body=nested_json(), headers={"Content-Type": "application/json", **CORS})
TOO_DEEP = "nested deeper than 64 levels"


async def nested_discovery(sandbox: Sandbox) -> None:
    """The server and client files are nested too deeply."""
    host = await well_known(sandbox, NESTED)
    host.set(NAME, CLIENT_PATH, NESTED)


async def nested_behind(sandbox: Sandbox) -> None:
    """Valid files, but everything they lead to is nested too deeply."""
    client = {
        "m.homeserver": {"base_url": f"https://{MATRIX}:8448"},
        "m.identity_server": {"base_url": f"https://{MATRIX}:8448"},
    }
    host = await well_known(sandbox, Reply.json({"m.server": f"{MATRIX}:8448"}))
    host.set(NAME, CLIENT_PATH, Reply.json(client, headers=CORS))
    host.set(NAME, SUPPORT_PATH, NESTED)
    server = await homeserver(sandbox, [MATRIX], certificate_for=[MATRIX], keys=NESTED)
    for path in (VERSION_PATH, VERSIONS_PATH, IDENTITY_PATH):
        server.set("*", path, NESTED)


DISCOVERY_CODES = {"well-known-not-json", "client-invalid"}
BEHIND_CODES = {
    "version-failed",
    "keys-not-json",
    "support-invalid",
    "client-base-url-unreachable",
    "client-identity-server-failed",
}


def too_deep_codes(problems: list[dict[str, Any]]) -> set[str]:
    return {p["code"] for p in problems if TOO_DEEP in p["message"]}


async def check(sandbox: Sandbox) -> dict[str, Any]:
    async with Resolver(**sandbox.resolver_options(timeout=3.0)) as resolver:
        report = await check_server(resolver, NAME, timeout=3.0)
    return {"problems": [{"code": p.code, "message": p.message} for p in report.problems]}


async def test_library_check_reports_deep_discovery_files(sandbox: Sandbox) -> None:
    await nested_discovery(sandbox)
    assert too_deep_codes((await check(sandbox))["problems"]) >= DISCOVERY_CODES


async def test_library_check_reports_deep_documents_behind_the_files(sandbox: Sandbox) -> None:
    await nested_behind(sandbox)
    problems = (await check(sandbox))["problems"]
    assert too_deep_codes(problems) >= BEHIND_CODES - {"version-failed"}
    # The version problem quotes what was seen rather than the parse error.
    assert "version-failed" in {p["code"] for p in problems}


async def test_resolve_command_reports_the_file_and_goes_on(
    sandbox: Sandbox, tmp_path, capsys
) -> None:
    await nested_discovery(sandbox)
    status = await run("resolve", NAME, "--json", *flags(sandbox, tmp_path))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    report = json.loads(captured.out)
    # The spec: an invalid file means discovery goes on, to the default port.
    assert status == 0 and report["route"] == "default-port"
    assert TOO_DEEP in json.dumps(report)


async def test_resolve_command_text_output(sandbox: Sandbox, tmp_path, capsys) -> None:
    await nested_discovery(sandbox)
    status = await run("resolve", NAME, *flags(sandbox, tmp_path))
    captured = capsys.readouterr()
    assert status == 0 and "Traceback" not in captured.err
    assert TOO_DEEP in captured.out


async def test_check_command_json(sandbox: Sandbox, tmp_path, capsys) -> None:
    await nested_behind(sandbox)
    status = await run("check", NAME, "--json", *flags(sandbox, tmp_path))
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert status == 1 and "Traceback" not in captured.err
    assert report["federation_ok"] is False
    assert {p["code"] for p in report["problems"]} >= BEHIND_CODES


async def test_check_from_file_reports_the_nested_server_and_the_healthy_one(
    sandbox: Sandbox, tmp_path, capsys
) -> None:
    await healthy(sandbox)  # example.test, delegated to matrix.example.test
    deep = await sandbox.https_host(["deep.test"])
    deep.set("deep.test", WK, NESTED)
    names = tmp_path / "names.txt"
    names.write_text(f"deep.test\n{NAME}\n")
    status = await run("check", "--from-file", str(names), "--json", *flags(sandbox, tmp_path))
    captured = capsys.readouterr()
    reports = {r["server_name"]: r for r in map(json.loads, captured.out.splitlines())}
    assert status == 1 and "Traceback" not in captured.err
    assert set(reports) == {"deep.test", NAME}
    assert reports[NAME]["federation_ok"] is True
    assert "well-known-not-json" in too_deep_codes(reports["deep.test"]["problems"])


async def test_web_answers_200_with_the_problems(sandbox: Sandbox, web_client: MakeClient) -> None:
    await nested_behind(sandbox)
    client = await web_client()
    native = await client.get("/api/v1/check", params={"server_name": NAME})
    assert native.status == 200
    assert {p["code"] for p in (await native.json())["problems"]} >= BEHIND_CODES
    tester = await client.get("/api/report", params={"server_name": NAME})
    assert tester.status == 200
    doc = await tester.json()
    assert doc["FederationOK"] is False
    assert {p["code"] for p in doc["Problems"]} >= BEHIND_CODES


async def test_web_discovery_files(sandbox: Sandbox, web_client: MakeClient) -> None:
    await nested_discovery(sandbox)
    client = await web_client()
    for path in ("/api/v1/check", "/api/report"):
        response = await client.get(path, params={"server_name": NAME})
        assert response.status == 200
        assert TOO_DEEP in await response.text()
