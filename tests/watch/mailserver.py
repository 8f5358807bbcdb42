"""A real SMTP server in the test process (aiosmtpd), with STARTTLS or TLS and a login."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "watcher", "mail-s3cret"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class Inbox:
    """What the server received: each message parsed, with its envelope."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        good = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(), PASSWORD.encode())  # fmt: skip
        if good:
            self.logins.append(mechanism)
        return AuthResult(success=good)


def start_mail_server(
    inbox: Inbox, context: ssl.SSLContext | None, *, implicit_tls: bool = False
) -> Controller:
    """STARTTLS required (or TLS from the start with ``implicit_tls``); None: no TLS at all."""
    options: dict[str, Any] = {"authenticator": inbox.authenticate}
    if implicit_tls:
        # aiosmtpd does not see that a connection wrapped from the start is encrypted,
        # so it would refuse every login; the listener speaks nothing but TLS anyway.
        options |= {"ssl_context": context, "auth_require_tls": False}
    elif context is not None:
        options |= {"tls_context": context, "require_starttls": True}
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return controller
