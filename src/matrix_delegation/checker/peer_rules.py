"""Each implementation's verdict, and ``peer-disagreement`` (pure; docs/peers.md).

A peer reaches the server when its discovery finds endpoints and, trying them
in its order, the first one that accepts a connection passes every check
(TLS, version, keys): a connecting peer moves on only when a connection is
refused or times out, not when a server answers badly. The federation tester
(and the spec's verdict) want every endpoint to pass. Where an implementation's
view differs from the spec's (route, endpoints or verdict), ``differs`` says
why in one line each: the departures its discovery noted, then what decided.
"""

from __future__ import annotations

from dataclasses import replace

from .._core.model import Fact, Resolution
from .codes import Problem, problem
from .endpoint_rules import address
from .report import EndpointReport, PeerFacts, PeerVerdict

__all__ = ["judge_peers", "peer_problems"]

#: The implementation whose failure makes ``peer-disagreement`` an error.
WIDELY_DEPLOYED = "synapse"


def judge_peers(
    peers: tuple[PeerFacts, ...], spec: Resolution, spec_endpoints: tuple[EndpointReport, ...],
    spec_ok: bool,
) -> tuple[PeerVerdict, ...]:  # fmt: skip
    """The verdict of every implementation, with why it differs from the spec's view."""
    return tuple(_verdict(peer, spec, spec_endpoints, spec_ok) for peer in peers)


def _verdict(
    peer: PeerFacts, spec: Resolution, spec_endpoints: tuple[EndpointReport, ...], spec_ok: bool
) -> PeerVerdict:
    resolution, endpoints = peer.resolution, peer.endpoints
    ok, decided = _reaches(peer)
    same = (
        ok == spec_ok
        and resolution.route == spec.route
        and _endpoint_set(endpoints) == _endpoint_set(spec_endpoints)
    )
    differs: tuple[str, ...] = ()
    if not same:
        rules = [entry.rule for entry in resolution.trace if entry.fact is Fact.PEER_RULE]
        differs = tuple(dict.fromkeys([*rules, decided]))
    return PeerVerdict(peer.policy, ok, resolution, endpoints, differs)


def _endpoint_set(reports: tuple[EndpointReport, ...]) -> set[tuple[str, int]]:
    return {(report.probe.ip, report.probe.port) for report in reports}


def _reaches(peer: PeerFacts) -> tuple[bool, str]:
    """Whether the implementation reaches the server, and what decided, in one line."""
    resolution, endpoints = peer.resolution, peer.endpoints
    if resolution.error is not None:
        return False, f"finds no endpoint: {resolution.error.message}"
    if not endpoints:
        return False, "finds no endpoint"
    if peer.policy.every_address:
        failing = [report for report in endpoints if not report.ok]
        if failing:
            return False, f"every endpoint must pass, and {_failure(failing[0])}"
        return True, "every endpoint passes"
    for index, report in enumerate(endpoints):
        if report.probe.connect_ms is None and index + 1 < len(endpoints):
            continue  # refused or timed out: it tries the next one
        if not report.ok:
            return False, _failure(report)
        where = address(report.probe.ip, report.probe.port)
        if index:
            return True, f"tries the endpoints in order until one connects: {where} works"
        return True, f"{where} works"
    return False, "no endpoint accepts a connection"  # not reached: the last one decides


def _failure(report: EndpointReport) -> str:
    """Why one endpoint fails, in a few words."""
    probe = report.probe
    where = address(probe.ip, probe.port)
    if probe.error is not None:
        return f"{where} fails: {probe.error}"
    tls = probe.tls
    if tls is not None and not tls.verified:
        return f"{where} fails: TLS {tls.verify_error or 'not verified'}"
    if report.keys is not None and not report.keys.ok:
        first = report.keys.problems[0].message if report.keys.problems else "invalid keys"
        return f"{where} fails: server keys: {first}"
    if report.server is None:
        return f"{where} fails: no valid version answer"
    return f"{where} fails the checks"


def peer_problems(verdicts: tuple[PeerVerdict, ...], spec_ok: bool) -> list[Problem]:
    """``peer-disagreement`` when some implementations fail while others, or the spec, pass."""
    failing = [v for v in verdicts if not v.federation_ok]
    reaching = [v.policy.name for v in verdicts if v.federation_ok]
    if not failing or not (reaching or spec_ok):
        return []
    names = ", ".join(v.policy.name for v in failing)
    others = ", ".join(reaching) if reaching else "the spec's view"
    why = "; ".join(f"{v.policy.name}: {v.differs[-1] if v.differs else 'fails'}" for v in failing)
    message = f"{names} cannot reach the server, while {others} can ({why})"
    found = problem("peer-disagreement", message)
    found = replace(found, fix=f"{found.fix} {_fix(failing)}")
    if any(v.policy.name == WIDELY_DEPLOYED for v in failing):
        found = replace(found, severity="error")
    return [found]


#: A fix for each departure an implementation's discovery notes (by the rule's start).
_FIXES = (
    ("only 1 SRV record", "publish only SRV records whose targets work (some implementations"
     " use only one record, whichever comes first in the answer)"),
    ("an invalid m.server", 'write m.server as host[:port] (e.g. "matrix.example.org:443")'),
    ("only _matrix._tcp", "publish the _matrix._tcp SRV record too, with the same target"),
    ("the SRV target is an alias", "point the SRV record at a name with its own A/AAAA records"),
    ("a failed SRV lookup", "fix the DNS servers answering for the SRV names"),
    ("a redirect to plain http", "serve .well-known over https without redirecting to http"),
    ("the status of the answer", "serve .well-known with status 200, or not at all"),
)  # fmt: skip


def _fix(failing: list[PeerVerdict]) -> str:
    fixes = [
        fix
        for verdict in failing
        for line in verdict.differs
        for start, fix in _FIXES
        if line.startswith(start) and not _has_legacy(verdict, start)
    ]
    if not fixes:
        return "Make every endpoint pass the checks."
    text = "; ".join(dict.fromkeys(fixes))
    return text[0].upper() + text[1:] + "."


def _has_legacy(verdict: PeerVerdict, start: str) -> bool:
    """Whether advice to publish _matrix._tcp is moot: the record is there already."""
    route = verdict.resolution.route
    return start == "only _matrix._tcp" and route is not None and route.legacy_srv
