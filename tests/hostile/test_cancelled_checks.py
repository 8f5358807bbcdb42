"""Checks cancelled at their deadline leave no socket open.

The homeserver accepts TCP and TLS, then never answers: every probe is
waiting for a response when the deadline cancels its check. Counting this
process's open file descriptors (the listener's side included, which closes
when it sees the checker's side go) shows whether anything is left behind.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from helpers.listeners import Listeners
from matrix_delegation import Resolver
from matrix_delegation.checker.check import check_server
from matrix_delegation.sandbox.world import Sandbox

NAME = "stall.example.test"
CHECKS = 20


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


async def back_to(baseline: int, within: float = 5.0) -> int:
    """Poll (bounded) until the count of descriptors is down to ``baseline``; the last count."""
    deadline = time.monotonic() + within
    count = open_descriptors()
    while count > baseline and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        count = open_descriptors()
    return count


@pytest.fixture
async def stalling(sandbox: Sandbox) -> Listeners:
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc")
    listeners = Listeners(sandbox.ca.server_context(NAME), lambda path: None)
    ip = sandbox.address(8448)
    await listeners.listen(ip, 8448)  # nothing on 443: .well-known is refused at once
    sandbox.zone.add(NAME, "A", ip)
    return listeners


async def one_check(resolver: Resolver, timeout: float, deadline: float) -> str:
    try:
        async with asyncio.timeout(deadline):
            report = await check_server(resolver, NAME, timeout=timeout)
    except TimeoutError:
        return "cancelled"
    return " ".join(p.message for p in report.problems)


async def burst(
    sandbox: Sandbox, listeners: Listeners, timeout: float, deadline: float
) -> list[str]:
    try:
        async with Resolver(**sandbox.resolver_options(timeout=5.0)) as resolver:
            checks = (one_check(resolver, timeout, deadline) for _ in range(CHECKS))
            return list(await asyncio.gather(*checks))
    finally:
        await listeners.wait_all_closed(by_checker_only=False)


async def test_cancelled_checks_close_every_socket(sandbox: Sandbox, stalling: Listeners) -> None:
    baseline = open_descriptors()
    try:
        outcomes = await burst(sandbox, stalling, timeout=30.0, deadline=1.5)
        after = await back_to(baseline)
    finally:
        await stalling.close()
    assert outcomes == ["cancelled"] * CHECKS
    reached = [c for c in stalling.connections if c.agent is not None]
    assert len(reached) >= CHECKS  # the probes were mid-request when cancelled
    assert all(c.closed is not None for c in stalling.connections)
    assert after <= baseline, f"{after - baseline} descriptors left open"


async def test_checks_that_time_out_themselves_close_every_socket(
    sandbox: Sandbox, stalling: Listeners
) -> None:
    """The twin: the probes' own timeout ends them, no cancellation."""
    baseline = open_descriptors()
    try:
        outcomes = await burst(sandbox, stalling, timeout=0.5, deadline=30.0)
        after = await back_to(baseline)
    finally:
        await stalling.close()
    assert all("timed out" in outcome for outcome in outcomes), outcomes[0]
    assert after <= baseline, f"{after - baseline} descriptors left open"
