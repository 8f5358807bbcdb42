"""Every federation problem code, produced by the checker against real loopback servers.

Each scenario builds a small world in the sandbox (DNS records, HTTPS hosts,
a stand-in homeserver with signed keys) in which exactly one thing is wrong,
and the test asserts the checker names it. The healthy world is the twin:
federation OK and no error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import signedjson.key
import signedjson.sign

from matrix_delegation import Resolver
from matrix_delegation._core.site import Contact, Domain, Site
from matrix_delegation.checker.check import check_server
from matrix_delegation.checker.codes import FEDERATION as CATALOG
from matrix_delegation.sandbox import Reply, WebHost
from matrix_delegation.sandbox.homeserver import KEYS_PATH, VERSION_PATH, key_response
from matrix_delegation.sandbox.world import Sandbox

NAME = "example.test"
WK = "/.well-known/matrix/server"
FED = f"_matrix-fed._tcp.{NAME}"
KEY = signedjson.key.generate_signing_key("one")
OTHER_KEY = signedjson.key.generate_signing_key("two")

Scenario = Callable[[Sandbox], Awaitable[str]]


async def homeserver(
    sandbox: Sandbox,
    names: list[str] | None = None,
    *,
    certificate_for: list[str] | None = None,
    keys: object = None,
    version: bool = True,
    ipv6: bool = False,
    **cert: object,
) -> WebHost:
    """A stand-in homeserver on its own 127.0.0.X:8448, answering for any Host."""
    host = await sandbox.https_host(
        names if names is not None else [NAME],
        port=8448,
        certificate_for=certificate_for or [NAME],
        ipv6=ipv6,
        **cert,  # type: ignore[arg-type]
    )
    if version:
        host.set("*", VERSION_PATH, Reply.json({"server": {"name": "Sandbox", "version": "1"}}))
    body = keys if keys is not None else key_response(NAME, KEY)
    host.set("*", KEYS_PATH, body if isinstance(body, Reply) else Reply.json(body))
    return host


async def well_known(sandbox: Sandbox, reply: Reply) -> WebHost:
    host = await sandbox.https_host([NAME])
    host.set(NAME, WK, reply)
    return host


def signed(**changes: object) -> dict[str, object]:
    document = {
        "server_name": NAME,
        "valid_until_ts": key_response(NAME, KEY)["valid_until_ts"],
        "verify_keys": {
            "ed25519:one": {"key": signedjson.key.encode_verify_key_base64(KEY.verify_key)}
        },
        **changes,
    }
    return signedjson.sign.sign_json(document, NAME, KEY)


# --- scenarios, one per code -------------------------------------------------------------


async def healthy(sandbox: Sandbox) -> str:
    """Delegated by our own `serve`, with client and support files that pass too."""
    matrix = "matrix.example.test"
    client = {"m.homeserver": {"base_url": f"https://{matrix}:8448"}}
    admin = (Contact("m.role.admin", f"@admin:{NAME}"),)
    await sandbox.serve_site(Site((Domain(NAME, f"{matrix}:8448", client, admin),)))
    host = await homeserver(sandbox, [matrix], certificate_for=[matrix])
    versions = Reply.json({"versions": ["v1.11"]}, headers={"Access-Control-Allow-Origin": "*"})
    host.set("*", "/_matrix/client/versions", versions)
    return NAME


async def dns_error(sandbox: Sandbox) -> str:
    sandbox.zone.fail(FED, "SRV", "SERVFAIL")
    return NAME


async def service_unavailable(sandbox: Sandbox) -> str:
    sandbox.zone.add(FED, "SRV", "0 0 0 .")
    return NAME


async def no_address(sandbox: Sandbox) -> str:
    return "nowhere.test"


async def blocked_address(sandbox: Sandbox) -> str:
    sandbox.zone.add(NAME, "A", "10.0.0.1")
    return NAME


def bad_well_known(reply: Reply) -> Scenario:
    async def scenario(sandbox: Sandbox) -> str:
        await well_known(sandbox, reply)
        return NAME

    return scenario


async def cross_host_redirect(sandbox: Sandbox) -> str:
    host = await sandbox.https_host([NAME, "files.example.test"])
    host.set(NAME, WK, Reply.redirect("https://files.example.test/delegation", 302))
    host.set("files.example.test", "/delegation", Reply.json({"m.server": "m.example.test:8448"}))
    await homeserver(sandbox, ["m.example.test"], certificate_for=["m.example.test"])
    return NAME


async def well_known_unreachable(sandbox: Sandbox) -> str:
    host = await sandbox.https_host([NAME], certificate_for=["other.test"])
    host.set(NAME, WK, Reply.json({"m.server": "m.example.test:8448"}))
    return NAME


async def well_known_on_8448(sandbox: Sandbox) -> str:
    host = await homeserver(sandbox)
    host.set("*", WK, Reply.json({"m.server": f"{NAME}:8448"}))
    return NAME


async def addresses_disagree(sandbox: Sandbox) -> str:
    if sandbox.connect_to:
        pytest.skip("needs two real :443 listeners (root)")
    for m_server in ("one.example.test:8448", "two.example.test:8448"):
        host = await sandbox.https_host([NAME])
        host.set(NAME, WK, Reply.json({"m.server": m_server}))
    return NAME


async def srv_target_cname(sandbox: Sandbox) -> str:
    await homeserver(sandbox, ["fed.example.test"])
    sandbox.zone.add("alias.example.test", "CNAME", "fed.example.test.")
    sandbox.zone.add(FED, "SRV", "0 0 8448 alias.example.test.")
    return NAME


async def srv_legacy_only(sandbox: Sandbox) -> str:
    await homeserver(sandbox, ["fed.example.test"])
    sandbox.zone.add(f"_matrix._tcp.{NAME}", "SRV", "0 0 8448 fed.example.test.")
    return NAME


async def address_unreachable(sandbox: Sandbox) -> str:
    await homeserver(sandbox)
    sandbox.zone.add(NAME, "A", sandbox.address(8448))  # nothing listens there
    return NAME


async def tls_handshake_failed(sandbox: Sandbox) -> str:
    plain = WebHost(sandbox.address(8448), 8448, None)  # plain HTTP on the TLS port
    await plain.start()
    sandbox._hosts.append(plain)  # closed with the sandbox
    sandbox.zone.add(NAME, "A", plain.host)
    return NAME


async def cert_for_srv_target(sandbox: Sandbox) -> str:
    await homeserver(sandbox, ["fed.example.test"], certificate_for=["fed.example.test"])
    sandbox.zone.add(FED, "SRV", "0 0 8448 fed.example.test.")
    return NAME


def spare_addresses(count: int) -> list[str]:
    """Loopback addresses nothing of the sandbox listens on (connections are refused)."""
    return [f"127.0.1.{last}" for last in range(1, count + 1)]


async def too_many_addresses(sandbox: Sandbox) -> str:
    await homeserver(sandbox)  # one A record that works; 20 more that refuse
    for ip in spare_addresses(20):
        sandbox.zone.add(NAME, "A", ip)
    return NAME


async def endpoints_capped(sandbox: Sandbox) -> str:
    """3 SRV targets of 11 addresses each: 33 endpoints, one over the cap."""
    host = await homeserver(sandbox, ["fed.example.test"], certificate_for=[NAME])
    for index in range(3):
        target = f"t{index}.example.test"
        sandbox.zone.add(FED, "SRV", f"10 1 8448 {target}.")
        for ip in [host.host, *spare_addresses(10)]:
            sandbox.zone.add(target, "A", ip)
    return NAME


def with_certificate(**options: object) -> Scenario:
    async def scenario(sandbox: Sandbox) -> str:
        await homeserver(sandbox, **options)
        return NAME

    return scenario


async def version_failed(sandbox: Sandbox) -> str:
    await homeserver(sandbox, version=False)
    return NAME


async def response_too_large(sandbox: Sandbox) -> str:
    await homeserver(sandbox, keys=Reply(body=b"{" + b" " * (10 * 1024 * 1024) + b"}"))
    return NAME


async def endpoints_disagree(sandbox: Sandbox) -> str:
    await homeserver(sandbox)
    await homeserver(sandbox, keys=key_response(NAME, OTHER_KEY))
    return NAME


def with_keys(keys: object) -> Scenario:
    async def scenario(sandbox: Sandbox) -> str:
        await homeserver(sandbox, keys=keys)
        return NAME

    return scenario


def tampered() -> dict[str, object]:
    document = signed()
    signature = document["signatures"][NAME]["ed25519:one"]  # type: ignore[index]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    document["signatures"][NAME]["ed25519:one"] = flipped  # type: ignore[index]
    return document


def unsigned_second_key() -> dict[str, object]:
    document = signed()
    document["verify_keys"]["ed25519:two"] = {  # type: ignore[index]
        "key": signedjson.key.encode_verify_key_base64(OTHER_KEY.verify_key)
    }
    del document["signatures"]
    return signedjson.sign.sign_json(document, NAME, KEY)


def behind_a_waf(by_agent: dict[str, Reply], well_known_reply: Reply | None = None) -> Scenario:
    """Delegated to a working homeserver; the file's reply depends on the User-Agent."""

    async def scenario(sandbox: Sandbox) -> str:
        delegation = {"m.server": "m.example.test:8448"}
        await well_known(sandbox, well_known_reply or Reply.json(delegation, by_agent=by_agent))
        await homeserver(sandbox, ["m.example.test"], certificate_for=["m.example.test"])
        return NAME

    return scenario


