"""The ``--database`` URL: SQLite by default in the user's state directory, or PostgreSQL.

The user writes the plain URL (``sqlite:///PATH``, ``postgresql://...``); the
engine gets the async driver of each (aiosqlite, asyncpg).
"""

from __future__ import annotations

import os
import pathlib

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .._exceptions import ConfigurationError

__all__ = ["async_url", "default_database", "shown"]

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def default_database() -> str:
    """``sqlite:///`` in ``$XDG_STATE_HOME/matrix-delegation`` (or ``~/.local/state/...``)."""
    state = os.environ.get("XDG_STATE_HOME") or str(pathlib.Path.home() / ".local" / "state")
    return f"sqlite:///{pathlib.Path(state) / 'matrix-delegation' / 'watch.db'}"


def async_url(text: str) -> URL:
    """The URL with its async driver.

    Raises:
        ConfigurationError: not a SQLite or PostgreSQL URL.
    """
    try:
        url = make_url(text)
    except ArgumentError:
        raise ConfigurationError(f"invalid --database {text!r}: expected sqlite:///PATH "
                                 "or postgresql://USER@HOST/DB") from None  # fmt: skip
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise ConfigurationError(
            f"unsupported --database {shown(url)}: only sqlite:/// and postgresql:// are"
        )
    if driver.startswith("sqlite") and not url.database:
        raise ConfigurationError("--database sqlite:/// needs a file path (sqlite:///PATH)")
    return url.set(drivername=driver)


def shown(url: URL) -> str:
    """The URL for a message: without its password."""
    return url.render_as_string(hide_password=True)


def sqlite_directory(url: URL) -> pathlib.Path | None:
    """The directory of a SQLite file, to create when missing (None for PostgreSQL)."""
    if not url.drivername.startswith("sqlite") or not url.database:
        return None
    if url.database == ":memory:":
        return None
    return pathlib.Path(url.database).expanduser().parent
