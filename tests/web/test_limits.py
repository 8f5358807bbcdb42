"""Who a client is, and the report cache's bounds (units, plus the cache through the app)."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from matrix_delegation.checker.check import Report
from matrix_delegation.checker.codes import Problem
from matrix_delegation.sandbox.world import Sandbox
from matrix_delegation.web.app import _report_size
from matrix_delegation.web.clients import MAX_FORWARDED_HOPS, client_address, client_key
from matrix_delegation.web.limits import ReportCache

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]
PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:ffff::/48"))


# --- who the client is ----------------------------------------------------------------------


def test_ipv6_clients_are_grouped_by_slash_56() -> None:
    one = client_key("2001:db8:abcd:1200::1")
    assert one == "2001:db8:abcd:1200::/56"
    assert client_key("2001:db8:abcd:12ff:ffff::9") == one  # another /64 of the same /56
    assert client_key("2001:db8:abcd:1300::1") != one  # the neighbouring /56
    assert client_key("fe80::1%eth0") == "fe80::/56"  # a zone does not make a new client


def test_ipv4_mapped_addresses_count_as_ipv4() -> None:
    assert client_key("::ffff:192.0.2.7") == client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("192.0.2.7") != client_key("192.0.2.8")  # IPv4 is not grouped
    # A proxy reached over IPv4-mapped IPv6 is still the trusted IPv4 proxy.
    assert client_address("::ffff:10.0.0.1", ["192.0.2.7"], PROXIES) == "192.0.2.7"


def test_forwarded_for_is_read_only_from_a_trusted_peer() -> None:
    assert client_address("10.1.2.3", ["192.0.2.7"], PROXIES) == "192.0.2.7"
    assert client_address("2001:db8:ffff::5", ["2001:db8:1::1"], PROXIES) == "2001:db8:1::1"
    # Negative twins: an untrusted peer's header is ignored, as is every header without proxies.
    assert client_address("198.51.100.1", ["192.0.2.7"], PROXIES) == "198.51.100.1"
    assert client_address("10.1.2.3", ["192.0.2.7"], ()) == "10.1.2.3"


def test_the_right_most_untrusted_address_is_the_client() -> None:
    # The client wrote "203.0.113.66" itself; our proxies appended the rest.
    header = ["203.0.113.66, 192.0.2.7, 10.9.9.9"]
    assert client_address("10.1.2.3", header, PROXIES) == "192.0.2.7"
    # Several headers are one list, in order.
    assert client_address("10.1.2.3", ["203.0.113.66", "192.0.2.7"], PROXIES) == "192.0.2.7"
    # Garbage left of the client's address is never read.
    assert client_address("10.1.2.3", ["<script>, 192.0.2.7"], PROXIES) == "192.0.2.7"
    # Every hop a trusted proxy: the left-most one is where the request came from.
    assert client_address("10.1.2.3", ["10.5.5.5, 10.6.6.6"], PROXIES) == "10.5.5.5"


def test_an_unreadable_forwarded_for_means_the_peer() -> None:
    peer = "10.1.2.3"
    for header in (["not-an-ip"], [""], ["192.0.2.7, junk"], ["192.0.2.7:443"]):
        assert client_address(peer, header, PROXIES) == peer, header
    assert client_address(peer, [], PROXIES) == peer  # no header at all
    too_long = [", ".join(["10.0.0.1"] * (MAX_FORWARDED_HOPS + 1))]
    assert client_address(peer, too_long, PROXIES) == peer


# --- the cache --------------------------------------------------------------------------------


def big_report(name: str, size: int) -> Report:
    problem = Problem("no-address", "error", "x" * size, "fix it")
    return Report(name, False, None, (), None, None, (problem,))


def test_the_cache_stays_within_its_byte_budget() -> None:
    budget = 50_000
    cache = ReportCache(60, 1000, budget, size=_report_size)
    one = _report_size(big_report("n0.test", 10_000))
    assert 10_000 < one < 11_000  # the estimate is the report's JSON
    for index in range(100):
        cache.put(f"n{index}.test", big_report(f"n{index}.test", 10_000))
        assert cache.bytes <= budget
    assert len(cache) == budget // one
    assert cache.get("n99.test") is not None and cache.get("n0.test") is None  # LRU out first
    # A report larger than the whole budget is not kept, and pushes nothing out.
    cache.put("huge.test", big_report("huge.test", budget))
    assert cache.get("huge.test") is None and len(cache) == budget // one


def test_the_count_bound_still_holds() -> None:
    cache = ReportCache(60, 3, 10**9, size=_report_size)
    for index in range(10):
        cache.put(f"n{index}.test", big_report(f"n{index}.test", 10))
    assert len(cache) == 3


def test_expired_reports_go_when_another_is_added() -> None:
    now = [0.0]
    cache = ReportCache(10, 1000, 10**9, size=lambda report: 100, clock=lambda: now[0])
    cache.put("a.test", big_report("a.test", 1))
    cache.put("b.test", big_report("b.test", 1))
    now[0] = 5.0
    cache.put("c.test", big_report("c.test", 1))
    assert len(cache) == 3 and cache.bytes == 300  # nothing has expired yet
    now[0] = 11.0
    cache.put("d.test", big_report("d.test", 1))  # a and b expire; nobody asked for them
    assert len(cache) == 2 and cache.bytes == 200
    assert cache.get("c.test") is not None
    cache.put("c.test", big_report("c.test", 1))  # stored again: counted once
    assert len(cache) == 2 and cache.bytes == 200


async def test_case_variants_of_a_name_share_one_entry(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    client = await web_client()
    first = await client.get("/api/v1/check", params={"server_name": "NoWhere.TEST"})
    assert first.status == 200 and (await first.json())["server_name"] == "nowhere.test"
    lookups = len(sandbox.dns.queries)
    for spelling in ("nowhere.test", "NOWHERE.test"):
        response = await client.get("/api/federation-ok", params={"server_name": spelling})
        assert await response.text() == "BAD"
    assert len(sandbox.dns.queries) == lookups  # no new check
    metrics = await (await client.get("/metrics")).text()
    assert 'matrix_delegation_web_report_requests_total{source="miss"} 1.0' in metrics
    assert 'matrix_delegation_web_report_requests_total{source="hit"} 2.0' in metrics
    # Negative twin: another port is another server, so another check.
    other = await client.get("/api/federation-ok", params={"server_name": "nowhere.test:8448"})
    assert other.status == 200
    metrics = await (await client.get("/metrics")).text()
    assert 'matrix_delegation_web_report_requests_total{source="miss"} 2.0' in metrics
