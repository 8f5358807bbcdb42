"""Notifications to a Matrix room, through the client-server API.

Each event is one ``m.notice`` (plain text, and HTML with the problems and
their fixes) sent with ``PUT /_matrix/client/v3/rooms/{roomId}/send/
m.room.message/{txnId}``. The transaction ID comes from the event's ``id``, so
a retry after a lost answer is recognised by the homeserver and never posts
twice (client-server API, "Transaction identifiers").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

from .._core.jsondoc import read_json
from .._io.network import Network
from .message import message

__all__ = ["MatrixRoom"]

_PREFIX = "matrix-room "


@dataclass(frozen=True, slots=True)
class MatrixRoom:
    """A room on a homeserver, and the access token of the account that posts there."""

    homeserver: str  # the client-server base URL, e.g. https://matrix.example.com
    room_id: str
    access_token: str

    @property
    def target(self) -> str:
        """The outbox's name for this notifier."""
        return f"{_PREFIX}{self.homeserver} {self.room_id}"

    async def send(self, network: Network, body: bytes, timeout: float) -> str | None:
        """Post the event's message; None once the homeserver has it."""
        found = message(body)
        content = {
            "msgtype": "m.notice",
            "body": found.text,
            "format": "org.matrix.custom.html",
            "formatted_body": found.html,
        }
        url = (
            f"{self.homeserver.rstrip('/')}/_matrix/client/v3/rooms/"
            f"{quote(self.room_id, safe='')}/send/m.room.message/"
            f"{quote('md-' + found.event_id, safe='')}"
        )
        headers = {
            "Authorization": f"Bearer {self.access_token}",
            "Content-Type": "application/json",
        }
        answer = await network.post(
            url, json.dumps(content).encode(), headers=headers, timeout=timeout, method="PUT"
        )
        if answer.error is not None:
            return answer.error
        if answer.status == 200:
            return None
        return f"HTTP {answer.status}: {_errcode(answer.body)}"


def _errcode(body: bytes) -> str:
    """The Matrix ``errcode`` of an error answer, when it has one (for the log)."""
    document = read_json(body, max_bytes=65536)
    value = document.value
    code = value.get("errcode") if isinstance(value, dict) else None
    return code if isinstance(code, str) and len(code) < 100 else "no Matrix error code"
