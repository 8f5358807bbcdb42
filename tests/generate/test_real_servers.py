"""The generated configurations, run by the real nginx, Apache, HAProxy and Caddy.

Each program checks the syntax, then serves a two-domain site on a loopback
address; every (domain, file) must answer GET, HEAD and OPTIONS as
:func:`render_site` says: status, body byte for byte, and each of our headers.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from matrix_delegation._core.site import CORS_HEADERS, Response, Site, render_site

if TYPE_CHECKING:  # the fixture's type; tests never import conftest at run time
    from conftest import RealServers

REQUEST_TIMEOUT = 5.0


@dataclass
class Reply:
    """What came back over the wire."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def all(self, name: str) -> list[str]:
        """Every value of a header (case-insensitive), in order."""
        return [value for key, value in self.headers if key.lower() == name.lower()]


def fetch(address: str, port: int, method: str, host: str, path: str) -> Reply:
    """One request over a fresh connection, with the given Host header."""
    connection = http.client.HTTPConnection(address, port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request(method, path, headers={"Host": host})
        response = connection.getresponse()
        return Reply(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


def assert_matches(
    reply: Reply, expected: Response, *, head: bool = False, context: str = ""
) -> None:
    """The reply has the expected status, body (none for HEAD) and each of our headers once."""
    assert reply.status == expected.status, context
    assert reply.body == (b"" if head else expected.body), context
    for name, value in expected.headers:
        assert reply.all(name) == [value], f"header {name}: {reply.headers}\n{context}"


def assert_options(reply: Reply, context: str = "") -> None:
    """A 204 without a body, with each CORS header once."""
    assert reply.status == 204, context
    assert reply.body == b"", context
    for name, value in CORS_HEADERS:
        assert reply.all(name) == [value], f"header {name}: {reply.headers}\n{context}"


def _reply_of(response: Response) -> Reply:
    return Reply(response.status, list(response.headers), response.body)


def _requests(site: Site, port: int) -> Iterator[tuple[str, str, Response]]:
    """(Host header, path, expected) for every file; the second domain's Host
    has its port and odd case, as a browser on a non-default port sends it."""
    for index, (hostname, responses) in enumerate(render_site(site).items()):
        host = hostname if index == 0 else f"{hostname.upper()}:{port}"
        for path, expected in responses.items():
            yield host, path, expected


#: The programs run for real ("apache" is the apache2 binary).
PROGRAMS = ["apache", "caddy", "haproxy", "nginx"]


# -- the comparison helper must be able to fail -------------------------------------------


def test_assert_matches_accepts_an_identical_reply(site: Site) -> None:
    expected = render_site(site)["example.com"]["/.well-known/matrix/client"]
    assert_matches(_reply_of(expected), expected)


@pytest.mark.parametrize("tamper", ["body", "etag", "cors", "missing", "duplicate", "status"])
def test_assert_matches_rejects_a_tampered_reply(site: Site, tamper: str) -> None:
    expected = render_site(site)["example.com"]["/.well-known/matrix/client"]
    reply = _reply_of(expected)
    if tamper == "body":
        reply.body = expected.body.replace(b"\\\\", b"\\")
    elif tamper == "etag":
        reply.headers = [(k, '"0"' if k == "ETag" else v) for k, v in reply.headers]
    elif tamper == "cors":
        reply.headers = [
            (k, v + " ") if k.startswith("Access") else (k, v) for k, v in reply.headers
        ]
    elif tamper == "missing":
        reply.headers = [(k, v) for k, v in reply.headers if k != "Cache-Control"]
    elif tamper == "duplicate":
        reply.headers.append(("Access-Control-Allow-Origin", "*"))
    else:
        reply.status = 200 if expected.status != 200 else 404
    with pytest.raises(AssertionError):
        assert_matches(reply, expected)


# -- the real programs ---------------------------------------------------------------------


@pytest.mark.parametrize("name", PROGRAMS)
def test_syntax_check_passes(
    name: str, site: Site, program_dir: Path, real_servers: RealServers
) -> None:
    harness = real_servers.harness(name)
    main, _, _ = real_servers.configure(harness, site, program_dir)
    result = real_servers.check_syntax(harness, main)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", PROGRAMS)
def test_serves_exactly_what_render_site_says(
    name: str, site: Site, program_dir: Path, real_servers: RealServers
) -> None:
    harness = real_servers.harness(name)
    main, address, port = real_servers.configure(harness, site, program_dir)
    with real_servers.running(harness, main, address, port) as server:
        for host, path, expected in _requests(site, port):
            context = f"{name} {host}{path}\n{server.log()}"
            reply = fetch(address, port, "GET", host, path)
            assert_matches(reply, expected, context=context)
            head = fetch(address, port, "HEAD", host, path)
            assert_matches(head, expected, head=True, context=context)
            assert_options(fetch(address, port, "OPTIONS", host, path), context)
        # The same comparison against a tampered expectation fails on a live reply.
        host, path, expected = next(_requests(site, port))
        tampered = Response(expected.status, expected.headers, expected.body + b" ")
        with pytest.raises(AssertionError):
            assert_matches(fetch(address, port, "GET", host, path), tampered)


@pytest.mark.parametrize("name", PROGRAMS)
def test_proxy_mode_forwards_with_the_host_header(
    name: str, site: Site, program_dir: Path, real_servers: RealServers
) -> None:
    harness = real_servers.harness(name)
    with _FakeServe(site, real_servers.free_endpoint()[0]) as (upstream, hosts_seen):
        main, address, port = real_servers.configure(harness, site, program_dir, proxy_to=upstream)
        result = real_servers.check_syntax(harness, main)
        assert result.returncode == 0, result.stdout + result.stderr
        with real_servers.running(harness, main, address, port) as server:
            for host, path, expected in _requests(site, port):
                reply = fetch(address, port, "GET", host, path)
                assert_matches(reply, expected, context=f"{name} {host}{path}\n{server.log()}")
    assert {h.split(":")[0].lower() for h in hosts_seen} == set(render_site(site))


class _Upstream(ThreadingHTTPServer):
    responses: dict[str, dict[str, Response]]
    hosts_seen: list[str]


class _FakeServeHandler(BaseHTTPRequestHandler):
    """Answers like serve: by the Host header's hostname, from render_site."""

    server: _Upstream

    def do_GET(self) -> None:
        host = self.headers.get("Host", "")
        self.server.hosts_seen.append(host)
        hostname = host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()
        response = self.server.responses.get(hostname, {}).get(self.path)
        if response is None:
            self.send_error(421)
            return
        self.send_response(response.status)
        for key, value in response.headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reports what matters."""


class _FakeServe:
    """A stand-in for ``serve`` on a loopback address, in a thread."""

    def __init__(self, site: Site, address: str) -> None:
        self.server = _Upstream((address, 0), _FakeServeHandler)
        self.server.responses = render_site(site)
        self.server.hosts_seen = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> tuple[str, list[str]]:
        self.thread.start()
        address, port = self.server.socket.getsockname()[:2]
        return f"http://{address}:{port}", self.server.hosts_seen

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
