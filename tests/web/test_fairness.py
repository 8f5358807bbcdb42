"""Fair sharing between clients: the per-client cap, and clients behind trusted proxies.

Clients are told apart for real: each one's socket is bound to its own
loopback source address.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from test_problem_codes import homeserver

from matrix_delegation.sandbox import Reply
from matrix_delegation.sandbox.homeserver import VERSION_PATH
from matrix_delegation.sandbox.world import Sandbox

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]
SLOW = ["slow1.test", "slow2.test", "slow3.test", "slow4.test"]


class Peer(Protocol):
    """GET /api/report for ``name`` from one source address, with an optional X-Forwarded-For."""

    def __call__(self, name: str, forwarded_for: str = "") -> Awaitable[aiohttp.ClientResponse]: ...


@pytest.fixture
async def peers(sandbox: Sandbox) -> AsyncIterator[Callable[[TestClient[Any, Any]], Peer]]:
    """``peers(client)`` gives a function that GETs /api/report from a new source address."""
    sessions: list[aiohttp.ClientSession] = []

    def make(client: TestClient[Any, Any]) -> Peer:
        connector = aiohttp.TCPConnector(local_addr=(sandbox.address(0), 0))
        session = aiohttp.ClientSession(connector=connector)
        sessions.append(session)

        async def get(name: str, forwarded_for: str = "") -> aiohttp.ClientResponse:
            headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
            url = client.make_url("/api/report")
            response = await session.get(url, params={"server_name": name}, headers=headers)
            await response.read()
            return response

        return get

    yield make
    for session in sessions:
        await session.close()


async def slow_checks(sandbox: Sandbox) -> None:
    host = await homeserver(sandbox, SLOW)
    host.set("*", VERSION_PATH, Reply(body="{}", delay=2.0))


async def wait_running(client: TestClient[Any, Any], count: int) -> None:
    """Until the app says ``count`` checks are running (bounded: about 10 s)."""
    line = f"matrix_delegation_web_checks_running {float(count)}"
    for _ in range(200):
        if line in await (await client.get("/metrics")).text():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {count} checks running")


@pytest.mark.parametrize(
    ("per_client", "other_status"),
    [(2, 200), (3, 503)],
    ids=["capped", "negative-twin-uncapped"],
)
async def test_one_client_cannot_take_every_slot(
    sandbox: Sandbox,
    web_client: MakeClient,
    peers: Callable[[TestClient[Any, Any]], Peer],
    per_client: int,
    other_status: int,
) -> None:
    """Three slots; a greedy client holds what it may. Uncapped, the other client gets a 503."""
    await slow_checks(sandbox)
    client = await web_client(max_running=3, max_running_per_client=per_client)
    greedy, other = peers(client), peers(client)
    held = [asyncio.ensure_future(greedy(name)) for name in SLOW[:per_client]]
    await wait_running(client, per_client)
    if per_client < 3:
        refused = await greedy(SLOW[2])
        assert refused.status == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
        assert (await refused.json())["errcode"] == "M_LIMIT_EXCEEDED"
    assert (await other(SLOW[3])).status == other_status
    assert [(await done).status for done in held] == [200] * per_client
    metrics = await (await client.get("/metrics")).text()
    refusals = 1.0 if per_client < 3 else 0.0
    assert f"matrix_delegation_web_client_busy_requests_total {refusals}" in metrics
    assert "matrix_delegation_web_rate_limited_requests_total 0.0" in metrics  # not charged


TRUSTED_PEER = [
    ("192.0.2.1", 200),
    ("192.0.2.1", 429),  # that client's bucket is empty
    ("192.0.2.2", 200),  # another client behind the proxy
    ("192.0.2.99, 192.0.2.1", 429),  # what the client wrote left of the proxy's entry is ignored
]
UNTRUSTED_PEER = [
    ("198.51.100.1", 200),
    ("198.51.100.2", 429),  # a spoofed header does not give a fresh bucket
    ("", 429),
]


@pytest.mark.parametrize(
    ("trusted", "steps"),
    [("127.0.0.0/8", TRUSTED_PEER), ("192.0.2.0/24", UNTRUSTED_PEER)],
    ids=["trusted-peer", "negative-twin-untrusted-peer"],
)
async def test_forwarded_for_counts_only_from_a_trusted_proxy(
    web_client: MakeClient, peers: Callable[[TestClient[Any, Any]], Peer], trusted: str,
    steps: list[tuple[str, int]],
) -> None:  # fmt: skip
    networks = (ipaddress.ip_network(trusted),)
    client = await web_client(rate_per_minute=1, burst=1, trusted_proxies=networks)
    peer = peers(client)
    for index, (forwarded_for, status) in enumerate(steps):
        assert (await peer(f"n{index}.test", forwarded_for)).status == status, forwarded_for
    assert (await peers(client)("fresh.test", "203.0.113.5")).status == 200  # a new client
