"""Fixtures shared by every test level."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from matrix_delegation.sandbox.world import Sandbox


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No proxy or trust-store settings from the machine leak into a test."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """A fresh sandbox: DNS server, CA and room for HTTPS hosts on loopback."""
    async with Sandbox() as world:
        yield world
