"""``check --outbound`` and ``--notary`` against sandbox stand-ins (real sockets, no Synapse).

The stand-in notary (:mod:`matrix_delegation.sandbox.notary`) answers key
queries from the key responses it is given, countersigned; a spoiled answer
(no countersignature, one by a key the notary does not serve, the quoted
server's own signature broken) must never be reported ``ok``. The real
Synapse processes are in ``tests/e2e/test_third_party_synapse.py``.
"""

from __future__ import annotations

import asyncio
import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import signedjson.key
from signedjson.types import SigningKey

from matrix_delegation import Resolver
from matrix_delegation._cli import main
from matrix_delegation.checker.check import Report, check_server
from matrix_delegation.checker.codes import ALL, OUTSIDE
from matrix_delegation.checker.notary_model import ThirdParty
from matrix_delegation.checker.output import report_json
from matrix_delegation.sandbox import Reply, WebHost
from matrix_delegation.sandbox.homeserver import key_response, publish_homeserver
from matrix_delegation.sandbox.notary import QUERY_PATH, Tamper, publish_notary
from matrix_delegation.sandbox.world import Sandbox

NAME, VIA, NOTARY = "hs.test", "via.test", "notary.test"
KEY = signedjson.key.generate_signing_key("hs")
VIA_KEY = signedjson.key.generate_signing_key("via")
OTHER = signedjson.key.generate_signing_key("other")


async def server(sandbox: Sandbox, name: str, key: SigningKey | None = None) -> WebHost:
    """A stand-in homeserver for ``name`` on its own 127.0.0.X:8448."""
    host = await sandbox.https_host([name], port=8448)
    publish_homeserver(host, name, name, key)
    return host


async def notary(sandbox: Sandbox, held: list[dict[str, Any]], **options: Any) -> WebHost:
    host = await sandbox.https_host([NOTARY], port=8448)
    publish_notary(host, NOTARY, NOTARY, held, **options)
    return host


async def run(sandbox: Sandbox, third_party: ThirdParty | None, **options: Any) -> Report:
    async with Resolver(**sandbox.resolver_options(timeout=3.0, **options)) as resolver:
        return await check_server(resolver, NAME, timeout=3.0, third_party=third_party)


def codes(report: Report) -> dict[str, str]:
    return {p.code: p.message for p in report.problems}


# --- outbound --------------------------------------------------------------------------


async def test_outbound_ok_through_a_passing_endpoint(sandbox: Sandbox) -> None:
    await server(sandbox, VIA, VIA_KEY)
    checked = await sandbox.https_host([NAME], port=8448)
    publish_notary(checked, NAME, NAME, [key_response(VIA, VIA_KEY)], KEY)

    report = await run(sandbox, ThirdParty(outbound=(VIA,)))

    [tried] = report_json(report)["outbound"]
    assert tried["via"] == VIA and tried["ok"] is True and tried["error"] is None
    assert tried["endpoint"] == f"{checked.host}:8448"
    assert isinstance(tried["elapsed_ms"], float)
    assert report.federation_ok and not set(codes(report)) & set(OUTSIDE)
    assert ("POST", NAME, QUERY_PATH) in [(m, h.split(":")[0], p) for m, h, p in checked.requests]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (Reply.json({"server_keys": []}), f"it returned no keys for {VIA}"),
        (Reply.json({"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}, 404),
         "HTTP 404: M_UNRECOGNIZED: Unrecognized request"),
        (Reply(status=200, body=b"<html>"), "HTTP 200, but the body is not JSON"),
    ],
)  # fmt: skip
async def test_outbound_failed_in_the_peers_words(
    sandbox: Sandbox, answer: Reply, said: str
) -> None:
    await server(sandbox, VIA, VIA_KEY)
    checked = await server(sandbox, NAME, KEY)
    checked.set(NAME, QUERY_PATH, answer)

    report = await run(sandbox, ThirdParty(outbound=(VIA,)))

    [tried] = report_json(report)["outbound"]
    assert tried["ok"] is False and said in tried["error"]
    assert said in codes(report)["outbound-failed"]
    assert ALL["outbound-failed"].severity == "error"


@pytest.mark.parametrize("tamper", ["unsigned", "wrong-key", "target-signature"])
async def test_a_spoiled_outbound_answer_is_never_ok(sandbox: Sandbox, tamper: Tamper) -> None:
    await server(sandbox, VIA, VIA_KEY)
    checked = await sandbox.https_host([NAME], port=8448)
    publish_notary(checked, NAME, NAME, [key_response(VIA, VIA_KEY)], KEY, tamper=tamper)

    report = await run(sandbox, ThirdParty(outbound=(VIA,)))

    assert report.outbound is not None and not report.outbound[0].ok
    assert "outbound-failed" in codes(report)


async def test_keys_not_the_ones_via_serves_are_not_ok(sandbox: Sandbox) -> None:
    await server(sandbox, VIA, VIA_KEY)
    checked = await sandbox.https_host([NAME], port=8448)
    publish_notary(checked, NAME, NAME, [key_response(VIA, OTHER)], KEY)

    report = await run(sandbox, ThirdParty(outbound=(VIA,)))

    assert report.outbound is not None and not report.outbound[0].ok
    assert "not the keys via.test serves here" in codes(report)["outbound-failed"]


async def test_an_unreachable_via_is_a_warning_not_an_outbound_failure(sandbox: Sandbox) -> None:
    await server(sandbox, NAME, KEY)

    report = await run(sandbox, ThirdParty(outbound=(VIA,)))

    [tried] = report_json(report)["outbound"]
    assert tried["ok"] is False and tried["endpoint"] is None and tried["elapsed_ms"] is None
    assert "outbound-via-unavailable" in codes(report) and "outbound-failed" not in codes(report)
    assert ALL["outbound-via-unavailable"].severity == "warning"


