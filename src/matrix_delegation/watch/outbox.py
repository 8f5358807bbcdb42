"""The notification outbox: one row per event and notifier, until it is delivered.

Rows are written in the transaction that records the event (:mod:`.store`),
so no event is lost between the two; a sender claims due rows with a lease
as names are claimed, and marks each delivered or due again later. Delivery
is at least once: a sender that dies after sending but before marking sends
again, with the same event ``id`` for the receiver to drop the duplicate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .schema import outbox

__all__ = ["DEFAULT_RETRY_DELAYS", "MAX_ATTEMPTS", "Delivery", "Outbox", "enqueue"]

#: Seconds before each retry of a failed notification; the last repeats until MAX_ATTEMPTS.
DEFAULT_RETRY_DELAYS = (30.0, 120.0, 600.0, 3600.0)
#: Attempts before a notification is given up (about a day at the last delay).
MAX_ATTEMPTS = 28
_ERROR_LENGTH = 500


async def enqueue(
    connection: AsyncConnection, payload: Mapping[str, Any], targets: Sequence[str], at: float
) -> None:
    """One pending notification of ``payload`` per target, due now."""
    if not targets:
        return
    body = json.dumps(payload, separators=(",", ":"))
    rows = [
        {"event_id": payload["id"], "target": target, "body": body, "state": "pending",
         "attempts": 0, "next_attempt_at": at, "created_at": at}
        for target in targets
    ]  # fmt: skip
    await connection.execute(sa.insert(outbox).values(rows))


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed notification: where it goes and the exact body to send."""

    id: int
    target: str
    body: str
    attempts: int


class Outbox:
    """The outbox as one sending process (``worker``) uses it."""

    def __init__(
        self,
        engine: AsyncEngine,
        worker: str,
        *,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine, self.worker, self.clock = engine, worker, clock
        self.retry_delays = tuple(retry_delays) or DEFAULT_RETRY_DELAYS

    async def claim(self, targets: Sequence[str], limit: int, lease: float) -> list[Delivery]:
        """Claim up to ``limit`` due notifications to ``targets`` (the ones this process
        knows how to send) for ``lease`` seconds."""
        if not targets:
            return []
        now = self.clock()
        free = sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now)
        due = (
            sa.select(outbox.c.id)
            .where(outbox.c.state == "pending", outbox.c.next_attempt_at <= now, free)
            .where(outbox.c.target.in_(targets))
            .order_by(outbox.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claim = (
            sa.update(outbox)
            .where(outbox.c.id.in_(due), free)
            .values(claimed_by=self.worker, lease_until=now + lease)
            .returning(outbox.c.id, outbox.c.target, outbox.c.body, outbox.c.attempts)
        )
        async with self.engine.begin() as connection:
            rows = (await connection.execute(claim)).all()
        return [Delivery(row.id, row.target, row.body, row.attempts) for row in rows]

    async def delivered(self, delivery: Delivery) -> None:
        """Mark a notification sent (its last error, if any, stays for the record)."""
        await self._finish(delivery, state="delivered", delivered_at=self.clock())

    async def failed(self, delivery: Delivery, error: str) -> None:
        """Try again after the next delay, or give up after :data:`MAX_ATTEMPTS`."""
        attempts = delivery.attempts + 1
        delay = self.retry_delays[min(attempts, len(self.retry_delays)) - 1]
        await self._finish(
            delivery,
            state="pending" if attempts < MAX_ATTEMPTS else "abandoned",
            next_attempt_at=self.clock() + delay,
            last_error=error[:_ERROR_LENGTH],
        )

    async def _finish(self, delivery: Delivery, **values: Any) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                sa.update(outbox)
                .where(outbox.c.id == delivery.id, outbox.c.claimed_by == self.worker)
                .values(
                    claimed_by=None,
                    lease_until=None,
                    attempts=delivery.attempts + 1,
                    **values,
                )
            )

    async def rows(self) -> list[sa.Row[Any]]:
        """Every notification, for ``history`` and the tests."""
        async with self.engine.connect() as connection:
            return list((await connection.execute(sa.select(outbox).order_by(outbox.c.id))).all())
