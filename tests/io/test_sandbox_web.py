"""Sandbox web hosts, CA and loopback addresses, over real loopback sockets.

Clients connect to IP literals with an explicit ``server_hostname`` and
Host header, so no test ever touches the system resolver.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import aiohttp
import pytest

from matrix_delegation.sandbox import (
    Reply,
    SandboxCA,
    WebHost,
    free_loopback_address,
    loopback_addresses,
)

HOST = "127.0.0.1"
NAME = "example.test"


async def _get(
    host: WebHost,
    client_ssl: ssl.SSLContext | bool,
    *,
    name: str = NAME,
    path: str = "/",
    timeout: float = 5.0,
) -> tuple[int, bytes, dict[str, str]]:
    scheme = "http" if client_ssl is False else "https"
    url = f"{scheme}://{host.host}:{host.port}{path}"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.get(
            url,
            ssl=client_ssl,
            server_hostname=name if scheme == "https" else None,
            headers={"Host": name},
            allow_redirects=False,
        ) as response,
    ):
        return response.status, await response.read(), dict(response.headers)


async def test_https_reply_reaches_a_client_trusting_the_ca(ca: SandboxCA) -> None:
    reply = Reply.json({"m.server": "fed.example.test:443"}, headers={"X-Test": "yes"})
    routes = {(NAME, "/.well-known/matrix/server"): reply}
    async with WebHost(HOST, 0, ca.server_context(NAME), routes) as host:
        status, body, headers = await _get(
            host, ca.client_context(), path="/.well-known/matrix/server"
        )
    assert (status, body) == (200, b'{"m.server":"fed.example.test:443"}')
    assert headers["Content-Type"] == "application/json" and headers["X-Test"] == "yes"
    assert host.requests == [("GET", NAME, "/.well-known/matrix/server")]


async def test_client_trusting_another_ca_rejects_the_certificate(ca: SandboxCA) -> None:
    routes = {("*", "/"): Reply(body="hi")}
    async with WebHost(HOST, 0, ca.server_context(NAME), routes) as host:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await _get(host, SandboxCA().client_context())
        assert (await _get(host, ca.client_context()))[1] == b"hi"  # the positive twin


async def test_certificate_from_another_ca_is_rejected(ca: SandboxCA) -> None:
    async with WebHost(HOST, 0, ca.self_signed_context(NAME), {("*", "/"): Reply()}) as host:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await _get(host, ca.client_context())


async def test_certificate_for_another_name_fails_hostname_check(ca: SandboxCA) -> None:
    async with WebHost(HOST, 0, ca.server_context("other.test"), {("*", "/"): Reply()}) as host:
        with pytest.raises(aiohttp.ClientConnectorCertificateError) as caught:
            await _get(host, ca.client_context())
    assert "hostname" in str(caught.value).lower() or "match" in str(caught.value).lower()


async def test_expired_certificate_is_rejected(ca: SandboxCA) -> None:
    async with WebHost(
        HOST, 0, ca.server_context(NAME, expired=True), {("*", "/"): Reply()}
    ) as host:
        with pytest.raises(aiohttp.ClientConnectorCertificateError) as caught:
            await _get(host, ca.client_context())
    assert "expired" in str(caught.value).lower()


async def test_ip_address_certificate_verifies_without_server_hostname(ca: SandboxCA) -> None:
    routes = {("*", "/"): Reply(status=204)}
    async with (
        WebHost(HOST, 0, ca.server_context(HOST), routes) as host,
        aiohttp.ClientSession() as session,
        session.get(f"https://{HOST}:{host.port}/", ssl=ca.client_context()) as response,
    ):
        assert response.status == 204


async def test_server_contexts_are_cached(ca: SandboxCA) -> None:
    assert ca.server_context(NAME) is ca.server_context(NAME)
    assert ca.server_context(NAME) is not ca.server_context(NAME, expired=True)


def test_ca_pem_is_written(ca: SandboxCA, tmp_path: Path) -> None:
    written = ca.write_ca_pem(tmp_path / "ca.pem")
    assert written.read_bytes() == ca.ca_pem
    assert ca.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")


async def test_redirect_carries_location() -> None:
    routes = {("*", "/old"): Reply.redirect("https://new.example.test/new", status=301)}
    async with WebHost(HOST, 0, None, routes) as host:
        status, _, headers = await _get(host, False, path="/old")
    assert status == 301 and headers["Location"] == "https://new.example.test/new"


async def test_chunked_reply_has_no_content_length() -> None:
    body = b"x" * 100_000
    async with WebHost(HOST, 0, None, {("*", "/big"): Reply(body=body, chunked=True)}) as host:
        status, received, headers = await _get(host, False, path="/big")
    assert status == 200 and received == body
    assert "Content-Length" not in headers and headers["Transfer-Encoding"] == "chunked"


async def test_virtual_hosts_are_told_apart_by_host_header() -> None:
    host = WebHost(HOST, 0, None)
    host.set("A.test", "/", Reply(body="a"))
    host.set("b.test", "/", Reply(body="b"))
    host.set("*", "/", Reply(body="any"))
    async with host:
        assert (await _get(host, False, name="a.test"))[1] == b"a"
        assert (await _get(host, False, name=f"B.TEST:{host.port}"))[1] == b"b"
        assert (await _get(host, False, name="c.test"))[1] == b"any"
        host.remove("*", "/")
        status, body, _ = await _get(host, False, name="c.test")
    assert status == 404 and body.startswith(b"{")
    assert [r[1] for r in host.requests] == ["a.test", f"B.TEST:{host.port}", "c.test", "c.test"]


async def test_delayed_reply_trips_the_client_timeout() -> None:
    async with WebHost(HOST, 0, None, {("*", "/slow"): Reply(delay=5.0)}) as host:
        with pytest.raises(TimeoutError):
            await _get(host, False, path="/slow", timeout=0.3)
        assert host.requests == [("GET", NAME, "/slow")]


async def test_url_uses_the_bound_port() -> None:
    async with WebHost(HOST, 0, None) as host:
        assert host.port > 0
        assert host.url(NAME, "/x") == f"http://{NAME}:{host.port}/x"
        assert host.url("::1", "/") == f"http://[::1]:{host.port}/"


def test_free_loopback_address_binds_and_skips_taken() -> None:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]  # a port that is free right now
    address = free_loopback_address(port)
    assert address is not None and address != HOST
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))  # it really binds
        sock.listen()
        # While we hold it, it is busy: the next one is returned instead.
        other = free_loopback_address(port, first=int(address.rsplit(".", 1)[1]))
        assert other is not None and other != address
    skipped = free_loopback_address(port, taken={address})
    assert skipped is not None and skipped != address


def test_loopback_addresses_are_distinct() -> None:
    addresses = loopback_addresses(3, 0, first=10)
    assert addresses == ["127.0.0.10", "127.0.0.11", "127.0.0.12"]
    with pytest.raises(OSError):
        loopback_addresses(2, 0, first=254)
