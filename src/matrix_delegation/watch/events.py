"""Which events one check brings, given what the earlier checks left (pure).

Each event is decided once, from the name's state, and the state that comes
out is stored with the check in one transaction (:mod:`.store`), so an event
is recorded once however many processes watch. The kinds (docs/watch.md):

- ``federation-down``: ``confirm`` failed checks in a row; then
  ``federation-still-down`` every ``reminder_every`` seconds while it lasts;
- ``federation-up``: the first good check after a confirmed failure;
- ``delegation-changed``: the route, ``m.server`` or the set of endpoints;
- ``certificate-changed``: the set of certificate fingerprints;
- ``certificate-expiring``: a certificate within ``cert_warning_days`` of its
  end, once, and again within ``cert_urgent_days``;
- ``keys-changed``: the set of verify key IDs;
- ``version-changed``: the server software or its version;
- ``peer-disagreement``: the implementations' verdicts (docs/peers.md) changed,
  and they disagree before or after (all of them failing together is what
  ``federation-down`` is for).

A change is only judged between two checks that both saw the thing (an
unreachable endpoint shows no certificate, which is no change of certificate).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .observe import Observation

__all__ = ["KINDS", "Event", "NameState", "Rules", "detect"]

KINDS = (
    "federation-down",
    "federation-still-down",
    "federation-up",
    "delegation-changed",
    "certificate-changed",
    "certificate-expiring",
    "keys-changed",
    "version-changed",
    "peer-disagreement",
)
_DAY = 86400.0
_WARNED, _URGENT = 1, 2  # how far a certificate's expiry has been warned about


@dataclass(frozen=True, slots=True)
class Rules:
    """When a failure is confirmed and what is worth an event."""

    confirm: int = 3
    reminder_every: float = 12 * 3600.0
    cert_warning_days: float = 14.0
    cert_urgent_days: float = 3.0


@dataclass(frozen=True, slots=True)
class NameState:
    """What the checks of one name have left: failures so far and the last things seen.

    ``baseline`` is JSON: ``delegation``, ``certificates``, ``key_ids`` and
    ``versions`` and ``peers`` (implementation to verdict) as last seen, and
    ``cert_warned`` (fingerprint to level).
    """

    failures: int = 0
    down: bool = False
    down_since: float | None = None
    reminded_at: float | None = None
    baseline: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Event:
    """One event: its kind and a line for a person."""

    kind: str
    summary: str


def detect(
    name: str, state: NameState, seen: Observation, now: float, rules: Rules
) -> tuple[NameState, list[Event]]:
    """The state after this check, and the events it brings (in this order)."""
    state, found = _verdict(name, state, seen, now, rules)
    baseline = dict(state.baseline)
    found += _changes(name, baseline, seen)
    found += _expiring(name, baseline, seen, now, rules)
    found += _peers(name, baseline, seen)
    return replace(state, baseline=baseline), found


def _verdict(
    name: str, state: NameState, seen: Observation, now: float, rules: Rules
) -> tuple[NameState, list[Event]]:
    if seen.federation_ok:
        if not state.down:
            return replace(state, failures=0), []
        since = state.down_since if state.down_since is not None else now
        line = f"{name}: federation works again (down for {_duration(now - since)})"
        return NameState(baseline=state.baseline), [Event("federation-up", line)]
    failures = state.failures + 1
    problems = ", ".join(seen.problems) or "no details"
    if not state.down and failures >= rules.confirm:
        line = f"{name}: federation fails ({failures} checks in a row): {problems}"
        down = replace(state, failures=failures, down=True, down_since=now, reminded_at=now)
        return down, [Event("federation-down", line)]
    reminded = state.reminded_at if state.reminded_at is not None else now
    if state.down and now - reminded >= rules.reminder_every:
        since = state.down_since if state.down_since is not None else now
        line = f"{name}: federation still fails (for {_duration(now - since)}): {problems}"
        return replace(state, failures=failures, reminded_at=now), [
            Event("federation-still-down", line)
        ]
    return replace(state, failures=failures), []


def _changes(name: str, baseline: dict[str, Any], seen: Observation) -> list[Event]:
    """Compare what this check saw with the baseline; the baseline takes what was seen."""
    facets: list[tuple[str, str, Any, str]] = [
        ("delegation", "delegation-changed", seen.delegation, "delegation"),
        ("certificates", "certificate-changed", [fp for fp, _ in seen.certificates] or None,
         "certificate"),
        ("key_ids", "keys-changed", list(seen.key_ids) or None, "verify keys"),
        ("versions", "version-changed", list(seen.versions) or None, "server version"),
    ]  # fmt: skip
    found = []
    for key, kind, now_value, what in facets:
        if now_value is None:
            continue  # not seen this time: nothing to compare
        before = baseline.get(key)
        if before is not None and before != now_value:
            found.append(
                Event(kind, f"{name}: {what} changed: {_show(before)} -> {_show(now_value)}")
            )
        baseline[key] = now_value
    return found


def _expiring(
    name: str, baseline: dict[str, Any], seen: Observation, now: float, rules: Rules
) -> list[Event]:
    """A warning per certificate when it nears its end, and again when it is close."""
    if not seen.certificates:
        return []
    warned: dict[str, int] = dict(baseline.get("cert_warned") or {})
    found = []
    for fingerprint, expires in seen.certificates:
        days = (expires - now) / _DAY
        level = _URGENT if days <= rules.cert_urgent_days else (
            _WARNED if days <= rules.cert_warning_days else 0)  # fmt: skip
        if level > warned.get(fingerprint, 0):
            warned[fingerprint] = level
            left = f"{days:.1f} days" if days >= 0 else "already expired"
            found.append(Event(
                "certificate-expiring", f"{name}: certificate {fingerprint} expires: {left}"
            ))  # fmt: skip
    # Forget the certificates no longer served: the map stays as small as the set.
    baseline["cert_warned"] = {fp: warned[fp] for fp, _ in seen.certificates if fp in warned}
    return found


def _peers(name: str, baseline: dict[str, Any], seen: Observation) -> list[Event]:
    """The implementations' verdicts changed, and they disagree before or after."""
    if not seen.peers:
        return []  # none judged this time: nothing to compare
    now_value = {peer: ok for peer, ok in seen.peers}
    before: dict[str, bool] | None = baseline.get("peers")
    baseline["peers"] = now_value
    if not before or before == now_value:
        return []
    if len(set(before.values())) == 1 and len(set(now_value.values())) == 1:
        return []  # all of them together: federation-down or -up says it
    line = f"{name}: peer verdicts changed: {_split(now_value)} (before: {_split(before)})"
    return [Event("peer-disagreement", line)]


def _split(verdicts: dict[str, bool]) -> str:
    """``conduit, continuwuity cannot reach it; synapse, dendrite can`` (or all/none)."""
    failing = [peer for peer, ok in verdicts.items() if not ok]
    reaching = [peer for peer, ok in verdicts.items() if ok]
    if not failing:
        return "all reach it"
    if not reaching:
        return "none reaches it"
    return f"{', '.join(failing)} cannot reach it; {', '.join(reaching)} can"


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return str(value)


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
