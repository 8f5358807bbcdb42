"""Each implementation's verdict in ``check``, against real loopback servers (docs/peers.md).

Every world below shows one place where implementations depart from the spec;
the test asserts what each of them concludes, and that the spec's own view is
what it was. The twin is a healthy world where every implementation agrees
and ``differs`` is empty for all.
"""

from __future__ import annotations

import pytest

from checker.test_problem_codes import FED, NAME, homeserver, run_check, well_known
from matrix_delegation._io.probe import PROBE_USER_AGENT
from matrix_delegation.checker.check import Report
from matrix_delegation.checker.output import report_json, report_text
from matrix_delegation.sandbox import Reply, WebHost
from matrix_delegation.sandbox.homeserver import KEYS_PATH
from matrix_delegation.sandbox.world import Sandbox

ORDER = ["synapse", "dendrite", "conduit", "continuwuity", "federation-tester"]
LEGACY = f"_matrix._tcp.{NAME}"


def verdicts(report: Report) -> dict[str, bool]:
    return {verdict.policy.name: verdict.federation_ok for verdict in report.peers}


def disagreement(report: Report) -> tuple[str, str] | None:
    found = [p for p in report.problems if p.code == "peer-disagreement"]
    return (found[0].severity, found[0].message) if found else None


async def test_a_healthy_server_is_reached_by_every_implementation(sandbox: Sandbox) -> None:
    host = await homeserver(sandbox, ["t.example.test"])
    sandbox.zone.add(FED, "SRV", "10 5 8448 t.example.test.")
    sandbox.zone.add(LEGACY, "SRV", "10 5 8448 t.example.test.")
    report = await run_check(sandbox, NAME)
    assert report.federation_ok
    assert [v.policy.name for v in report.peers] == ORDER
    assert all(verdicts(report).values())
    assert all(v.differs == () for v in report.peers[:-1])
    # The tester's route is the legacy record's, the same target: it says why.
    assert report.peers[-1].differs == ("only _matrix._tcp is asked", "every endpoint passes")
    assert disagreement(report) is None
    document = report_json(report)
    assert [p["implementation"] for p in document["peers"]] == ORDER
    assert document["peers"][0]["route"] == "srv"
    assert document["peers"][0]["endpoints"] == [
        {"target": "t.example.test", "ip": host.host, "port": 8448}
    ]


async def test_first_srv_target_dead_splits_the_implementations(sandbox: Sandbox) -> None:
    dead = sandbox.address(8448)  # nothing listens there: connections are refused
    sandbox.zone.add("dead.example.test", "A", dead)
    await homeserver(sandbox, ["live.example.test"])
    sandbox.zone.add(FED, "SRV", "10 5 8448 dead.example.test.")
    sandbox.zone.add(FED, "SRV", "20 5 8448 live.example.test.")
    sandbox.zone.add(LEGACY, "SRV", "10 5 8448 dead.example.test.")
    sandbox.zone.add(LEGACY, "SRV", "20 5 8448 live.example.test.")
    report = await run_check(sandbox, NAME)
    assert not report.federation_ok  # the spec's verdict: every endpoint must work
    assert verdicts(report) == {
        "synapse": True, "dendrite": True, "conduit": False, "continuwuity": False,
        "federation-tester": False,
    }  # fmt: skip
    conduit = next(v for v in report.peers if v.policy.name == "conduit")
    assert conduit.differs[0].startswith("only 1 SRV record is used")
    assert "fails" in conduit.differs[-1]
    synapse = report.peers[0]
    assert "tries the endpoints in order" in synapse.differs[-1]
    severity, message = disagreement(report) or ("", "")
    assert severity == "warning"  # Synapse gets through
    assert message.startswith("conduit, continuwuity, federation-tester cannot reach")
    found = next(p for p in report.problems if p.code == "peer-disagreement")
    assert "only SRV records whose targets work" in found.fix
    text = report_text(report)
    assert "conduit" in text and "only 1 SRV record is used" in text


