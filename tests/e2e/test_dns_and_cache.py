"""DNS behaviour and caching over a real DNS server (UDP and TCP) and real HTTPS."""

from __future__ import annotations

import pytest

from matrix_delegation import DnsLookupError, InvalidServerName, Resolver, Route
from matrix_delegation.sandbox import Reply
from matrix_delegation.sandbox.world import Sandbox

PATH = "/.well-known/matrix/server"
FED = "_matrix-fed._tcp.example.test"


class Clock:
    def __init__(self) -> None:
        self.now = 2_000_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_large_srv_answer_arrives_over_tcp(sandbox: Sandbox) -> None:
    for index in range(40):
        sandbox.zone.add(FED, "SRV", f"10 {index + 1} 8448 fed{index:02}.example.test.")
        sandbox.zone.add(f"fed{index:02}.example.test", "A", f"127.0.1.{index + 1}")
    async with Resolver(**sandbox.resolver_options()) as resolver:
        resolution = await resolver.resolve("example.test")
    assert resolution.route is Route.SRV
    assert len(resolution.srv[0].records) == 40
    assert len(resolution.endpoints) == 32  # only the first 32 targets are resolved
    assert (FED, "SRV", "tcp") in sandbox.dns.queries


async def test_ipv6_only_target(sandbox: Sandbox) -> None:
    sandbox.zone.add(FED, "SRV", "10 0 8448 v6.example.test.")
    sandbox.zone.add("v6.example.test", "AAAA", "::1")
    async with Resolver(**sandbox.resolver_options()) as resolver:
        resolution = await resolver.resolve("example.test")
    assert [(e.ip, e.port) for e in resolution.endpoints] == [("::1", 8448)]


async def test_dns_timeout_is_an_error_not_no_record(sandbox: Sandbox) -> None:
    sandbox.zone.drop(FED, "SRV")
    sandbox.zone.add("example.test", "A", "127.0.0.9")
    async with Resolver(**sandbox.resolver_options(timeout=0.3)) as resolver:
        with pytest.raises(DnsLookupError) as caught:
            await resolver.resolve("example.test")
    assert "timed out" in str(caught.value)
    assert caught.value.resolution is not None and caught.value.resolution.endpoints == ()


async def test_warm_lookup_asks_the_network_nothing(sandbox: Sandbox) -> None:
    host = await sandbox.https_host(["example.test"])
    host.set("example.test", PATH, Reply.json({"m.server": "m.example.test"}))
    sandbox.zone.add("_matrix-fed._tcp.m.example.test", "SRV", "0 0 8448 fed.example.test.")
    sandbox.zone.add("fed.example.test", "A", "127.0.0.9")
    async with Resolver(**sandbox.resolver_options()) as resolver:
        cold = await resolver.resolve("example.test")
        queries, requests = len(sandbox.dns.queries), len(host.requests)
        warm = await resolver.resolve("example.test")
        assert warm == cold
        assert (len(sandbox.dns.queries), len(host.requests)) == (queries, requests)
        resolver.flush("example.test")
        again = await resolver.resolve("example.test")
    assert again.endpoints == cold.endpoints
    assert len(host.requests) == requests + 1
    assert len(sandbox.dns.queries) > queries


async def test_srv_answers_are_cached_by_their_ttl(sandbox: Sandbox) -> None:
    sandbox.zone.add(FED, "SRV", "0 0 8448 fed.example.test.", ttl=60)
    sandbox.zone.add("fed.example.test", "A", "127.0.0.9", ttl=3600)
    clock = Clock()
    async with Resolver(**sandbox.resolver_options(clock=clock)) as resolver:
        await resolver.resolve("example.test")
        clock.now += 59
        await resolver.resolve("example.test")
        assert sandbox.dns.queries.count((FED, "SRV", "udp")) == 1
        clock.now += 1
        await resolver.resolve("example.test")
    assert sandbox.dns.queries.count((FED, "SRV", "udp")) == 2


async def test_stale_srv_answer_is_used_when_the_dns_server_fails(sandbox: Sandbox) -> None:
    sandbox.zone.add(FED, "SRV", "0 0 8448 fed.example.test.", ttl=60)
    sandbox.zone.add("fed.example.test", "A", "127.0.0.9", ttl=3600)
    clock = Clock()
    async with Resolver(**sandbox.resolver_options(clock=clock)) as resolver:
        await resolver.resolve("example.test")
        sandbox.zone.fail(FED, "SRV", "SERVFAIL")
        clock.now += 120
        resolution = await resolver.resolve("example.test")
    assert resolution.route is Route.SRV
    assert resolution.srv[0].stale and "SERVFAIL" in (resolution.srv[0].error or "")
    assert [e.ip for e in resolution.endpoints] == ["127.0.0.9"]


async def test_servfail_without_a_cached_answer_fails(sandbox: Sandbox) -> None:
    """The twin of the stale test: same failure, nothing cached, so no endpoint."""
    sandbox.zone.fail(FED, "SRV", "SERVFAIL")
    sandbox.zone.add("example.test", "A", "127.0.0.9")
    async with Resolver(**sandbox.resolver_options()) as resolver:
        with pytest.raises(DnsLookupError, match="SERVFAIL"):
            await resolver.resolve("example.test")


async def test_resolution_returns_what_resolve_raises(sandbox: Sandbox) -> None:
    sandbox.zone.fail(FED, "SRV", "SERVFAIL")
    sandbox.zone.add("example.test", "A", "127.0.0.9")
    async with Resolver(**sandbox.resolver_options()) as resolver:
        with pytest.raises(DnsLookupError) as caught:
            await resolver.resolve("example.test")
        resolution = await resolver.resolution("example.test")
        outcomes = await resolver.resolve_all(["example.test", "bad_name"])
    raised = caught.value.resolution
    assert raised is not None
    # The same failure (the second lookup's .well-known comes from the cache).
    assert (resolution.error, resolution.host_header, resolution.endpoints) == (
        raised.error,
        raised.host_header,
        raised.endpoints,
    )
    assert resolution.error is not None and resolution.error.code == "dns-error"
    assert isinstance(outcomes[0], type(resolution)) and outcomes[0].error == resolution.error
    assert isinstance(outcomes[1], InvalidServerName)
