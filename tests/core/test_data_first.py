"""Facts as data: route properties, one failure-code enum, "not fetched" answered by the driver."""

from __future__ import annotations

import pytest

from helpers.scripted import World, addrs, delegates, missing, run_scripted
from matrix_delegation import (
    BlockedAddress,
    DnsLookupError,
    InvalidWellKnown,
    NoAddress,
    ServiceUnavailable,
)
from matrix_delegation._core.failures import FailureCode
from matrix_delegation._core.model import FetchWellKnown, Route, Step, WellKnownResult

WELL_KNOWN_ROUTES = {r for r in Route if r.spec_step.startswith("3.")}
SRV_ROUTES = {Route.SRV, Route.SRV_LEGACY, Route.WELL_KNOWN_SRV, Route.WELL_KNOWN_SRV_LEGACY}


@pytest.mark.parametrize("route", list(Route))
def test_route_facts_follow_the_spec_step(route: Route) -> None:
    assert route.via_well_known == (route in WELL_KNOWN_ROUTES)
    assert route.via_srv == (route in SRV_ROUTES)
    assert route.legacy_srv == (route.spec_step in ("3.4", "5"))


def test_every_discovery_error_names_its_failure_code() -> None:
    classes = (DnsLookupError, ServiceUnavailable, NoAddress, BlockedAddress, InvalidWellKnown)
    assert {cls.code for cls in classes} == set(FailureCode)
    assert all(isinstance(cls.code, FailureCode) for cls in classes)


def test_a_failed_resolution_carries_the_enum() -> None:
    resolution, _ = run_scripted("example.org", World())
    assert resolution.error is not None
    assert resolution.error.code is FailureCode.NO_ADDRESS
    assert resolution.error.code == "no-address"  # a StrEnum: JSON and comparisons see the text


class _NotFetching(World):
    """A driver that answers every .well-known question without fetching."""

    def answer(self, step: Step) -> object:  # type: ignore[override]
        if isinstance(step, FetchWellKnown):
            return WellKnownResult.not_fetched(step.hostname)
        return super().answer(step)


def test_not_fetched_takes_the_route_of_a_peer_without_well_known() -> None:
    world = _NotFetching(
        well_known={"example.org": delegates("example.org", "192.0.2.3")},
        addresses={"example.org": addrs("example.org", "192.0.2.9")},
    )
    resolution, _ = run_scripted("example.org", world)
    assert resolution.route is Route.DEFAULT_PORT
    assert resolution.well_known is None
    assert (
        resolution.trace[0].rule == ".well-known not consulted (as by a peer that cannot fetch it)"
    )


def test_a_fetched_failure_is_still_recorded() -> None:
    """The negative twin: a real 404 is a fetched answer, kept in the resolution."""
    world = World(
        well_known={"example.org": missing("example.org")},
        addresses={"example.org": addrs("example.org", "192.0.2.9")},
    )
    resolution, _ = run_scripted("example.org", world)
    assert resolution.route is Route.DEFAULT_PORT
    assert resolution.well_known is not None and resolution.well_known.fetched
    assert "no valid .well-known" in resolution.trace[0].rule
