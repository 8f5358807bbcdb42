"""RFC 2782 ordering: priority first, then weighted random, zero weights last."""

from __future__ import annotations

import random
from collections import Counter

from matrix_delegation._core.model import SrvRecord
from matrix_delegation._core.srv import order_srv, service_unavailable, usable_records


def rec(priority: int, weight: int, target: str) -> SrvRecord:
    return SrvRecord(priority, weight, 8448, target)


def test_lower_priority_always_first() -> None:
    records = [rec(20, 100, "c"), rec(10, 1, "a"), rec(30, 0, "d"), rec(10, 1, "b")]
    for seed in range(50):
        order = [r.target for r in order_srv(records, random.Random(seed))]
        assert set(order[:2]) == {"a", "b"} and order[2:] == ["c", "d"]


def test_weights_decide_the_first_pick_proportionally() -> None:
    records = [rec(0, 10, "light"), rec(0, 30, "heavy")]
    rng = random.Random(1234)
    first = Counter(order_srv(records, rng)[0].target for _ in range(20_000))
    share = first["heavy"] / 20_000
    # Expected 0.75; the bound is over four standard deviations (sd ~ 0.003).
    assert 0.735 < share < 0.765


def test_zero_weight_records_come_after_every_weighted_record() -> None:
    records = [rec(0, 0, "zero1"), rec(0, 5, "w1"), rec(0, 0, "zero2"), rec(0, 1, "w2")]
    seen_orders = set()
    for seed in range(200):
        order = [r.target for r in order_srv(records, random.Random(seed))]
        assert set(order[:2]) == {"w1", "w2"} and set(order[2:]) == {"zero1", "zero2"}
        seen_orders.add(tuple(order[2:]))
    assert len(seen_orders) == 2, "zero-weight records are shuffled"


def test_all_zero_weights_are_uniformly_shuffled() -> None:
    records = [rec(0, 0, t) for t in "abc"]
    rng = random.Random(7)
    first = Counter(order_srv(records, rng)[0].target for _ in range(9_000))
    assert all(2_700 < first[t] < 3_300 for t in "abc")


def test_same_seed_same_order() -> None:
    records = [rec(0, w, str(w)) for w in range(1, 8)]
    assert order_srv(records, random.Random(5)) == order_srv(records, random.Random(5))


def test_order_keeps_every_record_once() -> None:
    records = [rec(p, w, f"{p}-{w}") for p in range(3) for w in range(4)]
    assert sorted(order_srv(records, random.Random(0)), key=id) == sorted(records, key=id)


def test_root_target_rules() -> None:
    assert service_unavailable((rec(0, 0, "."),))
    assert not service_unavailable((rec(0, 0, "."), rec(1, 0, "x")))
    assert usable_records([rec(0, 0, "."), rec(1, 0, "x")]) == [rec(1, 0, "x")]
