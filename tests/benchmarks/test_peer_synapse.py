"""The ``synapse`` policy agrees with the real Synapse on every catalog scenario.

Every scenario of ``benchmarks/scenarios.py`` plus the peer scenarios is resolved by
Synapse's own agent (``_synapse_driver.py``, run up to the point of connecting) and
by our resolver with the ``synapse`` policy (docs/peers.md), each in its own child
process against the same loopback sandbox. Both must find the same route and the
same set of endpoints, or both find none. Where they differ the policy is wrong.
"""

from __future__ import annotations

import asyncio
import pathlib
import sys
import tempfile
from typing import Any

import pytest

BENCHMARKS = pathlib.Path(__file__).parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import conformance  # noqa: E402
import peer_scenarios  # noqa: E402
import scenarios as sc  # noqa: E402

from matrix_delegation.sandbox.world import LOOPBACK_RANGES, Sandbox  # noqa: E402

pytest.importorskip("synapse", reason="needs matrix-synapse (the [test] extra)")

ALL = [*sc.SCENARIOS, *peer_scenarios.PEER_SCENARIOS]


async def _both() -> tuple[dict[str, Any], dict[str, Any]]:
    by_id = {scenario["id"]: scenario for scenario in ALL}
    async with Sandbox() as sandbox:
        if sandbox.connect_to:
            pytest.skip("Synapse's agent always connects to port 443: needs root")
        plain = await sc.install(sandbox, ALL)
        try:
            with tempfile.TemporaryDirectory() as scratch:
                config = {
                    "nameserver": [sandbox.dns.host, sandbox.dns.port],
                    "ca_file": str(sandbox.ca.write_ca_pem(pathlib.Path(scratch) / "ca.pem")),
                    "allow": list(LOOPBACK_RANGES),
                    "connect_to": [],
                    "timeout": conformance.DNS_TIMEOUT,
                    "scenarios": [dict(scenario) for scenario in ALL],
                }
                real = await conformance.run_driver("synapse", config, sandbox, by_id)
                sc.reset(sandbox, ALL)
                ours = await conformance.run_driver(
                    "ours", {**config, "peer": "synapse"}, sandbox, by_id
                )
        finally:
            for host in plain:
                await host.stop()
    return real, ours


def _view(outcome: dict[str, Any]) -> tuple[Any, ...]:
    if outcome.get("error"):
        return ("fails",)
    return (outcome["route"], frozenset(outcome["endpoints"]), outcome["host"], outcome["tls"])


def test_the_synapse_policy_finds_what_synapse_finds() -> None:
    real, ours = asyncio.run(_both())
    assert set(real) == set(ours) == {scenario["id"] for scenario in ALL}
    differ = {
        key: {"synapse": real[key], "policy": ours[key]}
        for key in real
        if _view(real[key]) != _view(ours[key])
    }
    assert differ == {}
    # The scenarios where Synapse departs from the spec are among them (docs/peers.md).
    assert real["redirect-http"]["route"] == "well-known/explicit-port"
    assert real["m-server-path"]["route"] == "well-known/explicit-port"
    assert len(real["srv-first-dead"]["endpoints"]) == 2
