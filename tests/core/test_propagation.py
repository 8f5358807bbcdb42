"""When a change reaches peers: each implementation's cache rule, pinned with an injected clock."""

from __future__ import annotations

import email.utils

import pytest

from matrix_delegation._core.propagation import RULES, propagation

FETCHED_AT = 1_800_000_000.0  # the injected clock: the moment the peer fetched
MIN, HOUR = 60.0, 3600.0


def peers(*headers: tuple[str, str], valid: bool = True) -> dict[str, object]:
    found = propagation(headers, FETCHED_AT, valid)
    assert found.fetched_at == FETCHED_AT
    return {peer.implementation: peer for peer in found.peers}


def refetch_after(implementation: str, *headers: tuple[str, str], valid: bool = True) -> float:
    peer = peers(*headers, valid=valid)[implementation]
    assert peer.refetch_by is not None  # type: ignore[attr-defined]
    return peer.refetch_by - FETCHED_AT  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize(
    ("cache_control", "after"),
    [("max-age=600", 10 * MIN), ("max-age=60", 5 * MIN), ("no-store", 5 * MIN)],
)
def test_synapse_follows_max_age_clamped_to_five_minutes(cache_control: str, after: float) -> None:
    assert refetch_after("synapse", ("Cache-Control", cache_control)) == after
    why = peers(("Cache-Control", cache_control))["synapse"].why  # type: ignore[attr-defined]
    assert "once 20 % of that is left" in why and f"after {0.8 * after / MIN:.3g} min" in why


def test_synapse_without_headers_keeps_24_hours_plus_or_minus_10_percent() -> None:
    after = refetch_after("synapse")
    assert 21.6 * HOUR <= after <= 26.4 * HOUR and after == pytest.approx(26.4 * HOUR)
    why = peers()["synapse"].why  # type: ignore[attr-defined]
    assert "24 h +/- 10 %" in why and "20 % of that is left" in why


def test_synapse_caps_at_48_hours_and_reads_expires() -> None:
    assert refetch_after("synapse", ("Cache-Control", "max-age=999999")) == 48 * HOUR
    expires = email.utils.formatdate(FETCHED_AT + 2 * HOUR, usegmt=True)
    assert refetch_after("synapse", ("Expires", expires)) == 2 * HOUR
    # max-age wins over Expires
    assert refetch_after("synapse", ("Expires", expires), ("Cache-Control", "max-age=900")) == 900


def test_synapse_keeps_a_failure_an_hour() -> None:
    peer = peers(valid=False)["synapse"]
    assert peer.failure_kept_for == pytest.approx(1.1 * HOUR)  # type: ignore[attr-defined]
    assert refetch_after("synapse", valid=False) == pytest.approx(1.1 * HOUR)


def test_dendrite_refetches_only_when_the_old_destination_fails() -> None:
    peer = peers(("Cache-Control", "max-age=60"))["dendrite"]
    assert peer.refetch_by is None  # type: ignore[attr-defined]
    assert peer.why.startswith("only when the old destination fails")  # type: ignore[attr-defined]
    assert peer.failure_kept_for == 0  # type: ignore[attr-defined]


def test_conduit_since_0_9_0_follows_max_age_without_a_minimum() -> None:
    assert refetch_after("conduit", ("Cache-Control", "max-age=60")) == 60
    assert refetch_after("conduit", ("Cache-Control", "max-age=999999")) == 48 * HOUR
    assert refetch_after("conduit", ("Cache-Control", "no-cache")) == 0
    assert refetch_after("conduit") == 24 * HOUR
    expires = email.utils.formatdate(FETCHED_AT + 2 * HOUR, usegmt=True)
    assert refetch_after("conduit", ("Expires", expires)) == 24 * HOUR  # Expires is ignored
    why = peers()["conduit"].why  # type: ignore[attr-defined]
    assert "before 0.9.0 keeps it until it restarts" in why
    assert refetch_after("conduit", valid=False) == MIN


def test_continuwuity_keeps_everything_a_day() -> None:
    assert refetch_after("continuwuity", ("Cache-Control", "max-age=60")) == 24 * HOUR
    peer = peers(valid=False)["continuwuity"]
    assert peer.failure_kept_for == 24 * HOUR  # type: ignore[attr-defined]
    assert "3 days" in peer.why  # type: ignore[attr-defined]


def test_the_tester_asks_anew_every_time() -> None:
    assert refetch_after("federation-tester", ("Cache-Control", "max-age=600")) == 0


def test_every_rule_names_its_release() -> None:
    for rule in RULES:
        assert rule.__doc__ and any(ch.isdigit() for ch in rule.__doc__), rule.__name__
    found = propagation((("cache-control", "max-age=600"),), FETCHED_AT, True)
    assert found.cache_control == "max-age=600" and found.expires is None
    assert "reset_connection" in found.advice and "restart" in found.advice
