"""The event rules, on observations made by hand (the daemon tests run them over sockets)."""

from __future__ import annotations

from dataclasses import replace

from matrix_delegation.watch.events import NameState, Rules, detect
from matrix_delegation.watch.observe import Observation

NAME = "example.test"
DAY = 86400.0
RULES = Rules(confirm=3, reminder_every=3600, cert_warning_days=14, cert_urgent_days=3)
GOOD = Observation(True, "srv", None, ("127.0.0.2:8448",), (("AA", 100 * DAY),), ("ed25519:a",))
BAD = Observation(False, None, problems=("connection-refused",))


def run(observations: list[tuple[Observation, float]]) -> list[str]:
    state, kinds = NameState(), []
    for seen, now in observations:
        state, found = detect(NAME, state, seen, now, RULES)
        kinds += [event.kind for event in found]
    return kinds


def test_a_failure_is_confirmed_once_and_reminded_while_it_lasts() -> None:
    checks = [(GOOD, 0), (BAD, 1), (BAD, 2)]
    assert run(checks) == []  # two failures: not yet confirmed
    checks += [(BAD, 3), (BAD, 4), (BAD, 3600 + 3), (BAD, 3600 + 4), (GOOD, 3600 + 5)]
    assert run(checks) == ["federation-down", "federation-still-down", "federation-up"]


def test_a_failure_that_ends_before_confirmation_brings_nothing() -> None:
    assert run([(GOOD, 0), (BAD, 1), (BAD, 2), (GOOD, 3), (BAD, 4), (BAD, 5)]) == []


def test_each_change_once_and_nothing_for_what_a_failed_check_did_not_see() -> None:
    moved = Observation(True, "srv", None, ("127.0.0.9:8448",), GOOD.certificates, GOOD.key_ids)
    rekeyed = Observation(True, "srv", None, moved.endpoints, GOOD.certificates, ("ed25519:b",))
    checks = [(GOOD, 0), (BAD, 1), (GOOD, 2), (moved, 3), (moved, 4), (rekeyed, 5), (rekeyed, 6)]
    assert run(checks) == ["delegation-changed", "keys-changed"]


def test_an_expiring_certificate_is_warned_once_then_once_more_when_close() -> None:
    soon = Observation(True, "srv", None, GOOD.endpoints, (("AA", 20 * DAY),), GOOD.key_ids)
    checks = [(soon, 0), (soon, 7 * DAY), (soon, 8 * DAY), (soon, 17.5 * DAY), (soon, 18 * DAY)]
    assert run(checks) == ["certificate-expiring", "certificate-expiring"]
    renewed = Observation(True, "srv", None, GOOD.endpoints, (("BB", 100 * DAY),), GOOD.key_ids)
    assert run([*checks, (renewed, 18.5 * DAY)]) == [
        "certificate-expiring", "certificate-expiring", "certificate-changed"
    ]  # fmt: skip


def peers(*failing: str) -> tuple[tuple[str, bool], ...]:
    every = ("synapse", "dendrite", "conduit", "continuwuity", "federation-tester")
    return tuple((peer, peer not in failing) for peer in every)


def test_peer_verdicts_that_split_and_join_again_are_one_event_each() -> None:
    agree = replace(GOOD, peers=peers())
    split = replace(BAD, peers=peers("conduit", "continuwuity", "federation-tester"))
    state, kinds, summaries = NameState(), [], []
    for seen, now in [(agree, 0), (split, 1), (split, 2), (agree, 3), (agree, 4)]:
        state, found = detect(NAME, state, seen, now, RULES)
        kinds += [event.kind for event in found]
        summaries += [event.summary for event in found if event.kind == "peer-disagreement"]
    assert kinds == ["peer-disagreement", "peer-disagreement"]
    assert summaries[0] == (
        f"{NAME}: peer verdicts changed: conduit, continuwuity, federation-tester cannot reach"
        " it; synapse, dendrite can (before: all reach it)"
    )
    assert summaries[1].endswith(
        "all reach it (before: conduit, continuwuity, federation-tester cannot reach it;"
        " synapse, dendrite can)"
    )


def test_all_peers_failing_together_or_unjudged_is_no_disagreement() -> None:
    agree = replace(GOOD, peers=peers())
    none = replace(BAD, peers=peers(*(peer for peer, _ in peers())))
    unjudged = replace(GOOD, peers=())  # a check that judged no implementation
    split = replace(BAD, peers=peers("conduit"))
    checks = [(agree, 0), (none, 1), (agree, 2), (unjudged, 3), (agree, 4), (split, 5)]
    assert [k for k in run(checks) if k == "peer-disagreement"] == ["peer-disagreement"]
    assert "peer-disagreement" not in run(checks[:-1])