async def only_ipv6_works(sandbox: Sandbox) -> str:
    await homeserver(sandbox, ipv6=True)  # AAAA ::1, and a dead A record:
    sandbox.zone.add(NAME, "A", spare_addresses(1)[0])
    return NAME


async def only_ipv4_works(sandbox: Sandbox) -> str:
    await homeserver(sandbox)
    sandbox.zone.add(NAME, "AAAA", "::1")  # nothing of this world listens on [::1]:8448
    return NAME


CHALLENGE = Reply(403, "<html>Just a moment...</html>", {"cf-mitigated": "challenge"})

SCENARIOS: dict[str, Scenario] = {
    "dns-error": dns_error,
    "service-unavailable": service_unavailable,
    "no-address": no_address,
    "blocked-address": blocked_address,
    "well-known-not-json": bad_well_known(Reply(body=b"m.server: nope")),
    "well-known-no-m-server": bad_well_known(Reply.json({"server": "m.example.test"})),
    "well-known-invalid-m-server": bad_well_known(
        Reply.json({"m.server": "https://m.example.test/"})
    ),
    "well-known-redirect-http": bad_well_known(Reply.redirect(f"http://{NAME}{WK}", 301)),
    "well-known-redirect-loop": bad_well_known(Reply.redirect(WK, 302)),
    "well-known-cross-host-redirect": cross_host_redirect,
    "well-known-unreachable": well_known_unreachable,
    "well-known-server-error": bad_well_known(Reply(status=503)),
    "well-known-on-8448": well_known_on_8448,
    "well-known-addresses-disagree": addresses_disagree,
    "fallback-route-fails": healthy,  # delegation works; port 8448 of the name does not
    "srv-target-cname": srv_target_cname,
    "srv-legacy-only": srv_legacy_only,
    "too-many-addresses": too_many_addresses,
    "endpoints-capped": endpoints_capped,
    "address-unreachable": address_unreachable,
    "tls-handshake-failed": tls_handshake_failed,
    "tls-cert-for-srv-target": cert_for_srv_target,
    "tls-cert-wrong-name": with_certificate(certificate_for=["other.test"]),
    "tls-cert-self-signed": with_certificate(self_signed=True),
    "tls-cert-expired": with_certificate(expired=True),
    "tls-cert-untrusted": with_certificate(untrusted=True),
    "tls-cert-expiring": with_certificate(days_left=5),
    "version-failed": version_failed,
    "response-too-large": response_too_large,
    "endpoints-disagree": endpoints_disagree,
    "keys-not-json": with_keys(Reply(body=b"<html>keys</html>")),
    "keys-not-canonical": with_keys(signed(weight=1.5)),
    "keys-server-name-mismatch": with_keys(key_response("other.test", KEY)),
    "keys-expired": with_keys(key_response(NAME, KEY, valid_for_ms=-60_000)),
    "keys-expire-soon": with_keys(key_response(NAME, KEY, valid_for_ms=30 * 60_000)),
    "keys-malformed": with_keys(signed(valid_until_ts="tomorrow")),
    "keys-no-ed25519": with_keys(signed(verify_keys={})),
    "keys-bad-signature": with_keys(tampered()),
    "keys-unsigned-key": with_keys(unsigned_second_key()),
    "user-agent-blocked": behind_a_waf({"Go-http-client/": Reply(status=403)}),
    "cdn-challenge": behind_a_waf({}, CHALLENGE),
    "ipv4-unreachable": only_ipv6_works,
    "ipv6-unreachable": only_ipv4_works,
}


