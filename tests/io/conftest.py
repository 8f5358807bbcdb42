"""Fixtures for the sandbox I/O tests: real loopback servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from matrix_delegation.sandbox import DnsServer, SandboxCA, Zone


@pytest.fixture(scope="session")
def ca() -> SandboxCA:
    """One CA for the session: minting it is the slow part."""
    return SandboxCA()


@pytest.fixture
def zone() -> Zone:
    """An empty zone for one test."""
    return Zone()


@pytest.fixture
async def dns_server(zone: Zone) -> AsyncIterator[DnsServer]:
    """A DNS server on 127.0.0.1 serving ``zone``."""
    async with DnsServer(zone) as server:
        yield server
