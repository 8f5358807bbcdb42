"""Fixtures: the web checker in front of a sandbox, and an HTTP client for it.

Every ``/api/report`` answer of every app made by ``web_client`` is checked
against the federation tester's report (``tester_schema``), whoever asked
(the test client, another session, Chromium): a violation fails the test.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from matrix_delegation.resolver import ResolverConfig
from matrix_delegation.sandbox.world import Sandbox
from matrix_delegation.web.app import WebSettings, create_app

# The checker's scenario helpers (healthy, homeserver, ...) live next to its tests.
_CHECKER_TESTS = str(Path(__file__).parent.parent / "checker")
# The web tests' own helpers, for the suites that import this file (tests/hostile).
for _helpers in (_CHECKER_TESTS, str(Path(__file__).parent)):
    if _helpers not in sys.path:
        sys.path.insert(0, _helpers)

from tester_schema import ReportAnswers  # noqa: E402  (found through the path above)

#: Limits loose enough that only the tests about limits meet them.
TEST_SETTINGS: dict[str, Any] = {
    "check_timeout": 3.0,
    "deadline": 20.0,
    "rate_per_minute": 600.0,
    "burst": 1000,
    "max_running": 50,
    "cache_ttl": 60.0,
    "cache_size": 100,
}

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def tester_answers() -> ReportAnswers:
    """What the apps answered on /api/report (web_client checks it at teardown)."""
    return ReportAnswers()


@pytest.fixture
async def web_client(sandbox: Sandbox, tester_answers: ReportAnswers) -> AsyncIterator[MakeClient]:
    """Start the web app on 127.0.0.1:0 with the sandbox's resolver settings.

    Call it after the sandbox world is built: the resolver options (e.g. the
    ``--connect-to`` rules of hosts that could not bind 443) are read then.
    ``resolver_options`` replaces the sandbox's; other keywords are settings.
    """
    clients: list[TestClient[Any, Any]] = []

    async def make(
        resolver_options: dict[str, Any] | None = None, **settings: Any
    ) -> TestClient[Any, Any]:
        options = resolver_options or sandbox.resolver_options(timeout=3.0)
        config = ResolverConfig(**options)
        app = create_app(WebSettings(resolver_options=config, **{**TEST_SETTINGS, **settings}))
        app.on_response_prepare.append(tester_answers.record)
        client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
    assert tester_answers.violations == [], "an /api/report answer is not the tester's shape"
