"""``check --outbound`` and ``--notary`` with real Synapse processes that federate.

Three Synapses on loopback, each with its own server name, a certificate
from the module's CA and its own signing key (``first.test``,
``second.test``, ``third.test``). They resolve each other by name through
the test's own "outside" DNS server: each runs in a private mount namespace
whose ``/etc/resolv.conf`` names that server (port 53 of its own 127.0.0.X),
and trusts the module CA (``federation_custom_ca_list``). ``third`` has no
``ip_range_whitelist``, so its IP blocklist covers loopback: it can reach
nobody.

The checker asks the sandbox's DNS ("inside"). Both zones name the
Synapses the same way; a name can also differ between them (split DNS),
which is how a notary comes to see other keys, or none at all.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import signedjson.key
import trustme

from helpers.synapse import (
    FEDERATION_PORT,
    OFFLINE_SETTINGS,
    SynapseProcess,
    generate_base_config,
    issue_certificate,
    start_synapses,
)
from matrix_delegation import Resolver
from matrix_delegation.checker.check import Report, check_server
from matrix_delegation.checker.notary_model import ThirdParty
from matrix_delegation.checker.output import report_json
from matrix_delegation.sandbox import DnsServer, WebHost, Zone, free_loopback_address
from matrix_delegation.sandbox.homeserver import publish_homeserver
from matrix_delegation.sandbox.world import Sandbox

# The Synapses are shared by the module and keep the keys they fetched: a second run of a
# test with the other DNS backend would meet their caches, not the servers. Run each once.
ONE_DNS_BACKEND = True

pytest.importorskip("synapse", reason="needs matrix-synapse (the [test] extra)")

NAMES = ("first.test", "second.test", "third.test")
FIRST, SECOND, THIRD = NAMES
TIMEOUT = 20.0  # a notary fetches while we wait: generous, and never reached when all works


class OutsideDns:
    """The DNS server the Synapses ask, on port 53, in a thread with its own event loop.

    It outlives each test's event loop (the Synapses live for the module).
    """

    def __init__(self) -> None:
        address = free_loopback_address(53, first=150)
        if address is None:
            pytest.skip("no loopback address with port 53 free (needs root)")
        self.zone = Zone()
        self.server = DnsServer(self.zone, address, 53)
        self.address = address
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA(key_type=trustme.KeyType.ECDSA)


@pytest.fixture(scope="module")
def outside() -> Iterator[OutsideDns]:
    dns = OutsideDns()
    dns.start()
    try:
        yield dns
    finally:
        dns.stop()


@pytest.fixture(scope="module")
def synapses(
    tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA, outside: OutsideDns
) -> Iterator[dict[str, SynapseProcess]]:
    root = tmp_path_factory.mktemp("synapse-federating")
    base = generate_base_config(root / "base", FIRST)
    resolv_conf = root / "resolv.conf"
    resolv_conf.write_text(f"nameserver {outside.address}\noptions timeout:2 attempts:1\n")
    ca_file = root / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    blocked = {**OFFLINE_SETTINGS, "ip_range_whitelist": []}  # its blocklist covers loopback
    instances: list[Any] = []
    for name in NAMES:
        # Each its own signing key: the generated one is shared by every instance.
        key_file = root / f"{name}.signing.key"
        key = signedjson.key.generate_signing_key(name.split(".")[0])
        with key_file.open("w") as stream:
            signedjson.key.write_signing_keys(stream, [key])
        overrides = [{
            "server_name": name,
            "signing_key_path": str(key_file),
            "federation_custom_ca_list": [str(ca_file)],
        }]  # fmt: skip
        options = {
            "tls": issue_certificate(ca, [name], root / f"certs-{name}"),
            "port": FEDERATION_PORT,
            "resolv_conf": resolv_conf,
            "offline": blocked if name == THIRD else OFFLINE_SETTINGS,
        }
        instances.append((root / name, overrides, options))
    started = start_synapses(base, instances, timeout=60)
    try:
        yield dict(zip(NAMES, started, strict=True))
    finally:
        for synapse in started:
            synapse.stop()


def publish(zones: list[Zone], name: str, address: str, port: int) -> None:
    """``name`` at ``address``, its federation port by SRV (any port will do)."""
    for zone in zones:
        zone.add(name, "A", address)
        zone.add(f"_matrix-fed._tcp.{name}", "SRV", f"10 5 {port} {name}.")


@pytest.fixture
def world(
    sandbox: Sandbox, outside: OutsideDns, synapses: dict[str, SynapseProcess]
) -> Iterator[Sandbox]:
    """Both zones name the three Synapses; what a test adds to the outside goes with it."""
    for name, synapse in synapses.items():
        publish([sandbox.zone, outside.zone], name, synapse.address, synapse.port)
    yield sandbox
    outside.zone.clear()


async def check(sandbox: Sandbox, ca: trustme.CA, name: str, asked: ThirdParty) -> Report:
    context = sandbox.ca.client_context()
    context.load_verify_locations(cadata=ca.cert_pem.bytes().decode())
    options = sandbox.resolver_options(ssl_context=context, timeout=TIMEOUT)
    async with Resolver(**options) as resolver:
        return await check_server(resolver, name, timeout=TIMEOUT, third_party=asked)


def codes(report: Report) -> dict[str, str]:
    return {p.code: p.message for p in report.problems}


async def key_server(ca: trustme.CA, name: str, port: int = 0) -> tuple[WebHost, str]:
    """A stand-in homeserver for ``name`` (fresh key), with a certificate Synapse trusts."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    address = free_loopback_address(0, first=100)
    assert address is not None
    host = WebHost(address, port, context)
    await host.start()
    key = publish_homeserver(host, name, name)
    return host, f"{key.alg}:{key.version}"


