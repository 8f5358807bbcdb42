"""``matrix-delegation history``: what ``watch`` recorded for a name, as text or JSON Lines."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from .._core.names import ServerName
from ..watch.database import open_database
from ..watch.dburl import default_database
from ..watch.store import Store
from .common import EXIT_OK, Commands, checked
from .common import run as run_loop

__all__ = ["add_parser", "parse_since", "run"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_AGO = re.compile(r"(\d{1,9})([smhd])")


def parse_since(text: str, now: float | None = None) -> float:
    """``30m``, ``24h``, ``7d`` (that long ago) or an ISO 8601 date or time (UTC if no zone)."""
    moment = time.time() if now is None else now
    if match := _AGO.fullmatch(text.strip()):
        return moment - int(match[1]) * _UNITS[match[2]]
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a span (30m, 24h, 7d) nor an ISO 8601 time"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def add_parser(commands: Commands, help: str) -> None:
    """Add ``history`` and its options."""
    parser = commands.add_parser(
        "history", help=help, description="The check results `watch` recorded for a name."
    )
    parser.add_argument("name", metavar="NAME", help="the server name")
    parser.add_argument(
        "--since", type=checked(parse_since, "since"), default=0.0, metavar="WHEN",
        help="only results since WHEN: 30m, 24h, 7d or an ISO 8601 time (default: all kept)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="JSON Lines (docs/watch.md)")
    parser.add_argument(
        "--database", default=default_database(), metavar="URL",
        help="the watch database (default: watch.db in the user's state directory)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Print the history of one name, oldest first."""
    ServerName.parse(args.name)  # a bad name is a usage error
    return run_loop(_history(args))


async def _history(args: argparse.Namespace) -> int:
    engine = await open_database(args.database)
    try:
        rows = await Store(engine, "history").history(args.name, args.since)
    finally:
        await engine.dispose()
    for row in rows:
        line = history_json(row._mapping)
        text = json.dumps(line) if args.json else _text(line, row.duration)
        sys.stdout.write(text + "\n")
    return EXIT_OK


def _iso(instant: float | None) -> str | None:
    if instant is None:
        return None
    return datetime.fromtimestamp(instant, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def history_json(row: Any) -> dict[str, Any]:
    """One check result as a line of ``history --json``."""
    return {
        "server_name": row["server_name"],
        "checked_at": _iso(row["checked_at"]),
        "federation_ok": bool(row["federation_ok"]),
        "route": row["route"],
        "problems": list(row["problems"] or ()),
        "cert_expires_at": _iso(row["cert_expires_at"]),
    }


def _text(line: dict[str, Any], duration: float) -> str:
    verdict = "OK  " if line["federation_ok"] else "FAIL"
    parts = [line["checked_at"], verdict, line["route"] or "no route", f"{duration:.1f} s"]
    if line["problems"]:
        parts.append(" ".join(line["problems"]))
    return "  ".join(parts)
