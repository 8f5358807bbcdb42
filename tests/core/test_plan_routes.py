"""Every route of the spec's "Resolving server names", exactly, with no network."""

from __future__ import annotations

import pytest

from helpers.scripted import World, addrs, delegates, missing, run_scripted, srv
from matrix_delegation._core.ipfilter import IpPolicy
from matrix_delegation._core.model import (
    Endpoint,
    FetchWellKnown,
    LookupAddresses,
    LookupSrv,
    Route,
)
from matrix_delegation._core.plan import Policy

OPEN = Policy(IpPolicy.allow_all())

FED = "_matrix-fed._tcp."
LEGACY = "_matrix._tcp."

# (server name, world, route, Host header, TLS name, endpoints)
ROUTES = [
    pytest.param(
        "192.0.2.1", World(), Route.IP_LITERAL, "192.0.2.1", None,
        [Endpoint("192.0.2.1", "192.0.2.1", 8448)], id="1-ipv4",
    ),
    pytest.param(
        "[2001:db8::1]:8080", World(), Route.IP_LITERAL, "[2001:db8::1]:8080", None,
        [Endpoint("2001:db8::1", "2001:db8::1", 8080)], id="1-ipv6-port",
    ),
    pytest.param(
        "Example.ORG:8449",
        World(addresses={"example.org": addrs("example.org", "192.0.2.2")}),
        Route.EXPLICIT_PORT, "Example.ORG:8449", "example.org",
        [Endpoint("example.org", "192.0.2.2", 8449)], id="2-explicit-port",
    ),
    pytest.param(
        "example.org",
        World(well_known={"example.org": delegates("example.org", "192.0.2.3")}),
        Route.WELL_KNOWN_IP_LITERAL, "192.0.2.3", None,
        [Endpoint("192.0.2.3", "192.0.2.3", 8448)], id="3.1-ip-literal",
    ),
    pytest.param(
        "example.org",
        World(
            well_known={"example.org": delegates("example.org", "m.example.org:443")},
            addresses={"m.example.org": addrs("m.example.org", "192.0.2.4")},
        ),
        Route.WELL_KNOWN_EXPLICIT_PORT, "m.example.org:443", "m.example.org",
        [Endpoint("m.example.org", "192.0.2.4", 443)], id="3.2-explicit-port",
    ),
    pytest.param(
        "example.org",
        World(
            well_known={"example.org": delegates("example.org", "m.example.org")},
            srv={FED + "m.example.org": srv(FED + "m.example.org", "10 0 8450 fed.example.net")},
            addresses={"fed.example.net": addrs("fed.example.net", "192.0.2.5")},
        ),
        Route.WELL_KNOWN_SRV, "m.example.org", "m.example.org",
        [Endpoint("fed.example.net", "192.0.2.5", 8450)], id="3.3-srv",
    ),
    pytest.param(
        "example.org",
        World(
            well_known={"example.org": delegates("example.org", "m.example.org")},
            srv={
                LEGACY + "m.example.org": srv(LEGACY + "m.example.org", "10 0 8451 old.example.net")
            },
            addresses={"old.example.net": addrs("old.example.net", "192.0.2.6")},
        ),
        Route.WELL_KNOWN_SRV_LEGACY, "m.example.org", "m.example.org",
        [Endpoint("old.example.net", "192.0.2.6", 8451)], id="3.4-srv-legacy",
    ),
    pytest.param(
        "example.org",
        World(
            well_known={"example.org": delegates("example.org", "m.example.org")},
            addresses={"m.example.org": addrs("m.example.org", "192.0.2.7")},
        ),
        Route.WELL_KNOWN_DEFAULT_PORT, "m.example.org", "m.example.org",
        [Endpoint("m.example.org", "192.0.2.7", 8448)], id="3.5-default-port",
    ),
    pytest.param(
        "example.org",
        World(
            srv={FED + "example.org": srv(FED + "example.org", "10 0 8452 fed.example.net")},
            addresses={"fed.example.net": addrs("fed.example.net", "192.0.2.8")},
        ),
        Route.SRV, "example.org", "example.org",
        [Endpoint("fed.example.net", "192.0.2.8", 8452)], id="4-srv",
    ),
    pytest.param(
        "example.org",
        World(
            srv={LEGACY + "example.org": srv(LEGACY + "example.org", "10 0 8453 old.example.net")},
            addresses={"old.example.net": addrs("old.example.net", "192.0.2.9")},
        ),
        Route.SRV_LEGACY, "example.org", "example.org",
        [Endpoint("old.example.net", "192.0.2.9", 8453)], id="5-srv-legacy",
    ),
    pytest.param(
        "example.org",
        World(addresses={"example.org": addrs("example.org", "2001:db8::a", "192.0.2.10")}),
        Route.DEFAULT_PORT, "example.org", "example.org",
        [Endpoint("example.org", "2001:db8::a", 8448), Endpoint("example.org", "192.0.2.10", 8448)],
        id="6-default-port",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "world", "route", "host", "tls", "endpoints"), ROUTES)
