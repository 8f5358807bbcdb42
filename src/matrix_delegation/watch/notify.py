"""What every notifier is: a name in the outbox, and a way to send one event's payload."""

from __future__ import annotations

from typing import Protocol

from .._io.network import Network

__all__ = ["Notifier"]


class Notifier(Protocol):
    """A webhook, a Matrix room or a mailbox."""

    @property
    def target(self) -> str:
        """The outbox's name for it (stable across restarts: rows wait under it)."""
        ...

    async def send(self, network: Network, body: bytes, timeout: float) -> str | None:
        """Send one event (``body``: its payload as stored); None when it was taken,
        else why not (it is then retried)."""
        ...
