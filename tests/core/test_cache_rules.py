"""Every caching rule, with an exact clock and exact randomness."""

from __future__ import annotations

import random

import pytest

from helpers.scripted import delegates, missing
from matrix_delegation._core.cache import (
    TtlCache,
    WellKnownCache,
    cache_period_from_headers,
    parse_cache_control,
)
from matrix_delegation._core.model import WellKnownResult

NOW = 1_700_000_000.0
HOUR = 3600.0


class FixedJitter(random.Random):
    """uniform(a, b) always returns the same point of the interval."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


MID = FixedJitter(0.5)  # jitter factor exactly 1.0
LOW = FixedJitter(0.0)  # factor 0.9
HIGH = FixedJitter(1.0)  # factor 1.1


def temporary(host: str = "example.org") -> WellKnownResult:
    return WellKnownResult(host, None, None, None, "timed out", temporary=True)


# --- headers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "period"),
    [
        ([], None),
        ([("Cache-Control", "max-age=600")], 600.0),
        ([("cache-control", "public, MAX-AGE=700")], 700.0),
        ([("Cache-Control", "max-age=600, no-store")], 0.0),
        ([("Cache-Control", "no-store"), ("Cache-Control", "max-age=600")], 0.0),
        ([("Cache-Control", "max-age=100"), ("Cache-Control", "max-age=200")], 200.0),
        ([("Cache-Control", "max-age=-5")], -5.0),
        ([("Cache-Control", "max-age=10.5")], None),
        ([("Cache-Control", "max-age=")], None),
        ([("Cache-Control", "private; max-age=0")], None),
        ([("Expires", "Wed, 15 Nov 2023 00:13:20 GMT")], 7200.0),
        ([("Cache-Control", "max-age=10.5"), ("Expires", "Wed, 15 Nov 2023 00:13:20 GMT")], 7200.0),
        ([("Expires", "0")], 0.0),
        ([("Expires", "Tue, 14 Nov 2023 00:00:00 GMT")], -80000.0),
        ([("Cache-Control", "max-age=60"), ("Expires", "Wed, 15 Nov 2023 00:13:20 GMT")], 60.0),
    ],
)
def test_cache_period_from_headers(headers, period) -> None:
    # NOW is 2023-11-14 22:13:20 UTC.
    assert cache_period_from_headers(headers, NOW) == period


def test_parse_cache_control_keeps_values_and_lowercases_names() -> None:
    assert parse_cache_control(['No-Cache, Max-Age=60 , x="Y"']) == {
        "no-cache": None,
        "max-age": "60",
        "x": '"Y"',
    }


# --- .well-known periods ----------------------------------------------------------------


def record(cache: WellKnownCache, result: WellKnownResult, header=None, now=NOW, rng=MID):
    return cache.record(result, header, now, rng)


@pytest.mark.parametrize(
    ("rng", "period"), [(LOW, 0.9 * 24 * HOUR), (MID, 24 * HOUR), (HIGH, 1.1 * 24 * HOUR)]
)
def test_default_period_is_24h_with_10_percent_jitter(rng, period) -> None:
    result, refresh_at = record(
        WellKnownCache(10), delegates("example.org", "m.example.org"), rng=rng
    )
    assert result.expires_at == pytest.approx(NOW + period)
    assert refresh_at == pytest.approx(NOW + 0.8 * period)


@pytest.mark.parametrize(
    ("header", "period"),
    [
        (0.0, 300.0),
        (-5.0, 300.0),
        (299.0, 300.0),
        (301.0, 301.0),
        (49 * HOUR, 48 * HOUR),
        (48 * HOUR, 48 * HOUR),
    ],
)
def test_header_period_is_clamped_to_5min_48h_without_jitter(header, period) -> None:
    result, _ = record(
        WellKnownCache(10), delegates("example.org", "m.example.org"), header, rng=HIGH
    )
    assert result.expires_at == NOW + period


def test_fresh_until_80_percent_then_refresh_due() -> None:
    cache = WellKnownCache(10)
    record(cache, delegates("example.org", "m.example.org"), 1000.0)
    assert cache.fresh("example.org", NOW + 799.9) is not None
    assert cache.fresh("example.org", NOW + 800.0) is None


@pytest.mark.parametrize(("rng", "period"), [(LOW, 0.9 * HOUR), (MID, HOUR), (HIGH, 1.1 * HOUR)])
def test_failure_is_cached_for_an_hour_with_jitter(rng, period) -> None:
    cache = WellKnownCache(10)
    result, _ = record(cache, missing("example.org"), rng=rng)
    assert result.expires_at == pytest.approx(NOW + period)
    cached = cache.fresh("example.org", NOW + 0.8 * period - 1)
    assert cached is not None and cached[0].error == "HTTP 404"


def test_failure_after_a_recent_valid_file_is_cached_2_minutes() -> None:
    cache = WellKnownCache(10)
    record(cache, delegates("example.org", "m.example.org"), 600.0)
    # Past the 600 s lifetime, but within lifetime + 2 h: the domain "recently had" a file.
    later = NOW + 601.0
    result, _ = record(cache, missing("example.org"), now=later, rng=HIGH)
    assert result.expires_at == pytest.approx(later + 1.1 * 120)


def test_had_valid_is_forgotten_after_lifetime_plus_2_hours() -> None:
    cache = WellKnownCache(10)
    record(cache, delegates("example.org", "m.example.org"), 600.0)
    assert cache.attempts("example.org", NOW + 600 + 2 * HOUR - 1) == 3
    assert cache.attempts("example.org", NOW + 600 + 2 * HOUR) == 1
    result, _ = record(cache, missing("example.org"), now=NOW + 600 + 2 * HOUR)
    assert result.expires_at == NOW + 600 + 2 * HOUR + HOUR


def test_three_attempts_only_for_domains_that_had_a_valid_file() -> None:
    cache = WellKnownCache(10)
    assert cache.attempts("example.org", NOW) == 1
    record(cache, missing("example.org"))
    assert cache.attempts("example.org", NOW) == 1
    record(cache, delegates("example.org", "m.example.org"))
    assert cache.attempts("example.org", NOW) == 3


def test_temporary_failure_in_refresh_window_keeps_the_last_good_answer() -> None:
    cache = WellKnownCache(10)
    good, _ = record(cache, delegates("example.org", "m.example.org"), 1000.0)
    result, refresh_at = record(cache, temporary(), now=NOW + 900)
    assert result.stale and result.delegated_server == good.delegated_server
    assert refresh_at == NOW + 900, "a stale answer is not fresh: the next lookup retries"
    # The cache itself was left alone.
    assert cache.fresh("example.org", NOW + 900) is None
    assert cache.attempts("example.org", NOW + 900) == 3


def test_permanent_failure_in_refresh_window_replaces_the_delegation() -> None:
    cache = WellKnownCache(10)
    record(cache, delegates("example.org", "m.example.org"), 1000.0)
    result, _ = record(cache, missing("example.org"), now=NOW + 900)
    assert not result.valid and not result.stale
    assert result.expires_at == pytest.approx(NOW + 900 + 120)


def test_temporary_failure_after_expiry_is_not_covered_by_the_old_answer() -> None:
    cache = WellKnownCache(10)
    record(cache, delegates("example.org", "m.example.org"), 1000.0)
    result, _ = record(cache, temporary(), now=NOW + 1000)
    assert not result.valid and not result.stale


# --- TTL cache --------------------------------------------------------------------------


def test_ttl_cache_expiry_stale_and_lru_bound() -> None:
    cache: TtlCache[str, int] = TtlCache(max_entries=2)
    cache.put("a", 1, NOW + 10)
    cache.put("b", 2, NOW + 10)
    assert cache.get("a", NOW) == (1, NOW + 10)  # "a" is now the most recently used
    cache.put("c", 3, NOW + 10)
    assert cache.get("b", NOW) is None and len(cache) == 2
    assert cache.get("a", NOW + 10) is None, "expired at its expiry time"
    assert cache.get_stale("a") == (1, NOW + 10)
    cache.pop("a")
    assert cache.get_stale("a") is None
    cache.clear()
    assert len(cache) == 0


def test_well_known_cache_is_bounded() -> None:
    cache = WellKnownCache(max_entries=3)
    for index in range(5):
        record(cache, delegates(f"h{index}.example", "m.example.org"))
    assert len(cache) == 3
    assert cache.fresh("h0.example", NOW) is None
    assert cache.fresh("h4.example", NOW) is not None
