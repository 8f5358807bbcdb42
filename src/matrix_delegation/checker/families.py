"""What a peer with only IPv4, or only IPv6, concludes: pure, from probes already made.

Such a peer fetches ``.well-known`` over its own family too: when the server
name has no address of that family (or none of them answered the file), the
peer goes on as if there were no file, which is the fallback route the check
has probed already. Then it can use only the endpoints of its family.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._core.model import Resolution
from .codes import Problem, problem
from .report import EndpointReport, FallbackFacts, FamilyView

__all__ = ["families", "family_problems"]

FAMILIES = ("ipv4", "ipv6")
_RECORD = {"ipv4": "A", "ipv6": "AAAA"}


def _of(family: str, ip: str) -> bool:
    return (":" in ip) == (family == "ipv6")


def families(
    resolution: Resolution | None,
    endpoints: tuple[EndpointReport, ...],
    fallback: FallbackFacts | None,
    host_ips: Sequence[str],
    by_address: Sequence[tuple[str, str]],
) -> tuple[FamilyView, ...]:
    """The view of an IPv4-only peer, then of an IPv6-only one (none without a resolution)."""
    if resolution is None:
        return ()
    return tuple(
        _view(family, resolution, endpoints, fallback, host_ips, by_address) for family in FAMILIES
    )


def _view(
    family: str,
    resolution: Resolution,
    endpoints: tuple[EndpointReport, ...],
    fallback: FallbackFacts | None,
    host_ips: Sequence[str],
    by_address: Sequence[tuple[str, str]],
) -> FamilyView:
    well_known, used = "not used", endpoints
    delegated = resolution.route is not None and resolution.route.via_well_known
    if delegated:
        blocked = _cannot_fetch(family, host_ips, by_address)
        if blocked is None:
            well_known = "fetched"
        else:
            well_known = blocked
            usable = fallback is not None and fallback.resolution.ok
            used = fallback.endpoints if usable and fallback is not None else ()
    mine = tuple(e for e in used if _of(family, e.probe.ip))
    ok = resolution.ok and bool(mine) and all(e.ok for e in mine)
    return FamilyView(family, ok, mine, well_known)


def _cannot_fetch(
    family: str, host_ips: Sequence[str], by_address: Sequence[tuple[str, str]]
) -> str | None:
    """Why a peer of ``family`` cannot fetch the file, or None when it can (or we cannot tell)."""
    if not host_ips:
        return None  # the addresses are not known: assume what every peer sees
    mine = [ip for ip in host_ips if _of(family, ip)]
    if not mine:
        return f"no {_RECORD[family]} record for the server name"
    answers = dict(by_address)
    asked = [answers[ip] for ip in mine if ip in answers]
    if asked and not any(outcome.startswith("m.server") for outcome in asked):
        return f"no {family} address serves it ({asked[0]})"
    return None


def family_problems(views: tuple[FamilyView, ...], host_ips: Sequence[str]) -> list[Problem]:
    """``ipv4-unreachable`` or ``ipv6-unreachable`` when one family works and the other not.

    A server that publishes no IPv6 address at all made that choice: no problem
    for IPv6 then (the ``families`` object still says so).
    """
    if len(views) != 2 or views[0].federation_ok == views[1].federation_ok:
        return []
    failing = views[0] if not views[0].federation_ok else views[1]
    if failing.family == "ipv6" and not _publishes_ipv6(views, host_ips):
        return []
    reason = failing.well_known if failing.well_known not in ("fetched", "not used") else None
    if reason is None:
        dead = [e for e in failing.endpoints if not e.ok]
        reason = (
            f"its endpoints fail ({', '.join(e.probe.ip for e in dead)})"
            if dead
            else f"no {_RECORD[failing.family]} record on the route"
        )
    label = "IPv4" if failing.family == "ipv4" else "IPv6"
    message = f"{label}-only peers cannot reach the server: {reason}"
    return [problem(f"{failing.family}-unreachable", message)]


def _publishes_ipv6(views: tuple[FamilyView, ...], host_ips: Sequence[str]) -> bool:
    ips = [*host_ips, *(e.probe.ip for view in views for e in view.endpoints)]
    return any(":" in ip for ip in ips)
