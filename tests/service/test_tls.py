"""The service over TLS: answers, handshake timeouts, garbage, and clients that vanish."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from flood import never_reading_client_is_dropped, reading_client_is_served
from serving import any_name

from matrix_delegation._core.site import Domain, Site, render_domain
from matrix_delegation.sandbox import SandboxCA
from matrix_delegation.service import WellKnownService
from matrix_delegation.service.tls import server_context

SITE = Site((Domain("a.test", "matrix.a.test:443"),))
PATH = "/.well-known/matrix/server"
REQUEST = f"GET {PATH} HTTP/1.1\r\nHost: a.test\r\n\r\n".encode()


@pytest.fixture(scope="module")
def ca() -> SandboxCA:
    return SandboxCA()


@pytest.fixture
async def service(ca: SandboxCA) -> AsyncIterator[WellKnownService]:
    running = WellKnownService(SITE, ssl_context=ca.server_context("a.test"), idle_timeout=0.5)
    await running.start([("127.0.0.1", 0)])
    yield running
    await running.close()


async def tls_connect(service: WellKnownService, ca: SandboxCA):
    host, port = service.addresses[0]
    return await asyncio.open_connection(
        host, port, ssl=ca.client_context(), server_hostname="a.test"
    )


async def read_answers(reader: asyncio.StreamReader, count: int) -> bytes:
    body = render_domain(SITE.domains[0])[PATH].body
    received = b""
    for _ in range(200):
        if received.count(body) >= count:
            break
        received += await asyncio.wait_for(reader.read(65536), 2)
    return received


async def test_answers_over_tls_with_keep_alive(service: WellKnownService, ca: SandboxCA) -> None:
    reader, writer = await tls_connect(service, ca)
    for _ in range(3):
        writer.write(REQUEST)
        assert b"HTTP/1.1 200 OK" in await read_answers(reader, 1)
    writer.write(REQUEST * 20)  # pipelined
    assert (await read_answers(reader, 20)).count(b"HTTP/1.1 200 OK") == 20
    writer.close()


async def test_wrong_name_fails_verification(service: WellKnownService, ca: SandboxCA) -> None:
    host, port = service.addresses[0]
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.open_connection(host, port, ssl=ca.client_context(), server_hostname="b.test")


async def test_silent_client_is_dropped_before_the_handshake(service: WellKnownService) -> None:
    host, port = service.addresses[0]
    reader, writer = await asyncio.open_connection(host, port)
    assert await asyncio.wait_for(reader.read(), timeout=5) == b""
    writer.close()


async def test_plain_http_on_the_tls_port_is_dropped(
    service: WellKnownService, ca: SandboxCA
) -> None:
    host, port = service.addresses[0]
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(REQUEST)
    try:
        closed = await asyncio.wait_for(reader.read(), timeout=5)
    except ConnectionResetError:
        closed = b""  # closed with unread data: the kernel resets
    assert b"200 OK" not in closed
    writer.close()
    reader, writer = await tls_connect(service, ca)  # the service is still fine
    writer.write(REQUEST)
    assert b"HTTP/1.1 200 OK" in await read_answers(reader, 1)
    writer.close()


async def test_clients_that_vanish_mid_request_leave_no_connection(
    service: WellKnownService, ca: SandboxCA
) -> None:
    for _ in range(20):
        _, writer = await tls_connect(service, ca)
        writer.write(REQUEST[:10])
        writer.transport.abort()
    for _ in range(50):
        if not service.connections:
            break
        await asyncio.sleep(0.05)
    assert not service.connections


async def test_a_tls_client_that_never_reads_is_dropped_at_the_idle_timeout(
    service: WellKnownService, ca: SandboxCA
) -> None:
    await never_reading_client_is_dropped(
        service, REQUEST, ssl=ca.client_context(), server_hostname="a.test"
    )


async def test_a_tls_client_that_reads_the_same_flood_is_served(
    service: WellKnownService, ca: SandboxCA
) -> None:
    await reading_client_is_served(
        service, REQUEST, ssl=ca.client_context(), server_hostname="a.test"
    )


def site_with_certificate(ca: SandboxCA, directory: Path) -> Site:
    directory.mkdir()
    files = ca.issue_files("a.test", directory)
    certificate, key = files["certificate"], files["key"]
    return Site((Domain("a.test", "a.test:443", certificate=certificate, private_key=key),))


def certificate_of(site: Site) -> bytes:
    end = "-----END CERTIFICATE-----"
    leaf = Path(site.domains[0].certificate or "").read_text().partition(end)[0] + end
    return ssl.PEM_cert_to_DER_cert(leaf)


async def presented(service: WellKnownService, server_name: str) -> bytes:
    """The certificate the service presents; ``""``: a client that sends no SNI."""
    host, port = service.addresses[0]
    _, writer = await asyncio.open_connection(
        host, port, ssl=any_name(), server_hostname=server_name
    )
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    return bytes(der)


async def test_a_reload_gives_clients_without_sni_the_new_certificate(
    ca: SandboxCA, tmp_path: Path
) -> None:
    old = site_with_certificate(ca, tmp_path / "old")
    new = site_with_certificate(ca, tmp_path / "new")
    assert certificate_of(old) != certificate_of(new)
    running = WellKnownService(old, ssl_context=server_context(old), idle_timeout=0.5)
    await running.start([("127.0.0.1", 0)])
    try:
        assert await presented(running, "") == certificate_of(old)
        assert await presented(running, "a.test") == certificate_of(old)
        assert running.reload(lambda: (new, server_context(new)))
        assert await presented(running, "") == certificate_of(new)
        assert await presented(running, "a.test") == certificate_of(new)
    finally:
        await running.close()
