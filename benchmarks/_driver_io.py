"""What every implementation's driver shares: its interface, its outcome, its child protocol.

A driver (``_ours_driver``, ``_synapse_driver``, ``_resolvematrix_driver``) is a module
with a class ``Driver`` of the same small interface, used by ``conformance.py`` and by
``compare.py``'s workers alike:

- ``Driver(target)``: one resolver of that implementation, with empty caches, pointed
  at the sandbox's DNS server and trusting only its CA (a :class:`Target`);
- ``await driver.resolve(server_name)``: an :class:`Outcome` (never raises);
- ``driver.advance(seconds)``: move the clock its SRV cache reads forward;
- ``await driver.close()``.

Run as a script, a driver is ``conformance.py``'s child process (:func:`run_scenarios`):
it reads one JSON line from stdin (a :class:`Config`: the target and the scenarios),
then writes one JSON line per scenario to stdout, with a fresh ``Driver`` per scenario.
A scenario with a ``between`` step is resolved twice: after the first resolution the
driver writes ``{"event": "between", "id": ...}`` and waits for any line on stdin,
which the parent sends once it has changed the sandbox.
"""

from __future__ import annotations

import ipaddress
import json
import sys
import time
from collections.abc import Callable
from typing import Any, NotRequired, Protocol, TypedDict

__all__ = [
    "Config",
    "Driver",
    "Outcome",
    "SkewedClock",
    "Target",
    "endpoint_text",
    "failed",
    "is_ip",
    "read_config",
    "run_scenarios",
]


class Target(TypedDict):
    """Where the sandbox is: what every driver is built from."""

    nameserver: list[Any]  # [ip, port]
    ca_file: str
    allow: list[str]  # CIDR ranges let through the IP blocklist
    connect_to: list[str]  # HOST1:PORT1:HOST2:PORT2 rules (empty when 443 is bindable)
    timeout: float
    peer: NotRequired[str]  # ours only: resolve as that implementation (docs/peers.md)


class Config(Target):
    """What a conformance child is told: the target, and the scenarios to resolve."""

    scenarios: list[dict[str, Any]]


class Outcome(TypedDict, total=False):
    """What one implementation made of one server name."""

    route: str | None
    endpoint: str | None
    endpoints: list[str]  # every endpoint, in the order tried (when the driver says)
    host: str | None
    tls: str | None
    error: str | None
    detail: str


class Driver(Protocol):
    """One implementation's resolver, pointed at the sandbox."""

    async def resolve(self, server_name: str) -> Outcome: ...

    def advance(self, seconds: float) -> None: ...

    async def close(self) -> None: ...


class SkewedClock:
    """The wall clock, plus an offset a scenario can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def read_config() -> Config:
    """The configuration line sent by the parent."""
    config: Config = json.loads(sys.stdin.readline())
    return config


def _report(scenario_id: str, outcome: Outcome) -> None:
    print(json.dumps({"id": scenario_id, **outcome}), flush=True)


def _wait_between(scenario_id: str) -> None:
    """Tell the parent the first resolution is done; block until it has changed the world."""
    print(json.dumps({"event": "between", "id": scenario_id}), flush=True)
    sys.stdin.readline()


async def run_scenarios(config: Config, driver_for: Callable[[Target], Driver]) -> None:
    """Resolve every scenario with a fresh driver (fresh caches), reporting each outcome."""
    for scenario in config["scenarios"]:
        driver = driver_for(config)
        try:
            outcome = await driver.resolve(scenario["server_name"])
            between = scenario.get("between")
            if between:
                _wait_between(scenario["id"])
                driver.advance(float(between.get("advance", 0)))
                outcome = await driver.resolve(scenario["server_name"])
        finally:
            await driver.close()
        _report(scenario["id"], outcome)


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
