"""The web checker on real sockets: keep-alive, the connection cap, and the limit flags."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from matrix_delegation import ResolverConfig
from matrix_delegation._cli import main
from matrix_delegation.cli.web import settings_from_args
from matrix_delegation.sandbox.world import Sandbox
from matrix_delegation.web.server import WebServer, start_web
from matrix_delegation.web.settings import WebSettings

Start = Callable[..., Awaitable[WebServer]]
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
HEALTH = b"GET /health HTTP/1.1\r\nHost: checker.test\r\n\r\n"


@pytest.fixture
async def start(sandbox: Sandbox) -> AsyncIterator[Start]:
    """``start(**settings)``: the web checker listening on 127.0.0.1:<free port>."""
    servers: list[WebServer] = []

    async def make(**settings: object) -> WebServer:
        options = ResolverConfig(**sandbox.resolver_options(timeout=3.0))
        server = await start_web(
            WebSettings(resolver_options=options, **settings),  # type: ignore[arg-type]
            [("127.0.0.1", 0)],
        )
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.close()


async def connect(server: WebServer) -> Connection:
    host, port = server.addresses[0]
    return await asyncio.wait_for(asyncio.open_connection(host, port), 5)


async def status_line(connection: Connection) -> bytes:
    """Ask for /health on ``connection``; the status line of the answer (b"" at EOF).

    The whole answer is read, so the connection is idle afterwards.
    """
    reader, writer = connection
    writer.write(HEALTH)
    line = await asyncio.wait_for(reader.readline(), 5)
    length = 0
    for _ in range(50):  # the headers
        header = await asyncio.wait_for(reader.readline(), 5)
        if header in (b"\r\n", b""):
            break
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await asyncio.wait_for(reader.readexactly(length), 5)
    return line


async def wait_open(server: WebServer, count: int) -> None:
    """Until the server counts ``count`` open connections (bounded: about 5 s)."""
    for _ in range(100):
        if server.connections.open == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{server.connections.open} connections open, not {count}")


def close_all(connections: list[Connection]) -> None:
    for _, writer in connections:
        writer.close()


# --- keep-alive ----------------------------------------------------------------------------


async def test_an_idle_connection_is_closed_after_the_keepalive(start: Start) -> None:
    server = await start(keepalive=0.5)
    reader, writer = connection = await connect(server)
    assert await status_line(connection) == b"HTTP/1.1 200 OK\r\n"
    assert await asyncio.wait_for(reader.read(), 10) == b""  # the server hung up
    await wait_open(server, 0)
    writer.close()
    # A connection that never sends a byte is closed as well.
    silent_reader, silent_writer = await connect(server)
    assert await asyncio.wait_for(silent_reader.read(), 10) == b""
    silent_writer.close()


async def test_a_trickled_request_is_cut_off_at_the_keepalive(start: Start) -> None:
    """A byte every 0.1 s never finishes the headers; the keep-alive timer still runs out."""
    server = await start(keepalive=0.5)
    reader, writer = await connect(server)
    trickle = b"GET /health HTTP/1.1\r\nHost: checker.test\r\nX-Slow: " + b"a" * 200
    for index in range(len(trickle)):  # at most about 20 s
        if reader.at_eof() or writer.is_closing():
            break
        try:
            writer.write(trickle[index : index + 1])
            await writer.drain()
        except ConnectionError:
            break
        await asyncio.sleep(0.1)
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, nothing answered
    assert index < 100  # long before the request could have ended
    writer.close()


async def test_a_connection_within_the_keepalive_is_reused(start: Start) -> None:
    """The negative twin: idle for less than the keep-alive, the connection still serves."""
    server = await start(keepalive=30)
    connection = await connect(server)
    assert await status_line(connection) == b"HTTP/1.1 200 OK\r\n"
    await asyncio.sleep(1.0)
    assert await status_line(connection) == b"HTTP/1.1 200 OK\r\n"
    assert server.connections.open == 1
    close_all([connection])


# --- the connection cap ----------------------------------------------------------------------


async def test_the_connection_over_the_cap_gets_a_503(start: Start) -> None:
    server = await start(max_connections=4)
    held = [await connect(server) for _ in range(4)]
    await wait_open(server, 4)
    over_reader, over_writer = await connect(server)
    answer = await asyncio.wait_for(over_reader.read(), 5)  # read to EOF: it is closed
    assert answer.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 5" in answer
    over_writer.close()
    assert server.connections.refused == 1 and server.connections.open == 4
    for connection in held:  # the four are still served
        assert await status_line(connection) == b"HTTP/1.1 200 OK\r\n"
    close_all(held[:1])
    await wait_open(server, 3)
    again = await connect(server)  # a freed place is taken again
    assert await status_line(again) == b"HTTP/1.1 200 OK\r\n"
    close_all([*held[1:], again])


async def test_connections_under_the_cap_are_all_served(start: Start) -> None:
    server = await start(max_connections=5)
    held = [await connect(server) for _ in range(5)]
    for connection in held:
        assert await status_line(connection) == b"HTTP/1.1 200 OK\r\n"
    assert server.connections.refused == 0
    close_all(held)
    await wait_open(server, 0)


# --- what a remote user sees -----------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"G\x00ET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
    ],
    ids=["bad-method", "bad-length", "too-long"],
)
async def test_an_unparsable_request_gets_the_status_only(
    start: Start, request_bytes: bytes
) -> None:
    server = await start()
    reader, writer = await connect(server)
    writer.write(request_bytes)
    answer = await asyncio.wait_for(reader.read(), 5)  # closed after the answer
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 400 ") and body == b"Bad Request"
    assert b"Server: matrix-delegation\r\n" in head + b"\r\n"
    assert b"aiohttp" not in answer and b"Python" not in answer


async def test_answers_do_not_name_the_software_versions(start: Start) -> None:
    """The negative twin: a good request is served, with the same Server header."""
    server = await start()
    reader, writer = connection = await connect(server)
    writer.write(HEALTH)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200 ") and b"\r\nServer: matrix-delegation\r\n" in head
    assert b"aiohttp" not in head and b"Python" not in head
    close_all([connection])


# --- flags -------------------------------------------------------------------------------------


def parse_web(*flags: str) -> WebSettings:
    from matrix_delegation._cli import _build_parser

    return settings_from_args(_build_parser("web").parse_args(["web", *flags]))


def test_the_limit_flags_set_the_settings() -> None:
    settings = parse_web(
        *("--rate", "3", "--burst", "4", "--max-running-per-client", "1"),
        *("--max-running", "7", "--deadline", "12.5", "--cache-ttl", "0"),
        *("--cache-size", "10", "--cache-bytes", "2M", "--max-connections", "9"),
        *("--keepalive", "15", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1"),
    )
    assert (settings.rate_per_minute, settings.burst, settings.max_running_per_client) == (3, 4, 1)
    assert (settings.max_running, settings.deadline, settings.cache_ttl) == (7, 12.5, 0)
    assert (settings.cache_size, settings.cache_bytes) == (10, 2 * 1024 * 1024)
    assert (settings.max_connections, settings.keepalive) == (9, 15)
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    assert parse_web() == WebSettings(
        resolver_options=parse_web().resolver_options, check_timeout=parse_web().check_timeout
    )  # no flag: every default


@pytest.mark.parametrize(
    "flags",
    [
        ["--rate", "0"],
        ["--rate", "fast"],
        ["--burst", "-1"],
        ["--max-running-per-client", "0"],
        ["--max-running", "1.5"],
        ["--deadline", "nan"],
        ["--cache-ttl", "-1"],
        ["--cache-size", "many"],
        ["--cache-bytes", "12X"],
        ["--max-connections", "0"],
        ["--keepalive", "14"],
        ["--keepalive", "76"],
        ["--trusted-proxy", "10.0.0.0/33"],
    ],
)
def test_a_bad_limit_is_a_one_line_usage_error(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["web", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"argument {flags[0]}" in err and "Traceback" not in err


def test_the_command_refuses_a_bad_keepalive() -> None:
    """The real command line, in a process of its own: exit 2, one line, nothing served."""
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-m", "matrix_delegation", "web", "--keepalive", "5"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "matrix-delegation web: error: argument --keepalive: '5' must be between 15 and 75"
        " seconds\n"
    )
