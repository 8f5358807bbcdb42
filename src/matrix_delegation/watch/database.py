"""Open the ``watch`` database: the async engine, migrated to the newest schema on start.

SQLite runs with one connection (a single writer; WAL lets ``history`` read
meanwhile); PostgreSQL with a small pool, and an advisory lock so that
several processes starting at once migrate one after the other.
"""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .._exceptions import ConfigurationError
from .dburl import async_url, shown, sqlite_directory

__all__ = ["DatabaseUnavailable", "open_database", "reason"]

MIGRATIONS = pathlib.Path(__file__).parent / "migrations"
#: How long opening and migrating may take before the database counts as unreachable.
OPEN_TIMEOUT = 15.0
_SQLITE_BUSY_MS = 30_000
_MIGRATION_LOCK = 0x6D64_7761_7463_68  # any constant shared by every watch process


class DatabaseUnavailable(ConfigurationError):
    """The database cannot be opened or migrated (exit status 2, one line)."""


async def open_database(text_url: str, *, timeout: float = OPEN_TIMEOUT) -> AsyncEngine:
    """An engine on ``text_url`` with the schema migrated to the newest revision.

    Raises:
        ConfigurationError: the URL is not one we take.
        DatabaseUnavailable: the database cannot be reached, opened or migrated.
    """
    url = async_url(text_url)
    named = shown(url.set(drivername=url.get_backend_name()))  # as the user wrote it
    _make_directory(url, named)
    engine = _engine(url)
    try:
        async with asyncio.timeout(timeout), engine.begin() as connection:
            await connection.run_sync(_upgrade)
    except (OSError, TimeoutError, SQLAlchemyError) as exc:
        await engine.dispose()
        raise DatabaseUnavailable(f"cannot open the database {named}: {reason(exc)}") from None
    return engine


def reason(exc: BaseException) -> str:
    """What went wrong, in one line, without driver class names."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    cause: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else "it failed"


def _make_directory(url: URL, named: str) -> None:
    directory = sqlite_directory(url)
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot open the database {named}: cannot create {directory}: {exc.strerror}"
        ) from None


def _engine(url: URL) -> AsyncEngine:
    if url.drivername.startswith("sqlite"):
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _upgrade(connection: Connection) -> None:
    """Alembic's upgrade to ``head`` on this connection (inside its transaction)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
