"""The client side of the checker over real sockets: discovery file, base URLs, CORS, support."""

from __future__ import annotations

import json
import time

import pytest

from matrix_delegation import Resolver
from matrix_delegation.checker.client import (
    ClientReport,
    Fetched,
    Hop,
    SupportReport,
    check_client,
    check_support,
    judge_client,
    read_client_file,
)
from matrix_delegation.checker.codes import CLIENT as CODES
from matrix_delegation.sandbox import Reply, WebHost
from matrix_delegation.sandbox.world import Sandbox

NAME = "example.test"
HS = "matrix.example.test"
CLIENT = "/.well-known/matrix/client"
SUPPORT = "/.well-known/matrix/support"
VERSIONS = "/_matrix/client/versions"
IDENTITY = "/_matrix/identity/v2"
URL = f"https://{NAME}{CLIENT}"
CORS = {"Access-Control-Allow-Origin": "*"}
GOOD = {"m.homeserver": {"base_url": f"https://{HS}"}}


async def world(sandbox: Sandbox, client: Reply | None = None, **options: object) -> WebHost:
    """example.test and matrix.example.test on one host; a healthy homeserver answers."""
    host = await sandbox.https_host([NAME, HS], **options)  # type: ignore[arg-type]
    host.set(HS, VERSIONS, Reply.json({"versions": ["v1.11", "v1.12"]}, headers=CORS))
    if client is not None:
        host.set(NAME, CLIENT, client)
    return host


def client_file(document: object, **headers: str) -> Reply:
    """The discovery file with CORS, plus any other headers."""
    return Reply.json(document, headers={**CORS, **headers})


async def check(sandbox: Sandbox, timeout: float = 2.0) -> ClientReport:
    async with Resolver(**sandbox.resolver_options()) as resolver:
        return await check_client(resolver.network, NAME, timeout=timeout)


async def support(sandbox: Sandbox, timeout: float = 2.0) -> SupportReport:
    async with Resolver(**sandbox.resolver_options()) as resolver:
        return await check_support(resolver.network, NAME, timeout=timeout)


def codes(report: ClientReport | SupportReport) -> list[str]:
    return [finding.code for finding in report.findings]


def only(report: ClientReport | SupportReport, code: str) -> str:
    """The message of the one finding with ``code``; its severity and fix match the catalog."""
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, report.findings
    assert found[0].severity == CODES[code].severity
    assert found[0].fix
    return found[0].message


# --- the client file --------------------------------------------------------------------


async def test_healthy_client_file_prompts_with_no_findings(sandbox: Sandbox) -> None:
    host = await world(sandbox, client_file(GOOD))
    report = await check(sandbox)
    assert report.outcome == "PROMPT"
    assert report.findings == ()
    assert report.url == URL
    assert report.hops == (Hop(URL, 200, True),)
    assert report.document == GOOD
    assert report.homeserver == f"https://{HS}"
    assert report.versions == ("v1.11", "v1.12")
    assert report.identity_server is None
    assert ("GET", HS, VERSIONS) in host.requests


async def test_base_url_with_trailing_slash_and_a_working_identity_server(
    sandbox: Sandbox,
) -> None:
    document = {
        "m.homeserver": {"base_url": f"https://{HS}/"},
        "m.identity_server": {"base_url": f"https://{HS}/id/"},
        "org.example.custom": {"app_url": "https://app.example.test"},
    }
    host = await world(sandbox, client_file(document))
    host.set(HS, "/id" + IDENTITY, Reply.json({}))
    report = await check(sandbox)
    assert report.outcome == "PROMPT"
    assert report.findings == ()
    assert report.identity_server == f"https://{HS}/id/"
    assert ("GET", HS, "/id" + IDENTITY) in host.requests


async def test_404_is_ignore_with_an_info_finding(sandbox: Sandbox) -> None:
    await world(sandbox)
    report = await check(sandbox)
    assert report.outcome == "IGNORE"
    assert codes(report) == ["client-missing"]
    assert URL in only(report, "client-missing")
    assert report.hops == (Hop(URL, 404, False),)
    assert report.homeserver is None


