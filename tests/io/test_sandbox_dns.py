"""The sandbox DNS server, queried by dnspython over real loopback sockets."""

from __future__ import annotations

import asyncio
import socket

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from matrix_delegation.sandbox import DnsServer, Zone

HOST = "127.0.0.1"


def _resolver(server: DnsServer, lifetime: float = 2.0) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.lifetime = lifetime
    resolver.cache = None
    return resolver


async def _udp(server: DnsServer, name: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return await dns.asyncquery.udp(query, server.host, port=server.port, timeout=2)


async def test_a_over_udp_and_tcp_is_authoritative(zone: Zone, dns_server: DnsServer) -> None:
    zone.add("Example.TEST.", "A", "127.0.0.5", ttl=120)
    query = dns.message.make_query("example.test", "A")
    for reply in (
        await dns.asyncquery.udp(query, HOST, port=dns_server.port, timeout=2),
        await dns.asyncquery.tcp(query, HOST, port=dns_server.port, timeout=2),
    ):
        assert reply.rcode() == dns.rcode.NOERROR
        assert reply.flags & dns.flags.AA
        assert [rr.to_text() for rr in reply.answer[0]] == ["127.0.0.5"]
        assert reply.answer[0].ttl == 120
    assert dns_server.queries == [("example.test", "A", "udp"), ("example.test", "A", "tcp")]


async def test_resolver_gets_aaaa_and_srv(zone: Zone, dns_server: DnsServer) -> None:
    zone.add("example.test", "AAAA", "::1")
    zone.add("_matrix-fed._tcp.example.test", "SRV", "10 5 8448 fed.example.test.", ttl=600)
    zone.add("_matrix-fed._tcp.example.test", "SRV", "20 0 8449 fed2.example.test", ttl=100)
    resolver = _resolver(dns_server)
    aaaa = await resolver.resolve("example.test", "AAAA")
    assert [rr.address for rr in aaaa] == ["::1"]
    srv = await resolver.resolve("_matrix-fed._tcp.example.test", "SRV")
    got = sorted((rr.priority, rr.weight, rr.port, rr.target.to_text()) for rr in srv)
    assert got == [(10, 5, 8448, "fed.example.test."), (20, 0, 8449, "fed2.example.test.")]
    assert srv.rrset is not None and srv.rrset.ttl == 100  # the smallest TTL wins


async def test_nxdomain_and_nodata_carry_soa(zone: Zone, dns_server: DnsServer) -> None:
    zone.negative_ttl = 42
    zone.add("a.b.example.test", "A", "127.0.0.9")
    nodata = await _udp(dns_server, "a.b.example.test", "AAAA")
    empty_non_terminal = await _udp(dns_server, "b.example.test", "A")
    nxdomain = await _udp(dns_server, "missing.example.test", "A")
    for reply in (nodata, empty_non_terminal):
        assert reply.rcode() == dns.rcode.NOERROR and reply.answer == []
    assert nxdomain.rcode() == dns.rcode.NXDOMAIN
    for reply in (nodata, empty_non_terminal, nxdomain):
        (soa,) = reply.authority
        assert soa.name.to_text() == "test." and soa.rdtype == dns.rdatatype.SOA
        assert soa.ttl == 42 and soa[0].minimum == 42


async def test_resolver_distinguishes_nxdomain_from_nodata(
    zone: Zone, dns_server: DnsServer
) -> None:
    zone.add("example.test", "A", "127.0.0.5")
    resolver = _resolver(dns_server)
    with pytest.raises(dns.resolver.NXDOMAIN):
        await resolver.resolve("nope.example.test", "A")
    with pytest.raises(dns.resolver.NoAnswer):
        await resolver.resolve("example.test", "AAAA")


async def test_cname_chain_is_followed(zone: Zone, dns_server: DnsServer) -> None:
    zone.add("alias.example.test", "CNAME", "middle.example.test.")
    zone.add("middle.example.test", "CNAME", "real.example.test.")
    zone.add("real.example.test", "A", "127.0.0.7")
    answer = await _resolver(dns_server).resolve("alias.example.test", "A")
    assert [rr.address for rr in answer] == ["127.0.0.7"]
    assert answer.canonical_name.to_text() == "real.example.test."
    direct = await _udp(dns_server, "alias.example.test", "CNAME")
    assert [rrset.rdtype for rrset in direct.answer] == [dns.rdatatype.CNAME]


async def test_cname_to_missing_name_is_nxdomain(zone: Zone, dns_server: DnsServer) -> None:
    zone.add("dangling.example.test", "CNAME", "gone.other.test.")
    reply = await _udp(dns_server, "dangling.example.test", "A")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert [rrset.rdtype for rrset in reply.answer] == [dns.rdatatype.CNAME]


@pytest.mark.parametrize("rcode", ["SERVFAIL", "REFUSED"])
async def test_fail_rule_sets_rcode_until_healed(
    zone: Zone, dns_server: DnsServer, rcode: str
) -> None:
    zone.add("example.test", "A", "127.0.0.5")
    zone.fail("EXAMPLE.test.", "A", rcode)
    assert (await _udp(dns_server, "example.test", "A")).rcode() == dns.rcode.from_text(rcode)
    zone.heal("example.test", "A")
    healed = await _udp(dns_server, "example.test", "A")
    assert healed.rcode() == dns.rcode.NOERROR and len(healed.answer) == 1


async def test_dropped_question_times_out(zone: Zone, dns_server: DnsServer) -> None:
    zone.add("example.test", "A", "127.0.0.5")
    zone.drop("example.test", "A")
    with pytest.raises(dns.exception.Timeout):
        await _resolver(dns_server, lifetime=0.3).resolve("example.test", "A")
    assert ("example.test", "A", "udp") in dns_server.queries


async def test_large_answer_is_truncated_then_retried_over_tcp(
    zone: Zone, dns_server: DnsServer
) -> None:
    for i in range(40):
        zone.add("big.example.test", "A", f"127.0.1.{i}")
    truncated = await _udp(dns_server, "big.example.test", "A")
    assert truncated.flags & dns.flags.TC
    dns_server.queries.clear()
    answer = await _resolver(dns_server).resolve("big.example.test", "A")
    assert len(answer) == 40
    assert [q[2] for q in dns_server.queries] == ["udp", "tcp"]


async def test_edns_payload_allows_large_udp_answer(zone: Zone, dns_server: DnsServer) -> None:
    for i in range(40):
        zone.add("big.example.test", "A", f"127.0.1.{i}")
    query = dns.message.make_query("big.example.test", "A", use_edns=0, payload=4096)
    reply = await dns.asyncquery.udp(query, HOST, port=dns_server.port, timeout=2)
    assert not reply.flags & dns.flags.TC and len(reply.answer[0]) == 40


async def test_malformed_packets_do_not_kill_the_server(zone: Zone, dns_server: DnsServer) -> None:
    zone.add("example.test", "A", "127.0.0.5")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for garbage in (b"", b"\x00", b"\xff" * 40, b"\x12\x34" + b"\x01" * 30):
            sock.sendto(garbage, (HOST, dns_server.port))
    reader, writer = await asyncio.open_connection(HOST, dns_server.port)
    writer.write(b"\x00\x03abc")  # a 3-byte "message": the server hangs up
    assert await asyncio.wait_for(reader.read(10), 2) == b""
    writer.close()
    await writer.wait_closed()
    reply = await _udp(dns_server, "example.test", "A")
    assert reply.rcode() == dns.rcode.NOERROR and len(reply.answer) == 1


async def test_tcp_connection_serves_several_queries(zone: Zone, dns_server: DnsServer) -> None:
    zone.add("one.test", "A", "127.0.0.1")
    zone.add("two.test", "A", "127.0.0.2")
    reader, writer = await asyncio.open_connection(HOST, dns_server.port)
    try:
        for name, expected in (("one.test", "127.0.0.1"), ("two.test", "127.0.0.2")):
            wire = dns.message.make_query(name, "A").to_wire()
            writer.write(len(wire).to_bytes(2, "big") + wire)
            size = int.from_bytes(await reader.readexactly(2), "big")
            reply = dns.message.from_wire(await reader.readexactly(size))
            assert reply.answer[0][0].to_text() == expected
    finally:
        writer.close()
        await writer.wait_closed()


async def test_zone_changes_are_visible_immediately(zone: Zone, dns_server: DnsServer) -> None:
    zone.add("example.test", "A", "127.0.0.5")
    assert len((await _udp(dns_server, "example.test", "A")).answer) == 1
    zone.remove("example.test", "A")
    assert (await _udp(dns_server, "example.test", "A")).rcode() == dns.rcode.NXDOMAIN
    zone.add("example.test", "TXT", '"hello"')
    zone.clear()
    assert (await _udp(dns_server, "example.test", "TXT")).rcode() == dns.rcode.NXDOMAIN


async def test_removing_the_last_record_removes_empty_non_terminals(
    zone: Zone, dns_server: DnsServer
) -> None:
    zone.add("a.b.example.test", "A", "127.0.0.9")
    zone.add("a.b.example.test", "TXT", '"x"')
    zone.remove("a.b.example.test", "TXT")
    assert (await _udp(dns_server, "a.b.example.test", "TXT")).rcode() == dns.rcode.NOERROR
    assert (await _udp(dns_server, "b.example.test", "A")).rcode() == dns.rcode.NOERROR
    zone.remove("A.B.example.test.")
    assert (await _udp(dns_server, "b.example.test", "A")).rcode() == dns.rcode.NXDOMAIN


async def test_ipv6_nameserver_string() -> None:
    server = DnsServer(Zone(), host="::1")
    try:
        await server.start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert server.nameserver == f"[::1]:{server.port}"
    finally:
        await server.stop()


async def test_stop_closes_idle_tcp_connections(zone: Zone) -> None:
    server = DnsServer(zone)
    await server.start()
    assert server.nameserver == f"127.0.0.1:{server.port}"
    reader, writer = await asyncio.open_connection(HOST, server.port)
    try:
        wire = dns.message.make_query("x.test", "A").to_wire()
        writer.write(len(wire).to_bytes(2, "big") + wire)
        await reader.readexactly(2)  # the connection is now live server-side
        await server.stop()
        assert await asyncio.wait_for(reader.read(), 2)  # rest of the reply, then EOF
        assert reader.at_eof()
    finally:
        writer.close()
        await writer.wait_closed()
