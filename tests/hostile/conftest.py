"""Fixtures: the hostile host (the only allowed address), the victims it points at, and
the web tests' client (importing it also puts tests/checker's scenario helpers on the path)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hostile_world import NAME, Hostile, Victim, Victims

from matrix_delegation.sandbox.world import Sandbox
from web.conftest import tester_answers as tester_answers
from web.conftest import web_client as web_client


@pytest.fixture
async def victims() -> AsyncIterator[Victims]:
    found = Victims(Victim("127.0.0.1"), Victim("::1"))
    await found.v4.start()
    await found.v6.start()
    yield found
    await found.v4.stop()
    await found.v6.stop()


@pytest.fixture
async def hostile(sandbox: Sandbox) -> Hostile:
    """An HTTPS host for hostile.test serving 404s until a test sets its files."""
    host = await sandbox.https_host([NAME])
    return Hostile(host, sandbox)