@pytest.mark.parametrize(
    ("reply", "seen"),
    [
        (Reply(status=500, body="oops", headers=CORS), "HTTP 500"),
        (Reply(status=403, headers=CORS), "HTTP 403"),
        (Reply(body="", headers=CORS), "empty body"),
        (Reply(body="  \n", headers=CORS), "empty body"),
        (Reply(body="{not json", headers=CORS), "not JSON"),
        (Reply(body='{"m.homeserver": NaN}', headers=CORS), "not JSON"),
        (Reply(body=b"\xff\xfe{}", headers=CORS), "not UTF-8"),
        (client_file([GOOD]), "JSON array, not an object"),
        (client_file("https://matrix.example.test"), "JSON string, not an object"),
    ],
    ids=["500", "403", "empty", "blank", "broken", "nan", "latin", "array", "string"],
)
async def test_invalid_file_is_fail_prompt(sandbox: Sandbox, reply: Reply, seen: str) -> None:
    await world(sandbox, reply)
    report = await check(sandbox)
    assert report.outcome == "FAIL_PROMPT"
    assert codes(report) == ["client-invalid"]
    assert seen in only(report, "client-invalid")
    assert report.document is None


async def test_byte_order_mark_is_tolerated_like_browsers_do(sandbox: Sandbox) -> None:
    body = b"\xef\xbb\xbf" + json.dumps(GOOD).encode()
    await world(sandbox, Reply(body=body, headers=CORS))
    assert (await check(sandbox)).outcome == "PROMPT"


@pytest.mark.parametrize(
    ("document", "seen"),
    [
        ({}, "has no m.homeserver"),
        ({"m.homeserver": {}}, "has no base_url"),
        ({"m.homeserver": {"base_url": None}}, "has no base_url"),
        ({"m.homeserver": f"https://{HS}"}, "m.homeserver in"),
        ({"m.server": f"{HS}:443"}, "has no m.homeserver"),
    ],
    ids=["empty", "no-base-url", "null", "string", "server-file"],
)
async def test_missing_base_url_is_fail_prompt(
    sandbox: Sandbox, document: object, seen: str
) -> None:
    host = await world(sandbox, client_file(document))
    report = await check(sandbox)
    assert report.outcome == "FAIL_PROMPT"
    assert codes(report) == ["client-no-homeserver"]
    assert seen in only(report, "client-no-homeserver")
    assert report.document == document
    assert ("GET", HS, VERSIONS) not in host.requests


@pytest.mark.parametrize(
    "base_url",
    [HS, "ftp://matrix.example.test", "https://", "https://matrix.example.test:99999", "", 42],
    ids=["no-scheme", "ftp", "no-host", "bad-port", "empty", "number"],
)
async def test_base_url_that_is_not_an_http_url_is_fail_error(
    sandbox: Sandbox, base_url: object
) -> None:
    await world(sandbox, client_file({"m.homeserver": {"base_url": base_url}}))
    report = await check(sandbox)
    assert report.outcome == "FAIL_ERROR"
    assert codes(report) == ["client-invalid-base-url"]
    assert "m.homeserver.base_url" in only(report, "client-invalid-base-url")


async def test_base_url_answering_404_on_versions_is_fail_error(sandbox: Sandbox) -> None:
    host = await world(sandbox, client_file(GOOD))
    host.remove(HS, VERSIONS)
    report = await check(sandbox)
    assert report.outcome == "FAIL_ERROR"
    assert codes(report) == ["client-base-url-unreachable"]
    message = only(report, "client-base-url-unreachable")
    assert f"https://{HS}{VERSIONS}" in message
    assert "HTTP 404 (M_NOT_FOUND)" in message
    assert report.versions == ()


async def test_base_url_with_matrix_path_gets_a_hint(sandbox: Sandbox) -> None:
    await world(sandbox, client_file({"m.homeserver": {"base_url": f"https://{HS}/_matrix"}}))
    report = await check(sandbox)
    assert report.outcome == "FAIL_ERROR"
    assert "must not contain /_matrix" in only(report, "client-base-url-unreachable")


@pytest.mark.parametrize(
    ("versions", "seen"),
    [
        (Reply.json({"versions": "v1.11"}, headers=CORS), "no versions list of strings"),
        (Reply.json({"versions": [1, 2]}, headers=CORS), "no versions list of strings"),
        (Reply.json({"unstable_features": {}}, headers=CORS), "no versions list of strings"),
        (Reply(body="<html>welcome</html>", headers=CORS), "not JSON"),
        (Reply.json({"errcode": "M_UNKNOWN"}, status=502, headers=CORS), "HTTP 502 (M_UNKNOWN)"),
    ],
    ids=["string", "numbers", "missing", "html", "502"],
)
async def test_invalid_versions_answer_is_fail_error(
    sandbox: Sandbox, versions: Reply, seen: str
) -> None:
    host = await world(sandbox, client_file(GOOD))
    host.set(HS, VERSIONS, versions)
    report = await check(sandbox)
    assert report.outcome == "FAIL_ERROR"
    assert seen in only(report, "client-base-url-unreachable")


