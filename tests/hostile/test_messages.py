"""What a remote user reads: refusals at the raw sockets, DNS failures, broken HTTP.

No exception class names, no DNS server addresses: plain words.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator

import pytest
from hostile_world import Victim, Victims

from matrix_delegation import Resolver
from matrix_delegation._core.ipfilter import IpPolicy
from matrix_delegation._io.connect import BlockedAddressError, open_checked_connection
from matrix_delegation._io.dns import DnspythonBackend
from matrix_delegation._io.probe import probe_endpoint
from matrix_delegation.checker.check import check_server
from matrix_delegation.checker.client import fetch
from matrix_delegation.checker.output import report_json
from matrix_delegation.sandbox.world import Sandbox

BLOCK_ALL = IpPolicy.default()
ALLOW_LOOPBACK = IpPolicy.default(["127.0.0.0/8", "::1/128"])


async def probe(victim: Victim, policy: IpPolicy) -> str | None:
    result = await probe_endpoint(
        "victim.test",
        victim.ip,
        victim.port,
        tls_name="victim.test",
        host_header="victim.test",
        context=ssl.create_default_context(),
        timeout=3.0,
        policy=policy,
    )
    return result.error


async def test_the_probes_raw_connections_go_through_the_policy(victims: Victims) -> None:
    assert await probe(victims.v4, BLOCK_ALL) == (
        "cannot connect: refused: 127.0.0.1 is in the blocked range 127.0.0.0/8"
    )
    assert await probe(victims.v6, BLOCK_ALL) == (
        "cannot connect: refused: ::1 is in the blocked range ::1/128"
    )
    assert victims.accepted == 0


async def test_twin_the_probe_reaches_an_allowed_address(victims: Victims) -> None:
    await probe(victims.v4, ALLOW_LOOPBACK)
    await probe(victims.v6, ALLOW_LOOPBACK)
    assert victims.v4.accepted >= 1 and victims.v6.accepted >= 1


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0177.0.0.1", "localhost"])
async def test_the_raw_helper_takes_only_standard_ip_addresses(victims: Victims, host: str) -> None:
    with pytest.raises(BlockedAddressError, match="not an IP address in standard form"):
        await open_checked_connection(host, victims.v4.port, ALLOW_LOOPBACK)
    assert victims.accepted == 0


async def test_twin_the_raw_helper_connects_where_allowed(victims: Victims) -> None:
    _, writer = await open_checked_connection("::1", victims.v6.port, ALLOW_LOOPBACK)
    for _ in range(300):  # the accept callback runs soon after; at most 3 s
        if victims.v6.accepted:
            break
        await asyncio.sleep(0.01)
    writer.close()
    assert victims.v6.accepted == 1


# --- DNS failures ------------------------------------------------------------------------


async def test_a_dns_failure_does_not_name_the_dns_server(sandbox: Sandbox) -> None:
    sandbox.zone.fail("broken.test", "A", "SERVFAIL")
    sandbox.zone.fail("broken.test", "AAAA", "REFUSED")
    sandbox.zone.fail("_matrix-fed._tcp.broken.test", "SRV", "SERVFAIL")
    found = await DnspythonBackend([sandbox.dns.nameserver], timeout=3.0).addresses("broken.test")
    assert found.error is not None
    assert "the DNS server answered SERVFAIL" in found.error
    assert "the DNS server answered REFUSED" in found.error
    async with Resolver(**sandbox.resolver_options(timeout=3.0)) as resolver:
        report = json.dumps(report_json(await check_server(resolver, "broken.test", timeout=3.0)))
    server_ip = sandbox.dns.nameserver.rsplit(":", 1)[0]
    assert "SERVFAIL" in report
    for internal in ("Do53", sandbox.dns.nameserver, f"{server_ip}@", "NoNameservers"):
        assert internal not in report


# --- broken HTTP -------------------------------------------------------------------------


@pytest.fixture
async def broken_http(sandbox: Sandbox) -> AsyncIterator[tuple[str, dict[str, bytes]]]:
    """A plain-HTTP server on 127.0.0.X that answers each path with canned raw bytes."""
    replies = {
        "/cut-short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}",
        "/bad-chunks": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
        "/bad-status": b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
    }

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(3.0):
            request = await reader.readuntil(b"\r\n\r\n")
        path = request.split(b" ", 2)[1].decode()
        writer.write(replies.get(path, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
        await writer.drain()
        writer.close()

    ip = sandbox.address(0)
    server = await asyncio.start_server(answer, ip, 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://{ip}:{port}", replies
    server.close()


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/cut-short", "the response body could not be read (cut short or badly encoded)"),
        ("/bad-chunks", "the response is not valid HTTP"),
        ("/bad-status", "the response is not valid HTTP"),
    ],
)
async def test_broken_http_is_described_in_plain_words(
    sandbox: Sandbox, broken_http: tuple[str, dict[str, bytes]], path: str, reason: str
) -> None:
    base, _ = broken_http
    async with Resolver(**sandbox.resolver_options(timeout=3.0)) as resolver:
        fetched = await fetch(resolver.network, base + path, timeout=3.0)
    assert fetched.error == reason
