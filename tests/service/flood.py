"""Clients that pipeline many requests, and read the answers or never do."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

from matrix_delegation.service import WellKnownService

# Far more answers than the kernel and the transport's high-water mark hold.
FLOOD = 20_000


async def connect_small_window(
    service: WellKnownService, **tls: Any
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection whose tiny receive buffer makes the server queue its answers."""
    host, port = service.addresses[0]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    return await asyncio.open_connection(sock=sock, **tls)


def queued(service: WellKnownService) -> int:
    """Bytes of answers the service holds for its clients."""
    return sum(
        connection._transport.get_write_buffer_size()
        for connection in service.connections
        if connection._transport is not None
    )


async def until(condition: Any, seconds: float) -> bool:
    """Poll ``condition()`` every 20 ms for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.02) + 2):
        if condition() or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    return bool(condition())


async def never_reading_client_is_dropped(
    service: WellKnownService, request: bytes, **tls: Any
) -> None:
    """Pipeline FLOOD requests, read nothing: the server must let go at the idle timeout."""
    _, writer = await connect_small_window(service, **tls)
    writer.write(request * FLOOD)
    assert await until(lambda: queued(service) > 0, 10), "the server never had to queue"
    # From here no answer is written (the server stopped reading), so the
    # connection is idle: it must be gone by the timeout, plus slack.
    assert await until(lambda: not service.connections, service.idle_timeout + 1.0)
    writer.transport.abort()


async def reading_client_is_served(service: WellKnownService, request: bytes, **tls: Any) -> None:
    """The same flood, read as it comes: every request is answered."""
    reader, writer = await connect_small_window(service, **tls)
    writer.write(request)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(head.lower().partition(b"content-length:")[2].split(b"\r\n")[0])
    answer_size = len(head) + len(await asyncio.wait_for(reader.readexactly(length), 5))
    writer.write(request * FLOOD)
    received = bytearray()
    for _ in range(FLOOD):  # bounded: at least one byte per read
        if len(received) >= FLOOD * answer_size:
            break
        received += await asyncio.wait_for(reader.read(1 << 20), 5)
    assert bytes(received).count(b"HTTP/1.1 200 OK\r\n") == FLOOD
    writer.close()
