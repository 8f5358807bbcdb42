"""The judge alone: every problem code from facts built by hand, no sockets.

A healthy set of facts is the twin of every case: federation OK, no problem.
Each case changes one fact and asserts the code it must produce (the
real-socket scenarios in test_problem_codes.py prove the gathering finds
those facts).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable

import pytest

from checker.test_problem_codes import (
    KEY,
    NAME,
    OTHER_KEY,
    signed,
    tampered,
    unsigned_second_key,
)
from helpers.scripted import World, addrs, run_scripted, srv
from matrix_delegation._core.model import (
    Endpoint,
    Fact,
    Failure,
    Resolution,
    Route,
    SrvLookup,
    WellKnownResult,
)
from matrix_delegation._core.plan import MAX_ADDRESSES_PER_HOST
from matrix_delegation._io.certs import CertificateInfo
from matrix_delegation._io.probe import EndpointProbe, HttpResult, TlsInfo
from matrix_delegation.checker.agents_model import AGENTS, AgentFacts, Fetches, Seen
from matrix_delegation.checker.client import (
    Fetched,
    Hop,
    judge_client,
    judge_support,
    read_client_file,
)
from matrix_delegation.checker.codes import ALL, CLIENT, FEDERATION
from matrix_delegation.checker.endpoint_rules import judge_endpoint
from matrix_delegation.checker.judge import judge
from matrix_delegation.checker.report import EndpointReport, Facts, FallbackFacts
from matrix_delegation.sandbox.homeserver import key_response
from matrix_delegation.web.app import timed_out

NOW = time.time()
DAY = 86_400
IP = "192.0.2.1"
HS = "hs.example.test"


def certificate(*names: str, days_left: int = 90) -> CertificateInfo:
    return CertificateInfo(
        f"CN={names[0]}", "CN=CA", names, (), "2024-01-01", "2030-01-01",
        NOW + days_left * DAY + 3600, "00", False,
    )  # fmt: skip


def tls(
    verified: bool = True, code: int | None = None, cert: CertificateInfo | None = None
) -> TlsInfo:
    error = None if verified else f"certificate verify failed ({code})"
    return TlsInfo("TLSv1.3", "AES", NAME, verified, error, code, cert or certificate(NAME))


def probe(ip: str = IP, target: str = NAME, **changes: object) -> EndpointProbe:
    version = HttpResult(200, json.dumps({"server": {"name": "S", "version": "1"}}).encode())
    keys = HttpResult(200, json.dumps(key_response(NAME, KEY)).encode())
    healthy = EndpointProbe(target, ip, 8448, 1.0, None, tls(), version, keys)
    return dataclasses.replace(healthy, **changes)  # type: ignore[arg-type]


def endpoint(**changes: object) -> EndpointReport:
    return judge_endpoint(probe(**changes), NAME, NOW)


def with_keys(document: object) -> EndpointReport:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return endpoint(keys=HttpResult(200, body))


def resolution(**changes: object) -> Resolution:
    healthy = Resolution(
        NAME, Route.DEFAULT_PORT, NAME, NAME, (Endpoint(NAME, IP, 8448),), None, (), ()
    )
    return dataclasses.replace(healthy, **changes)  # type: ignore[arg-type]


def facts(**changes: object) -> Facts:
    healthy = Facts(NAME, resolution=resolution(), endpoints=(endpoint(),), host=NAME)
    return dataclasses.replace(healthy, **changes)  # type: ignore[arg-type]


def failed(code: str) -> Facts:
    return facts(
        resolution=resolution(endpoints=(), error=Failure(code, "it failed")), endpoints=()
    )


def well_known(kind: str | None, redirects: tuple[str, ...] = ()) -> Facts:
    error = None if kind is None else f"broken: {kind}"
    result = WellKnownResult(NAME, 200, None, None, error, redirects=redirects, error_kind=kind)
    return facts(resolution=resolution(well_known=result))


def certificate_fails(code: int, route: Route = Route.DEFAULT_PORT, target: str = NAME) -> Facts:
    wrong = tls(
        verified=False, code=code, cert=certificate(target if route is Route.SRV else "other.test")
    )
    return facts(
        resolution=resolution(route=route), endpoints=(endpoint(target=target, tls=wrong),)
    )


def too_large() -> EndpointReport:
    return endpoint(keys=HttpResult(None, b"", "response larger than 524288 bytes"))


FACTS: dict[str, Callable[[], Facts]] = {
    "invalid-server-name": lambda: Facts("bad name", name_error="not a server name"),
    "dns-error": lambda: failed("dns-error"),
    "service-unavailable": lambda: failed("service-unavailable"),
    "no-address": lambda: failed("no-address"),
    "blocked-address": lambda: failed("blocked-address"),
    "well-known-not-json": lambda: well_known("not-json"),
    "well-known-no-m-server": lambda: well_known("no-m-server"),
    "well-known-invalid-m-server": lambda: well_known("invalid-m-server"),
    "well-known-redirect-http": lambda: well_known("redirect-http"),
    "well-known-redirect-loop": lambda: well_known("too-many-redirects"),
    "well-known-cross-host-redirect": lambda: well_known(None, ("https://files.test/wk",)),
    "well-known-unreachable": lambda: well_known("timeout"),
    "well-known-server-error": lambda: well_known("server-error"),
    "well-known-on-8448": lambda: facts(
        endpoints=(endpoint(well_known=HttpResult(200, b'{"m.server": "hs.example.test:443"}')),)
    ),
    "well-known-addresses-disagree": lambda: facts(
        well_known_by_address=((IP, "m.server a.test"), ("192.0.2.2", "HTTP 404"))
    ),
    "fallback-route-fails": lambda: facts(
        fallback=FallbackFacts(resolution(endpoints=(), error=Failure("no-address", "none")))
    ),
    "srv-target-cname": lambda: _scripted_alias(),
    "too-many-addresses": lambda: facts(host_addresses=MAX_ADDRESSES_PER_HOST + 1),
    "endpoints-capped": lambda: _scripted_many_endpoints(),
    "srv-legacy-only": lambda: facts(
        resolution=resolution(route=Route.SRV_LEGACY, srv=(SrvLookup(f"_matrix._tcp.{NAME}", ()),))
    ),
    "address-unreachable": lambda: facts(endpoints=(endpoint(tls=None, error="refused"),)),
    "tls-handshake-failed": lambda: facts(
        endpoints=(endpoint(tls=TlsInfo(None, None, NAME, False, "timed out", None, None)),)
    ),
    "tls-cert-for-srv-target": lambda: certificate_fails(62, Route.SRV, HS),
    "tls-cert-wrong-name": lambda: certificate_fails(62),
    "tls-cert-self-signed": lambda: certificate_fails(18),
    "tls-cert-expired": lambda: certificate_fails(10),
    "tls-cert-untrusted": lambda: certificate_fails(20),
    "tls-cert-expiring": lambda: facts(
        endpoints=(endpoint(tls=tls(cert=certificate(NAME, days_left=5))),)
    ),
    "version-failed": lambda: facts(endpoints=(endpoint(version=HttpResult(404, b"")),)),
    "response-too-large": lambda: facts(endpoints=(too_large(),)),
    "endpoints-disagree": lambda: facts(endpoints=(endpoint(), _other_keys())),
    "keys-not-json": lambda: facts(endpoints=(with_keys(b"<html>keys</html>"),)),
    "keys-not-canonical": lambda: facts(endpoints=(with_keys(signed(weight=1.5)),)),
    "keys-server-name-mismatch": lambda: facts(
        endpoints=(with_keys(key_response("other.test", KEY)),)
    ),
    "keys-expired": lambda: facts(
        endpoints=(with_keys(key_response(NAME, KEY, valid_for_ms=-60_000, now=NOW)),)
    ),
    "keys-expire-soon": lambda: facts(
        endpoints=(with_keys(key_response(NAME, KEY, valid_for_ms=30 * 60_000, now=NOW)),)
    ),
    "keys-malformed": lambda: facts(endpoints=(with_keys(signed(valid_until_ts="tomorrow")),)),
    "keys-no-ed25519": lambda: facts(endpoints=(with_keys(signed(verify_keys={})),)),
    "keys-bad-signature": lambda: facts(endpoints=(with_keys(tampered()),)),
    "keys-unsigned-key": lambda: facts(endpoints=(with_keys(unsigned_second_key()),)),
}


def _other_keys() -> EndpointReport:
    other = json.dumps(key_response(NAME, OTHER_KEY)).encode()
    return endpoint(ip="192.0.2.2", keys=HttpResult(200, other))


def _scripted_alias() -> Facts:
    """The real (pure) discovery core marks the alias with a fact; the judge reads it."""
    fed = f"_matrix-fed._tcp.{NAME}"
    world = World(
        srv={fed: srv(fed, f"0 0 8448 alias.{NAME}")},
        addresses={
            f"alias.{NAME}": addrs(f"alias.{NAME}", "127.0.0.4", aliases=(f"alias.{NAME}",))
        },
    )
    found, _ = run_scripted(NAME, world)
    assert any(entry.fact is Fact.SRV_TARGET_ALIAS for entry in found.trace)
    return facts(resolution=found)


def _scripted_many_endpoints() -> Facts:
    fed = f"_matrix-fed._tcp.{NAME}"
    world = World(srv={fed: srv(fed, *(f"0 1 8448 t{i}.{NAME}" for i in range(3)))})
    for index in range(3):
        host = f"t{index}.{NAME}"
        world.addresses[host] = addrs(host, *(f"127.0.{index}.{n}" for n in range(1, 15)))
    found, _ = run_scripted(NAME, world)
    assert any(entry.fact is Fact.ENDPOINTS_CAPPED for entry in found.trace)
    return facts(resolution=found)


def _scripted_many_addresses() -> Facts:
    world = World(addresses={NAME: addrs(NAME, *(f"127.0.0.{n}" for n in range(1, 21)))})
    found, _ = run_scripted(NAME, world)
    assert any(entry.fact is Fact.ADDRESSES_CAPPED for entry in found.trace)
    return facts(resolution=found)


# --- the client side: the files' rules feed the judge's report --------------------------

CLIENT_URL = f"https://{NAME}/.well-known/matrix/client"
VERSIONS_URL = f"https://{HS}/_matrix/client/versions"
GOOD_CLIENT = {"m.homeserver": {"base_url": f"https://{HS}"}}


def fetched(url: str, status: int | None, body: object = b"", *, cors: bool = True) -> Fetched:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Fetched(url, (Hop(url, status, cors),), status, data)


def client(
    file: Fetched, versions: Fetched | None = None, identity: Fetched | None = None
) -> Facts:
    read = read_client_file(file)
    if read.versions_url is not None and versions is None:
        versions = fetched(read.versions_url, 200, {"versions": ["v1.11"]})
    return facts(client=judge_client(file, read, versions, identity))


def support(status: int | None, body: object = b"", **extra: object) -> Facts:
    url = f"https://{NAME}/.well-known/matrix/support"
    return facts(support=judge_support(dataclasses.replace(fetched(url, status, body), **extra)))  # type: ignore[arg-type]


UNREACHABLE = Fetched(CLIENT_URL, (Hop(CLIENT_URL, None, False),), None, b"", "refused", "network")
REDIRECT_HTTP = Fetched(CLIENT_URL, (Hop(CLIENT_URL, 302, True),), 302, b"", "to http", "redirect")
REDIRECT_NO_CORS = Fetched(
    CLIENT_URL,
    (Hop(f"https://www.{NAME}/c", 301, False), Hop(CLIENT_URL, 200, True)),
    200,
    json.dumps(GOOD_CLIENT).encode(),
)
IDENTITY = {**GOOD_CLIENT, "m.identity_server": {"base_url": "not a url"}}

FACTS |= {
    "client-unreachable": lambda: client(UNREACHABLE),
    "client-redirect-invalid": lambda: client(REDIRECT_HTTP),
    "client-missing": lambda: client(fetched(CLIENT_URL, 404)),
    "client-invalid": lambda: client(fetched(CLIENT_URL, 500)),
    "client-no-homeserver": lambda: client(fetched(CLIENT_URL, 200, {})),
    "client-invalid-base-url": lambda: client(
        fetched(CLIENT_URL, 200, {"m.homeserver": {"base_url": "matrix"}})
    ),
    "client-base-url-insecure": lambda: client(
        fetched(CLIENT_URL, 200, {"m.homeserver": {"base_url": f"http://{HS}"}})
    ),
    "client-base-url-unreachable": lambda: client(
        fetched(CLIENT_URL, 200, GOOD_CLIENT), fetched(VERSIONS_URL, 404)
    ),
    "client-base-url-no-cors": lambda: client(
        fetched(CLIENT_URL, 200, GOOD_CLIENT),
        fetched(VERSIONS_URL, 200, {"versions": ["v1.11"]}, cors=False),
    ),
    "client-no-cors": lambda: client(fetched(CLIENT_URL, 200, GOOD_CLIENT, cors=False)),
    "client-redirect-no-cors": lambda: client(REDIRECT_NO_CORS),
    "client-identity-server-failed": lambda: client(fetched(CLIENT_URL, 200, IDENTITY)),
    "support-missing": lambda: support(404),
    "support-invalid": lambda: support(200, {}),
    "support-unreachable": lambda: support(503),
}


# --- how real peers reach it: agents and address families ------------------------------

WK_URL = f"https://{NAME}/.well-known/matrix/server"
SERVED = Seen(200, "m.server hs.example.test:443")


def agents(*theirs: Seen, ours: Seen = SERVED) -> Facts:
    """Our answer and each agent's, in the order of AGENTS (the rest served like ours)."""
    answers = (*theirs, *(SERVED,) * (len(AGENTS) - len(theirs)))
    return facts(agents=AgentFacts(Fetches(WK_URL, ours, answers)))


