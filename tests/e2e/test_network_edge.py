"""One network edge: the resolver and the checker share a Network and its one HTTP GET."""

from __future__ import annotations

import pytest

from matrix_delegation import Network, Resolver, ResolverConfig, Route
from matrix_delegation._io.connect import BlockedAddressError
from matrix_delegation._io.probe import MAX_RESPONSE
from matrix_delegation.checker.client import fetch
from matrix_delegation.checker.keys_json import MAX_KEY_BODY
from matrix_delegation.sandbox import Reply
from matrix_delegation.sandbox.world import Sandbox

PATH = "/.well-known/matrix/server"
NAME = "example.test"


def test_the_probe_reads_as_much_as_the_key_checker_accepts() -> None:
    assert MAX_RESPONSE == MAX_KEY_BODY


async def test_a_shared_network_outlives_the_resolver(sandbox: Sandbox) -> None:
    host = await sandbox.https_host([NAME])
    host.set(NAME, PATH, Reply.json({"m.server": "127.0.0.1:8448"}))
    async with Network(ResolverConfig(**sandbox.resolver_options())) as network:
        async with Resolver(network=network) as resolver:
            resolution = await resolver.resolve(NAME)
        assert resolution.route is Route.WELL_KNOWN_IP_LITERAL
        # The resolver is closed; the network it was given still fetches.
        fetched = await fetch(network, f"https://{NAME}{PATH}", timeout=3.0)
    assert fetched.status == 200 and fetched.error is None
    assert [hop.status for hop in fetched.hops] == [200]


async def test_from_config_resolves_as_the_keyword_form(sandbox: Sandbox) -> None:
    host = await sandbox.https_host([NAME])
    host.set(NAME, PATH, Reply.json({"m.server": "127.0.0.1:8448"}))
    config = ResolverConfig(**sandbox.resolver_options())
    async with Resolver.from_config(config) as resolver:
        typed = await resolver.resolution(NAME)
    async with Resolver(**sandbox.resolver_options()) as resolver:
        keywords = await resolver.resolution(NAME)
    assert typed.route is keywords.route is Route.WELL_KNOWN_IP_LITERAL
    assert typed.endpoints == keywords.endpoints


async def test_the_driver_skips_well_known_without_fetching(sandbox: Sandbox) -> None:
    host = await sandbox.https_host([NAME])
    host.set(NAME, PATH, Reply.json({"m.server": "127.0.0.1:8448"}))
    async with Resolver(**sandbox.resolver_options()) as resolver:
        skipped = await resolver.resolution(NAME, skip_well_known=True)
        assert host.requests == []
        fetched = await resolver.resolution(NAME)
    assert skipped.route is Route.DEFAULT_PORT and skipped.well_known is None
    assert fetched.route is Route.WELL_KNOWN_IP_LITERAL and len(host.requests) == 1


async def test_destination_applies_the_ip_policy(sandbox: Sandbox) -> None:
    sandbox.zone.add("open.test", "A", "127.0.0.1")
    async with Network(ResolverConfig(**sandbox.resolver_options())) as network:
        destination = await network.destination("open.test", 443)
    assert destination.addresses == ("127.0.0.1",) and destination.rule is None
    # The twin: the default blocklist refuses loopback.
    blocking = ResolverConfig(**sandbox.resolver_options(allow_ip_ranges=[]))
    async with Network(blocking) as network:
        with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.1"):
            await network.destination("open.test", 443)
