"""Send what the outbox holds, beside the checks: a notifier that is down never blocks them.

The sender claims due notifications, sends them at most ``concurrency`` at a
time, each under a timeout, and marks each delivered or due again after the
next retry delay (:class:`~.outbox.Outbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from .._io.network import Network
from .database import reason
from .notify import Notifier
from .outbox import Delivery, Outbox

__all__ = ["Sender"]

log = logging.getLogger(__name__)


class Sender:
    """Delivers the outbox's notifications to this process's notifiers."""

    def __init__(
        self,
        outbox: Outbox,
        network: Network,
        notifiers: Sequence[Notifier],
        *,
        tick: float,
        timeout: float,
        concurrency: int = 8,
        lease: float | None = None,
    ) -> None:
        self.outbox, self.network, self.tick, self.timeout = outbox, network, tick, timeout
        # A claimed notification is this process's for this long: a send (bounded by the
        # timeout) and its marking, with room to spare; --lease may shorten it, not below that.
        self.lease = timeout * 2 + 30 if lease is None else max(lease, timeout + 5)
        self._notifiers = {notifier.target: notifier for notifier in notifiers}
        self._concurrency = concurrency

    @property
    def targets(self) -> list[str]:
        """The outbox targets this process sends to."""
        return list(self._notifiers)

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set (what is being sent then is finished first)."""
        while not stop.is_set():
            try:
                sent = await self.once()
            except (OSError, SQLAlchemyError) as exc:
                log.warning("the database did not answer the outbox: %s", reason(exc))
                sent = 0
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.tick)

    async def once(self) -> int:
        """Claim and send one batch; returns how many were tried."""
        batch = await self.outbox.claim(self.targets, self._concurrency, self.lease)
        await asyncio.gather(*(self._send(delivery) for delivery in batch))
        return len(batch)

    async def _send(self, delivery: Delivery) -> None:
        notifier = self._notifiers[delivery.target]
        try:
            error = await notifier.send(self.network, delivery.body.encode(), self.timeout)
        except Exception as exc:  # a bug in one notifier must not stop the others (or checks)
            log.error("notification to %s failed unexpectedly: %s", delivery.target, exc)
            error = "failed unexpectedly"
        if error is None:
            await self.outbox.delivered(delivery)
        else:
            log.warning("notification to %s failed: %s", delivery.target, error)
            await self.outbox.failed(delivery, error)
