"""When a change of delegation reaches peers: each implementation's cache rules, as pure functions.

Given the headers of a ``.well-known/matrix/server`` answer and the time it
was fetched, each rule says by when a peer of that implementation that fetched
the file at that moment fetches it again at the latest (None: not on a timer,
see ``why``), and how long such a peer keeps a failure. Every rule names the
release and source it follows (see docs/peers.md, "Caching"); times are
seconds since the epoch, so a test injects its own clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .cache import (
    WELL_KNOWN_DEFAULT_CACHE_PERIOD,
    WELL_KNOWN_DEFAULT_CACHE_PERIOD_JITTER,
    WELL_KNOWN_DOWN_CACHE_PERIOD,
    WELL_KNOWN_GRACE_PERIOD_FACTOR,
    WELL_KNOWN_INVALID_CACHE_PERIOD,
    WELL_KNOWN_MAX_CACHE_PERIOD,
    WELL_KNOWN_MIN_CACHE_PERIOD,
    cache_period_from_headers,
    parse_cache_control,
)

__all__ = ["ADVICE", "RULES", "PeerRefetch", "Propagation", "propagation"]

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class PeerRefetch:
    """When one implementation's peers fetch the delegation again.

    Attributes:
        implementation: ``synapse``, ``dendrite``, ...
        refetch_by: The latest time a peer that fetched at ``fetched_at`` fetches
            again, or None when no timer does it ("not until it restarts",
            "only when the old destination fails": ``why`` says which).
        why: One sentence: the rule and the values it used.
        failure_kept_for: How long such a peer keeps a failed fetch before it
            tries again, in seconds (None: until it restarts).
    """

    implementation: str
    refetch_by: float | None
    why: str
    failure_kept_for: float | None


@dataclass(frozen=True, slots=True)
class Propagation:
    """The ``propagation`` object of docs/check-json.md."""

    fetched_at: float
    cache_control: str | None
    expires: str | None
    peers: tuple[PeerRefetch, ...]
    advice: str


#: What an admin can do now about a change that has to reach peers.
ADVICE = (
    "To make a change reach peers sooner: on a Synapse peer, its admin can reset the"
    " destination with POST /_synapse/admin/v1/federation/destinations/<server_name>/"
    "reset_connection (clears the retry backoff); Dendrite, Conduit and conduwuit peers pick it"
    " up when restarted; continuwuity admins can run '!admin query resolver flush-cache"
    " <server_name>'. Before a planned move, serve Cache-Control: max-age=300 for a day."
)

_HOUR = 3600.0


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:g} s"
    if seconds < 2 * _HOUR:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / _HOUR:.3g} h"


def _header(headers: Headers, name: str) -> str | None:
    values = [value for key, value in headers if key.lower() == name]
    return ", ".join(values) if values else None


def synapse(headers: Headers, fetched_at: float, valid: bool) -> PeerRefetch:
    """Synapse 1.163 (``synapse/http/federation/well_known_resolver.py``).

    A valid file is kept for its ``Cache-Control: max-age`` (``no-store``: 0),
    else its ``Expires``, clamped to 5 min - 48 h; without either, 24 h +/- 10 %.
    A peer that keeps using the server refetches once 20 % of that is left.
    A failure is kept 1 h +/- 10 % (2 min when the file was valid lately).
    """
    jitter = 1 + WELL_KNOWN_DEFAULT_CACHE_PERIOD_JITTER
    failure = WELL_KNOWN_INVALID_CACHE_PERIOD * jitter
    active = 1 - WELL_KNOWN_GRACE_PERIOD_FACTOR
    if not valid:
        why = (
            f"no valid file: kept {_duration(WELL_KNOWN_INVALID_CACHE_PERIOD)} +/- 10 %"
            f" ({_duration(WELL_KNOWN_DOWN_CACHE_PERIOD)} when the file was valid lately)"
        )
        return PeerRefetch("synapse", fetched_at + failure, why, failure)
    period = cache_period_from_headers(headers, fetched_at)
    if period is None:
        latest = WELL_KNOWN_DEFAULT_CACHE_PERIOD * jitter
        low = WELL_KNOWN_DEFAULT_CACHE_PERIOD * (2 - jitter)
        why = (
            f"no max-age or Expires: cached 24 h +/- 10 % ({_duration(low)} to"
            f" {_duration(latest)}); an active peer refetches once 20 % of that is left"
        )
        return PeerRefetch("synapse", fetched_at + latest, why, failure)
    kept = min(max(period, WELL_KNOWN_MIN_CACHE_PERIOD), WELL_KNOWN_MAX_CACHE_PERIOD)
    clamped = " (clamped to 5 min - 48 h)" if kept != period else ""
    why = (
        f"cached {_duration(kept)} by the headers{clamped}; an active peer refetches once"
        f" 20 % of that is left, after {_duration(kept * active)}"
    )
    return PeerRefetch("synapse", fetched_at + kept, why, failure)


def dendrite(headers: Headers, fetched_at: float, valid: bool) -> PeerRefetch:
    """Dendrite 0.13 through gomatrixserverlib (``fclient/client.go`` at 08e0243b).

    The resolution is kept with no expiry and resolved again only when every
    destination of it fails; a failed resolution is not kept.
    """
    why = (
        "only when the old destination fails: the resolution is kept with no expiry"
        " (whatever the headers say) until every address of it fails, or the peer restarts"
    )
    return PeerRefetch("dendrite", None, why, 0.0)


def conduit(headers: Headers, fetched_at: float, valid: bool) -> PeerRefetch:
    """Conduit 0.9.0 and later (``src/api/server_server.rs``, ``request_well_known``).

    ``no-store`` or ``no-cache``: not kept; else ``max-age`` capped at 48 h (no
    minimum); else 24 h; ``Expires`` is ignored. A failure is retried after 1
    min, doubling up to 60 min. Releases before 0.9.0 kept the destination
    until the peer restarted.
    """
    before = "; Conduit before 0.9.0 keeps it until it restarts"
    if not valid:
        why = "no valid file: tried again after 1 min, doubling up to 60 min" + before
        return PeerRefetch("conduit", fetched_at + 60, why, 60.0)
    directives = parse_cache_control(v for k, v in headers if k.lower() == "cache-control")
    if "no-store" in directives or "no-cache" in directives:
        kept, rule = 0.0, "no-store/no-cache: not kept"
    else:
        max_age = _int(directives.get("max-age"))
        if max_age is None:
            kept, rule = WELL_KNOWN_DEFAULT_CACHE_PERIOD, "no max-age: cached 24 h"
        else:
            kept = float(min(max_age, WELL_KNOWN_MAX_CACHE_PERIOD))
            rule = f"max-age: cached {_duration(kept)} (at most 48 h, Expires ignored)"
    return PeerRefetch("conduit", fetched_at + kept, rule + before, 60.0)


def continuwuity(headers: Headers, fetched_at: float, valid: bool) -> PeerRefetch:
    """continuwuity 0.5 through resolvematrix (``src/cache.rs``; ``cache_ttl`` 24 h).

    Every answer, a failure too, is kept for the one configured TTL; headers are
    ignored. Its DNS cache keeps answers at least 3 h (``dns_min_ttl``) and a
    missing name 3 days (``dns_min_ttl_nxdomain``). conduwuit (legacy) keeps a
    destination until it restarts.
    """
    why = (
        "cached 24 h (cache_ttl) whatever the headers say; DNS answers at least 3 h, a"
        " missing name 3 days; conduwuit (legacy) keeps it until it restarts"
    )
    return PeerRefetch("continuwuity", fetched_at + 24 * _HOUR, why, 24 * _HOUR)


def federation_tester(headers: Headers, fetched_at: float, valid: bool) -> PeerRefetch:
    """matrix-federation-tester ``main`` of 2024 (``main.go``): every report resolves anew."""
    return PeerRefetch("federation-tester", fetched_at, "fetches anew at every test", 0.0)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None  # "10.5" and the like are ignored


Rule = Callable[[Headers, float, bool], PeerRefetch]
#: In the order of the ``peers`` table.
RULES: tuple[Rule, ...] = (synapse, dendrite, conduit, continuwuity, federation_tester)


def propagation(headers: Iterable[tuple[str, str]], fetched_at: float, valid: bool) -> Propagation:
    """Every rule applied to one ``.well-known`` answer fetched at ``fetched_at``."""
    pairs = tuple(headers)
    peers = tuple(rule(pairs, fetched_at, valid) for rule in RULES)
    cache_control, expires = _header(pairs, "cache-control"), _header(pairs, "expires")
    return Propagation(fetched_at, cache_control, expires, peers, ADVICE)
