"""A server name with 60 A records: the checker's connections stay bounded and all close.

Every address is a loopback address with TLS listeners on 443 and 8448 that
answer like a homeserver (slowly enough for connections to overlap), so
without the caps the checker would open one connection per address at once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import signedjson.key

from helpers.listeners import Listeners, peak
from matrix_delegation import Resolver
from matrix_delegation._core.plan import MAX_ADDRESSES_PER_HOST
from matrix_delegation.checker.check import MAX_CONNECTIONS, check_server
from matrix_delegation.sandbox.addresses import free_loopback_address
from matrix_delegation.sandbox.homeserver import KEYS_PATH, VERSION_PATH, key_response
from matrix_delegation.sandbox.world import Sandbox

NAME = "many.example.test"
RECORDS = 60
PORTS = (443, 8448)
KEY = signedjson.key.generate_signing_key("one")


def homeserver_answer(path: str) -> tuple[int, bytes]:
    if path == VERSION_PATH:
        return 200, json.dumps({"server": {"name": "Sandbox", "version": "1"}}).encode()
    if path == KEYS_PATH:
        return 200, json.dumps(key_response(NAME, KEY)).encode()
    return 404, b'{"errcode":"M_NOT_FOUND"}'


async def listen_on_many(sandbox: Sandbox, listeners: Listeners, count: int) -> list[str]:
    """``count`` loopback addresses, each with listeners on 443 and 8448 (bounded search)."""
    found: list[str] = []
    for _ in range(200):
        if len(found) == count:
            return found
        ip = free_loopback_address(443, first=2, taken=sandbox._taken)
        if ip is None:
            break
        sandbox._taken.add(ip)  # also keeps the sandbox's own hosts off it
        try:
            await listeners.listen(ip, 443)
            await listeners.listen(ip, 8448)
        except OSError:
            continue  # 8448 taken there (another test run): try the next address
        found.append(ip)
    pytest.skip(f"only {len(found)} loopback addresses with 443 and 8448 free")


@pytest.fixture
async def many(sandbox: Sandbox) -> AsyncIterator[Listeners]:
    if free_loopback_address(443) is None:
        pytest.skip("needs the right to bind port 443 on loopback")
    listeners = Listeners(sandbox.ca.server_context(NAME), homeserver_answer, delay=0.05)
    try:
        for ip in await listen_on_many(sandbox, listeners, RECORDS):
            sandbox.zone.add(NAME, "A", ip)
        yield listeners
    finally:
        await listeners.close()


async def test_sixty_addresses_cost_at_most_the_cap_of_connections(
    sandbox: Sandbox, many: Listeners
) -> None:
    async with Resolver(**sandbox.resolver_options(timeout=5.0)) as resolver:
        report = await check_server(resolver, NAME, timeout=5.0)
        closed_by_the_checker = await many.wait_all_closed(by_checker_only=True)
    everything_closed = await many.wait_all_closed(by_checker_only=False)

    checker = [c for c in many.connections if c.by_checker]
    assert closed_by_the_checker, "a probe connection outlived the check"
    assert everything_closed, "a connection outlived the resolver"
    assert 1 < peak(checker) <= MAX_CONNECTIONS
    # The cap on addresses: 16 probed on 8448, 16 asked for .well-known on 443 (the one
    # discovery fetched it from is not asked again: its connection is discovery's).
    by_port = {
        port: {c.address[0] for c in many.connections if c.address[1] == port} for port in PORTS
    }
    assert len(by_port[8448]) == MAX_ADDRESSES_PER_HOST
    assert len(by_port[443]) == MAX_ADDRESSES_PER_HOST
    # The excess is reported, once, and the checked endpoints are judged as usual.
    capped = [p for p in report.problems if p.code == "too-many-addresses"]
    assert len(capped) == 1 and f"{RECORDS} addresses" in capped[0].message
    assert len(report.endpoints) == MAX_ADDRESSES_PER_HOST
    assert report.federation_ok
    assert report.resolution is not None
    assert any("of 60 addresses are used" in entry.rule for entry in report.resolution.trace)


async def test_a_handful_of_addresses_is_not_a_problem(sandbox: Sandbox) -> None:
    """The twin: 3 addresses are all probed, and no cap is reported."""
    if free_loopback_address(443) is None:
        pytest.skip("needs the right to bind port 443 on loopback")
    listeners = Listeners(sandbox.ca.server_context(NAME), homeserver_answer)
    try:
        for ip in await listen_on_many(sandbox, listeners, 3):
            sandbox.zone.add(NAME, "A", ip)
        async with Resolver(**sandbox.resolver_options(timeout=5.0)) as resolver:
            report = await check_server(resolver, NAME, timeout=5.0)
            assert await listeners.wait_all_closed(by_checker_only=True)
    finally:
        await listeners.close()
    assert len(report.endpoints) == 3 and report.federation_ok
    assert not {"too-many-addresses", "endpoints-capped"} & {p.code for p in report.problems}
