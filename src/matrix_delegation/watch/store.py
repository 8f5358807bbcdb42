"""The names, their claims, the check results and the events, in the database.

A due name is claimed with one ``UPDATE ... WHERE name IN (SELECT ... FOR
UPDATE SKIP LOCKED) RETURNING`` (SQLite, a single writer, has no row locks
and needs none), for a lease: a process that dies mid-check leaves a claim
that runs out, and another process takes the name. A check is recorded, with
its events and their notifications, in one transaction that holds only while
the claim is still ours, so an event is recorded once.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .events import Event, NameState
from .observe import Observation
from .outbox import enqueue
from .schema import check_results, events, names, outbox

__all__ = ["Checked", "Claimed", "Store"]

_BATCH = 500  # rows per statement when a long list of names is synced


@dataclass(frozen=True, slots=True)
class Claimed:
    """A name this process holds the claim on, with its state."""

    name: str
    state: NameState


@dataclass(frozen=True, slots=True)
class Checked:
    """One finished check, ready to record."""

    name: str
    checked_at: float
    duration: float
    seen: Observation
    state: NameState
    events: list[Event]
    next_check_at: float
    report: dict[str, Any]  # the check --json object, for the notifications


class Store:
    """The watch's tables, as one process (``worker``) uses them."""

    def __init__(
        self,
        engine: AsyncEngine,
        worker: str,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.engine, self.worker, self.clock = engine, worker, clock
        self._rng = rng or random.Random()

    async def sync_names(self, wanted: Sequence[str], spread: float) -> None:
        """Watch exactly ``wanted``: new names are due within ``spread`` seconds (spread out
        so that thousands do not fire at once), names no longer listed are set aside.

        One transaction, in batches: no statement grows with the list.
        """
        now = self.clock()
        async with self.engine.begin() as connection:
            await connection.execute(sa.update(names).values(active=False))
            for start in range(0, len(wanted), _BATCH):
                batch = wanted[start : start + _BATCH]
                rows = [self._new_row(name, now, spread) for name in batch]
                await connection.execute(_insert_new(connection).values(rows))
                await connection.execute(
                    sa.update(names).where(names.c.name.in_(batch)).values(active=True)
                )

    def _new_row(self, name: str, now: float, spread: float) -> dict[str, Any]:
        return {
            "name": name,
            "active": True,
            "next_check_at": now + self._rng.uniform(0, spread),
            "failures": 0,
            "down": False,
            "baseline": {},
        }

    async def claim(self, limit: int, lease: float) -> list[Claimed]:
        """Claim up to ``limit`` due names for ``lease`` seconds."""
        now = self.clock()
        free = sa.or_(names.c.lease_until.is_(None), names.c.lease_until < now)
        due = (
            sa.select(names.c.name)
            .where(names.c.active, names.c.next_check_at <= now, free)
            .order_by(names.c.next_check_at)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite writes one at a time
        )
        claim = (
            sa.update(names)
            .where(names.c.name.in_(due), free)
            .values(claimed_by=self.worker, lease_until=now + lease)
            .returning(*_STATE_COLUMNS)
        )
        async with self.engine.begin() as connection:
            rows = (await connection.execute(claim)).all()
        return [Claimed(row.name, _state(row)) for row in rows]

    async def release(self, name: str, next_check_at: float) -> None:
        """Give a claim back without a result (a check that could not finish)."""
        async with self.engine.begin() as connection:
            await connection.execute(
                sa.update(names)
                .where(names.c.name == name, names.c.claimed_by == self.worker)
                .values(claimed_by=None, lease_until=None, next_check_at=next_check_at)
            )

    async def record(self, checked: Checked, targets: Sequence[str]) -> list[str]:
        """Record a check, its events and their notifications to ``targets``.

        Returns the IDs of the events recorded; none (and nothing recorded) when
        the claim ran out and another process took the name meanwhile.
        """
        async with self.engine.connect() as connection:
            transaction = await connection.begin()
            if not await self._update_state(connection, checked):
                await transaction.rollback()
                return []
            row = _result_row(checked) | {"checked_by": self.worker}
            await connection.execute(sa.insert(check_results).values(row))
            ids = [await self._event(connection, checked, e, targets) for e in checked.events]
            await transaction.commit()
        return ids

    async def _update_state(self, connection: AsyncConnection, checked: Checked) -> bool:
        state = checked.state
        result = await connection.execute(
            sa.update(names)
            .where(names.c.name == checked.name, names.c.claimed_by == self.worker)
            .values(
                claimed_by=None,
                lease_until=None,
                next_check_at=checked.next_check_at,
                last_checked_at=checked.checked_at,
                failures=state.failures,
                down=state.down,
                down_since=state.down_since,
                reminded_at=state.reminded_at,
                baseline=state.baseline,
            )
        )
        return bool(result.rowcount)

    async def _event(
        self, connection: AsyncConnection, checked: Checked, event: Event, targets: Sequence[str]
    ) -> str:
        event_id = uuid.uuid4().hex  # unique across processes: the receivers drop duplicates by it
        at = checked.checked_at
        await connection.execute(
            sa.insert(events).values(
                id=event_id, server_name=checked.name, kind=event.kind, at=at, summary=event.summary
            )
        )
        payload = {
            "id": event_id,
            "event": event.kind,
            "server_name": checked.name,
            "at": at,
            "summary": event.summary,
            "report": checked.report,
        }
        await enqueue(connection, payload, targets, at)
        return event_id

    async def history(self, name: str, since: float) -> list[sa.Row[Any]]:
        """The check results of ``name`` since ``since``, oldest first."""
        query = (
            sa.select(check_results)
            .where(check_results.c.server_name == name, check_results.c.checked_at >= since)
            .order_by(check_results.c.checked_at)
        )
        async with self.engine.connect() as connection:
            return list((await connection.execute(query)).all())

    async def events_of(self, name: str | None = None) -> list[sa.Row[Any]]:
        """The events recorded (of ``name``, or of every name), oldest first."""
        query = sa.select(events).order_by(events.c.at)
        if name is not None:
            query = query.where(events.c.server_name == name)
        async with self.engine.connect() as connection:
            return list((await connection.execute(query)).all())

    async def prune(self, before: float) -> None:
        """Forget check results, events and notifications older than ``before``."""
        async with self.engine.begin() as connection:
            await connection.execute(sa.delete(outbox).where(outbox.c.created_at < before))
            await connection.execute(sa.delete(events).where(events.c.at < before))
            await connection.execute(
                sa.delete(check_results).where(check_results.c.checked_at < before)
            )


_STATE_COLUMNS = (
    names.c.name,
    names.c.failures,
    names.c.down,
    names.c.down_since,
    names.c.reminded_at,
    names.c.baseline,
)


def _state(row: sa.Row[Any]) -> NameState:
    return NameState(
        failures=row.failures,
        down=bool(row.down),
        down_since=row.down_since,
        reminded_at=row.reminded_at,
        baseline=dict(row.baseline or {}),
    )


def _insert_new(connection: AsyncConnection) -> Any:
    """An INSERT that leaves a name another process inserted first as it is."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(names).on_conflict_do_nothing(index_elements=["name"])


def _result_row(checked: Checked) -> dict[str, Any]:
    seen = checked.seen
    return {
        "server_name": checked.name,
        "checked_at": checked.checked_at,
        "federation_ok": seen.federation_ok,
        "route": seen.route,
        "m_server": seen.m_server,
        "endpoints": list(seen.endpoints),
        "problems": list(seen.problems),
        "cert_expires_at": seen.cert_expires_at,
        "key_expires_at": seen.key_expires_at,
        "duration": checked.duration,
    }
