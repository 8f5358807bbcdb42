"""Both DNS backends, against the sandbox DNS server: the very same answers and errors."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from matrix_delegation._core.model import SrvRecord
from matrix_delegation._exceptions import ConfigurationError, DnsLookupError
from matrix_delegation._io.dns import AddressRecords, DnsBackend, DnspythonBackend
from matrix_delegation._io.dns_cares import CaresBackend, channel_servers
from matrix_delegation._io.dns_choice import DNS_BACKEND_ENV, make_dns_backend
from matrix_delegation.cli.common import add_network_options, resolver_options
from matrix_delegation.sandbox import DnsServer, Zone

SRV_NAME = "_matrix-fed._tcp.example.test"
# Every test here asks both backends itself: no run per backend (tests/conftest.py).
COMPARES_DNS_BACKENDS = True


def _backends(server: DnsServer, timeout: float = 2.0) -> tuple[DnsBackend, DnsBackend]:
    return (
        DnspythonBackend([server.nameserver], timeout=timeout),
        CaresBackend([server.nameserver], timeout=timeout),
    )


async def _same(
    server: DnsServer, ask: Callable[[DnsBackend], Awaitable[Any]], timeout: float = 2.0
) -> Any:
    """What both backends answer (an error: its text), after checking they agree."""
    outcomes = []
    for backend in _backends(server, timeout):
        try:
            outcomes.append(await ask(backend))
        except DnsLookupError as exc:
            outcomes.append(f"error: {exc}")
    assert outcomes[0] == outcomes[1]
    return outcomes[0]


def _srv(backend: DnsBackend, name: str = SRV_NAME) -> Awaitable[Any]:
    return backend.srv(name)


async def test_srv_records_and_ttl(zone: Zone, dns_server: DnsServer) -> None:
    zone.add(SRV_NAME, "SRV", "10 5 8448 Fed.example.test.", ttl=600)
    zone.add(SRV_NAME, "SRV", "20 0 8449 fed2.example.test", ttl=100)
    records, ttl = await _same(dns_server, _srv)
    assert set(records) == {
        SrvRecord(10, 5, 8448, "Fed.example.test"),
        SrvRecord(20, 0, 8449, "fed2.example.test"),
    }
    assert ttl == 100  # one RRset: the smallest TTL


async def test_srv_root_target_is_a_dot(zone: Zone, dns_server: DnsServer) -> None:
    zone.add(SRV_NAME, "SRV", "0 0 0 .")
    records, _ = await _same(dns_server, _srv)
    assert records == (SrvRecord(0, 0, 0, "."),)


async def test_nxdomain_and_nodata_are_empty_with_the_soa_ttl(
    zone: Zone, dns_server: DnsServer
) -> None:
    zone.negative_ttl = 120
    zone.add("example.test", "A", "127.0.0.5")
    assert await _same(dns_server, _srv) == ((), 120.0)  # NXDOMAIN
    nodata = await _same(dns_server, lambda b: _srv(b, "example.test"))
    assert nodata == ((), 120.0)
    found = await _same(dns_server, lambda b: b.addresses("nowhere.test"))
    assert found == AddressRecords((), (), None, 120.0)


async def test_negative_ttl_is_capped_at_an_hour(zone: Zone, dns_server: DnsServer) -> None:
    zone.negative_ttl = 86400
    assert await _same(dns_server, _srv) == ((), 3600.0)


@pytest.mark.parametrize("rcode", ["SERVFAIL", "REFUSED"])
async def test_server_errors_are_errors_that_do_not_name_the_server(
    zone: Zone, dns_server: DnsServer, rcode: str
) -> None:
    zone.fail(SRV_NAME, "SRV", rcode)
    message = await _same(dns_server, _srv)
    assert message == f"error: SRV {SRV_NAME}: the DNS server answered {rcode}"
    assert "127.0.0.1" not in message and str(dns_server.port) not in message


async def test_one_failing_family_is_an_error_beside_the_other(
    zone: Zone, dns_server: DnsServer
) -> None:
    zone.add("host.test", "A", "127.0.0.7", ttl=30)
    zone.fail("host.test", "AAAA", "SERVFAIL")
    found = await _same(dns_server, lambda b: b.addresses("host.test"))
    assert found == AddressRecords(
        ("127.0.0.7",), (), "AAAA host.test: the DNS server answered SERVFAIL", 30.0
    )


async def test_a_silent_server_times_out(zone: Zone, dns_server: DnsServer) -> None:
    zone.drop(SRV_NAME, "SRV")
    loop = asyncio.get_running_loop()
    started = loop.time()
    message = await _same(dns_server, _srv, timeout=0.3)
    assert message == f"error: SRV {SRV_NAME}: timed out after 0.3 s"
    assert loop.time() - started < 20  # both ended (a functional bound, not a speed test)


async def test_cname_chain_gives_aliases_and_the_smallest_ttl(
    zone: Zone, dns_server: DnsServer
) -> None:
    zone.add("Alias.test", "CNAME", "alias2.test.", ttl=30)
    zone.add("alias2.test", "CNAME", "real.test.", ttl=90)
    zone.add("real.test", "A", "127.0.0.5", ttl=50)
    zone.add("real.test", "AAAA", "::ffff:1.2.3.4", ttl=40)
    found = await _same(dns_server, lambda b: b.addresses("alias.test"))
    assert found == AddressRecords(
        ("::ffff:1.2.3.4", "127.0.0.5"), ("alias.test", "alias2.test"), None, 30.0, "real.test"
    )


async def test_cname_to_nodata_keeps_aliases_but_nxdomain_does_not(
    zone: Zone, dns_server: DnsServer
) -> None:
    zone.negative_ttl = 200
    zone.add("to-nodata.test", "CNAME", "real.test.", ttl=20)
    zone.add("real.test", "TXT", '"only text"')
    zone.add("to-nowhere.test", "CNAME", "missing.test.", ttl=20)
    nodata = await _same(dns_server, lambda b: b.addresses("to-nodata.test"))
    assert nodata == AddressRecords((), ("to-nodata.test",), None, 20.0, "real.test")
    nxdomain = await _same(dns_server, lambda b: b.addresses("to-nowhere.test"))
    assert nxdomain == AddressRecords((), (), None, 20.0)


async def test_a_truncated_udp_answer_is_asked_again_over_tcp(
    zone: Zone, dns_server: DnsServer
) -> None:
    for i in range(60):  # 60 A records are more than 512 bytes
        zone.add("big.test", "A", f"127.0.1.{i}")
    found = await _same(dns_server, lambda b: b.addresses("big.test"))
    assert sorted(found.addresses) == sorted(f"127.0.1.{i}" for i in range(60))
    transports = [t for name, rdtype, t in dns_server.queries if rdtype == "A"]
    assert transports == ["udp", "tcp", "udp", "tcp"]  # each backend: truncated, then TCP


async def test_a_bad_name_is_the_same_error(dns_server: DnsServer) -> None:
    name = "a" * 64 + ".test"
    message = await _same(dns_server, lambda b: b.addresses(name))
    assert message.error == f"AAAA {name}: A DNS label is > 63 octets long.; A {name}: " + (
        "A DNS label is > 63 octets long."
    )


async def test_nameserver_with_a_port_on_ipv6(zone: Zone) -> None:
    zone.add("example.test", "AAAA", "::1", ttl=70)
    try:
        server = DnsServer(zone, host="::1")
        await server.start()
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        assert server.nameserver.startswith("[::1]:")
        found = await _same(server, lambda b: b.addresses("example.test"))
        assert found == AddressRecords(("::1",), (), None, 60.0)  # the NODATA of A
    finally:
        await server.stop()


def test_given_nameservers_are_the_only_ones() -> None:
    backend = CaresBackend(["127.0.0.1:5399", "[::1]:53"], timeout=1.0)
    assert channel_servers(backend) == ["127.0.0.1:5399", "[::1]:53"]


def test_invalid_nameserver_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="not an IP address"):
        CaresBackend(["dns.example:53"])


def test_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DNS_BACKEND_ENV, raising=False)
    assert isinstance(make_dns_backend(None, ["127.0.0.1"], timeout=1), CaresBackend)
    assert isinstance(make_dns_backend("dnspython", ["127.0.0.1"], timeout=1), DnspythonBackend)
    monkeypatch.setenv(DNS_BACKEND_ENV, "dnspython")
    assert isinstance(make_dns_backend(None, ["127.0.0.1"], timeout=1), DnspythonBackend)
    assert isinstance(make_dns_backend("c-ares", ["127.0.0.1"], timeout=1), CaresBackend)
    with pytest.raises(ConfigurationError, match="unknown DNS backend"):
        make_dns_backend("bind", ["127.0.0.1"], timeout=1)


def test_dns_backend_option_reaches_the_resolver_options() -> None:
    parser = argparse.ArgumentParser()
    add_network_options(parser)
    assert resolver_options(parser.parse_args([])).dns_backend is None
    chosen = parser.parse_args(["--dns-backend", "dnspython"])
    assert resolver_options(chosen).dns_backend == "dnspython"
    with pytest.raises(SystemExit):
        parser.parse_args(["--dns-backend", "bind"])