# --- outbound ---------------------------------------------------------------------------


async def test_outbound_from_first_to_second(
    world: Sandbox, ca: trustme.CA, synapses: dict[str, SynapseProcess]
) -> None:
    report = await check(world, ca, FIRST, ThirdParty(outbound=(SECOND,)))

    assert report.federation_ok, report.problems
    [tried] = report_json(report)["outbound"]
    first = synapses[FIRST]
    assert tried["via"] == SECOND and tried["ok"] is True, tried
    assert tried["endpoint"] == f"{first.address}:{first.port}" and tried["error"] is None
    assert "outbound-failed" not in codes(report)


async def test_outbound_fails_from_third(world: Sandbox, ca: trustme.CA) -> None:
    report = await check(world, ca, THIRD, ThirdParty(outbound=(SECOND,)))

    assert report.federation_ok, [
        (p.code, p.message) for p in report.problems if p.severity == "error"
    ]
    [tried] = report_json(report)["outbound"]
    assert tried["ok"] is False and tried["error"]
    assert SECOND in codes(report)["outbound-failed"]


# --- the outside view -------------------------------------------------------------------


async def test_first_as_notary_for_second(world: Sandbox, ca: trustme.CA) -> None:
    report = await check(world, ca, SECOND, ThirdParty(notary=(FIRST,)))

    assert report_json(report)["notary"] == [
        {"notary": FIRST, "ok": True, "keys_match": True, "error": None}
    ]
    assert not {c for c in codes(report) if c.startswith("notary-")}


async def test_split_dns_gives_the_notary_other_keys(
    world: Sandbox, ca: trustme.CA, outside: OutsideDns
) -> None:
    name = "split.test"
    inside_host, inside_key = await key_server(ca, name)
    outside_host, outside_key = await key_server(ca, name)
    try:
        publish([world.zone], name, inside_host.host, inside_host.port)
        publish([outside.zone], name, outside_host.host, outside_host.port)

        report = await check(world, ca, name, ThirdParty(notary=(FIRST,)))
    finally:
        await inside_host.stop()
        await outside_host.stop()

    assert report.federation_ok, report.problems
    [seen] = report_json(report)["notary"]
    assert seen["ok"] is True and seen["keys_match"] is False
    differ = codes(report)["notary-keys-differ"]
    assert outside_key in differ and inside_key in differ
    assert outside_host.requests and all(m == "GET" for m, _, _ in outside_host.requests)


async def test_a_name_the_notary_cannot_resolve(world: Sandbox, ca: trustme.CA) -> None:
    name = "inside-only.test"
    host, _ = await key_server(ca, name)
    try:
        publish([world.zone], name, host.host, host.port)  # not in the outside zone

        report = await check(world, ca, name, ThirdParty(notary=(FIRST,)))
    finally:
        await host.stop()

    assert report.federation_ok, report.problems
    [seen] = report_json(report)["notary"]
    assert seen["ok"] is False and seen["keys_match"] is None
    assert "notary-cannot-reach" in codes(report), report.problems
