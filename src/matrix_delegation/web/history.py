"""``/history/NAME``: what `watch` recorded for a name, when `web` is given ``--database``.

Server-rendered like the checker page (:mod:`.page`), no script: the verdict of
the last 7 days as an inline SVG (one bar per hour), the share of good checks
over 24 h, 7 d and 30 d, and the latest events. Every query is bounded: the
uptimes are counted by the database, the bars read at most ``_MAX_POINTS``
results and the events list at most ``_MAX_EVENTS``.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from .._core.names import ServerName
from .._exceptions import InvalidServerName
from ..watch.database import open_database, reason
from ..watch.schema import check_results, events
from .page import document
from .page_parts import Html, el, section

__all__ = ["History", "add_history", "render_history"]

HOUR, DAY = 3600.0, 86400.0
WINDOWS = (("24 h", DAY), ("7 d", 7 * DAY), ("30 d", 30 * DAY))
BARS = 7 * 24  # one an hour over the last 7 days
_MAX_POINTS = 50_000  # results read for the bars (a check a minute for 7 days is 10,080)
_MAX_EVENTS = 50
_MAX_NAME = 255
_ENGINE = web.AppKey("history_engine", AsyncEngine)


@dataclass(frozen=True, slots=True)
class History:
    """What the page shows of one name.

    Attributes:
        uptime: Per window label: (good checks, checks) in it.
        bars: Per hour of the last 7 days, oldest first: (good, checks) in that hour.
        events: The latest events, newest first: (at, kind, summary).
    """

    server_name: str
    now: float
    uptime: dict[str, tuple[int, int]]
    bars: list[tuple[int, int]]
    events: list[tuple[float, str, str]]


def add_history(app: web.Application, database: str) -> None:
    """Serve ``/history/{name}`` from ``database`` (opened, and migrated, at start-up)."""

    async def opened(app: web.Application) -> None:
        app[_ENGINE] = await open_database(database)  # unreachable: one line, exit 2

    async def closed(app: web.Application) -> None:
        if _ENGINE in app:
            await app[_ENGINE].dispose()

    app.on_startup.append(opened)
    app.on_cleanup.append(closed)
    app.router.add_get("/history/{name}", _page)


async def _page(request: web.Request) -> web.Response:
    name = request.match_info["name"].strip().lower()
    if not _valid(name):
        return _answer(_message("Not a Matrix server name (hostname[:port])."), 400)
    try:
        found = await read_history(request.app[_ENGINE], name, time.time())
    except (OSError, SQLAlchemyError) as exc:
        request.app.logger.warning("history of %s: the database did not answer: %s",
                                   name, reason(exc))  # fmt: skip
        return _answer(_message("The history cannot be read right now; try again later."), 503)
    if found is None:
        return _answer(_message(f"{name} is not watched here."), 404)
    return _answer(render_history(found), 200)


def _valid(name: str) -> bool:
    if len(name) > _MAX_NAME:
        return False
    try:
        ServerName.parse(name)
    except InvalidServerName:
        return False
    return True


def _answer(page: str, status: int) -> web.Response:
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")


def _message(text: str) -> str:
    banner = el("div", text, class_="banner", role="alert")
    return document("History · Matrix federation checker", el("main", banner, id="main"))


async def read_history(engine: AsyncEngine, name: str, now: float) -> History | None:
    """The history of ``name`` up to ``now``; None when nothing was ever recorded for it."""
    of_name = check_results.c.server_name == name
    good = sa.func.coalesce(sa.func.sum(sa.case((check_results.c.federation_ok, 1), else_=0)), 0)
    async with engine.connect() as connection:
        uptime = {}
        for label, seconds in WINDOWS:
            since = check_results.c.checked_at >= now - seconds
            row = (await connection.execute(
                sa.select(good, sa.func.count()).where(of_name, since)
            )).one()  # fmt: skip
            uptime[label] = (int(row[0]), int(row[1]))
        points = (await connection.execute(
            sa.select(check_results.c.checked_at, check_results.c.federation_ok)
            .where(of_name, check_results.c.checked_at >= now - BARS * HOUR)
            .order_by(check_results.c.checked_at.desc())
            .limit(_MAX_POINTS)
        )).all()  # fmt: skip
        latest = (await connection.execute(
            sa.select(events.c.at, events.c.kind, events.c.summary)
            .where(events.c.server_name == name)
            .order_by(events.c.at.desc())
            .limit(_MAX_EVENTS)
        )).all()  # fmt: skip
        ever = uptime["30 d"][1] or latest or (await connection.execute(
            sa.select(check_results.c.id).where(of_name).limit(1)
        )).first()  # fmt: skip
    if not ever:
        return None
    return History(name, now, uptime, _bars(points, now),
                   [(row.at, row.kind, row.summary) for row in latest])  # fmt: skip


def _bars(points: Any, now: float) -> list[tuple[int, int]]:
    bars = [(0, 0)] * BARS
    start = now - BARS * HOUR
    for checked_at, ok in points:
        index = min(BARS - 1, max(0, int((checked_at - start) // HOUR)))
        good, total = bars[index]
        bars[index] = (good + bool(ok), total + 1)
    return bars


# --- the page -------------------------------------------------------------------------------

_WIDTH, _HEIGHT = 4, 24  # each bar, in SVG units
_COLOURS = {"ok": "#2e7d32", "mixed": "#f9a825", "fails": "#c62828", "none": "#bdbdbd"}


def render_history(found: History) -> str:
    """The whole page for one name."""
    main = el(
        "main",
        el("h2", "History of ", el("code", found.server_name)),
        section("uptime", "Good checks", _uptime(found)),
        section("verdicts", "Verdict, hour by hour, over the last 7 days", _chart(found)),
        section("events", "Events", _events(found)),
        el("p", el("a", "Check it now", href=f"/?server_name={found.server_name}")),
        id="main",
    )
    return document(f"{found.server_name}: history · Matrix federation checker", main)


def _uptime(found: History) -> Html:
    cells = []
    for label, (good, total) in found.uptime.items():
        shown = f"{100 * good / total:.2f} %" if total else "no checks"
        cells.append(el("tr", el("th", label, scope="row"), el("td", shown),
                        el("td", f"{good} of {total} checks")))  # fmt: skip
    return el("div", el("table", el("tbody", *cells)), class_="table-wrap")


def _chart(found: History) -> Html:
    bars = []
    for index, (good, total) in enumerate(found.bars):
        kind = "none" if not total else (
            "ok" if good == total else ("fails" if good == 0 else "mixed"))  # fmt: skip
        hours_ago = BARS - index
        label = f"{hours_ago} h ago: {good} of {total} checks good" if total else (
            f"{hours_ago} h ago: no check")  # fmt: skip
        shape = {"width": str(_WIDTH - 1), "height": str(_HEIGHT), "fill": _COLOURS[kind]}
        bars.append(el("rect", el("title", label), x=str(index * _WIDTH), y="0", **shape))
    bad_hours = sum(1 for good, total in found.bars if total and good < total)
    summary = f"Hourly verdicts over 7 days: {bad_hours} hours with failed checks"
    svg = el("svg", el("title", summary), *bars, xmlns="http://www.w3.org/2000/svg",
             viewBox=f"0 0 {BARS * _WIDTH} {_HEIGHT}", role="img", width="100%",
             preserveAspectRatio="none", height=str(_HEIGHT * 2))  # fmt: skip
    legend = "Green: every check good; amber: some failed; red: all failed; grey: none."
    return Html(svg + el("p", legend, class_="hint"))


def _events(found: History) -> Html:
    if not found.events:
        return el("p", "None recorded.")
    items = [
        el("li", el("time", _iso(at), datetime=_iso(at)), " ", el("strong", kind), ": ", summary)
        for at, kind, summary in found.events
    ]
    return el("ul", *items)


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