V6 = "2001:db8::1"

FACTS |= {
    "user-agent-blocked": lambda: agents(SERVED, Seen(403, "invalid (not-json)")),
    "cdn-challenge": lambda: agents(
        ours=Seen(403, "x", "a bot challenge (cf-mitigated: challenge)")
    ),
    "ipv4-unreachable": lambda: facts(
        resolution=resolution(endpoints=(Endpoint(NAME, IP, 8448), Endpoint(NAME, V6, 8448))),
        endpoints=(endpoint(tls=None, error="refused"), endpoint(ip=V6)),
    ),
    "ipv6-unreachable": lambda: facts(
        resolution=resolution(endpoints=(Endpoint(NAME, IP, 8448), Endpoint(NAME, V6, 8448))),
        endpoints=(endpoint(), endpoint(ip=V6, tls=None, error="refused")),
    ),
}


def test_agents_served_alike_are_no_problem() -> None:
    assert codes(agents()) == []
    missing = Seen(404, "invalid (status)")
    assert codes(agents(*(missing,) * 5, ours=missing)) == []


def test_an_agent_refused_where_nobody_is_served_is_no_agent_problem() -> None:
    refused = Seen(403, "")
    assert codes(agents(*(refused,) * 5, ours=refused)) == []


def test_a_challenge_to_us_hides_not_json() -> None:
    result = WellKnownResult(NAME, 403, None, None, "HTTP 503", error_kind="server-error")
    challenged = Seen(503, "", "an HTML page with HTTP 503 from Cloudflare")
    found = dataclasses.replace(agents(ours=challenged), resolution=resolution(well_known=result))
    assert "well-known-server-error" not in codes(found) and "cdn-challenge" in codes(found)


