"""The checker page in a real browser: Debian's headless Chromium against the app on loopback.

The app (``create_app``) runs on 127.0.0.1 in front of a sandbox world; Chromium
loads ``/?server_name=...`` (what the form's GET submits), and the test reads
the rendered DOM (``--dump-dom``) for the verdict, the route in the diagram
and the problems, and checks the console for Content-Security-Policy
violations and failed loads. Screenshots (desktop and phone width) are saved
under ``artifacts/`` at the repository root. Chromium is told to resolve no
host name, so nothing but the loopback app can be reached.
"""

from __future__ import annotations

import asyncio
import os
import signal
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from test_page import NAME, Node, broken, diagram_boxes, healthy, parse

from matrix_delegation.sandbox.world import Sandbox

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[2] / "artifacts"
TIMEOUT = 60.0
MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]  # the web_client fixture

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium; CI does)",
)

FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--no-proxy-server",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--enable-logging=stderr",
    "--v=0",
)


async def chromium(profile: Path, *args: str) -> tuple[str, str]:
    """Run Chromium once to completion; its stdout and stderr. Killed after TIMEOUT."""
    process = await asyncio.create_subprocess_exec(
        str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its helpers share our child's process group
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    except TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)  # the group of the process we started
        await process.wait()
        raise
    stderr = err.decode(errors="replace")
    assert process.returncode == 0, stderr[-2000:]
    return out.decode(errors="replace"), stderr


def console(stderr: str) -> list[str]:
    """The page's console messages (CSP violations, failed loads) from Chromium's log."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


async def load(client: TestClient[Any, Any], profile: Path, server_name: str | None) -> Node:
    """The DOM Chromium renders for the page, as the form would submit ``server_name``."""
    url = client.make_url("/")
    if server_name is not None:
        url = url.with_query(server_name=server_name)
    assert url.host is not None and url.host.startswith("127.")
    dom, stderr = await chromium(profile, "--dump-dom", str(url))
    assert console(stderr) == []
    return parse(dom, strict=False)


async def screenshot(
    client: TestClient[Any, Any], profile: Path, server_name: str, name: str, size: str
) -> Path:
    """A PNG of the page at ``size`` (``WIDTHxHEIGHT``), saved as artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    target.unlink(missing_ok=True)
    url = client.make_url("/").with_query(server_name=server_name)
    width, height = (int(n) for n in size.split("x"))
    _, stderr = await chromium(
        profile, f"--window-size={width},{height}", f"--screenshot={target}", str(url)
    )
    assert console(stderr) == []
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert struct.unpack(">II", data[16:24]) == (width, height)
    return target


async def static_ok(client: TestClient[Any, Any]) -> None:
    """The page's own assets are served by the app (no CDN)."""
    for path, kind in (("/static/style.css", "text/css"), ("/static/favicon.svg", "image/svg")):
        response = await client.get(path)
        assert response.status == 200 and response.content_type.startswith(kind), path


def problem_codes(page: Node) -> list[str]:
    return [item.attrs["data-code"] for item in page.one(id="problems").all("li", class_="problem")]


async def test_form_and_healthy_server(
    sandbox: Sandbox, web_client: MakeClient, tmp_path: Path
) -> None:
    await healthy(sandbox)
    client = await web_client()
    await static_ok(client)
    empty = await load(client, tmp_path, None)
    form = empty.one("form")
    assert (form.attrs["method"], form.attrs["action"]) == ("get", "/")
    assert form.one("input").attrs["name"] == "server_name" and not empty.all(id="verdict")

    page = await load(client, tmp_path, NAME)
    assert page.one(id="verdict").text() == "Federation OK"
    assert page.one("input", name="server_name").attrs["value"] == NAME
    assert problem_codes(page) == ["fallback-route-fails"]  # an info, not an error
    [well_known] = diagram_boxes(page, ".well-known")
    assert "taken" in well_known.classes() and "taken" in well_known.one(class_="state").text()
    [endpoint] = diagram_boxes(page, "host:port")
    assert endpoint.classes() == {"box", "taken"}
    assert "matrix.example.test:8448" in endpoint.text() and "checks OK" in endpoint.text()
    assert "OK" in page.one(id="endpoint-1-title").text()

    await screenshot(client, tmp_path, NAME, "web-healthy", "1200x2000")


async def test_broken_server(sandbox: Sandbox, web_client: MakeClient, tmp_path: Path) -> None:
    await broken(sandbox)
    client = await web_client()
    page = await load(client, tmp_path, NAME)
    assert page.one(id="verdict").text() == "Federation fails"
    codes = problem_codes(page)
    assert codes[0] == "tls-cert-wrong-name" and "well-known-unreachable" in codes
    fix = page.one("li", data_code="tls-cert-wrong-name").one(class_="fix").text()
    assert fix.startswith("Fix: Get a certificate")
    [well_known] = diagram_boxes(page, ".well-known")
    assert "failed" in well_known.classes() and "failed" in well_known.one(class_="state").text()
    [endpoint] = diagram_boxes(page, "host:port")
    assert endpoint.classes() == {"box", "taken", "failed"}
    assert "example.test:8448" in endpoint.text() and "checks failed" in endpoint.text()
    assert "FAILS" in page.one(id="endpoint-1-title").text()
    # The server's hostile name is shown as text, never run.
    assert not page.all("script")
    assert "<script>alert(1)</script>" in page.one(id="endpoint-1").text()

    await screenshot(client, tmp_path, NAME, "web-broken", "1200x2000")
    await screenshot(client, tmp_path, NAME, "web-broken-phone", "390x2000")