async def test_base_url_on_a_host_without_address_is_fail_error(sandbox: Sandbox) -> None:
    await world(sandbox, client_file({"m.homeserver": {"base_url": "https://nowhere.test"}}))
    report = await check(sandbox)
    assert report.outcome == "FAIL_ERROR"
    assert "nowhere.test" in only(report, "client-base-url-unreachable")


async def test_versions_without_cors_is_a_warning(sandbox: Sandbox) -> None:
    host = await world(sandbox, client_file(GOOD))
    host.set(HS, VERSIONS, Reply.json({"versions": ["v1.11"]}))
    report = await check(sandbox)
    assert report.outcome == "PROMPT"
    assert codes(report) == ["client-base-url-no-cors"]


@pytest.mark.parametrize("cors", [False, True], ids=["without", "with"])
async def test_cors_on_the_file(sandbox: Sandbox, cors: bool) -> None:
    await world(sandbox, Reply.json(GOOD, headers=CORS if cors else {}))
    report = await check(sandbox)
    assert report.outcome == "PROMPT"  # native clients read it all the same
    assert report.hops == (Hop(URL, 200, cors),)
    if cors:
        assert report.findings == ()
    else:
        assert codes(report) == ["client-no-cors"]
        assert "Access-Control-Allow-Origin" in only(report, "client-no-cors")
        assert "Access-Control-Allow-Origin: *" in report.findings[0].fix


@pytest.mark.parametrize("cors", [False, True], ids=["without", "with"])
async def test_cors_on_each_redirect_hop(sandbox: Sandbox, cors: bool) -> None:
    elsewhere = f"https://{HS}/client.json"
    redirect = {"Location": elsewhere, **(CORS if cors else {})}
    host = await world(sandbox, Reply(status=301, headers=redirect))
    host.set(HS, "/client.json", client_file(GOOD))
    report = await check(sandbox)
    assert report.outcome == "PROMPT"
    assert report.hops == (Hop(URL, 301, cors), Hop(elsewhere, 200, True))
    if cors:
        assert report.findings == ()
    else:
        assert codes(report) == ["client-redirect-no-cors"]
        assert "HTTP 301" in only(report, "client-redirect-no-cors")


async def test_redirect_loop_is_fail_prompt(sandbox: Sandbox) -> None:
    host = await world(sandbox, Reply(status=302, headers={"Location": "/a", **CORS}))
    host.set(NAME, "/a", Reply(status=307, headers={"Location": CLIENT, **CORS}))
    report = await check(sandbox)
    assert report.outcome == "FAIL_PROMPT"
    assert codes(report) == ["client-redirect-invalid"]
    assert f"redirect loop back to {URL}" in only(report, "client-redirect-invalid")
    assert [hop.status for hop in report.hops] == [302, 307]
    assert len(host.requests) == 2


async def test_redirect_to_plain_http_is_not_followed(sandbox: Sandbox) -> None:
    host = await world(sandbox, Reply(status=301, headers={"Location": f"http://{NAME}{CLIENT}"}))
    report = await check(sandbox)
    assert report.outcome == "FAIL_PROMPT"
    assert "is not https" in only(report, "client-redirect-invalid")
    assert len(host.requests) == 1


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "streamed"])
async def test_oversized_file_is_refused(sandbox: Sandbox, chunked: bool) -> None:
    body = json.dumps({**GOOD, "pad": " " * (50 * 1024)})
    await world(sandbox, Reply(body=body, headers=CORS, chunked=chunked))
    report = await check(sandbox)
    assert report.outcome == "FAIL_PROMPT"
    assert "body larger than 51200 bytes" in only(report, "client-invalid")