async def test_invalid_m_server_with_a_working_srv_record(sandbox: Sandbox) -> None:
    await well_known(sandbox, Reply.json({"m.server": "https://m.example.test/"}))
    await homeserver(sandbox, ["t.example.test"])
    sandbox.zone.add(FED, "SRV", "10 5 8448 t.example.test.")
    sandbox.zone.add(LEGACY, "SRV", "10 5 8448 t.example.test.")
    report = await run_check(sandbox, NAME)
    assert report.federation_ok  # the spec goes on to SRV
    assert not any(verdicts(report).values())
    dendrite = report.peers[1]
    assert dendrite.resolution.error is not None
    assert dendrite.resolution.error.code == "invalid-well-known"
    assert any("used as it is" in line for line in report.peers[0].differs)
    severity, _ = disagreement(report) or ("", "")
    assert severity == "error"  # Synapse cannot reach it


async def test_redirect_to_http_is_followed_by_some(sandbox: Sandbox) -> None:
    if sandbox.connect_to:
        pytest.skip("needs a plain http listener on port 80 (root)")
    plain = WebHost(sandbox.address(80), 80, None)
    await plain.start()
    try:
        sandbox.zone.add("plain.example.test", "A", plain.host)
        plain.set(
            "plain.example.test", "/d.json", Reply.json({"m.server": "gone.example.test:8448"})
        )
        sandbox.zone.add("gone.example.test", "A", sandbox.address(8448))  # refuses
        await well_known(sandbox, Reply.redirect("http://plain.example.test/d.json", 302))
        await homeserver(sandbox, ["t.example.test"])
        sandbox.zone.add(FED, "SRV", "10 5 8448 t.example.test.")
        sandbox.zone.add(LEGACY, "SRV", "10 5 8448 t.example.test.")
        report = await run_check(sandbox, NAME)
    finally:
        await plain.stop()
    assert report.federation_ok  # the spec refuses the hop and goes on to SRV
    assert verdicts(report) == {
        "synapse": False, "dendrite": False, "conduit": False, "continuwuity": True,
        "federation-tester": False,
    }  # fmt: skip
    assert "a redirect to plain http is followed" in report.peers[0].differs
    assert report.peers[0].resolution.route is not None
    assert report.peers[0].resolution.route.value == "well-known/explicit-port"


async def test_only_matrix_fed_is_missed_by_the_tester(sandbox: Sandbox) -> None:
    await homeserver(sandbox, ["t.example.test"])
    sandbox.zone.add(FED, "SRV", "10 5 8448 t.example.test.")
    report = await run_check(sandbox, NAME)
    assert report.federation_ok
    assert verdicts(report) == {name: name != "federation-tester" for name in ORDER}
    tester = report.peers[-1]
    assert "only _matrix._tcp is asked" in tester.differs
    assert disagreement(report) is not None


async def test_only_legacy_matrix_is_used_by_everyone(sandbox: Sandbox) -> None:
    await homeserver(sandbox, ["t.example.test"])
    sandbox.zone.add(LEGACY, "SRV", "10 5 8448 t.example.test.")
    report = await run_check(sandbox, NAME)
    assert report.federation_ok
    assert all(verdicts(report).values())
    assert all(v.resolution.route is not None for v in report.peers)
    assert {v.resolution.route.value for v in report.peers if v.resolution.route} == {"srv-legacy"}
    assert disagreement(report) is None


async def test_same_endpoints_are_not_probed_again(sandbox: Sandbox) -> None:
    host = await homeserver(sandbox, ["t.example.test"])
    sandbox.zone.add(FED, "SRV", "10 5 8448 t.example.test.")
    sandbox.zone.add(LEGACY, "SRV", "10 5 8448 t.example.test.")
    report = await run_check(sandbox, NAME)
    assert all(v.endpoints[0] is report.endpoints[0] for v in report.peers)
    keys = [
        agent
        for request, agent in zip(host.requests, host.user_agents, strict=True)
        if request[2] == KEYS_PATH and agent == PROBE_USER_AGENT
    ]
    assert len(keys) == 1  # probed once for the spec; every implementation reuses the report
