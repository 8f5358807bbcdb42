"""/api/report read by a page written like the tester's own UI, in headless Chromium.

``tester_ui/`` is a stand-in for matrix-org/fed-tester-ui: served from another
origin (as the real one is), it fetches ``/api/report`` and walks the body the
way that UI does (``Object.keys`` over ``ConnectionReports`` and every check,
``DNSResult.SRVRecords`` only when not null, ``Hosts``, ``Version.name``), whatever
the status. Any exception or console message fails the test. Chromium is
driven as in test_browser.py and skipped the same way when missing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from test_browser import CHROMIUM, chromium, console
from test_page import NAME, broken, healthy, parse

from matrix_delegation.sandbox.world import Sandbox

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]
PAGE_DIR = Path(__file__).parent / "tester_ui"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium; CI does)",
)


@pytest.fixture
async def page_server() -> AsyncIterator[TestServer]:
    """The stand-in UI on its own loopback origin."""
    app = web.Application()
    app.router.add_static("/", PAGE_DIR)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def run_page(
    page_server: TestServer, api: str, profile: Path, server_name: str
) -> tuple[list[str], str, list[str]]:
    """What the stand-in UI rendered from ``api``: its lines, its errors, the console."""
    url = page_server.make_url("/index.html").with_query(api=api, server_name=server_name)
    # Virtual time waits for the page's fetch; the budget bounds everything else.
    dom, stderr = await chromium(profile, "--virtual-time-budget=30000", "--dump-dom", str(url))
    page = parse(dom, strict=False)
    assert page.one(id="state").text() == "done"
    lines = [item.text() for item in page.one(id="out").all("li")]
    return lines, page.one(id="errors").text(), console(stderr)


async def render(
    page_server: TestServer, client: TestClient[Any, Any], profile: Path, server_name: str
) -> list[str]:
    """The lines the stand-in UI rendered for ``server_name``; fails on any page error."""
    api = str(client.make_url("/api/report"))
    lines, errors, messages = await run_page(page_server, api, profile, server_name)
    assert errors == "" and messages == []
    return lines


async def test_healthy(
    sandbox: Sandbox, web_client: MakeClient, page_server: TestServer, tmp_path: Path
) -> None:
    await healthy(sandbox)
    lines = await render(page_server, await web_client(), tmp_path, NAME)
    assert lines[0] == "status 200" and "FederationOK true" in lines
    assert "Homeserver version: Sandbox 1.2.3" in lines and "Got 1 connection reports" in lines
    assert "no SRV lookup done" in lines  # the delegation has a port
    assert not any(line.startswith(("ERROR", "WARN", "Error:")) for line in lines)


async def test_broken(
    sandbox: Sandbox, web_client: MakeClient, page_server: TestServer, tmp_path: Path
) -> None:
    await broken(sandbox)
    lines = await render(page_server, await web_client(), tmp_path, NAME)
    assert lines[0] == "status 200" and "FederationOK false" in lines
    assert any(line.startswith("WARN: Could not find a valid certificate") for line in lines)
    assert any(line.startswith("checks ") and line.endswith(" failed") for line in lines)
    assert "No SRV records found" in lines and f"host {NAME}" in lines


async def test_invalid_name(
    sandbox: Sandbox, web_client: MakeClient, page_server: TestServer, tmp_path: Path
) -> None:
    lines = await render(page_server, await web_client(), tmp_path, "bad_name")
    assert lines[0] == "status 200" and "Got 0 connection reports" in lines
    assert "No SRV records found" in lines and "FederationOK false" in lines
    assert any(line.startswith("Error: Invalid server name") for line in lines)


async def test_rate_limited(
    sandbox: Sandbox, web_client: MakeClient, page_server: TestServer, tmp_path: Path
) -> None:
    client = await web_client(rate_per_minute=1, burst=1)
    spent = await client.get("/api/federation-ok", params={"server_name": "first.test"})
    assert spent.status == 200  # the only check this client may start for a minute
    lines = await render(page_server, client, tmp_path, "second.test")
    assert lines[0] == "status 429" and "FederationOK false" in lines
    assert any(line.startswith("Error: too many checks") for line in lines)


async def test_the_page_fails_on_a_body_that_is_not_a_report(
    sandbox: Sandbox, web_client: MakeClient, page_server: TestServer, tmp_path: Path
) -> None:
    """The negative twin: an error body (what /api/report used to send) breaks the page."""
    client = await web_client()
    api = str(client.make_url("/api/v1/check"))  # still answers 400 {"errcode", "error"}
    lines, errors, messages = await run_page(page_server, api, tmp_path, "bad_name")
    assert "Cannot convert undefined or null to object" in errors
    assert messages and lines == ["status 400"]  # and nothing after it
