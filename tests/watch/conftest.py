"""Fixtures of the watch tests: the database URLs (SQLite, and a real PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from postgres import Postgres, find_program


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL server for the session; each test makes its own database in it."""
    if find_program("initdb") is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    server = Postgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()
