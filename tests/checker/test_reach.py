"""How real peers reach a server: User-Agents and bot walls, address families, over real sockets.

Each world is built in the sandbox; a WAF or CDN is a sandbox reply that depends
on the request's User-Agent (``Reply.by_agent``). Every risky case has a twin in
which nothing is wrong.
"""

from __future__ import annotations

from checker.test_problem_codes import KEY, NAME, WK, homeserver, run_check
from matrix_delegation.checker.agents_model import AGENTS, EXTRA_REQUESTS, MAX_AGENTS
from matrix_delegation.checker.output import report_json, report_text
from matrix_delegation.sandbox import Reply
from matrix_delegation.sandbox.homeserver import KEYS_PATH, key_response
from matrix_delegation.sandbox.world import Sandbox

MATRIX = "matrix.example.test"
DELEGATION = {"m.server": f"{MATRIX}:8448"}
CHALLENGE = Reply(
    status=403,
    body="<!DOCTYPE html><html><title>Just a moment...</title></html>",
    headers={"cf-mitigated": "challenge", "Server": "cloudflare", "Content-Type": "text/html"},
)
REFUSED = Reply(status=403, body="<html>Forbidden</html>", headers={"Content-Type": "text/html"})


async def delegated(sandbox: Sandbox, well_known: Reply) -> None:
    """example.test delegates by .well-known (the reply given) to a working homeserver."""
    host = await sandbox.https_host([NAME])
    host.set(NAME, WK, well_known)
    await homeserver(sandbox, [MATRIX], certificate_for=[MATRIX])


def rows(report: dict, path: str) -> dict[str, tuple[int | None, str]]:
    return {
        row["implementation"]: (row["status"], row["outcome"])
        for row in report["user_agents"]
        if row["url"].endswith(path)
    }


async def test_a_waf_refusing_go_blocks_exactly_dendrite_and_the_tester(sandbox: Sandbox) -> None:
    await delegated(sandbox, Reply.json(DELEGATION, by_agent={"Go-http-client/": REFUSED}))
    report = await run_check(sandbox, NAME, timeout=10)
    found = {p.code: p for p in report.problems}
    assert "Go-http-client/1.1 (dendrite, federation-tester)" in found["user-agent-blocked"].message
    assert "Go-http-client/" in found["user-agent-blocked"].fix
    assert "Synapse/" not in found["user-agent-blocked"].message
    assert "cdn-challenge" not in found  # a plain 403, not from a CDN
    seen = rows(report_json(report), WK)
    assert seen["dendrite"] == (403, "blocked") and seen["federation-tester"] == (403, "blocked")
    for name in ("synapse", "conduit", "continuwuity", "browser"):
        assert seen[name] == (200, "same"), name
    assert report.federation_ok  # our own view is not refused


async def test_every_agent_served_is_no_problem(sandbox: Sandbox) -> None:
    await delegated(sandbox, Reply.json(DELEGATION))
    report = await run_check(sandbox, NAME, timeout=10)
    codes = {p.code for p in report.problems}
    assert not codes & {"user-agent-blocked", "cdn-challenge"}, codes
    document = report_json(report)
    assert {outcome for _, outcome in rows(document, WK).values()} == {"same"}
    assert {outcome for _, outcome in rows(document, KEYS_PATH).values()} == {"same"}
    assert len(document["user_agents"]) == 2 * 6  # 6 implementations, 2 URLs


async def test_no_user_agent_header_is_conduit(sandbox: Sandbox) -> None:
    """A rule refusing requests without a User-Agent cuts off Conduit peers only."""
    await delegated(sandbox, Reply.json(DELEGATION, by_agent={"": Reply(status=400)}))
    report = await run_check(sandbox, NAME, timeout=10)
    found = {p.code: p for p in report.problems}
    assert "(no User-Agent header) (conduit)" in found["user-agent-blocked"].message
    assert rows(report_json(report), WK)["conduit"] == (400, "blocked")


async def test_a_bot_rule_on_the_keys_names_continuwuity(sandbox: Sandbox) -> None:
    host = await homeserver(sandbox, [MATRIX], certificate_for=[MATRIX])
    keys = Reply.json(key_response(MATRIX, KEY), by_agent={"continuwuity/": REFUSED})
    host.set("*", KEYS_PATH, keys)
    report = await run_check(sandbox, f"{MATRIX}:8448", timeout=10)
    found = {p.code: p for p in report.problems}
    assert "continuwuity/" in found["user-agent-blocked"].message, report.problems
    assert rows(report_json(report), KEYS_PATH)["continuwuity"] == (403, "blocked")


async def test_a_cdn_challenge_is_not_reported_as_invalid_json(sandbox: Sandbox) -> None:
    await delegated(sandbox, CHALLENGE)
    report = await run_check(sandbox, NAME, timeout=10)
    codes = {p.code for p in report.problems}
    assert "cdn-challenge" in codes
    assert not codes & {"well-known-not-json", "well-known-server-error"}, codes
    challenge = next(p for p in report.problems if p.code == "cdn-challenge")
    assert "cf-mitigated: challenge" in challenge.message and challenge.severity == "error"
    assert {o for _, o in rows(report_json(report), WK).values()} == {"challenge"}


