"""The line protocol between ``conformance.py`` and one implementation's driver.

The driver is a child process. It reads one JSON line from stdin (the
configuration: the sandbox's DNS server and CA, and the scenarios to run),
then writes one JSON line per scenario to stdout. A scenario with a
``between`` step is resolved twice: after the first resolution the driver
writes ``{"event": "between", "id": ...}`` and waits for any line on stdin,
which the parent sends once it has changed the sandbox.
"""

from __future__ import annotations

import ipaddress
import json
import sys
from typing import Any, TypedDict

__all__ = [
    "Config",
    "Outcome",
    "endpoint_text",
    "failed",
    "is_ip",
    "read_config",
    "report",
    "wait_between",
]


class Config(TypedDict):
    """What a driver is told: where the sandbox is and what to resolve."""

    nameserver: list[Any]  # [ip, port]
    ca_file: str
    allow: list[str]  # CIDR ranges let through the IP blocklist
    connect_to: list[str]  # HOST1:PORT1:HOST2:PORT2 rules (empty when 443 is bindable)
    timeout: float
    scenarios: list[dict[str, Any]]


class Outcome(TypedDict, total=False):
    """What one implementation made of one server name."""

    route: str | None
    endpoint: str | None
    host: str | None
    tls: str | None
    error: str | None
    detail: str


def read_config() -> Config:
    """The configuration line sent by the parent."""
    config: Config = json.loads(sys.stdin.readline())
    return config


def report(scenario_id: str, outcome: Outcome) -> None:
    """Send one scenario's outcome to the parent."""
    print(json.dumps({"id": scenario_id, **outcome}), flush=True)


def wait_between(scenario_id: str) -> None:
    """Tell the parent the first resolution is done; block until it has changed the world."""
    print(json.dumps({"event": "between", "id": scenario_id}), flush=True)
    sys.stdin.readline()


def endpoint_text(ip: str, port: int) -> str:
    """``ip:port``, with an IPv6 address in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def failed(code: str, detail: str) -> Outcome:
    """An outcome without an endpoint."""
    return {"route": None, "endpoint": None, "host": None, "tls": None, "error": code,
            "detail": detail[:300]}  # fmt: skip


def is_ip(text: str) -> bool:
    """Whether ``text`` is an IPv4 or IPv6 address (no brackets)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
