"""``/api/report`` as the matrix-federation-tester answers it, field by field.

conftest.py checks every answer against ``tester_schema``; these tests check
that it does (for every kind of name and refusal), that the schema catches
what the tester would never send, and the values the tester's rules give.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request
from test_problem_codes import NAME, healthy, homeserver, signed, well_known
from tester_schema import ReportAnswers, validate

from matrix_delegation.sandbox import Reply
from matrix_delegation.sandbox.homeserver import KEYS_PATH, VERSION_PATH
from matrix_delegation.sandbox.world import Sandbox

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]

# The tester's answer for an invalid name, as Go writes its zero values.
GO_INVALID_NAME: dict[str, Any] = {
    "Error": "Invalid server name 'bad_name'",
    "WellKnownResult": {"m.server": "", "CacheExpiresAt": 0},
    "DNSResult": {
        "SRVSkipped": False,
        "SRVCName": "",
        "SRVRecords": None,
        "SRVError": None,
        "Hosts": None,
        "Addrs": None,
    },
    "ConnectionReports": {},
    "ConnectionErrors": {},
    "Version": {},
    "FederationOK": False,
    "Problems": [],
}


async def report(client: TestClient[Any, Any], name: str) -> tuple[int, dict[str, Any]]:
    response = await client.get("/api/report", params={"server_name": name})
    return response.status, await response.json()


# --- the schema and the check of every answer ------------------------------------------------


def test_the_testers_own_answer_is_valid() -> None:
    assert validate(GO_INVALID_NAME) == []


@pytest.mark.parametrize(
    ("where", "value", "says"),
    [
        (("DNSResult", "SRVRecords"), [], "empty list is null"),
        (("DNSResult", "Addrs"), [], "empty list is null"),
        (("Version",), {"name": "", "version": "1"}, "omitempty"),
        (("WellKnownResult", "error"), {"Error": "x"}, "unexpected key"),
        (("WellKnownResult", "CacheExpiresAt"), True, "expected an integer"),
        (("ConnectionErrors",), {"nowhere": {"Message": "x"}}, "not ip:port"),
        (("ConnectionReports",), None, "expected an object"),
        (("FederationOK",), True, "Error is set but FederationOK"),
    ],
)
def test_the_schema_refuses_what_the_tester_never_sends(
    where: tuple[str, ...], value: Any, says: str
) -> None:
    document = copy.deepcopy(GO_INVALID_NAME)
    parent = document
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = value
    found = validate(document)
    assert found and says in "; ".join(found)


async def test_the_answer_check_records_violations() -> None:
    answers = ReportAnswers()
    request = make_mocked_request("GET", "/api/report?server_name=x.test")
    await answers.record(request, web.json_response({"FederationOK": True}))
    await answers.record(request, web.Response(text="not json"))
    assert len(answers.seen) == 2 and len(answers.violations) >= 3
    other = make_mocked_request("GET", "/api/v1/check?server_name=x.test")
    await answers.record(other, web.json_response({}))
    assert len(answers.seen) == 2  # other routes are not the tester's


async def broken_name(sandbox: Sandbox) -> str:
    await homeserver(sandbox, certificate_for=["other.test"])
    return NAME


async def slow_name(sandbox: Sandbox) -> str:
    host = await homeserver(sandbox)
    host.set("*", KEYS_PATH, Reply(body="{}", delay=10.0))
    return NAME


async def no_setup(sandbox: Sandbox) -> str:
    return "nowhere.test"


async def invalid_name(sandbox: Sandbox) -> str:
    return "bad_name"


@pytest.mark.parametrize(
    ("setup", "settings", "status"),
    [
        (healthy, {}, 200),
        (broken_name, {}, 200),
        (no_setup, {}, 200),
        (slow_name, {"deadline": 0.5}, 200),
        (invalid_name, {}, 200),
        (no_setup, {"rate_per_minute": 1, "burst": 1}, 429),
    ],
    ids=["healthy", "broken", "non-existent", "timed-out", "invalid", "rate-limited"],
)
async def test_every_answer_is_a_tester_report(
    sandbox: Sandbox,
    web_client: MakeClient,
    tester_answers: ReportAnswers,
    setup: Callable[[Sandbox], Awaitable[str]],
    settings: dict[str, Any],
    status: int,
) -> None:
    name = await setup(sandbox)
    client = await web_client(**settings)
    if status == 429:
        assert (await client.get("/api/federation-ok", params={"server_name": "a.test"})).ok
    got, doc = await report(client, name)
    assert got == status and validate(doc) == []
    assert [seen for seen, _ in tester_answers.seen] == [status]  # the check saw it
    assert doc["FederationOK"] is (setup is healthy)
    assert ("Error" in doc) is (setup not in (healthy, broken_name))  # why nothing was checked


# --- values, against the tester's rules --------------------------------------------------


async def test_cname_is_where_the_chain_ends(sandbox: Sandbox, web_client: MakeClient) -> None:
    await homeserver(sandbox, ["real.example.test"])
    sandbox.zone.add(NAME, "CNAME", "real.example.test.")
    client = await web_client()
    _, doc = await report(client, NAME)
    host = doc["DNSResult"]["Hosts"][NAME]
    assert host["CName"] == "real.example.test." and host["Aliases"] == [NAME]
    assert host["Addrs"] and host["Error"] is None and doc["FederationOK"] is True
    # No SRV record: Go's LookupSRV fails, so SRVError says so and SRVRecords is null.
    dns = doc["DNSResult"]
    assert dns["SRVSkipped"] is False and dns["SRVRecords"] is None and dns["SRVCName"] == ""
    assert "no SRV record" in dns["SRVError"]["Message"]


async def test_a_host_without_cname_is_its_own_canonical_name(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    await homeserver(sandbox)
    client = await web_client()
    _, doc = await report(client, NAME)
    assert doc["DNSResult"]["Hosts"][NAME]["CName"] == f"{NAME}."
    assert doc["DNSResult"]["Hosts"][NAME]["Aliases"] == []


async def test_a_timed_out_well_known_does_not_skip_srv(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    await well_known(sandbox, Reply(body='{"m.server": "m.example.test:8448"}', delay=5.0))
    client = await web_client(sandbox.resolver_options(timeout=0.5))
    status, doc = await report(client, NAME)
    assert status == 200 and doc["WellKnownResult"]["m.server"] == ""
    assert doc["WellKnownResult"]["result"] and doc["WellKnownResult"]["CacheExpiresAt"] == 0
    assert doc["DNSResult"]["SRVSkipped"] is False


async def test_a_port_skips_srv(sandbox: Sandbox, web_client: MakeClient) -> None:
    await homeserver(sandbox)
    client = await web_client()
    _, doc = await report(client, f"{NAME}:8448")
    dns = doc["DNSResult"]
    assert dns["SRVSkipped"] is True and dns["SRVError"] is None and dns["SRVRecords"] is None
    assert doc["WellKnownResult"]["result"]  # no lookup was made, and it says so


async def test_tls_without_a_key_answer_is_a_connection_error(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    await homeserver(sandbox, keys=Reply(status=404, body="{}"))
    client = await web_client()
    _, doc = await report(client, NAME)
    assert doc["ConnectionReports"] == {} and doc["FederationOK"] is False
    (message,) = doc["ConnectionErrors"].values()
    assert "answered 404" in message["Message"]


async def test_keys_that_fail_list_no_verify_keys(sandbox: Sandbox, web_client: MakeClient) -> None:
    await homeserver(sandbox, keys=signed(valid_until_ts=1000))
    client = await web_client()
    _, doc = await report(client, NAME)
    (connection,) = doc["ConnectionReports"].values()
    assert connection["Checks"]["FutureValidUntilTS"] is False
    assert connection["Ed25519VerifyKeys"] is None
    assert connection["Checks"]["AllEd25519ChecksOK"] is True  # the signature is fine


async def test_an_empty_version_field_is_left_out(sandbox: Sandbox, web_client: MakeClient) -> None:
    host = await homeserver(sandbox)
    host.set("*", VERSION_PATH, Reply.json({"server": {"name": "Sandbox"}}))
    client = await web_client()
    _, doc = await report(client, NAME)
    assert doc["Version"] == {"name": "Sandbox"}
    (connection,) = doc["ConnectionReports"].values()
    assert connection["Certificates"] and connection["Errors"] == []


async def test_cors_headers_are_the_testers(sandbox: Sandbox, web_client: MakeClient) -> None:
    client = await web_client()
    for response in (
        await client.get("/api/report", params={"server_name": "bad_name"}),
        await client.options("/api/report"),
    ):
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        allowed = {h.strip() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
        assert {"Origin", "X-Requested-With", "Content-Type", "Accept"} <= allowed
