"""The working state of :func:`~._core.plan.plan`: the route chosen, a failure, the notes."""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import (
    Endpoint,
    Fact,
    Failure,
    HostAddresses,
    Level,
    Resolution,
    Route,
    SrvLookup,
    TraceEntry,
    WellKnownResult,
)

__all__ = ["Choice", "Failed", "Notes"]


@dataclass(slots=True)
class Choice:
    """A route and its targets (host, port) in the order to try them."""

    route: Route
    host_header: str
    tls_server_name: str | None
    targets: list[tuple[str, int]]


@dataclass(slots=True)
class Failed:
    failure: Failure
    route: Route | None
    host_header: str | None
    tls_server_name: str | None


@dataclass(slots=True)
class Notes:
    """What the resolution records as it goes."""

    server_name: str
    trace: list[TraceEntry] = field(default_factory=list)
    well_known: WellKnownResult | None = None
    srv: list[SrvLookup] = field(default_factory=list)

    def note(
        self,
        step: str,
        rule: str,
        answer: WellKnownResult | SrvLookup | HostAddresses | None = None,
        level: Level = "info",
        fact: Fact | None = None,
    ) -> None:
        self.trace.append(TraceEntry(step, rule, answer, level, fact))

    def resolution(
        self, outcome: Choice | Failed, endpoints: tuple[Endpoint, ...] = ()
    ) -> Resolution:
        failure = outcome.failure if isinstance(outcome, Failed) else None
        return Resolution(
            self.server_name,
            outcome.route,
            outcome.host_header,
            outcome.tls_server_name,
            endpoints,
            self.well_known,
            tuple(self.srv),
            tuple(self.trace),
            failure,
        )
