"""Every route of the spec, resolved by the real resolver over real DNS and TLS."""

from __future__ import annotations

import pytest

from matrix_delegation import Resolver
from matrix_delegation.sandbox.scenarios import install
from matrix_delegation.sandbox.world import Sandbox


async def test_every_demo_scenario_gives_what_the_spec_requires(sandbox: Sandbox) -> None:
    scenarios = await install(sandbox)
    routes = {s.expected for s in scenarios}
    assert {
        "ip-literal", "explicit-port", "well-known/ip-literal", "well-known/explicit-port",
        "well-known/srv", "well-known/srv-legacy", "well-known/default-port", "srv",
        "srv-legacy", "default-port", "dns-error", "service-unavailable", "no-address",
        "blocked-address",
    } <= routes  # fmt: skip
    async with Resolver(**sandbox.resolver_options()) as resolver:
        for scenario in scenarios:
            resolution = await resolver.resolution(scenario.server_name)
            outcome = resolution.error.code if resolution.error else resolution.route
            assert outcome == scenario.expected, (scenario.about, resolution.trace)


async def test_delegated_name_drives_host_and_sni_not_srv_target(sandbox: Sandbox) -> None:
    await install(sandbox)
    async with Resolver(**sandbox.resolver_options()) as resolver:
        resolution = await resolver.resolve("wk-srv.sandbox.test")
    assert resolution.host_header == "matrix.wk-srv.sandbox.test"
    assert resolution.tls_server_name == "matrix.wk-srv.sandbox.test"
    assert resolution.endpoints[0].target == "fed.sandbox.test"
    assert resolution.well_known is not None and resolution.well_known.status == 200
    assert [lookup.name for lookup in resolution.srv] == [
        "_matrix-fed._tcp.matrix.wk-srv.sandbox.test"
    ]


async def test_308_redirect_to_another_host_is_followed(sandbox: Sandbox) -> None:
    await install(sandbox)
    async with Resolver(**sandbox.resolver_options()) as resolver:
        resolution = await resolver.resolve("redirected.sandbox.test")
    assert resolution.well_known is not None
    assert resolution.well_known.redirects == ("https://files.sandbox.test/delegation.json",)
    assert resolution.well_known.redirect_statuses == (308,)
    assert resolution.well_known.m_server == "matrix.wk-srv.sandbox.test"


@pytest.mark.parametrize(
    ("name", "reason", "kind"),
    [
        ("redirect-loop.sandbox.test", "redirect loop", "redirect-loop"),
        ("bad-json.sandbox.test", "not JSON", "not-json"),
        ("bad-m-server.sandbox.test", "is not a server name", "invalid-m-server"),
        ("wrong-cert.sandbox.test", "certificate", "unreachable"),
    ],
)
async def test_broken_well_known_is_explained_and_skipped(
    sandbox: Sandbox, name: str, reason: str, kind: str
) -> None:
    await install(sandbox)
    async with Resolver(**sandbox.resolver_options()) as resolver:
        resolution = await resolver.resolve(name)
    assert resolution.well_known is not None and not resolution.well_known.valid
    assert reason in (resolution.well_known.error or "")
    assert resolution.well_known.error_kind == kind
    assert not resolution.route or not resolution.route.startswith("well-known")
