"""The schedule: claim due names, check each afresh, record what was seen and the events.

Every check builds its own :class:`~matrix_delegation.Resolver` (and so its
own caches and connections): a scheduled check is a first look, as a peer
meeting the server for the first time takes it, so a changed ``.well-known``
or key is seen at the next check. A name is next due after ``interval``
while federation works and ``failing_interval`` while it fails, each spread
by ``jitter`` so that names checked together drift apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from .._io.config import ResolverConfig
from ..checker.check import check_server
from ..checker.output import report_json
from ..checker.report import Report
from ..resolver import Resolver
from .database import reason
from .events import Rules, detect
from .observe import Observation, observe
from .store import Checked, Claimed, Store

__all__ = ["CheckFunction", "OnChecked", "Schedule", "Watcher"]

log = logging.getLogger(__name__)

CheckFunction = Callable[[Resolver, str, float], Awaitable[Report]]
#: Called after each recorded check: name, what was seen, duration, when.
OnChecked = Callable[[str, Observation, float, float], None]
_RECORD_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 30.0, 30.0)  # a lost database, retried


@dataclass(frozen=True, slots=True)
class Schedule:
    """How often, how many at once, and for how long a claim holds."""

    interval: float = 300.0
    failing_interval: float = 60.0
    jitter: float = 0.1  # a fraction of the interval, either way
    concurrency: int = 50
    timeout: float = 10.0  # each DNS query, fetch and connection of a check
    keep_days: float = 30.0
    prune_every: float = 3600.0
    claim_for: float | None = None  # the lease; None: from the timeout (see lease)

    @property
    def deadline(self) -> float:
        """The bound on a whole check."""
        return self.timeout * 6

    @property
    def lease(self) -> float:
        """How long a claim holds: by default a check and its recording, with room to spare."""
        return self.claim_for if self.claim_for is not None else self.deadline * 2 + 30

    @property
    def tick(self) -> float:
        """How often to look for due names when none was due."""
        return max(0.01, min(1.0, self.interval / 10, self.failing_interval / 10))


async def _check(resolver: Resolver, name: str, timeout: float) -> Report:
    return await check_server(resolver, name, timeout=timeout)


class Watcher:
    """Runs the schedule of the names in ``store`` until asked to stop."""

    def __init__(
        self,
        store: Store,
        config: ResolverConfig,
        schedule: Schedule,
        rules: Rules,
        *,
        targets: list[str],
        on_checked: OnChecked | None = None,
        check: CheckFunction = _check,
        rng: random.Random | None = None,
    ) -> None:
        self.store, self.config, self.schedule, self.rules = store, config, schedule, rules
        self.targets, self.on_checked, self._check = targets, on_checked, check
        self._rng = rng or random.Random()
        self._in_flight: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Check due names until ``stop`` is set; then finish the checks in flight."""
        pruner = asyncio.ensure_future(self._prune_until(stop))
        try:
            while not stop.is_set():
                await self._start_due()
                await self._wait(stop)
        finally:
            pruner.cancel()
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _start_due(self) -> None:
        free = self.schedule.concurrency - len(self._in_flight)
        if free <= 0:
            return
        try:
            claimed = await self.store.claim(free, self.schedule.lease)
        except (OSError, SQLAlchemyError) as exc:
            log.warning("the database did not answer: %s", reason(exc))
            return
        for one in claimed:
            task = asyncio.ensure_future(self._check_and_record(one))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until the next look: a tick, a freed slot when all are busy, or the stop."""
        stopping = asyncio.ensure_future(stop.wait())
        waiting: set[asyncio.Future[Any]] = {stopping}
        if len(self._in_flight) >= self.schedule.concurrency:
            waiting |= set(self._in_flight)
        try:
            await asyncio.wait(waiting, timeout=self.schedule.tick, return_when="FIRST_COMPLETED")
        finally:
            stopping.cancel()

    async def _check_and_record(self, claimed: Claimed) -> None:
        try:
            checked = await self._check_one(claimed)
        except Exception as exc:  # a bug must not stop the watch; the name comes again
            log.error("checking %s failed unexpectedly: %s", claimed.name, exc)
            await self._release(claimed.name, self.schedule.failing_interval)
            return
        await self._record(checked)

    async def _check_one(self, claimed: Claimed) -> Checked:
        started, clock = time.monotonic(), self.store.clock
        async with Resolver.from_config(self.config) as resolver:
            try:
                async with asyncio.timeout(self.schedule.deadline):
                    report = await self._check(resolver, claimed.name, self.schedule.timeout)
            except TimeoutError:
                report = Report(claimed.name, False, None, (), None, None, ())
        duration, now = time.monotonic() - started, clock()
        seen = observe(report)
        state, found = detect(claimed.name, claimed.state, seen, now, self.rules)
        return Checked(
            name=claimed.name,
            checked_at=now,
            duration=duration,
            seen=seen,
            state=state,
            events=found,
            next_check_at=now + self._next_in(seen.federation_ok),
            report=report_json(report),
        )

    def _next_in(self, ok: bool) -> float:
        base = self.schedule.interval if ok else self.schedule.failing_interval
        return base * (1 + self._rng.uniform(-self.schedule.jitter, self.schedule.jitter))

    async def _record(self, checked: Checked) -> None:
        """Record, retrying while the database is away (bounded; the claim then runs out
        and the name is checked again)."""
        for attempt, delay in enumerate((*_RECORD_DELAYS, None)):
            try:
                recorded = await self.store.record(checked, self.targets)
                break
            except (OSError, SQLAlchemyError) as exc:
                if delay is None:
                    log.error("could not record the check of %s: %s", checked.name, reason(exc))
                    return
                if attempt == 0:
                    log.warning("the database did not answer, retrying: %s", reason(exc))
                await asyncio.sleep(delay)
        for event in checked.events if recorded else ():
            log.info("%s", event.summary)
        if self.on_checked is not None:
            self.on_checked(checked.name, checked.seen, checked.duration, checked.checked_at)

    async def _release(self, name: str, after: float) -> None:
        try:
            await self.store.release(name, self.store.clock() + after)
        except (OSError, SQLAlchemyError) as exc:
            log.warning("could not release %s: %s", name, reason(exc))

    async def _prune_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            before = self.store.clock() - self.schedule.keep_days * 86400
            try:
                await self.store.prune(before)
            except (OSError, SQLAlchemyError) as exc:
                log.warning("could not prune old results: %s", reason(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.schedule.prune_every)