# --- the tests ----------------------------------------------------------------------------


def codes(found: Facts) -> list[str]:
    return [p.code for p in judge(found, NOW).problems]


def test_healthy_facts_are_ok_without_a_problem() -> None:
    report = judge(facts(), NOW)
    assert report.federation_ok and report.problems == ()
    assert report.endpoints[0].ok and report.endpoints[0].server == {"name": "S", "version": "1"}


@pytest.mark.parametrize("code", sorted(FACTS))
def test_each_code_from_facts(code: str) -> None:
    report = judge(FACTS[code](), NOW)
    found = [p for p in report.problems if p.code == code]
    assert found, [(p.code, p.message) for p in report.problems]
    assert found[0].severity == ALL[code].severity and found[0].message
    if code in FEDERATION and ALL[code].severity == "error" and not _other_peers(code):
        assert not report.federation_ok
    if code in CLIENT:  # the client side never decides federation
        assert report.federation_ok


def _other_peers(code: str) -> bool:
    """Codes about what other peers (or agents) see: our own verdict may still be OK."""
    return code.startswith("well-known-") or code in ("user-agent-blocked", "cdn-challenge")


def test_every_code_but_the_web_deadline_has_facts() -> None:
    assert set(FACTS) == set(ALL) - {"check-timeout"}


