"""A webhook goes through the network edge: the IP policy applies to it as to every fetch."""

from __future__ import annotations

from aiohttp import web

from matrix_delegation._io.config import NetworkConfig
from matrix_delegation._io.network import Network
from matrix_delegation.watch.webhook import Webhook, send_webhook, sign


async def _receiver() -> tuple[web.AppRunner, str, list[bytes]]:
    bodies: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/", bodies


async def test_a_loopback_webhook_is_refused_unless_its_range_is_allowed() -> None:
    runner, url, bodies = await _receiver()
    try:
        async with Network(NetworkConfig(timeout=5)) as network:
            refused = await send_webhook(network, Webhook(url, b"k"), b"{}", 5)
        allowed_config = NetworkConfig(timeout=5, allow_ip_ranges=("127.0.0.0/8",))
        async with Network(allowed_config) as network:
            sent = await send_webhook(network, Webhook(url, b"k"), b"{}", 5)
    finally:
        await runner.cleanup()
    assert refused is not None and "127.0.0.1" in refused and "Traceback" not in refused
    assert sent is None and bodies == [b"{}"]


async def test_a_webhook_that_is_not_listening_is_an_error_not_an_exception() -> None:
    config = NetworkConfig(timeout=5, allow_ip_ranges=("127.0.0.0/8",))
    async with Network(config) as network:
        error = await send_webhook(network, Webhook("http://127.0.0.1:9/", b"k"), b"{}", 5)
        scheme = await network.post("ftp://127.0.0.1/", b"{}", headers={})
    assert error is not None and "connect" in error
    assert scheme.error == "only http and https URLs are used"


def test_the_signature_is_the_hmac_of_the_raw_body() -> None:
    # RFC 4231 test case 2
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign(b"Jefe", b"what do ya want for nothing?") == "sha256=" + expected
