"""Fixtures of the watch tests: the database URLs (SQLite, and a real PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from postgres import Postgres, find_program
from watching import Receiver

from matrix_delegation.watch.database import open_database
from matrix_delegation.watch.store import Store


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


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    await found.start()
    yield found
    await found.stop()


@pytest.fixture
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database URL: SQLite, unless the test is parametrized with "postgresql"."""
    if getattr(request, "param", "sqlite") == "postgresql":
        server: Postgres = request.getfixturevalue("postgres")
        return await server.new_database()
    return f"sqlite:///{tmp_path / 'watch.db'}"


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    engine = await open_database(database)
    yield Store(engine, "test")
    await engine.dispose()
