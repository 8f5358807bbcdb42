"""Fixtures: a running well-known service on loopback, and a raw HTTP client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from matrix_delegation._core.site import Contact, Domain, Site
from matrix_delegation.service import WellKnownService

SITE = Site(
    (
        Domain(
            "example.test",
            "matrix.example.test:443",
            {"m.homeserver": {"base_url": "https://matrix.example.test"}, "org.example.x": True},
            (Contact("m.role.admin", "@admin:example.test"),),
            None,
            600,
        ),
        Domain("other.test", None),
    )
)


@pytest.fixture
async def service() -> AsyncIterator[WellKnownService]:
    running = WellKnownService(SITE, idle_timeout=1.0)
    await running.start([("127.0.0.1", 0)])
    yield running
    await running.close()


RawClient = Callable[[bytes], Awaitable[bytes]]


@pytest.fixture
def raw(service: WellKnownService) -> RawClient:
    """Send bytes, read until the server closes or goes quiet for 0.5 s (bounded)."""
    host, port = service.addresses[0]

    async def send(request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(request)
        received = b""
        try:
            for _ in range(100):
                chunk = await asyncio.wait_for(reader.read(65536), 0.5)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            pass
        writer.close()
        return received

    return send
