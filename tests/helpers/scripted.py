"""Drive the pure discovery core with a dictionary of answers: no network at all."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from matrix_delegation._core.ipfilter import IpPolicy
from matrix_delegation._core.model import (
    AddressAnswers,
    FetchWellKnown,
    HostAddresses,
    LookupAddresses,
    LookupSrv,
    Observation,
    Resolution,
    SrvLookup,
    SrvRecord,
    Step,
    WellKnownResult,
)
from matrix_delegation._core.names import ServerName
from matrix_delegation._core.overrides import ConnectTo
from matrix_delegation._core.plan import Policy, plan


@dataclass
class World:
    """Answers by question; anything not listed is 'not there' (404, NXDOMAIN)."""

    well_known: dict[str, WellKnownResult] = field(default_factory=dict)
    srv: dict[str, SrvLookup] = field(default_factory=dict)
    addresses: dict[str, HostAddresses] = field(default_factory=dict)

    def answer(self, step: Step) -> Observation:
        if isinstance(step, FetchWellKnown):
            return self.well_known.get(step.hostname) or missing(step.hostname)
        if isinstance(step, LookupSrv):
            return self.srv.get(step.name) or SrvLookup(step.name, ())
        assert isinstance(step, LookupAddresses)
        return AddressAnswers(
            tuple(self.addresses.get(h) or HostAddresses(h, ()) for h in step.hosts)
        )


def delegates(hostname: str, m_server: str) -> WellKnownResult:
    return WellKnownResult(hostname, 200, m_server, ServerName.parse(m_server), None)


def missing(hostname: str, status: int = 404) -> WellKnownResult:
    return WellKnownResult(hostname, status, None, None, f"HTTP {status}")


def srv(name: str, *records: str, error: str | None = None, stale: bool = False) -> SrvLookup:
    parsed = []
    for text in records:
        priority, weight, port, target = text.split()
        parsed.append(SrvRecord(int(priority), int(weight), int(port), target))
    return SrvLookup(name, tuple(parsed), error=error, stale=stale)


def addrs(
    host: str, *ips: str, aliases: tuple[str, ...] = (), error: str | None = None
) -> HostAddresses:
    return HostAddresses(host, ips, aliases, error)


LOOPBACK_OK = Policy(IpPolicy.default(["127.0.0.0/8", "::1/128"]))


def run_scripted(
    name: str,
    world: World,
    *,
    policy: Policy = LOOPBACK_OK,
    connect_to: tuple[str, ...] = (),
    rng: random.Random | None = None,
) -> tuple[Resolution, list[Step]]:
    """Resolve ``name`` in ``world``; returns the resolution and the questions asked."""
    if connect_to:
        policy = Policy(policy.ip_policy, tuple(ConnectTo.parse(c) for c in connect_to))
    steps = plan(ServerName.parse(name), policy, rng or random.Random(0))
    asked: list[Step] = []
    try:
        step = next(steps)
        while True:
            asked.append(step)
            step = steps.send(world.answer(step))
    except StopIteration as done:
        return done.value, asked
