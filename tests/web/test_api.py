"""The web checker's API and page against the sandbox: shapes, limits and safety."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from test_problem_codes import NAME, healthy, homeserver
from tester_schema import validate

import matrix_delegation.web.app as app_module
from matrix_delegation.checker.codes import Problem
from matrix_delegation.cli.web import settings_from_args
from matrix_delegation.sandbox import Reply, WebHost
from matrix_delegation.sandbox.homeserver import KEYS_PATH, VERSION_PATH
from matrix_delegation.sandbox.world import Sandbox
from matrix_delegation.web.clients import client_key
from matrix_delegation.web.limits import RateLimited, TokenBuckets

WK = "/.well-known/matrix/server"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]
API_PATHS = ("/api/report", "/api/federation-ok", "/api/v1/check")


# Every /api/report answer is also checked against the tester's report by conftest.py.


def assert_tester_shape(doc: dict[str, Any]) -> None:
    """What a client of federationtester.matrix.org/api/report relies on (tester_schema)."""
    assert validate(doc) == []


async def get_json(client: TestClient[Any, Any], path: str, **params: str) -> tuple[int, Any]:
    response = await client.get(path, params=params)
    return response.status, await response.json()


def problem_codes(doc: dict[str, Any]) -> set[str]:
    return {problem["code"] for problem in doc["Problems"]}


# --- each endpoint, healthy and broken --------------------------------------------------------


async def test_healthy_server_on_every_endpoint(sandbox: Sandbox, web_client: MakeClient) -> None:
    name = await healthy(sandbox)
    client = await web_client()

    response = await client.get("/api/report", params={"server_name": name})
    assert response.status == 200 and response.content_type == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    doc = await response.json()
    assert_tester_shape(doc)
    assert doc["FederationOK"] is True
    assert doc["WellKnownResult"]["m.server"] == "matrix.example.test:8448"
    assert doc["WellKnownResult"]["CacheExpiresAt"] > time.time()
    assert "result" not in doc["WellKnownResult"]
    assert doc["DNSResult"]["SRVSkipped"] is True  # the delegation has a port: no SRV
    assert doc["DNSResult"]["SRVRecords"] is None and doc["DNSResult"]["SRVError"] is None
    (address,) = doc["DNSResult"]["Addrs"]
    connection = doc["ConnectionReports"][address]
    assert connection["Checks"]["AllChecksOK"] is True
    assert connection["Checks"]["ValidCertificates"] is True
    assert connection["Cipher"]["Version"].startswith("TLS 1.")
    (cert,) = connection["Certificates"]
    assert "matrix.example.test" in cert["DNSNames"]
    key_id = next(iter(connection["Ed25519VerifyKeys"]))
    assert connection["Checks"]["Ed25519Checks"][key_id] == {
        "ValidEd25519": True,
        "MatchingSignature": True,
    }
    assert connection["Keys"]["server_name"] == NAME
    assert doc["Version"] == {"name": "Sandbox", "version": "1"}
    assert doc["ConnectionErrors"] == {}

    ok = await client.get("/api/federation-ok", params={"server_name": name})
    assert ok.status == 200 and ok.content_type == "text/plain"
    assert await ok.text() == "GOOD"
    assert ok.headers["Access-Control-Allow-Origin"] == "*"

    status, native = await get_json(client, "/api/v1/check", server_name=name)
    assert status == 200 and native["server_name"] == NAME and native["federation_ok"] is True

    page = await client.get("/", params={"server_name": name})
    assert page.status == 200 and page.content_type == "text/html"
    assert page.headers["Content-Security-Policy"] == CSP
    assert NAME in await page.text()


async def test_broken_server_on_every_endpoint(sandbox: Sandbox, web_client: MakeClient) -> None:
    await homeserver(sandbox, certificate_for=["other.test"])
    client = await web_client()

    status, doc = await get_json(client, "/api/report", server_name=NAME)
    assert status == 200
    assert_tester_shape(doc)
    assert doc["FederationOK"] is False
    (connection,) = doc["ConnectionReports"].values()
    assert connection["Checks"]["ValidCertificates"] is False
    assert connection["Checks"]["AllChecksOK"] is False
    assert connection["Errors"]  # the refused certificate, in words
    assert "tls-cert-wrong-name" in problem_codes(doc)

    ok = await client.get("/api/federation-ok", params={"server_name": NAME})
    assert await ok.text() == "BAD"
    status, native = await get_json(client, "/api/v1/check", server_name=NAME)
    assert native["federation_ok"] is False
    assert "tls-cert-wrong-name" in {p["code"] for p in native["problems"]}
    page = await client.get("/", params={"server_name": NAME})
    assert page.status == 200 and "tls-cert-wrong-name" in await page.text()


async def test_unreachable_address_is_a_connection_error(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    sandbox.zone.add(NAME, "A", sandbox.address(8448))  # nothing listens there
    client = await web_client()
    status, doc = await get_json(client, "/api/report", server_name=NAME)
    assert status == 200
    assert_tester_shape(doc)
    (address,) = doc["DNSResult"]["Addrs"]
    assert address.endswith(":8448") and doc["ConnectionReports"] == {}
    assert "cannot connect" in doc["ConnectionErrors"][address]["Message"]
    assert "error" in doc["Version"] and doc["FederationOK"] is False


async def test_srv_delegation_fills_the_srv_fields(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    await homeserver(sandbox, ["fed.example.test"])
    sandbox.zone.add(f"_matrix-fed._tcp.{NAME}", "SRV", "10 5 8448 fed.example.test.")
    client = await web_client()
    status, doc = await get_json(client, "/api/report", server_name=NAME)
    assert status == 200
    assert_tester_shape(doc)
    dns = doc["DNSResult"]
    assert dns["SRVSkipped"] is False and dns["SRVCName"] == f"_matrix-fed._tcp.{NAME}."
    assert dns["SRVRecords"] == [
        {"Target": "fed.example.test.", "Port": 8448, "Priority": 10, "Weight": 5}
    ]
    assert "fed.example.test" in dns["Hosts"] and doc["FederationOK"] is True


async def test_no_address_reports_an_error(sandbox: Sandbox, web_client: MakeClient) -> None:
    client = await web_client()
    status, doc = await get_json(client, "/api/report", server_name="nowhere.test")
    assert status == 200
    assert_tester_shape(doc)
    assert doc["FederationOK"] is False and doc["Error"]
    assert doc["DNSResult"]["Addrs"] is None and "no-address" in problem_codes(doc)
    # As the tester: the name that does not exist is not a host, and SRV says why.
    assert doc["DNSResult"]["Hosts"] == {} and doc["DNSResult"]["SRVSkipped"] is False
    assert "no SRV record" in doc["DNSResult"]["SRVError"]["Message"]


async def test_health_metrics_and_preflight(sandbox: Sandbox, web_client: MakeClient) -> None:
    client = await web_client()
    status, health = await get_json(client, "/health")
    assert status == 200 and health == {"status": "ok"}
    await client.get("/api/federation-ok", params={"server_name": "nowhere.test"})
    await client.get("/api/federation-ok", params={"server_name": "nowhere.test"})
    metrics = await (await client.get("/metrics")).text()
    assert 'matrix_delegation_web_checks_total{verdict="fail"} 1.0' in metrics
    assert 'matrix_delegation_web_report_requests_total{source="hit"} 1.0' in metrics
    assert 'matrix_delegation_web_report_requests_total{source="miss"} 1.0' in metrics
    assert "matrix_delegation_web_check_duration_seconds_count 1.0" in metrics
    assert "matrix_delegation_web_rate_limited_requests_total 0.0" in metrics
    preflight = await client.options("/api/report")
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"


# --- invalid input ---------------------------------------------------------------------------


MISSING = {"missing": "", "empty": "server_name=", "twice": "server_name=a.test&server_name=b.test"}
INVALID = {
    "too-long": "server_name=" + "a" * 256,
    "script": "server_name=%3Cscript%3Ealert(1)%3C/script%3E",
    "underscore": "server_name=bad_name",
    "url": "server_name=https://example.test/",
}


@pytest.mark.parametrize("path", ["/api/federation-ok", "/api/v1/check"])
@pytest.mark.parametrize("query", [*MISSING.values(), *INVALID.values()], ids=[*MISSING, *INVALID])
async def test_invalid_input_is_a_400(
    sandbox: Sandbox, web_client: MakeClient, path: str, query: str
) -> None:
    client = await web_client()
    response = await client.get(f"{path}?{query}")
    assert response.status == 400 and response.content_type == "application/json"
    body = await response.json()
    assert body["errcode"] == "M_INVALID_PARAM" and body["error"]
    text = json.dumps(body)
    assert "<script" not in text and "bad_name" not in text and "Traceback" not in text
    assert sandbox.dns.queries == []  # nothing was looked up


@pytest.mark.parametrize("query", INVALID.values(), ids=INVALID.keys())
async def test_an_invalid_name_is_a_report_saying_so(
    sandbox: Sandbox, web_client: MakeClient, query: str
) -> None:
    """As the tester answers: 200, a report whose Error says the name is invalid."""
    client = await web_client()
    response = await client.get(f"/api/report?{query}")
    assert response.status == 200 and response.content_type == "application/json"
    doc = await response.json()
    assert_tester_shape(doc)
    assert doc["FederationOK"] is False and doc["Error"].startswith("Invalid server name")
    assert doc["DNSResult"]["Hosts"] is None and doc["DNSResult"]["SRVRecords"] is None
    assert doc["ConnectionReports"] == {} and doc["Version"] == {} and "errcode" not in doc
    text = json.dumps(doc)
    assert "<script" not in text and "bad_name" not in text and "Traceback" not in text
    assert sandbox.dns.queries == []  # nothing was looked up


@pytest.mark.parametrize("query", MISSING.values(), ids=MISSING.keys())
async def test_a_missing_name_is_a_400_report(
    sandbox: Sandbox, web_client: MakeClient, query: str
) -> None:
    """The tester answers 400 too, but in plain text; ours is a report, so pages can show it."""
    client = await web_client()
    response = await client.get(f"/api/report?{query}")
    assert response.status == 400 and response.content_type == "application/json"
    doc = await response.json()
    assert_tester_shape(doc)
    assert doc["FederationOK"] is False and "server_name" in doc["Error"]
    assert doc["errcode"] == "M_INVALID_PARAM" and sandbox.dns.queries == []


async def test_the_page_rejects_markup_in_the_name(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    client = await web_client()
    page = await client.get("/", params={"server_name": "<script>alert(1)</script>"})
    assert page.status == 400 and page.content_type == "text/html"
    assert "<script" not in await page.text()
    assert page.headers["Content-Security-Policy"] == CSP
    empty = await client.get("/")
    assert empty.status == 200 and "<form" in await empty.text()


# --- limits ----------------------------------------------------------------------------------


async def test_rate_limit_after_the_burst(sandbox: Sandbox, web_client: MakeClient) -> None:
    client = await web_client(rate_per_minute=1, burst=2)
    for index in range(2):
        response = await client.get("/api/federation-ok", params={"server_name": f"n{index}.test"})
        assert response.status == 200
    refused = await client.get("/api/report", params={"server_name": "n2.test"})
    assert refused.status == 429 and refused.content_type == "application/json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    body = await refused.json()
    assert body["errcode"] == "M_LIMIT_EXCEEDED" and body["retry_after_ms"] > 0
    assert_tester_shape(body)  # a report, so the tester's page shows why
    assert body["FederationOK"] is False and "too many checks" in body["Error"]
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    # A report in the cache costs no check, so it is still served.
    cached = await client.get("/api/federation-ok", params={"server_name": "n0.test"})
    assert cached.status == 200
    page = await client.get("/", params={"server_name": "n3.test"})
    assert page.status == 429 and "Retry-After" in page.headers
    metrics = await (await client.get("/metrics")).text()
    assert "matrix_delegation_web_rate_limited_requests_total 2.0" in metrics


def test_token_bucket_refills() -> None:
    now = [0.0]
    buckets = TokenBuckets(per_minute=6, burst=2, clock=lambda: now[0])
    buckets.take("a")
    buckets.take("a")
    with pytest.raises(RateLimited) as refused:
        buckets.take("a")
    assert refused.value.retry_after == pytest.approx(10.0)
    buckets.take("b")  # another client has its own bucket
    now[0] = 10.0
    buckets.take("a")


def test_client_key_groups_an_ipv6_slash_56() -> None:
    expected = "2001:db8:1:200::/56"
    assert client_key("2001:db8:1:2ff:3:4:5:6") == client_key("2001:db8:1:200::9") == expected
    assert client_key("2001:db8:1:300::1") != expected  # the next /56 is another client
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key(None) == "unknown"


async def test_the_cache_answers_without_a_second_check(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    host = await homeserver(sandbox)
    client = await web_client()
    first = await client.get("/api/report", params={"server_name": NAME})
    assert first.status == 200
    seen, queries = len(host.requests), len(sandbox.dns.queries)
    assert seen > 0
    for path in API_PATHS:
        response = await client.get(path, params={"server_name": NAME})
        assert response.status == 200
    assert len(host.requests) == seen and len(sandbox.dns.queries) == queries


async def test_concurrent_requests_share_one_check(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    host = await homeserver(sandbox)
    version = {"server": {"name": "Sandbox", "version": "1"}}
    host.set("*", VERSION_PATH, Reply(body=json.dumps(version), delay=0.5))
    client = await web_client()
    responses = await asyncio.gather(
        *(client.get("/api/federation-ok", params={"server_name": NAME}) for _ in range(5))
    )
    assert [await r.text() for r in responses] == ["GOOD"] * 5
    assert sum(1 for _, _, path in host.requests if path == VERSION_PATH) == 1
    metrics = await (await client.get("/metrics")).text()
    assert 'matrix_delegation_web_checks_total{verdict="ok"} 1.0' in metrics
    assert 'matrix_delegation_web_report_requests_total{source="coalesced"} 4.0' in metrics


async def test_too_many_checks_at_once_is_a_503(sandbox: Sandbox, web_client: MakeClient) -> None:
    host = await homeserver(sandbox, ["slow.test"])
    host.set("*", VERSION_PATH, Reply(body="{}", delay=1.0))
    client = await web_client(max_running=1)
    slow = asyncio.ensure_future(client.get("/api/report", params={"server_name": "slow.test"}))
    await asyncio.sleep(0.3)
    busy = await client.get("/api/report", params={"server_name": "nowhere.test"})
    assert busy.status == 503 and busy.headers["Retry-After"]
    body = await busy.json()
    assert body["errcode"] == "M_UNKNOWN" and "too many checks" in body["Error"]
    assert body["FederationOK"] is False and body["ConnectionReports"] == {}
    assert (await slow).status == 200


async def test_a_slow_server_gets_a_timeout_report(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    host = await homeserver(sandbox)
    host.set("*", KEYS_PATH, Reply(body="{}", delay=10.0))
    client = await web_client(deadline=0.5)
    started = time.monotonic()
    status, doc = await get_json(client, "/api/report", server_name=NAME)
    assert time.monotonic() - started < 3.0
    assert status == 200 and doc["FederationOK"] is False
    assert_tester_shape(doc)
    assert problem_codes(doc) == {"check-timeout"}
    assert "did not finish" in doc["Error"]
    status, native = await get_json(client, "/api/v1/check", server_name=NAME)
    assert [p["code"] for p in native["problems"]] == ["check-timeout"]
    metrics = await (await client.get("/metrics")).text()
    assert 'matrix_delegation_web_checks_total{verdict="timeout"} 1.0' in metrics


# --- the IP blocklist ------------------------------------------------------------------------


def test_web_keeps_the_default_blocklist() -> None:
    from matrix_delegation._cli import _build_parser

    parser = _build_parser("web")
    args = parser.parse_args(["web"])
    assert settings_from_args(args).resolver_options.allow_ip_ranges == ()
    args = parser.parse_args(["web", "--allow-ip-range", "127.0.0.2/32"])
    assert settings_from_args(args).resolver_options.allow_ip_ranges == ("127.0.0.2/32",)


def _skip_without_port_443(sandbox: Sandbox) -> None:
    if sandbox.connect_to:  # a --connect-to rule would decide the address, not DNS
        pytest.skip("needs real :443 listeners on loopback addresses (root)")


async def test_blocked_address_is_reported_and_never_contacted(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    target = await homeserver(sandbox)
    target.set("*", WK, Reply.json({"m.server": f"{NAME}:8448"}))
    client = await web_client(sandbox.resolver_options(allow_ip_ranges=[], timeout=3.0))
    status, doc = await get_json(client, "/api/report", server_name=NAME)
    assert status == 200 and doc["FederationOK"] is False
    assert "blocked-address" in problem_codes(doc)
    assert doc["ConnectionReports"] == {} and doc["DNSResult"]["Addrs"] is None
    assert await (await client.get("/api/federation-ok", params={"server_name": NAME})).text() == (
        "BAD"
    )
    assert target.requests == []


async def test_dns_rebinding_never_reaches_the_second_address(
    sandbox: Sandbox, web_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name first resolves to the one allowed address, then (TTL 0) to another."""
    _skip_without_port_443(sandbox)
    allowed = await sandbox.https_host(["allowed.test"], certificate_for=[NAME])
    other = await sandbox.https_host(["other.test"], certificate_for=[NAME])
    other.set("*", WK, Reply.json({"m.server": f"{NAME}:8448"}))
    other_federation = WebHost(other.host, 8448, sandbox.ca.server_context(NAME))
    await other_federation.start()
    sandbox._hosts.append(other_federation)  # stopped with the sandbox
    sandbox.zone.add(NAME, "A", allowed.host, ttl=0)

    answer = sandbox.dns.respond
    switched: list[bool] = []

    def respond(wire: bytes, transport: str) -> bytes | None:
        reply = answer(wire, transport)
        if not switched and sandbox.dns.queries[-1][:2] == (NAME, "A"):
            switched.append(True)
            sandbox.zone.remove(NAME, "A")
            sandbox.zone.add(NAME, "A", other.host, ttl=0)
        return reply

    monkeypatch.setattr(sandbox.dns, "respond", respond)
    options = sandbox.resolver_options(allow_ip_ranges=[f"{allowed.host}/32"], timeout=3.0)
    client = await web_client(options)
    status, doc = await get_json(client, "/api/report", server_name=NAME)

    assert switched and allowed.requests  # the first answer was used, then it changed
    assert other.requests == [] and other_federation.requests == []
    assert status == 200 and doc["FederationOK"] is False
    assert "blocked-address" in problem_codes(doc)


