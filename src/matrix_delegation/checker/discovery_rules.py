"""Problems visible in a resolution alone: its failure, the ``.well-known`` file, SRV quirks.

Pure functions over a :class:`~.._core.model.Resolution`; the trace entries
carry typed facts (:class:`~.._core.model.Fact`), so nothing matches the
words of a rule.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .._core.model import Fact, HostAddresses, Resolution, Route, WellKnownResult
from .._core.plan import MAX_ADDRESSES_PER_HOST
from .codes import Problem, problem

__all__ = ["addresses_capped", "discovery_problems"]


def discovery_problems(resolution: Resolution) -> list[Problem]:
    """Problems visible in the resolution alone: its error, the .well-known, SRV quirks."""
    found: list[Problem] = []
    if resolution.error is not None:
        found.append(problem(resolution.error.code, resolution.error.message))
    if resolution.well_known is not None:
        found.extend(_well_known_problems(resolution.well_known))
    for entry in resolution.trace:
        answer = entry.answer
        if entry.fact is Fact.SRV_TARGET_ALIAS and answer is not None:
            target = getattr(answer, "host", "?")
            found.append(problem("srv-target-cname", f"the SRV target {target} is a CNAME"))
        elif entry.fact is Fact.ADDRESSES_CAPPED and isinstance(answer, HostAddresses):
            found.append(addresses_capped(answer.host, len(answer.addresses)))
        elif entry.fact is Fact.ENDPOINTS_CAPPED:
            found.append(problem("endpoints-capped", entry.rule))
    if resolution.route in (Route.SRV_LEGACY, Route.WELL_KNOWN_SRV_LEGACY):
        name = resolution.srv[-1].name if resolution.srv else "?"
        found.append(problem("srv-legacy-only", f"only {name} exists, no _matrix-fed._tcp record"))
    return found


def addresses_capped(host: str, count: int) -> Problem:
    """The problem for a host with more addresses than are checked."""
    message = f"{host} has {count} addresses: only the first {MAX_ADDRESSES_PER_HOST} are checked"
    return problem("too-many-addresses", message)


#: What each kind of failed .well-known fetch is reported as (None: not a problem).
_WELL_KNOWN_KINDS: dict[str, str | None] = {
    "status": None,  # e.g. a 404: no delegation by .well-known is a choice, not a problem
    "server-error": "well-known-server-error",
    "not-json": "well-known-not-json",
    "no-m-server": "well-known-no-m-server",
    "invalid-m-server": "well-known-invalid-m-server",
    "redirect-http": "well-known-redirect-http",
    "redirect-loop": "well-known-redirect-loop",
    "too-many-redirects": "well-known-redirect-loop",
    "redirect-no-location": "well-known-redirect-loop",
    "too-large": "well-known-not-json",
    "timeout": "well-known-unreachable",
    "unreachable": "well-known-unreachable",
}


def _well_known_problems(result: WellKnownResult) -> list[Problem]:
    found = []
    hops = result.redirects
    if hops and urlsplit(hops[-1]).hostname != result.hostname:
        found.append(
            problem("well-known-cross-host-redirect", f"{result.url} redirects to {hops[-1]}")
        )
    code = _WELL_KNOWN_KINDS.get(result.error_kind or "")
    if code is not None and not result.valid:
        found.append(problem(code, f"{result.url}: {result.error}"))
    return found