async def test_slow_file_is_bounded_by_the_timeout(sandbox: Sandbox) -> None:
    await world(sandbox, Reply(body=json.dumps(GOOD), headers=CORS, delay=5.0))
    started = time.monotonic()
    report = await check(sandbox, timeout=0.5)
    assert time.monotonic() - started < 3.0
    assert report.outcome == "FAIL_PROMPT"
    assert "timed out after 0.5 s" in only(report, "client-unreachable")
    assert report.hops == (Hop(URL, None, False),)


async def test_slow_versions_is_bounded_by_the_timeout(sandbox: Sandbox) -> None:
    host = await world(sandbox, client_file(GOOD))
    host.set(HS, VERSIONS, Reply(body='{"versions":["v1.11"]}', headers=CORS, delay=5.0))
    started = time.monotonic()
    report = await check(sandbox, timeout=0.5)
    assert time.monotonic() - started < 3.0
    assert report.outcome == "FAIL_ERROR"
    assert "timed out after 0.5 s" in only(report, "client-base-url-unreachable")


async def test_untrusted_certificate_is_unreachable(sandbox: Sandbox) -> None:
    host = await world(sandbox, client_file(GOOD), certificate_for=["other.test"])
    report = await check(sandbox)
    assert report.outcome == "FAIL_PROMPT"
    message = only(report, "client-unreachable")
    assert "certificate" in message and NAME in message
    assert host.requests == []


async def test_hostname_without_address_is_unreachable(sandbox: Sandbox) -> None:
    async with Resolver(**sandbox.resolver_options()) as resolver:
        report = await check_client(resolver.network, "nowhere.test", timeout=2)
    assert report.outcome == "FAIL_PROMPT"
    assert "nowhere.test" in only(report, "client-unreachable")


# --- the identity server ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "seen"),
    [
        (f"https://{HS}/missing", "HTTP 404"),
        ("https://identity.nowhere.test", "identity.nowhere.test"),
        ("identity.example.test", "not an absolute http(s) URL"),
    ],
    ids=["404", "no-address", "not-a-url"],
)
async def test_failing_identity_server_is_only_a_warning(
    sandbox: Sandbox, identity: str, seen: str
) -> None:
    document = {**GOOD, "m.identity_server": {"base_url": identity}}
    await world(sandbox, client_file(document))
    report = await check(sandbox)
    assert report.outcome == "PROMPT"
    assert codes(report) == ["client-identity-server-failed"]
    assert seen in only(report, "client-identity-server-failed")
    assert report.identity_server == identity
    assert report.versions == ("v1.11", "v1.12")


@pytest.mark.parametrize("entry", [{}, {"base_url": None}, "https://id.example.test"])
async def test_identity_server_without_base_url_is_fail_prompt(
    sandbox: Sandbox, entry: object
) -> None:
    await world(sandbox, client_file({**GOOD, "m.identity_server": entry}))
    report = await check(sandbox)
    assert report.outcome == "FAIL_PROMPT"
    assert codes(report) == ["client-invalid"]
    assert "m.identity_server" in only(report, "client-invalid")


async def test_homeserver_failure_comes_before_identity_failure(sandbox: Sandbox) -> None:
    """Step 5 stops the flow before step 6: FAIL_ERROR, though both are wrong."""
    host = await world(sandbox, client_file({**GOOD, "m.identity_server": {}}))
    host.remove(HS, VERSIONS)
    report = await check(sandbox)
    assert report.outcome == "FAIL_ERROR"
    assert sorted(codes(report)) == ["client-base-url-unreachable", "client-invalid"]


# --- pure judging -----------------------------------------------------------------------


def test_plain_http_base_url_is_a_warning() -> None:
    file = Fetched(
        URL, (Hop(URL, 200, True),), 200, b'{"m.homeserver":{"base_url":"http://hs.test:8008"}}'
    )
    read = read_client_file(file)
    assert read.versions_url == "http://hs.test:8008/_matrix/client/versions"
    versions = Fetched(
        read.versions_url, (Hop(read.versions_url, 200, True),), 200, b'{"versions":["v1.1"]}'
    )
    report = judge_client(file, read, versions, None)
    assert report.outcome == "PROMPT"
    assert codes(report) == ["client-base-url-insecure"]


def test_no_cors_findings_without_a_200() -> None:
    hops = (Hop(URL, 302, False), Hop("https://b.test/x", 404, False))
    report = judge_client(
        Fetched(URL, hops, 404, b""), read_client_file(Fetched(URL, hops, 404, b"")), None, None
    )
    assert report.outcome == "IGNORE"
    assert codes(report) == ["client-missing"]