def test_route(name, world, route, host, tls, endpoints) -> None:
    resolution, _ = run_scripted(name, world, policy=OPEN)
    assert resolution.error is None
    assert resolution.route is route
    assert resolution.host_header == host
    assert resolution.tls_server_name == tls
    assert list(resolution.endpoints) == endpoints
    assert resolution.trace, "every resolution explains itself"


def test_ip_literal_and_explicit_port_skip_well_known_and_srv() -> None:
    for name in ("192.0.2.1", "[2001:db8::1]", "example.org:8448"):
        _, asked = run_scripted(name, World(), policy=OPEN)
        assert not any(isinstance(step, FetchWellKnown | LookupSrv) for step in asked)


def test_well_known_is_fetched_once_and_never_for_the_delegated_name() -> None:
    world = World(
        well_known={"example.org": delegates("example.org", "m.example.org")},
        addresses={"m.example.org": addrs("m.example.org", "192.0.2.7")},
    )
    _, asked = run_scripted("example.org", world, policy=OPEN)
    assert [s for s in asked if isinstance(s, FetchWellKnown)] == [FetchWellKnown("example.org")]
    assert [s.name for s in asked if isinstance(s, LookupSrv)] == [
        FED + "m.example.org",
        LEGACY + "m.example.org",
    ]


def test_legacy_srv_is_not_asked_when_matrix_fed_has_records() -> None:
    world = World(
        srv={
            FED + "example.org": srv(FED + "example.org", "0 0 8448 a.example.net"),
            LEGACY + "example.org": srv(LEGACY + "example.org", "0 0 8448 b.example.net"),
        },
        addresses={"a.example.net": addrs("a.example.net", "192.0.2.1")},
    )
    resolution, asked = run_scripted("example.org", world, policy=OPEN)
    assert LookupSrv(LEGACY + "example.org") not in asked
    assert resolution.route is Route.SRV


def test_legacy_srv_route_is_flagged_as_deprecated() -> None:
    world = World(
        srv={LEGACY + "example.org": srv(LEGACY + "example.org", "0 0 8448 b.example.net")},
        addresses={"b.example.net": addrs("b.example.net", "192.0.2.1")},
    )
    resolution, _ = run_scripted("example.org", world, policy=OPEN)
    assert any(e.level == "warning" and "deprecated" in e.rule for e in resolution.trace)


def test_invalid_well_known_goes_on_to_step_4_with_the_reason_in_the_trace() -> None:
    bad = missing("example.org", status=500)
    world = World(
        well_known={"example.org": bad},
        addresses={"example.org": addrs("example.org", "192.0.2.1")},
    )
    resolution, _ = run_scripted("example.org", world, policy=OPEN)
    assert resolution.route is Route.DEFAULT_PORT
    assert resolution.well_known is bad
    assert resolution.trace[0].step == "3" and resolution.trace[0].answer is bad


def test_srv_targets_are_tried_in_priority_order_and_all_addresses_listed() -> None:
    world = World(
        srv={
            FED + "example.org": srv(
                FED + "example.org", "20 0 8001 backup.example.net", "10 0 8002 main.example.net"
            )
        },
        addresses={
            "main.example.net": addrs("main.example.net", "192.0.2.1", "2001:db8::1"),
            "backup.example.net": addrs("backup.example.net", "192.0.2.2"),
        },
    )
    resolution, asked = run_scripted("example.org", world, policy=OPEN)
    assert [(e.target, e.ip, e.port) for e in resolution.endpoints] == [
        ("main.example.net", "2001:db8::1", 8002),
        ("main.example.net", "192.0.2.1", 8002),
        ("backup.example.net", "192.0.2.2", 8001),
    ]
    # Both targets' addresses are asked for in one question, so they resolve concurrently.
    assert LookupAddresses(("main.example.net", "backup.example.net")) in asked


def test_srv_target_and_host_header_differ() -> None:
    """S2S 3.3/4: the certificate and Host stay on the name, never the SRV target."""
    world = World(
        srv={FED + "example.org": srv(FED + "example.org", "0 0 443 Target.Example.NET")},
        addresses={"target.example.net": addrs("target.example.net", "192.0.2.1")},
    )
    resolution, _ = run_scripted("example.org", world, policy=OPEN)
    assert resolution.tls_server_name == "example.org"
    assert resolution.host_header == "example.org"
    assert resolution.endpoints[0].target == "target.example.net"
