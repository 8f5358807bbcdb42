"""Concurrent GETs of one scope to one host take turns on one kept-alive connection.

A plain-HTTP server on a sandbox loopback address counts the connections it
accepts and answers up to :data:`PER_CONNECTION` requests on each. Kept alive,
six concurrent GETs cost one connection; its twin answers ``Connection:
close`` and costs one each. A GET that stalls holds its connection: the others
wait their share of the deadline, then open their own, and all end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from matrix_delegation import Resolver
from matrix_delegation._io.http import HttpFetch
from matrix_delegation._io.scope import connection_scope
from matrix_delegation.sandbox.world import Sandbox

#: Requests a connection of the test server answers at most: every loop ends.
PER_CONNECTION = 20
GETS = 6


@dataclass
class Server:
    url: str
    accepted: int = 0
    paths: list[str] = field(default_factory=list)


Start = Callable[..., Awaitable[Server]]


@pytest.fixture
async def server(sandbox: Sandbox) -> AsyncIterator[Start]:
    """A keep-alive HTTP server (``close``: one request per connection); ``/stall`` stalls."""
    servers: list[asyncio.Server] = []

    async def start(*, close: bool = False) -> Server:
        seen = Server("")

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.accepted += 1
            try:
                for _ in range(PER_CONNECTION):
                    async with asyncio.timeout(15.0):
                        head = await reader.readuntil(b"\r\n\r\n")
                    path = head.split(b" ", 2)[1].decode()
                    seen.paths.append(path)
                    if path == "/stall":
                        await asyncio.sleep(15.0)
                    last = b"Connection: close\r\n" if close else b""
                    writer.write(b"HTTP/1.1 200 OK\r\n" + last + b"Content-Length: 2\r\n\r\n{}")
                    await writer.drain()
                    if close:
                        break
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                pass  # the client went away
            finally:
                writer.transport.abort()

        ip = sandbox.address(0)
        listening = await asyncio.start_server(answer, ip, 0)
        servers.append(listening)
        seen.url = f"http://{ip}:{listening.sockets[0].getsockname()[1]}"
        return seen

    yield start
    for listening in servers:
        listening.close()


async def get_all(sandbox: Sandbox, urls: list[str], timeout: float) -> list[HttpFetch]:
    """GET every URL at once in one scope (as a check's GETs are)."""
    async with Resolver(**sandbox.resolver_options(timeout=timeout)) as resolver:
        with connection_scope():
            async with asyncio.timeout(timeout + 10):  # the test's bound, far above the GETs'
                asked = (resolver.network.get(url, timeout=timeout) for url in urls)
                return list(await asyncio.gather(*asked))


async def test_concurrent_gets_to_one_host_share_one_connection(
    sandbox: Sandbox, server: Start
) -> None:
    served = await server()
    fetched = await get_all(sandbox, [f"{served.url}/f{i}" for i in range(GETS)], 5.0)
    assert [(f.status, f.body) for f in fetched] == [(200, b"{}")] * GETS
    assert served.accepted == 1
    assert sorted(served.paths) == sorted(f"/f{i}" for i in range(GETS))


async def test_twin_connection_close_costs_a_connection_per_get(
    sandbox: Sandbox, server: Start
) -> None:
    served = await server(close=True)
    fetched = await get_all(sandbox, [f"{served.url}/f{i}" for i in range(GETS)], 5.0)
    assert [(f.status, f.body) for f in fetched] == [(200, b"{}")] * GETS
    assert served.accepted == GETS


async def test_a_stalled_get_does_not_hold_up_the_others(sandbox: Sandbox, server: Start) -> None:
    served = await server()
    urls = [f"{served.url}/stall"] + [f"{served.url}/f{i}" for i in range(GETS - 1)]
    fetched = await get_all(sandbox, urls, 2.0)
    assert fetched[0].status is None and fetched[0].kind == "timeout"
    assert [(f.status, f.body) for f in fetched[1:]] == [(200, b"{}")] * (GETS - 1)
    assert served.accepted >= 2  # the others could not wait for the stalled connection


async def test_a_cancelled_waiter_passes_the_connection_on(sandbox: Sandbox, server: Start) -> None:
    served = await server()
    async with Resolver(**sandbox.resolver_options(timeout=5.0)) as resolver:
        with connection_scope():
            async with asyncio.timeout(15.0):
                tasks = [
                    asyncio.ensure_future(resolver.network.get(f"{served.url}/f{i}", timeout=5.0))
                    for i in range(GETS)
                ]
                await asyncio.sleep(0)
                tasks[2].cancel()  # waiting in line (or not yet started): it leaves the line
                done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[2], asyncio.CancelledError)
    kept = [d for i, d in enumerate(done) if i != 2]
    assert [(f.status, f.body) for f in kept if isinstance(f, HttpFetch)] == [(200, b"{}")] * 5
    assert served.accepted == 1