# --- notary ----------------------------------------------------------------------------


async def test_a_notary_that_sees_the_same_keys(sandbox: Sandbox) -> None:
    await server(sandbox, NAME, KEY)
    await notary(sandbox, [key_response(NAME, KEY)])

    report = await run(sandbox, ThirdParty(notary=(NOTARY,)))

    assert report_json(report)["notary"] == [
        {"notary": NOTARY, "ok": True, "keys_match": True, "error": None}
    ]
    assert not set(codes(report)) & set(OUTSIDE)


async def test_a_notary_that_sees_other_keys(sandbox: Sandbox) -> None:
    await server(sandbox, NAME, KEY)
    await notary(sandbox, [key_response(NAME, OTHER)])

    report = await run(sandbox, ThirdParty(notary=(NOTARY,)))

    [seen] = report_json(report)["notary"]
    assert seen["ok"] is True and seen["keys_match"] is False
    assert "ed25519:other" in codes(report)["notary-keys-differ"]


async def test_a_notary_that_cannot_reach_the_server(sandbox: Sandbox) -> None:
    await server(sandbox, NAME, KEY)
    await notary(sandbox, [])

    report = await run(sandbox, ThirdParty(notary=(NOTARY,)))

    [seen] = report_json(report)["notary"]
    assert seen["ok"] is False and seen["keys_match"] is None
    assert f"returned no keys for {NAME}" in codes(report)["notary-cannot-reach"]


async def test_an_unreachable_notary_is_a_warning_about_the_notary(sandbox: Sandbox) -> None:
    await server(sandbox, NAME, KEY)  # notary.test has no DNS record

    report = await run(sandbox, ThirdParty(notary=(NOTARY,)))

    [seen] = report_json(report)["notary"]
    assert seen["ok"] is False
    assert "notary-unavailable" in codes(report) and "notary-cannot-reach" not in codes(report)
    assert report.federation_ok


@pytest.mark.parametrize("tamper", ["unsigned", "wrong-key", "target-signature"])
async def test_a_spoiled_notary_answer_is_never_ok(sandbox: Sandbox, tamper: Tamper) -> None:
    await server(sandbox, NAME, KEY)
    await notary(sandbox, [key_response(NAME, KEY)], tamper=tamper)

    report = await run(sandbox, ThirdParty(notary=(NOTARY,)))

    [seen] = report_json(report)["notary"]
    assert seen["ok"] is False and seen["keys_match"] is None
    assert "notary-unavailable" in codes(report)


# --- the IP policy, and nothing contacted unless asked ----------------------------------


@pytest.mark.parametrize("allowed", [False, True])
async def test_a_notary_at_a_blocked_address_is_never_contacted(
    sandbox: Sandbox, allowed: bool
) -> None:
    checked = await server(sandbox, NAME, KEY)
    victim = await notary(sandbox, [key_response(NAME, KEY)])
    ranges = [f"{checked.host}/32"] + ([f"{victim.host}/32"] if allowed else [])

    report = await run(sandbox, ThirdParty(notary=(NOTARY,)), allow_ip_ranges=ranges)

    [seen] = report_json(report)["notary"]
    if allowed:  # the twin: the counter works, and the refusal comes from the policy
        assert victim.requests and seen["ok"] is True
    else:
        assert victim.requests == []
        assert seen["ok"] is False and "IP blocklist" in seen["error"]
        assert "notary-unavailable" in codes(report)


async def test_without_the_options_no_third_party_is_contacted(sandbox: Sandbox) -> None:
    checked = await sandbox.https_host([NAME], port=8448)
    publish_notary(checked, NAME, NAME, [key_response(VIA, VIA_KEY)], KEY)
    via = await server(sandbox, VIA, VIA_KEY)
    other = await notary(sandbox, [key_response(NAME, KEY)])

    report = await run(sandbox, None)

    assert via.requests == [] and other.requests == []
    assert all(method == "GET" for method, _, _ in checked.requests)
    assert report_json(report)["outbound"] is None and report_json(report)["notary"] is None

    await run(sandbox, ThirdParty(outbound=(VIA,), notary=(NOTARY,)))
    assert via.requests and other.requests  # the twin


async def test_the_command_line(sandbox: Sandbox, tmp_path: Path) -> None:
    await server(sandbox, VIA, VIA_KEY)
    checked = await sandbox.https_host([NAME], port=8448)
    publish_notary(checked, NAME, NAME, [key_response(VIA, VIA_KEY)], KEY)
    await notary(sandbox, [key_response(NAME, KEY)])
    options = sandbox.resolver_options()
    ca_file = sandbox.ca.write_ca_pem(tmp_path / "ca.pem")
    argv = ["check", NAME, "--json", "--dns-server", options["nameservers"][0],
            "--allow-ip-range", "127.0.0.0/8", "--ca-file", str(ca_file),
            "--outbound", VIA, "--notary", NOTARY]  # fmt: skip

    out = io.StringIO()
    with redirect_stdout(out):
        status = await asyncio.to_thread(main, argv)

    document = json.loads(out.getvalue())
    assert status == 0, document["problems"]
    assert [o["ok"] for o in document["outbound"]] == [True]
    assert document["notary"] == [{"notary": NOTARY, "ok": True, "keys_match": True, "error": None}]


def test_every_code_of_these_tests_is_produced_above() -> None:
    produced_above = {
        "outbound-failed", "outbound-via-unavailable",
        "notary-cannot-reach", "notary-keys-differ", "notary-unavailable",
    }  # fmt: skip
    assert set(OUTSIDE) == produced_above
