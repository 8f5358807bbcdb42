"""A hostile server name cannot make `check`, `resolve` or `web` connect to the inside.

Its client file, identity server, support file, ``.well-known`` redirect and
``m.server`` point at victims on 127.0.0.1 and [::1], in every spelling of an
IP literal. Only the hostile host's own address is allowed, so every victim
must count zero connections, and the report must name the refused URL and
why. The twins allow the victim's address and see it reached: the counters
work, and the refusals come from the policy, not from chance.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hostile_world import CLIENT, NAME, SERVER, SUPPORT, Hostile, Victims, publish

from matrix_delegation import Resolver
from matrix_delegation._cli import main
from matrix_delegation.checker.check import check_server
from matrix_delegation.checker.output import report_json
from matrix_delegation.resolver import ResolverConfig
from matrix_delegation.sandbox import Reply
from matrix_delegation.web.app import WebSettings, create_app

MAPPED = "refused: ::ffff:7f00:1 is in the blocked range ::ffff:7f00:0/104 (127.0.0.0/8 in"
V4 = "refused: 127.0.0.1 is in the blocked range 127.0.0.0/8"
V6 = "refused: ::1 is in the blocked range ::1/128"

#: Each spelling of a victim in a URL, and the reason the report must give.
FORMS: dict[str, str] = {
    "127.0.0.1": V4,
    "[::ffff:127.0.0.1]": MAPPED,
    "[::1]": V6,
    "[::ffff:7f00:1]": MAPPED,
    # aiohttp (>= 3.14.5) refuses these before connecting; older ones took them for 127.0.0.1.
    "2130706433": "2130706433 is not a canonical IPv4 address",
    "0177.0.0.1": "0177.0.0.1 is not a canonical IPv4 address",
    "127.1": "127.1 is not a canonical IPv4 address",
    "[64:ff9b::7f00:1]": "refused: 64:ff9b::7f00:1 is in the blocked range 64:ff9b::7f00:0/104",
}


def victim_port(victims: Victims, form: str) -> int:
    return victims.v6.port if form == "[::1]" else victims.v4.port


def publish_everything(hostile: Hostile, victims: Victims, form: str) -> dict[str, str]:
    """The hostile files pointing at the victims; returns the URLs that must be refused."""
    port = victim_port(victims, form)
    base, identity = f"http://{form}:{port}/base", f"https://{form}:{port}/ident"
    client = {"m.homeserver": {"base_url": base}, "m.identity_server": {"base_url": identity}}
    server_hop = f"https://127.0.0.1:{victims.v4.port}{SERVER}"
    support_hop = f"https://[::1]:{victims.v6.port}{SUPPORT}"
    publish(hostile, CLIENT, Reply.json(client))
    publish(hostile, SERVER, Reply.redirect(server_hop))
    publish(hostile, SUPPORT, Reply.redirect(support_hop))
    return {
        "versions": f"{base}/_matrix/client/versions",
        "identity": f"{identity}/_matrix/identity/v2",
        "server": server_hop,
        "support": support_hop,
    }


def messages(report: dict[str, Any]) -> dict[str, str]:
    """The problem messages of a native JSON report, by code."""
    return {p["code"]: p["message"] for p in report["problems"]}


def assert_refused(report: dict[str, Any], urls: dict[str, str], form: str) -> None:
    found = messages(report)
    why = FORMS[form]
    assert urls["versions"] in found["client-base-url-unreachable"]
    assert why in found["client-base-url-unreachable"]
    assert urls["identity"] in found["client-identity-server-failed"]
    assert why in found["client-identity-server-failed"]
    assert found["support-unreachable"] == f"{urls['support']}: {V6}"
    assert f"after a redirect to {urls['server']}: {V4}" in found["well-known-unreachable"]
    assert "Error" not in json.dumps(report)  # no exception class names anywhere


async def check(hostile: Hostile, *allowed: str) -> dict[str, Any]:
    async with Resolver(**hostile.options(*allowed)) as resolver:
        return report_json(await check_server(resolver, NAME, timeout=3.0))


async def run_cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


# --- check, the library --------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
async def test_check_refuses_every_spelling_of_the_inside(
    hostile: Hostile, victims: Victims, form: str
) -> None:
    urls = publish_everything(hostile, victims, form)
    report = await check(hostile)
    assert victims.accepted == 0
    assert_refused(report, urls, form)


@pytest.mark.parametrize("form", ["127.0.0.1", "[::ffff:127.0.0.1]", "[::1]"])
async def test_twin_an_allowed_victim_is_reached(
    hostile: Hostile, victims: Victims, form: str
) -> None:
    publish_everything(hostile, victims, form)
    await check(hostile, "127.0.0.1/32", "::1/128")
    # base_url, identity server, the .well-known and the support redirects all arrive.
    assert victims.v4.accepted >= (3 if form != "[::1]" else 1)
    assert victims.v6.accepted >= (1 if form != "[::1]" else 3)


async def test_m_server_naming_a_victim_is_never_probed(hostile: Hostile, victims: Victims) -> None:
    publish(hostile, SERVER, Reply.json({"m.server": f"127.0.0.1:{victims.v4.port}"}))
    report = await check(hostile)
    assert victims.accepted == 0
    assert report["resolution"]["error"]["code"] == "blocked-address"
    notes = json.dumps(report["resolution"]["trace"])
    assert f"{V4.removeprefix('refused: ')}: 127.0.0.1 is not used" in notes


async def test_twin_m_server_naming_an_allowed_victim_is_probed(
    hostile: Hostile, victims: Victims
) -> None:
    publish(hostile, SERVER, Reply.json({"m.server": f"[::1]:{victims.v6.port}"}))
    report = await check(hostile, "::1/128")
    assert victims.v6.accepted >= 1  # the probes' raw connections, through the same check
    assert report["endpoints"][0]["ip"] == "::1"


# --- check and resolve, the command line --------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
async def test_check_command_refuses_and_says_why(
    hostile: Hostile, victims: Victims, form: str, tmp_path, capsys
) -> None:
    urls = publish_everything(hostile, victims, form)
    ca = str(hostile.sandbox.ca.write_ca_pem(tmp_path / "ca.pem"))
    status = await run_cli("check", NAME, "--json", *hostile.flags(ca))
    report = json.loads(capsys.readouterr().out)
    assert status == 1
    assert victims.accepted == 0
    assert_refused(report, urls, form)


async def test_resolve_command_does_not_follow_a_redirect_inside(
    hostile: Hostile, victims: Victims, tmp_path, capsys
) -> None:
    urls = publish_everything(hostile, victims, "127.0.0.1")
    ca = str(hostile.sandbox.ca.write_ca_pem(tmp_path / "ca.pem"))
    await run_cli("resolve", NAME, "--json", *hostile.flags(ca))
    resolution = json.loads(capsys.readouterr().out)
    assert victims.accepted == 0
    assert resolution["well_known"]["redirects"] == [urls["server"]]
    assert resolution["well_known"]["error"] == f"after a redirect to {urls['server']}: {V4}"


async def test_twin_resolve_command_follows_an_allowed_redirect(
    hostile: Hostile, victims: Victims, tmp_path, capsys
) -> None:
    publish_everything(hostile, victims, "127.0.0.1")
    ca = str(hostile.sandbox.ca.write_ca_pem(tmp_path / "ca.pem"))
    await run_cli("resolve", NAME, "--json", *hostile.flags(ca, "127.0.0.1/32"))
    capsys.readouterr()
    assert victims.v4.accepted >= 1


@pytest.mark.parametrize("victim", ["127.0.0.1", "[::1]"])
async def test_resolve_command_refuses_an_m_server_literal(
    hostile: Hostile, victims: Victims, victim: str, tmp_path, capsys
) -> None:
    port = victim_port(victims, victim)
    publish(hostile, SERVER, Reply.json({"m.server": f"{victim}:{port}"}))
    ca = str(hostile.sandbox.ca.write_ca_pem(tmp_path / "ca.pem"))
    status = await run_cli("resolve", NAME, "--json", *hostile.flags(ca))
    resolution = json.loads(capsys.readouterr().out)
    assert status == 1 and victims.accepted == 0
    assert resolution["error"]["code"] == "blocked-address"
    reason = (V4 if victim == "127.0.0.1" else V6).removeprefix("refused: ")
    assert reason in json.dumps(resolution["trace"])


# --- web ----------------------------------------------------------------------------------


async def web_get(hostile: Hostile, path: str, *allowed: str) -> dict[str, Any]:
    config = ResolverConfig(**hostile.options(*allowed))
    settings = WebSettings(resolver_options=config, check_timeout=3.0)
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
    await client.start_server()
    try:
        response = await client.get(path, params={"server_name": NAME})
        assert response.status == 200
        document: dict[str, Any] = await response.json()
        return document
    finally:
        await client.close()


@pytest.mark.parametrize("form", FORMS)
async def test_web_check_refuses_and_says_why(
    hostile: Hostile, victims: Victims, form: str
) -> None:
    urls = publish_everything(hostile, victims, form)
    report = await web_get(hostile, "/api/v1/check")
    assert victims.accepted == 0
    assert_refused(report, urls, form)


async def test_web_report_refuses_the_redirect_inside(hostile: Hostile, victims: Victims) -> None:
    urls = publish_everything(hostile, victims, "[::1]")
    report = await web_get(hostile, "/api/report")
    assert victims.accepted == 0
    assert report["FederationOK"] is False
    error = report["WellKnownResult"]["result"]
    assert error == f"after a redirect to {urls['server']}: {V4}"


async def test_twin_web_check_reaches_an_allowed_victim(hostile: Hostile, victims: Victims) -> None:
    publish_everything(hostile, victims, "127.0.0.1")
    await web_get(hostile, "/api/v1/check", "127.0.0.1/32", "::1/128")
    assert victims.v4.accepted >= 3 and victims.v6.accepted >= 1
