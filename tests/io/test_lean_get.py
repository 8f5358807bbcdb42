"""The bounds of the HTTP GET (``Network.get``) against raw servers that misbehave.

Each server is plain HTTP on a sandbox loopback address and writes canned
bytes: a chunked body that never ends, headers that never end, a redirect to
a blocked literal, a body dripping past the deadline. Every fetch must end
with the reason a report shows, never hang, never raise. Each bound has a
twin that stays inside it and succeeds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from matrix_delegation import Resolver
from matrix_delegation._core.wellknown import WELL_KNOWN_MAX_SIZE
from matrix_delegation._io.http import HttpFetch
from matrix_delegation.sandbox.world import Sandbox

Script = Callable[[asyncio.StreamWriter], Awaitable[None]]
#: No script writes for longer than this: every test ends.
WRITE_LIMIT = 1024 * 1024


async def chunked_forever(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(WRITE_LIMIT // 4096):
        writer.write(b"1000\r\n" + b"x" * 4096 + b"\r\n")
        await writer.drain()


async def chunked_small(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")


async def headers_forever(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\n")
    for index in range(WRITE_LIMIT // 32):
        writer.write(b"X-Padding-%08d: 0123456789\r\n" % index)
        await writer.drain()


async def many_headers_that_end(writer: asyncio.StreamWriter) -> None:
    padding = b"".join(b"X-Padding-%04d: 0123456789\r\n" % i for i in range(100))
    writer.write(b"HTTP/1.1 200 OK\r\n" + padding + b"Content-Length: 2\r\n\r\n{}")


async def drip(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    for _ in range(100):  # a byte every 0.1 s: 10 s in all, far past the deadline
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(0.1)


async def quick(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")


def redirect_to(location: str) -> Script:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(
            f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
        )

    return script


@pytest.fixture
async def raw(sandbox: Sandbox) -> AsyncIterator[Callable[[Script], Awaitable[str]]]:
    """Start a plain-HTTP server running ``script`` for each request; returns its base URL."""
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> str:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                async with asyncio.timeout(15.0):
                    await reader.readuntil(b"\r\n\r\n")
                    await script(writer)
                    await writer.drain()
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                pass  # the client gave up, as it should
            finally:
                writer.transport.abort()

        ip = sandbox.address(0)
        server = await asyncio.start_server(answer, ip, 0)
        servers.append(server)
        return f"http://{ip}:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()


async def get(sandbox: Sandbox, url: str, timeout: float = 5.0, **options: object) -> HttpFetch:
    async with Resolver(**sandbox.resolver_options(timeout=timeout, **options)) as resolver:
        async with asyncio.timeout(timeout + 10):  # the test's own bound, far above the fetch's
            return await resolver.network.get(url)


async def test_a_chunked_body_is_capped(sandbox: Sandbox, raw) -> None:
    fetched = await get(sandbox, await raw(chunked_forever) + "/f")
    assert (fetched.kind, fetched.error) == (
        "too-large",
        f"body larger than {WELL_KNOWN_MAX_SIZE} bytes",
    )


async def test_twin_a_small_chunked_body_is_read(sandbox: Sandbox, raw) -> None:
    fetched = await get(sandbox, await raw(chunked_small) + "/f")
    assert (fetched.status, fetched.body, fetched.error) == (200, b"{}", None)


async def test_headers_that_never_end_are_refused(sandbox: Sandbox, raw) -> None:
    fetched = await get(sandbox, await raw(headers_forever) + "/f")
    assert (fetched.kind, fetched.error) == ("unreachable", "the response is not valid HTTP")


async def test_twin_many_headers_that_end_are_read(sandbox: Sandbox, raw) -> None:
    fetched = await get(sandbox, await raw(many_headers_that_end) + "/f")
    assert (fetched.status, fetched.body) == (200, b"{}")
    assert fetched.hops[-1].headers["x-padding-0099"] == "0123456789"


async def test_a_redirect_to_a_blocked_literal_is_refused(sandbox: Sandbox, raw) -> None:
    victim = await raw(quick)
    victim_port = victim.rsplit(":", 1)[1]
    server = await raw(redirect_to(f"https://127.0.0.1:{victim_port}/inside"))
    ip = server.split("//")[1].split(":")[0]
    fetched = await get(sandbox, server + "/f", allow_ip_ranges=[f"{ip}/32"])
    assert fetched.kind == "unreachable"
    assert fetched.error == "refused: 127.0.0.1 is in the blocked range 127.0.0.0/8"
    assert [hop.status for hop in fetched.hops] == [302, None]


async def test_twin_a_redirect_to_an_allowed_address_is_followed(sandbox: Sandbox, raw) -> None:
    reached: list[bool] = []

    async def victim_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reached.append(True)  # the TLS hello of the redirected GET: nothing to answer
        writer.transport.abort()

    victim = await asyncio.start_server(victim_answer, "127.0.0.1", 0)
    try:
        port = victim.sockets[0].getsockname()[1]
        server = await raw(redirect_to(f"https://127.0.0.1:{port}/inside"))
        fetched = await get(sandbox, server + "/f", timeout=2.0)
    finally:
        victim.close()
    assert reached and [hop.status for hop in fetched.hops] == [302, None]


async def test_a_body_dripping_past_the_deadline_times_out(sandbox: Sandbox, raw) -> None:
    fetched = await get(sandbox, await raw(drip) + "/f", timeout=1.0)
    assert (fetched.kind, fetched.error) == ("timeout", "timed out after 1 s")


async def test_twin_a_quick_body_is_read_under_the_same_deadline(sandbox: Sandbox, raw) -> None:
    fetched = await get(sandbox, await raw(quick) + "/f", timeout=1.0)
    assert (fetched.status, fetched.body, fetched.error) == (200, b"{}", None)


async def test_no_accept_encoding_is_sent(sandbox: Sandbox) -> None:
    """Bodies come uncompressed: no decompression bomb can be asked for."""
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(5.0):
            seen.append(await reader.readuntil(b"\r\n\r\n"))
        await quick(writer)
        writer.transport.abort()

    ip = sandbox.address(0)
    server = await asyncio.start_server(answer, ip, 0)
    try:
        fetched = await get(sandbox, f"http://{ip}:{server.sockets[0].getsockname()[1]}/f")
    finally:
        server.close()
    assert fetched.status == 200
    assert b"accept-encoding" not in seen[0].lower() and b"user-agent:" in seen[0].lower()
