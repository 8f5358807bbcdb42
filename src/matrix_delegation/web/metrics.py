"""The web checker's Prometheus metrics (``docs/web-api.md`` lists them)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]


class Metrics:
    """The app's own Prometheus registry (never the process-wide default one)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        prefix = "matrix_delegation_web"
        self.checks = Counter(
            f"{prefix}_checks", "Checks run, by verdict", ["verdict"], registry=self.registry
        )
        self.duration = Histogram(
            f"{prefix}_check_duration_seconds",
            "How long a check took",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60),
            registry=self.registry,
        )
        self.reports = Counter(
            f"{prefix}_report_requests",
            "Report requests by source: cache hit, cache miss (a new check) or coalesced",
            ["source"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            f"{prefix}_rate_limited_requests", "Requests refused by the rate limit",
            registry=self.registry,
        )  # fmt: skip
        self.client_busy = Counter(
            f"{prefix}_client_busy_requests",
            "Requests refused: the client has as many checks running as it may",
            registry=self.registry,
        )
        self.busy = Counter(
            f"{prefix}_busy_requests", "Requests refused: too many checks running",
            registry=self.registry,
        )  # fmt: skip
        self.running = Gauge(
            f"{prefix}_checks_running", "Checks running now", registry=self.registry
        )
