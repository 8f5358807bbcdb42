"""Hostile servers: the web tests' fixture, and the checker's scenario helpers on the path."""

from __future__ import annotations

# Importing the web tests' conftest also puts tests/checker (test_problem_codes) on the path.
from web.conftest import web_client as web_client
