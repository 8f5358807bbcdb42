"""The notifiers' POST and PUT (``Network.post``) and the GET's User-Agent, on the lean client.

Each server is plain HTTP on a sandbox loopback address: it records the
request it read (head and body) and writes canned bytes back. A POST is sent
once, on a connection of its own, with its body and ``Content-Length``; a
redirect is an answer, not followed; a header holding a line break is never
sent. The GET sends our User-Agent, another one, or none at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from matrix_delegation import Resolver
from matrix_delegation._io.http import HttpFetch
from matrix_delegation._io.network import Network
from matrix_delegation.sandbox.world import Sandbox

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
REDIRECT = b"HTTP/1.1 307 Temporary\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"
Served = tuple[str, list[bytes]]


@pytest.fixture
async def serve(sandbox: Sandbox) -> AsyncIterator[Callable[[bytes], Awaitable[Served]]]:
    """Start a server answering every request with ``reply`` (nothing when empty).

    Returns its base URL and the requests it read, each head and body together.
    """
    servers: list[asyncio.Server] = []

    async def start(reply: bytes) -> Served:
        seen: list[bytes] = []

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                async with asyncio.timeout(10.0):
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = next(
                        (int(line.split(b":")[1]) for line in head.split(b"\r\n")
                         if line.lower().startswith(b"content-length:")),
                        0,
                    )  # fmt: skip
                    seen.append(head + await reader.readexactly(length))
                    writer.write(reply)
                    await writer.drain()
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.transport.abort()

        ip = sandbox.address(0)
        server = await asyncio.start_server(answer, ip, 0)
        servers.append(server)
        return f"http://{ip}:{server.sockets[0].getsockname()[1]}", seen

    yield start
    for server in servers:
        server.close()


async def _network(sandbox: Sandbox) -> Resolver:
    return Resolver(**sandbox.resolver_options(timeout=5.0))


async def post(
    sandbox: Sandbox, url: str, body: bytes, headers: dict[str, str], method: str = "POST"
) -> HttpFetch:
    async with await _network(sandbox) as resolver:
        network: Network = resolver.network
        async with asyncio.timeout(15.0):  # the test's own bound, far above the request's
            return await network.post(url, body, headers=headers, method=method)


async def test_a_post_sends_its_body_once_and_reads_the_answer(sandbox: Sandbox, serve) -> None:
    url, seen = await serve(OK)
    answer = await post(
        sandbox, url + "/hook?a=1", b'{"x": 1}', {"Content-Type": "application/json"}
    )
    assert (answer.status, answer.body, answer.error) == (200, b"{}", None)
    assert len(seen) == 1
    head, _, body = seen[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /hook?a=1 HTTP/1.1" and body == b'{"x": 1}'
    assert b"Content-Length: 8" in lines and b"Content-Type: application/json" in lines
    assert any(line.startswith(b"User-Agent: matrix-delegation/") for line in lines)


async def test_a_put_is_sent_as_a_put(sandbox: Sandbox, serve) -> None:
    url, seen = await serve(OK)
    answer = await post(sandbox, url + "/send/txn", b"{}", {}, method="PUT")
    assert answer.status == 200 and seen[0].startswith(b"PUT /send/txn HTTP/1.1\r\n")


async def test_a_redirect_answering_a_post_is_not_followed(sandbox: Sandbox, serve) -> None:
    url, seen = await serve(
        b"HTTP/1.1 307 Temporary\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"
    )
    answer = await post(sandbox, url + "/hook", b"{}", {})
    assert (answer.status, answer.error, len(answer.hops), len(seen)) == (307, None, 1, 1)


async def test_a_post_the_server_drops_unanswered_is_not_repeated(sandbox: Sandbox, serve) -> None:
    url, seen = await serve(b"")
    answer = await post(sandbox, url + "/hook", b"{}", {})
    assert (answer.status, answer.kind) == (None, "unreachable")
    assert answer.error == "the server closed the connection without answering"
    assert len(seen) == 1


async def test_a_header_with_a_line_break_is_not_sent(sandbox: Sandbox, serve) -> None:
    url, seen = await serve(OK)
    answer = await post(sandbox, url + "/hook", b"{}", {"Authorization": "Bearer x\r\nX-Evil: 1"})
    assert (answer.status, answer.error) == (None, "a request header is not valid")
    assert seen == []


async def test_twin_a_header_without_a_line_break_is_sent(sandbox: Sandbox, serve) -> None:
    url, seen = await serve(OK)
    answer = await post(sandbox, url + "/hook", b"{}", {"Authorization": "Bearer x"})
    assert answer.status == 200 and b"\r\nAuthorization: Bearer x\r\n" in seen[0]


@pytest.mark.parametrize(
    ("user_agent", "sent"),
    [("", b"User-Agent: matrix-delegation/"), ("Synapse/1.0", b"User-Agent: Synapse/1.0\r\n")],
)
async def test_a_get_sends_the_user_agent_asked_for(
    sandbox: Sandbox, serve, user_agent: str, sent: bytes
) -> None:
    url, seen = await serve(OK)
    async with await _network(sandbox) as resolver:
        fetched = await resolver.network.get(url + "/f", user_agent=user_agent)
    assert fetched.status == 200 and sent in seen[0]


async def test_twin_a_get_without_a_user_agent_sends_none(sandbox: Sandbox, serve) -> None:
    url, seen = await serve(OK)
    async with await _network(sandbox) as resolver:
        fetched = await resolver.network.get(url + "/f", user_agent=None)
    assert fetched.status == 200 and b"user-agent" not in seen[0].lower()