async def run_check(sandbox: Sandbox, name: str, timeout: float = 3.0):
    async with Resolver(**sandbox.resolver_options(timeout=timeout)) as resolver:
        return await check_server(resolver, name, timeout=timeout)


@pytest.mark.parametrize("code", sorted(SCENARIOS))
async def test_each_code_is_reported(sandbox: Sandbox, code: str) -> None:
    report = await run_check(sandbox, await SCENARIOS[code](sandbox))
    codes = {found.code for found in report.problems}
    assert code in codes, [(p.code, p.message) for p in report.problems]
    found = next(p for p in report.problems if p.code == code)
    assert found.fix == CATALOG[code].fix and found.message
    about_others = code.startswith("well-known-") or code in ("user-agent-blocked", "cdn-challenge")
    if CATALOG[code].severity == "error" and not about_others:
        assert not report.federation_ok


async def test_healthy_server_is_ok(sandbox: Sandbox) -> None:
    report = await run_check(sandbox, await healthy(sandbox))
    errors = [p for p in report.problems if p.severity == "error"]
    assert report.federation_ok and not errors, errors
    (endpoint,) = report.endpoints
    assert endpoint.ok and endpoint.keys is not None and endpoint.keys.ok
    assert endpoint.server == {"name": "Sandbox", "version": "1"}
    assert endpoint.probe.tls is not None and endpoint.probe.tls.sni == "matrix.example.test"
    assert report.client is not None and report.client.outcome == "PROMPT"
    assert report.support is not None and report.support.valid


