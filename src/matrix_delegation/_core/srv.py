"""SRV record ordering (RFC 2782), with randomness passed in."""

from __future__ import annotations

import random
from collections.abc import Iterable

from .model import SrvRecord

__all__ = ["ROOT_TARGET", "order_srv", "service_unavailable", "usable_records"]

#: A target of "." means "decidedly not available at this domain" (RFC 2782).
ROOT_TARGET = "."


def service_unavailable(records: tuple[SrvRecord, ...]) -> bool:
    """Whether the answer says there is no such service here.

    RFC 2782 gives the root target that meaning only as the sole record;
    Synapse applies the same test (docs/design.md §5.4).
    """
    return len(records) == 1 and records[0].target == ROOT_TARGET


def usable_records(records: Iterable[SrvRecord]) -> list[SrvRecord]:
    """The records that name a real target (a stray "." among others is dropped)."""
    return [record for record in records if record.target != ROOT_TARGET]


def order_srv(records: Iterable[SrvRecord], rng: random.Random) -> tuple[SrvRecord, ...]:
    """Put SRV records in the order to try them.

    Lower priority first. Within a priority, repeatedly pick a record at random
    with probability proportional to its weight; records of weight 0 can only
    be picked once every weighted record is gone, and then in random order.
    This is RFC 2782's selection as Synapse implements it (docs/design.md §5.4).
    """
    by_priority: dict[int, list[SrvRecord]] = {}
    for record in records:
        by_priority.setdefault(record.priority, []).append(record)
    ordered: list[SrvRecord] = []
    for priority in sorted(by_priority):
        ordered.extend(_order_group(by_priority[priority], rng))
    return tuple(ordered)


def _order_group(group: list[SrvRecord], rng: random.Random) -> list[SrvRecord]:
    remaining = list(group)
    total = sum(record.weight for record in remaining)
    picked: list[SrvRecord] = []
    while remaining and total > 0:
        chosen = remaining.pop(_weighted_index(remaining, rng.randint(1, total)))
        picked.append(chosen)
        total -= chosen.weight
    rng.shuffle(remaining)  # only weight-0 records are left
    return picked + remaining


def _weighted_index(records: list[SrvRecord], threshold: int) -> int:
    """The first record whose running weight total reaches ``threshold``."""
    for index, record in enumerate(records):
        threshold -= record.weight
        if threshold <= 0:
            return index
    raise AssertionError("threshold above the total weight")
