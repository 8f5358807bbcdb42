"""Prometheus metrics per watched name, on ``watch --metrics-listen``.

Expiries are kept as instants and turned into seconds left when scraped, so
the numbers count down between checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from .observe import Observation

__all__ = ["WatchMetrics", "metrics_app"]

_PREFIX = "matrix_delegation_watch_"


@dataclass(frozen=True, slots=True)
class _Last:
    ok: bool
    cert_expires_at: float | None
    key_expires_at: float | None
    duration: float
    checked_at: float


class WatchMetrics(Collector):
    """The last check of each name, as gauges labelled ``server_name``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._last: dict[str, _Last] = {}
        self._clock = clock
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def checked(self, name: str, seen: Observation, duration: float, at: float) -> None:
        """Remember one check (a :data:`~.daemon.OnChecked` callback)."""
        self._last[name] = _Last(
            seen.federation_ok, seen.cert_expires_at, seen.key_expires_at, duration, at
        )

    def forget_except(self, names: set[str]) -> None:
        """Drop the names no longer watched (after SIGHUP)."""
        for name in set(self._last) - names:
            del self._last[name]

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        for suffix, help_text in _FAMILIES.items():
            family = GaugeMetricFamily(_PREFIX + suffix, help_text, labels=["server_name"])
            for name, last in sorted(self._last.items()):
                number = _values(last, now)[suffix]
                if number is not None:
                    family.add_metric([name], number)
            yield family


_FAMILIES = {
    "federation_ok": "1 when federation with the server works",
    "certificate_expiry_seconds": "seconds until the earliest certificate expires",
    "key_expiry_seconds": "seconds until the earliest server key expires",
    "check_duration_seconds": "how long the last check took",
    "last_check_timestamp_seconds": "when the last check ended",
}


def _values(last: _Last, now: float) -> dict[str, float | None]:
    return {
        "federation_ok": float(last.ok),
        "certificate_expiry_seconds": _left(last.cert_expires_at, now),
        "key_expiry_seconds": _left(last.key_expires_at, now),
        "check_duration_seconds": last.duration,
        "last_check_timestamp_seconds": last.checked_at,
    }


def _left(instant: float | None, now: float) -> float | None:
    return None if instant is None else instant - now


def metrics_app(metrics: WatchMetrics) -> web.Application:
    """``GET /metrics``, in the Prometheus text format."""

    async def handler(_request: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", handler)
    return app
