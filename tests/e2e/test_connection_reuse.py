"""How many connections a check opens, counted where the server accepts them.

A healthy server with no delegation: its three ``.well-known`` files on
``https://name:443`` (all 404) and the User-Agent fetches of the server file
take turns on kept-alive connections, and the probe of ``name:8448`` asks for
its version, keys and ``.well-known`` over one more; the User-Agent key
fetches go one after another over one more. The twin's server answers
``Connection: close``: a new connection per request, so the counts there are
the requests made. The ``connections`` of the report is what the server
counted, in both.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import signedjson.key

from helpers.listeners import Listeners
from matrix_delegation import Resolver
from matrix_delegation.checker.agents_model import AGENTS
from matrix_delegation.checker.check import check_server
from matrix_delegation.checker.output import report_json
from matrix_delegation.sandbox.addresses import free_loopback_address
from matrix_delegation.sandbox.homeserver import KEYS_PATH, VERSION_PATH, key_response
from matrix_delegation.sandbox.world import Sandbox

NAME = "reuse.example.test"
#: Requests to https://name:443 in a check: the three files, then the server file
#: again with our User-Agent and with each implementation's.
WELL_KNOWN_REQUESTS = 3 + 1 + len(AGENTS)
KEY = signedjson.key.generate_signing_key("one")


def homeserver_answer(path: str) -> tuple[int, bytes]:
    if path == VERSION_PATH:
        return 200, json.dumps({"server": {"name": "Sandbox", "version": "1"}}).encode()
    if path == KEYS_PATH:
        return 200, json.dumps(key_response(NAME, KEY)).encode()
    return 404, b'{"errcode":"M_NOT_FOUND"}'


async def serve(sandbox: Sandbox, *, close: bool) -> AsyncIterator[Listeners]:
    listeners = await _listening(sandbox, close=close)
    try:
        yield listeners
    finally:
        await listeners.close()


async def _listening(sandbox: Sandbox, *, close: bool) -> Listeners:
    """Listen on 443 and 8448 of one loopback address (another run may hold one of them)."""
    for _ in range(8):
        ip = free_loopback_address(443, first=2, taken=sandbox._taken)
        if ip is None:
            pytest.skip("needs the right to bind port 443 on loopback")
        sandbox._taken.add(ip)
        listeners = Listeners(sandbox.ca.server_context(NAME), homeserver_answer, close=close)
        try:
            await listeners.listen(ip, 443)
            await listeners.listen(ip, 8448)
        except OSError:
            await listeners.close()
            continue
        sandbox.zone.add(NAME, "A", ip)
        return listeners
    pytest.skip("443 and 8448 taken on loopback")


@pytest.fixture
async def keeping(sandbox: Sandbox) -> AsyncIterator[Listeners]:
    async for listeners in serve(sandbox, close=False):
        yield listeners


@pytest.fixture
async def closing(sandbox: Sandbox) -> AsyncIterator[Listeners]:
    async for listeners in serve(sandbox, close=True):
        yield listeners


def accepted(listeners: Listeners, port: int) -> int:
    return sum(1 for c in listeners.connections if c.address[1] == port)


async def test_a_healthy_check_opens_one_connection_per_host_and_port(
    sandbox: Sandbox, keeping: Listeners
) -> None:
    async with Resolver(**sandbox.resolver_options(timeout=5.0)) as resolver:
        report = await check_server(resolver, NAME, timeout=5.0)
    assert report.federation_ok
    assert report.client is not None and report.support is not None
    # Kept alive, the GETs to https://name:443 take turns on one connection: the
    # three files on one, and the server file with each User-Agent on the same one or,
    # when the probes outlast the client-file check (which lets the first go), on a second.
    assert accepted(keeping, 443) in (1, 2)
    # The probe's version, keys and .well-known on one; the agents' key fetches, one
    # after another, on one more (not one each).
    assert accepted(keeping, 8448) == 2
    assert report_json(report)["connections"] == len(keeping.connections)


async def test_twin_connection_close_costs_a_connection_per_request(
    sandbox: Sandbox, closing: Listeners
) -> None:
    async with Resolver(**sandbox.resolver_options(timeout=5.0)) as resolver:
        report = await check_server(resolver, NAME, timeout=5.0)
    assert report.federation_ok
    assert accepted(closing, 443) == WELL_KNOWN_REQUESTS
    assert accepted(closing, 8448) == 3 + len(AGENTS)
    assert report_json(report)["connections"] == len(closing.connections)


async def test_an_invalid_name_opens_nothing(sandbox: Sandbox) -> None:
    async with Resolver(**sandbox.resolver_options(timeout=5.0)) as resolver:
        report = await check_server(resolver, "not a name", timeout=5.0)
    assert report_json(report)["connections"] == 0
