"""Fixtures shared by every test level."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from matrix_delegation._io.dns_choice import DNS_BACKEND_ENV, DNS_BACKENDS
from matrix_delegation.sandbox.world import Sandbox

# Tests that ask DNS run once per DNS backend: every Resolver they build (and
# every command line they start) picks its default backend from the
# environment, so a difference between the backends is a failing test.
_ASKS_DNS = frozenset({"sandbox", "dns_server"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--dns-backends",
        default=",".join(DNS_BACKENDS),
        help="comma-separated DNS backends to run the DNS tests with (default: all)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if getattr(metafunc.module, "COMPARES_DNS_BACKENDS", False):
        return
    if "dns_backend" in metafunc.fixturenames and _ASKS_DNS & set(metafunc.fixturenames):
        chosen = metafunc.config.getoption("--dns-backends").split(",")
        if getattr(metafunc.module, "ONE_DNS_BACKEND", False):
            chosen = chosen[:1]  # the module's servers keep state between runs of a test
        metafunc.parametrize("dns_backend", [b.strip() for b in chosen], indirect=True)


@pytest.fixture(autouse=True)
def dns_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """The DNS backend of this run of the test (None: the test asks no DNS)."""
    name: str | None = getattr(request, "param", None)
    if name is not None:
        monkeypatch.setenv(DNS_BACKEND_ENV, name)
    return name


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
