"""The service over real sockets: methods, caching headers, errors, limits."""

from __future__ import annotations

import asyncio
import json

from flood import never_reading_client_is_dropped, reading_client_is_served

from conftest import SITE, RawClient
from matrix_delegation._core.site import render_site
from matrix_delegation.service import WellKnownService

SERVER = "/.well-known/matrix/server"
CLIENT = "/.well-known/matrix/client"
SUPPORT = "/.well-known/matrix/support"
KEEP_ALIVE = f"GET {CLIENT} HTTP/1.1\r\nHost: example.test\r\n\r\n".encode()


def request(method: str, path: str, host: str = "example.test", *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *extra, "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


async def test_each_file_is_served_exactly_as_rendered(raw: RawClient) -> None:
    expected = render_site(SITE)
    for host in ("example.test", "other.test"):
        for path in (SERVER, CLIENT, SUPPORT):
            status, headers, body = parse(await raw(request("GET", path, host)))
            want = expected[host][path]
            assert (status, body) == (want.status, want.body), (host, path)
            for name, value in want.headers:
                assert headers[name.lower()] == value, (host, path, name)
            assert headers["content-length"] == str(len(body))
            assert "date" in headers


async def test_host_header_port_and_case_are_ignored(raw: RawClient) -> None:
    status, _, body = parse(await raw(request("GET", SERVER, "EXAMPLE.test:8443")))
    assert status == 200 and json.loads(body) == {"m.server": "matrix.example.test:443"}


async def test_head_has_the_headers_and_no_body(raw: RawClient) -> None:
    status, headers, body = parse(await raw(request("HEAD", CLIENT)))
    assert status == 200 and body == b""
    assert headers["content-length"] == str(len(render_site(SITE)["example.test"][CLIENT].body))


async def test_options_is_204_with_cors_and_no_endpoint_logic(raw: RawClient) -> None:
    for host in ("example.test", "unknown.test"):
        status, headers, body = parse(await raw(request("OPTIONS", SUPPORT, host)))
        assert status == 204 and body == b""
        assert headers["access-control-allow-origin"] == "*"
        assert "GET" in headers["access-control-allow-methods"]


async def test_other_methods_are_405(raw: RawClient) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, _ = parse(
            await raw(request(method, SERVER, "example.test", "Content-Length: 0"))
        )
        assert status == 405 and headers["allow"] == "GET, HEAD, OPTIONS"


async def test_if_none_match_gives_304(raw: RawClient) -> None:
    etag = render_site(SITE)["example.test"][SERVER].header("ETag")
    assert etag is not None and etag.startswith('"')
    for value in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        status, headers, body = parse(
            await raw(request("GET", SERVER, "example.test", f"If-None-Match: {value}"))
        )
        assert (status, body) == (304, b"")
        assert headers["etag"] == etag and headers["cache-control"] == "max-age=600"
    status, _, _ = parse(
        await raw(request("GET", SERVER, "example.test", 'If-None-Match: "stale"'))
    )
    assert status == 200


async def test_unknown_host_and_unknown_path_are_json_404(raw: RawClient) -> None:
    for host, path in (
        ("unknown.test", SERVER),
        ("example.test", "/.well-known/matrix/other"),
        ("example.test", "/../../../etc/passwd"),
        ("example.test", "/.well-known/matrix/../server"),
    ):
        status, headers, body = parse(await raw(request("GET", path, host)))
        assert status == 404, (host, path)
        assert json.loads(body)["errcode"] == "M_NOT_FOUND"
        assert headers["content-type"] == "application/json"


async def test_keep_alive_and_pipelining(raw: RawClient) -> None:
    pipelined = (
        b"GET " + SERVER.encode() + b" HTTP/1.1\r\nHost: example.test\r\n\r\n"
        b"HEAD "
        + CLIENT.encode()
        + b" HTTP/1.1\r\nHost: example.test\r\n\r\n"
        + request("GET", SUPPORT)
    )
    answer = await raw(pipelined)
    assert answer.count(b"HTTP/1.1 200 OK") == 3
    assert answer.endswith(render_site(SITE)["example.test"][SUPPORT].body)


async def test_health_and_metrics(raw: RawClient) -> None:
    await raw(request("GET", SERVER))
    await raw(request("GET", SERVER, "unknown.test"))
    status, _, body = parse(await raw(request("GET", "/health", "anything")))
    assert (status, body) == (200, b'{"status":"ok"}')
    status, headers, body = parse(await raw(request("GET", "/metrics", "anything")))
    text = body.decode()
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert (
        'matrix_delegation_requests_total{domain="example.test",file="server",status="200"} 1.0'
        in text
    )
    assert 'matrix_delegation_requests_total{domain="-",file="-",status="404"} 1.0' in text
    assert "matrix_delegation_domains 2.0" in text


async def test_bad_requests_get_4xx_and_the_service_lives_on(raw: RawClient) -> None:
    cases = [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: example.test\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: example.test\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: example.test\r\n" + b"X-A: 1\r\n" * 70 + b"\r\n", 431),
        (
            b"GET "
            + SERVER.encode()
            + b" HTTP/1.1\r\nHost: example.test\r\nContent-Length: 5000\r\n\r\n"
            + b"x" * 5000,
            413,
        ),
        (b"GET /\x00 HTTP/1.1\r\nHost: example.test\r\n\r\n", 400),
    ]
    for sent, status in cases:
        got, _, _ = parse(await raw(sent))
        assert got == status, sent[:40]
    status, _, _ = parse(await raw(request("GET", SERVER)))
    assert status == 200


async def test_idle_connection_is_closed_after_the_timeout(service: WellKnownService) -> None:
    host, port = service.addresses[0]
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /health HTTP/1.1\r\nHo")  # a request that never finishes
    closed = await asyncio.wait_for(reader.read(), timeout=5)
    assert closed == b""  # closed by the server after idle_timeout (1 s), unanswered
    writer.close()


async def test_reload_swaps_the_site_and_a_failed_reload_keeps_it(
    raw: RawClient, service: WellKnownService
) -> None:
    def broken():
        raise ValueError("config.yaml: domain x: m_server: nope")

    assert not service.reload(broken)
    status, _, _ = parse(await raw(request("GET", SERVER, "other.test")))
    assert status == 404  # other.test publishes no server file, as before
    from matrix_delegation._core.site import Domain, Site

    assert service.reload(lambda: (Site((Domain("other.test", "fed.other.test:8448"),)), None))
    status, _, body = parse(await raw(request("GET", SERVER, "other.test")))
    assert status == 200 and json.loads(body) == {"m.server": "fed.other.test:8448"}
    assert service.reloads == {"failed": 1, "ok": 1}


async def test_a_client_that_never_reads_is_dropped_at_the_idle_timeout(
    service: WellKnownService,
) -> None:
    await never_reading_client_is_dropped(service, KEEP_ALIVE)


async def test_a_client_that_reads_the_same_flood_is_served(service: WellKnownService) -> None:
    await reading_client_is_served(service, KEEP_ALIVE)


async def test_upgrade_is_ignored_with_exactly_one_answer(raw: RawClient) -> None:
    for upgrade in (
        ("Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQAAP__"),
        ("Upgrade: h2c",),  # without Connection: Upgrade it is no upgrade request at all
        ("Connection: upgrade", "Upgrade: websocket"),
    ):
        lines = [f"GET {SERVER} HTTP/1.1", "Host: example.test", *upgrade, "", ""]
        answer = await raw("\r\n".join(lines).encode())
        assert answer.count(b"HTTP/1.1 ") == 1, upgrade
        status, _, body = parse(answer)
        assert status == 200 and json.loads(body) == {"m.server": "matrix.example.test:443"}


async def test_a_second_host_header_is_400(raw: RawClient) -> None:
    for second in ("other.test", "example.test"):
        sent = request("GET", SERVER, "example.test", f"Host: {second}")
        status, _, body = parse(await raw(sent))
        assert status == 400 and json.loads(body)["errcode"] == "M_UNRECOGNIZED", second
    status, _, _ = parse(await raw(request("GET", SERVER, "example.test")))
    assert status == 200  # one Host is fine
