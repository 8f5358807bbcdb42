"""Webhook notifications: a signed JSON POST per event (docs/watch.md).

The body is the event's payload exactly as stored in the outbox; the header
``X-Signature-256: sha256=<hex>`` is the HMAC-SHA256 of that raw body with the
webhook's secret, so a receiver recomputes it over the bytes it received.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from .._io.network import Network

__all__ = ["SIGNATURE_HEADER", "Webhook", "send_webhook", "sign"]

SIGNATURE_HEADER = "X-Signature-256"
_PREFIX = "webhook "


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where to POST, and the secret to sign with (empty: unsigned)."""

    url: str
    secret: bytes = b""

    @property
    def target(self) -> str:
        """The outbox's name for this notifier."""
        return _PREFIX + self.url

    async def send(self, network: Network, body: bytes, timeout: float) -> str | None:
        """POST the payload, signed (see :func:`send_webhook`)."""
        return await send_webhook(network, self, body, timeout)


async def send_webhook(network: Network, hook: Webhook, body: bytes, timeout: float) -> str | None:
    """POST one notification; None when the receiver took it (2xx), else why not."""
    headers = {"Content-Type": "application/json"}
    if hook.secret:
        headers[SIGNATURE_HEADER] = sign(hook.secret, body)
    answer = await network.post(hook.url, body, headers=headers, timeout=timeout)
    if answer.error is not None:
        return answer.error
    status = answer.status
    if status is not None and 200 <= status < 300:
        return None
    return f"HTTP {status}"