async def test_a_challenge_with_status_200_still_defers_not_json(sandbox: Sandbox) -> None:
    """The twin of the plain not-JSON file: a challenge page served with 200."""
    page = Reply(status=200, body="<html>challenge</html>", headers={"cf-mitigated": "challenge"})
    await delegated(sandbox, page)
    codes = {p.code for p in (await run_check(sandbox, NAME, timeout=10)).problems}
    assert "cdn-challenge" in codes and "well-known-not-json" not in codes


async def test_plain_html_is_still_not_json(sandbox: Sandbox) -> None:
    await delegated(sandbox, Reply(status=200, body="<html>hello</html>"))
    codes = {p.code for p in (await run_check(sandbox, NAME, timeout=10)).problems}
    assert "well-known-not-json" in codes and "cdn-challenge" not in codes


# --- address families --------------------------------------------------------------------


async def test_a_well_known_host_with_only_aaaa_fails_ipv4_only_peers(sandbox: Sandbox) -> None:
    host = await sandbox.https_host([NAME], ipv6=True)  # AAAA ::1 only
    host.set(NAME, WK, Reply.json(DELEGATION))
    await homeserver(sandbox, [MATRIX], certificate_for=[MATRIX])  # A 127.0.0.x
    v6 = await sandbox.https_host([MATRIX], port=8448, ipv6=True)  # and AAAA ::1
    for path, reply in (await _homeserver_routes()).items():
        v6.set("*", path, reply)
    report = await run_check(sandbox, NAME, timeout=10)
    families = report_json(report)["families"]
    assert families["ipv4"]["federation_ok"] is False
    assert families["ipv4"]["well_known"] == "no A record for the server name"
    assert families["ipv6"]["federation_ok"] is True
    assert {e["ip"] for e in families["ipv6"]["endpoints"]} == {"::1"}
    found = {p.code: p for p in report.problems}
    assert found["ipv4-unreachable"].message.startswith("IPv4-only peers cannot reach")
    assert "ipv6-unreachable" not in found


async def test_a_dead_ipv4_endpoint_fails_ipv4_only_peers(sandbox: Sandbox) -> None:
    v6 = await sandbox.https_host([NAME], port=8448, ipv6=True)
    for path, reply in (await _homeserver_routes()).items():
        v6.set("*", path, reply)
    sandbox.zone.add(NAME, "A", "127.0.1.9")  # nothing listens there
    report = await run_check(sandbox, NAME, timeout=10)
    families = report_json(report)["families"]
    assert (families["ipv4"]["federation_ok"], families["ipv6"]["federation_ok"]) == (False, True)
    found = {p.code: p for p in report.problems}
    assert "127.0.1.9" in found["ipv4-unreachable"].message
    assert "ipv4 only: FAILS" in report_text(report)


async def test_an_ipv4_only_server_is_no_family_problem(sandbox: Sandbox) -> None:
    """The twin: no AAAA anywhere is a choice; the families object still says so."""
    await delegated(sandbox, Reply.json(DELEGATION))
    report = await run_check(sandbox, NAME, timeout=10)
    families = report_json(report)["families"]
    assert (families["ipv4"]["federation_ok"], families["ipv6"]["federation_ok"]) == (True, False)
    assert not {p.code for p in report.problems} & {"ipv4-unreachable", "ipv6-unreachable"}


async def _homeserver_routes() -> dict[str, Reply]:
    from matrix_delegation.sandbox.homeserver import VERSION_PATH

    return {
        VERSION_PATH: Reply.json({"server": {"name": "Sandbox", "version": "1"}}),
        KEYS_PATH: Reply.json(key_response(NAME, KEY)),
    }


# --- propagation in the report, and the budget ---------------------------------------------


async def test_propagation_follows_the_served_headers(sandbox: Sandbox) -> None:
    served = Reply.json(DELEGATION, headers={"Cache-Control": "max-age=600"})
    await delegated(sandbox, served)
    report = await run_check(sandbox, NAME, timeout=10)
    document = report_json(report)["propagation"]
    assert document["well_known"] == {"cache_control": "max-age=600", "expires": None}
    peers = {peer["implementation"]: peer for peer in document["peers"]}
    assert list(peers) == ["synapse", "dendrite", "conduit", "continuwuity", "federation-tester"]
    assert report.propagation is not None
    synapse = report.propagation.peers[0]
    assert synapse.refetch_by == report.propagation.fetched_at + 600
    assert peers["dendrite"]["refetch_by"] is None
    assert "reset_connection" in document["advice"]
    text = report_text(report)
    assert "when a change of .well-known reaches peers" in text
    assert "dendrite: only when the old destination fails" in text


def test_the_agents_stay_within_the_budget() -> None:
    assert len(AGENTS) <= MAX_AGENTS
    assert EXTRA_REQUESTS == 1 + 2 * len(AGENTS) == 11
    agents = [agent.user_agent for agent in AGENTS]
    assert len(set(agents)) == len(agents)  # one request per distinct agent
