"""Notifications by e-mail: a message per event, plain text and HTML, the report attached
in the body as JSON (``--smtp URL --mail-to ADDRESS``)."""

from __future__ import annotations

import email.policy
import email.utils
from dataclasses import dataclass
from email.message import EmailMessage

from .._exceptions import ConfigurationError
from .._io.network import Network
from .._io.smtp import SmtpServer, send_mail
from .message import message

__all__ = ["Mailbox", "mail_address"]

_PREFIX = "mail "


def mail_address(text: str) -> str:
    """An address as given to ``--mail-to``/``--mail-from``: ``local@domain``, nothing else.

    Raises:
        ConfigurationError: not such an address (a line break or bracket would
            let it write SMTP commands or headers).
    """
    local, at, domain = text.rpartition("@")
    bad = set('\r\n<>,; \t"')
    if not at or not local or not domain or bad & set(text) or len(text) > 254:
        raise ConfigurationError(f"invalid e-mail address {text!r}: expected local@domain")
    return text


@dataclass(frozen=True, slots=True)
class Mailbox:
    """Where the mail goes: the server, the sender and the recipients."""

    server: SmtpServer
    sender: str
    recipients: tuple[str, ...]

    @property
    def target(self) -> str:
        """The outbox's name for this notifier."""
        return f"{_PREFIX}{self.server.host}:{self.server.port} {','.join(self.recipients)}"

    async def send(self, network: Network, body: bytes, timeout: float) -> str | None:
        """Send the event's mail; None once the server took it."""
        return await send_mail(
            network, self.server, self.sender, self.recipients, self.compose(body),
            timeout=timeout,
        )  # fmt: skip

    def compose(self, body: bytes) -> bytes:
        """The message: headers, plain text with the report, and the HTML alternative."""
        found = message(body)
        mail = EmailMessage(policy=email.policy.SMTP)
        mail["Subject"] = found.subject
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = email.utils.formatdate(usegmt=True)
        if found.event_id:  # the same on a retry: a mail client can drop the duplicate
            mail["Message-ID"] = f"<{found.event_id}@matrix-delegation>"
        mail.set_content(f"{found.text}\n\nThe check report (check --json):\n\n{found.report}\n")
        mail.add_alternative(f"<html><body>{found.html}</body></html>", subtype="html")
        return mail.as_bytes()