async def test_invalid_name_is_a_problem_not_a_crash(sandbox: Sandbox) -> None:
    report = await run_check(sandbox, "bad_name")
    assert [p.code for p in report.problems] == ["invalid-server-name"]


async def test_hostile_servers_are_bounded(sandbox: Sandbox) -> None:
    """An endless body and a stalled TLS handshake end within the timeout."""
    endless = Reply(body=b"x" * (20 * 1024 * 1024), chunked=True)
    await homeserver(sandbox, keys=endless)
    report = await run_check(sandbox, NAME, timeout=2.0)
    assert "response-too-large" in {p.code for p in report.problems}


def test_every_federation_code_has_a_scenario() -> None:
    documented = {code for code in CATALOG if code != "invalid-server-name"}
    assert documented == set(SCENARIOS)


async def test_a_stalled_tls_handshake_is_a_problem_not_a_hang(sandbox: Sandbox) -> None:
    held: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    silent = await asyncio.start_server(accept_and_say_nothing, sandbox.address(8448), 8448)
    try:
        sandbox.zone.add(NAME, "A", silent.sockets[0].getsockname()[0])
        report = await run_check(sandbox, NAME, timeout=1.0)
    finally:
        for writer in held:
            writer.close()
        silent.close()
        await silent.wait_closed()
    found = {p.code: p for p in report.problems}
    assert "timed out" in found["tls-handshake-failed"].message
    assert not report.federation_ok


async def test_hundreds_of_srv_records_are_bounded(sandbox: Sandbox) -> None:
    """600 records (about 40 KB, so over TCP): only the first 32 targets are used."""
    host = await homeserver(sandbox, ["fed.example.test"], certificate_for=[NAME])
    for index in range(600):
        sandbox.zone.add(FED, "SRV", f"10 1 8448 t{index}.example.test.")
        sandbox.zone.add(f"t{index}.example.test", "A", host.host)
    report = await run_check(sandbox, NAME)
    assert report.resolution is not None and len(report.endpoints) == 32
    assert report.federation_ok