def test_check_timeout_is_the_web_service_report() -> None:
    report = timed_out(NAME, 2.5)
    assert [p.code for p in report.problems] == ["check-timeout"]
    assert report.problems[0].fix == ALL["check-timeout"].fix and not report.federation_ok


def test_too_many_addresses_from_the_trace_fact_too() -> None:
    assert "too-many-addresses" in codes(_scripted_many_addresses())


def test_a_cname_on_the_server_name_itself_is_no_problem() -> None:
    world = World(addresses={NAME: addrs(NAME, "127.0.0.4", aliases=(NAME,))})
    found, _ = run_scripted(NAME, world)
    assert "srv-target-cname" not in codes(facts(resolution=found))


def test_the_address_cap_is_reported_once_when_discovery_saw_it_too() -> None:
    found = _scripted_many_addresses()
    both = dataclasses.replace(found, host_addresses=20)
    assert codes(both).count("too-many-addresses") == 1


def test_a_working_fallback_is_no_problem() -> None:
    assert "fallback-route-fails" not in codes(
        facts(fallback=FallbackFacts(resolution(), (endpoint(),)))
    )
    report = judge(facts(fallback=FallbackFacts(resolution(), (endpoint(),))), NOW)
    assert report.fallback is not None and report.fallback.ok


def test_a_fallback_whose_endpoints_fail_is_reported() -> None:
    broken = FallbackFacts(resolution(), (endpoint(tls=None, error="refused"),))
    assert "fallback-route-fails" in codes(facts(fallback=broken))


def test_addresses_that_agree_are_no_problem() -> None:
    same = ((IP, "m.server a.test"), ("192.0.2.2", "m.server a.test"))
    assert codes(facts(well_known_by_address=same)) == []


def test_a_too_large_key_response_is_not_also_malformed() -> None:
    assert codes(facts(endpoints=(too_large(),))) == ["response-too-large"]


def test_problems_keep_the_order_of_the_checks() -> None:
    found = facts(
        resolution=resolution(route=Route.SRV_LEGACY, srv=(SrvLookup("_matrix._tcp.x", ()),)),
        endpoints=(endpoint(tls=None, error="refused"),),
        well_known_by_address=((IP, "a"), ("192.0.2.2", "b")),
    )
    assert codes(found) == [
        "srv-legacy-only",
        "well-known-addresses-disagree",
        "address-unreachable",
    ]
