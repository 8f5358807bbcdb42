"""``/history/NAME`` when `web` is given the `watch` database: uptime, the SVG, the events,
no script; a name never watched is a 404, an invalid one a 400, no database no page."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from matrix_delegation.watch.database import open_database
from matrix_delegation.watch.schema import check_results, events
from matrix_delegation.web.app import create_app
from matrix_delegation.web.settings import WebSettings

NAME = "example.test"
HOSTILE = '<script>alert("x")</script>'


async def fill(url: str, now: float) -> None:
    """Checks every 10 minutes for 2 days: the last 6 h failing; two events."""
    engine = await open_database(url)
    rows = [
        {"server_name": NAME, "checked_at": now - age, "federation_ok": age >= 6 * 3600,
         "endpoints": [], "problems": [] if age >= 6 * 3600 else ["connection-refused"],
         "duration": 0.1, "checked_by": "test"}
        for age in range(0, 2 * 86400, 600)
    ]  # fmt: skip
    async with engine.begin() as connection:
        await connection.execute(sa.insert(check_results), rows)
        await connection.execute(sa.insert(events), [
            {"id": "a" * 32, "server_name": NAME, "kind": "federation-down", "at": now - 5 * 3600,
             "summary": f"{NAME}: federation fails {HOSTILE}"},
            {"id": "b" * 32, "server_name": NAME, "kind": "certificate-changed",
             "at": now - 86400, "summary": f"{NAME}: certificate changed"},
        ])  # fmt: skip
    await engine.dispose()


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    url = f"sqlite:///{tmp_path / 'watch.db'}"
    await fill(url, time.time())
    found: TestClient[Any, Any] = TestClient(
        TestServer(create_app(WebSettings(database=url)), host="127.0.0.1")
    )
    await found.start_server()
    yield found
    await found.close()


async def test_the_history_of_a_watched_name(client: TestClient[Any, Any]) -> None:
    answer = await client.get(f"/history/{NAME}")
    page = await answer.text()
    assert answer.status == 200 and answer.content_type == "text/html"
    assert "Content-Security-Policy" in answer.headers
    assert "<script" not in page and "&lt;script&gt;" in page  # the summary, escaped
    # 24 h: 144 checks, the last 6 h (36) failing; 7 d and 30 d: all 288 of the two days.
    assert "75.00 %" in page and "108 of 144 checks" in page
    assert "87.50 %" in page and "252 of 288 checks" in page
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert svg.count("<rect") == 7 * 24
    assert svg.count('fill="#c62828"') == 6  # six hours all failed (give or take an edge)
    assert 'fill="#2e7d32"' in svg and 'fill="#bdbdbd"' in svg  # good hours; hours unwatched
    assert page.index("federation-down") < page.index("certificate-changed")  # newest first


async def test_a_name_never_watched_and_an_invalid_name(client: TestClient[Any, Any]) -> None:
    unknown = await client.get("/history/other.test")
    assert unknown.status == 404 and "is not watched here" in await unknown.text()
    invalid = await client.get("/history/bad_name!")
    assert invalid.status == 400 and "<script" not in await invalid.text()
    long = await client.get("/history/" + "a" * 300 + ".test")
    assert long.status == 400


async def test_no_database_no_history_pages() -> None:
    async with TestClient(TestServer(create_app(WebSettings()), host="127.0.0.1")) as plain:
        assert (await plain.get(f"/history/{NAME}")).status == 404