def test_every_code_has_a_severity_and_a_fix() -> None:
    for code, info in CODES.items():
        assert info.severity in ("error", "warning", "info"), code
        assert info.summary and info.fix, code


# --- the support file -------------------------------------------------------------------

ADMIN = {"role": "m.role.admin", "matrix_id": "@admin:example.test"}


@pytest.mark.parametrize(
    "document",
    [
        {"contacts": [ADMIN]},
        {"support_page": "https://example.test/help"},
        {"contacts": [], "support_page": "https://example.test/help"},
        {
            "contacts": [
                {"role": "m.role.security", "email_address": "security@example.test"},
                {"role": "org.example.moderator", "matrix_id": "@mod:other.test:8448"},
            ],
            "support_page": "https://example.test/help",
        },
    ],
    ids=["contact", "page", "page-and-no-contacts", "full"],
)
async def test_valid_support_file(sandbox: Sandbox, document: dict[str, object]) -> None:
    host = await world(sandbox)
    host.set(NAME, SUPPORT, Reply.json(document))
    report = await support(sandbox)
    assert report.present and report.valid
    assert report.status == 200
    assert report.document == document
    assert report.findings == ()
    assert report.url == f"https://{NAME}{SUPPORT}"


async def test_missing_support_file(sandbox: Sandbox) -> None:
    await world(sandbox)
    report = await support(sandbox)
    assert not report.present and not report.valid
    assert report.status == 404
    assert codes(report) == ["support-missing"]


@pytest.mark.parametrize(
    ("document", "seen"),
    [
        ([ADMIN], "JSON array, not an object"),
        ({}, "neither contacts nor support_page"),
        ({"contact": [ADMIN]}, "neither contacts nor support_page"),
        ({"contacts": ADMIN}, "contacts is a JSON object, not an array"),
        ({"contacts": []}, "contacts is empty"),
        ({"contacts": ["@admin:example.test"]}, "contacts[0] is a JSON string"),
        ({"contacts": [{"matrix_id": "@admin:example.test"}]}, "contacts[0] has no role"),
        ({"contacts": [{"role": "admin", "matrix_id": "@a:example.test"}]}, "namespaced"),
        ({"contacts": [ADMIN, {"role": "m.role.admin"}]}, "contacts[1] has neither matrix_id"),
        ({"contacts": [{**ADMIN, "matrix_id": "admin"}]}, "'admin' is not a user ID"),
        ({"contacts": [{**ADMIN, "email_address": "nobody"}]}, "is not an email address"),
        ({"support_page": "http://example.test/help"}, "is not an https URL"),
        ({"support_page": "example.test/help"}, "not an absolute http(s) URL"),
        ({"contacts": [ADMIN], "support_page": 7}, "support_page (a JSON number)"),
    ],
    ids=[
        "array",
        "empty",
        "misspelt",
        "contacts-object",
        "contacts-empty",
        "contact-string",
        "no-role",
        "bare-role",
        "no-address",
        "bad-matrix-id",
        "bad-email",
        "page-http",
        "page-relative",
        "page-number",
    ],
)
async def test_invalid_support_file(sandbox: Sandbox, document: object, seen: str) -> None:
    host = await world(sandbox)
    host.set(NAME, SUPPORT, Reply.json(document))
    report = await support(sandbox)
    assert report.present and not report.valid
    assert codes(report) == ["support-invalid"]
    assert seen in only(report, "support-invalid")


async def test_support_file_that_is_not_json(sandbox: Sandbox) -> None:
    host = await world(sandbox)
    host.set(NAME, SUPPORT, Reply(body="<html>support</html>"))
    report = await support(sandbox)
    assert report.present and not report.valid and report.document is None
    assert "not JSON" in only(report, "support-invalid")


@pytest.mark.parametrize(
    "reply", [Reply(status=500), Reply(delay=5.0)], ids=["server-error", "timeout"]
)
async def test_unreachable_support_file_is_a_warning(sandbox: Sandbox, reply: Reply) -> None:
    host = await world(sandbox)
    host.set(NAME, SUPPORT, reply)
    started = time.monotonic()
    report = await support(sandbox, timeout=0.5)
    assert time.monotonic() - started < 3.0
    assert not report.present and not report.valid
    assert codes(report) == ["support-unreachable"]