async def test_a_redirect_to_a_blocked_address_is_not_followed(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    _skip_without_port_443(sandbox)
    start = await sandbox.https_host([NAME])
    start.set(NAME, WK, Reply.redirect(f"https://inside.test{WK}", 302))
    inside = await sandbox.https_host(["inside.test"])
    inside.set("*", WK, Reply.json({"m.server": "inside.test:443"}))
    options = sandbox.resolver_options(allow_ip_ranges=[f"{start.host}/32"], timeout=3.0)
    client = await web_client(options)
    status, doc = await get_json(client, "/api/report", server_name=NAME)
    assert status == 200 and doc["FederationOK"] is False
    assert start.requests and inside.requests == []
    assert doc["WellKnownResult"]["m.server"] == "" and doc["WellKnownResult"]["result"]


# --- escaping, headers and errors ------------------------------------------------------------


async def test_remote_markup_is_escaped_on_the_page(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    host = await homeserver(sandbox)
    host.set("*", VERSION_PATH, Reply.json({"server": {"name": "<b>x</b>", "version": "1"}}))
    client = await web_client()
    page = await client.get("/", params={"server_name": NAME})
    text = await page.text()
    assert page.status == 200 and "<b>x</b>" not in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text
    assert page.headers["Content-Security-Policy"] == CSP
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    status, doc = await get_json(client, "/api/report", server_name=NAME)
    assert status == 200 and doc["Version"]["name"] == "<b>x</b>"  # JSON carries it as data


async def test_an_internal_error_leaks_nothing(
    sandbox: Sandbox, web_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail from /etc/passwd")

    monkeypatch.setattr(app_module, "check_server", broken)
    client = await web_client()
    for path in (*API_PATHS, "/"):
        response = await client.get(path, params={"server_name": NAME})
        assert response.status == 500
        text = await response.text()
        if path == "/api/report":  # a report, like every answer of that route
            assert json.loads(text)["Error"] == "internal error"
        else:
            assert json.loads(text) == {"errcode": "M_UNKNOWN", "error": "internal error"}
        assert "secret" not in text and "Traceback" not in text


async def test_static_files_stay_in_their_directory(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    client = await web_client()
    for path in (
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2fapp.py",
        "/static/app.py",
        "/static/.hidden",
        "/static/nothing.css",
    ):
        response = await client.get(path)
        assert response.status == 404, path
    if (app_module.STATIC_DIR / "style.css").is_file():
        style = await client.get("/static/style.css")
        assert style.status == 200 and style.content_type == "text/css"


def test_timed_out_report_is_an_error() -> None:
    report = app_module.timed_out(NAME, 30)
    (found,) = report.problems
    assert isinstance(found, Problem) and found.severity == "error"
    assert not report.federation_ok
