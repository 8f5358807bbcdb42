"""Sending one e-mail over SMTP (RFC 5321), always encrypted: STARTTLS (RFC 3207) or TLS.

The server is reached through the network edge (our DNS, the IP policy,
``--connect-to``) and its certificate verified with the edge's TLS context
for the server's name. Every reply is bounded (line length, lines per reply)
and the whole exchange runs under one deadline. Nothing the server does
raises: :func:`send_mail` returns why it failed.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .._exceptions import ConfigurationError
from .network import Network

__all__ = ["SmtpServer", "send_mail"]

_MAX_LINE = 1000  # RFC 5321 §4.5.3.1.5: a reply line, CRLF included
_MAX_LINES = 100
_PORTS = {"smtp": 587, "smtps": 465}


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where to send: ``smtp://`` is STARTTLS (port 587), ``smtps://`` TLS from the start
    (port 465); optional ``USER:PASSWORD@`` for ``AUTH PLAIN``."""

    host: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        """Raises ConfigurationError for anything but ``smtp[s]://[USER:PASSWORD@]HOST[:PORT]``."""
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in _PORTS or not parts.hostname or port == -1:
            raise ConfigurationError(
                "invalid --smtp: expected smtp://[USER:PASSWORD@]HOST[:PORT] (STARTTLS) "
                "or smtps://... (TLS)"
            )
        user = unquote(parts.username) if parts.username else None
        secret = unquote(parts.password) if parts.password else None
        return cls(
            parts.hostname, port or _PORTS[parts.scheme], parts.scheme == "smtps", user, secret
        )


class _Refused(Exception):
    """The server refused a step, or broke the protocol: the message says which."""


async def send_mail(
    network: Network,
    server: SmtpServer,
    sender: str,
    recipients: Sequence[str],
    message: bytes,
    *,
    timeout: float,
) -> str | None:
    """Send ``message`` (headers and body, CRLF line ends); None when the server took it."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            destination = await network.destination(server.host, server.port)
            reader, writer = await asyncio.open_connection(
                destination.addresses[0],
                destination.port,
                ssl=network.ssl_context if server.implicit_tls else None,
                server_hostname=server.host if server.implicit_tls else None,
            )
            session = _Session(reader, writer)
            await session.hello(server, network)
            await session.deliver(sender, recipients, message)
            return None
    except TimeoutError:
        return f"the mail server did not answer within {timeout:g} s"
    except _Refused as exc:
        return str(exc)
    except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        return f"the mail server connection failed: {getattr(exc, 'strerror', None) or exc}"
    finally:
        if writer is not None:
            writer.close()


class _Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def reply(self, expected: tuple[int, ...], step: str) -> list[str]:
        lines: list[str] = []
        while len(lines) < _MAX_LINES:
            raw = await self.reader.readuntil(b"\n")
            if len(raw) > _MAX_LINE:
                raise _Refused(f"the mail server sent an overlong reply to {step}")
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                break
        else:
            raise _Refused(f"the mail server sent too long a reply to {step}")
        code = lines[-1][:3]
        if not code.isdigit() or int(code) not in expected:
            raise _Refused(f"the mail server refused {step}: {lines[-1][:200]}")
        return lines

    async def command(self, line: str, expected: tuple[int, ...], step: str) -> list[str]:
        self.writer.write(line.encode() + b"\r\n")
        await self.writer.drain()
        return await self.reply(expected, step)

    async def hello(self, server: SmtpServer, network: Network) -> None:
        await self.reply((220,), "the connection")
        features = await self.command("EHLO matrix-delegation", (250,), "EHLO")
        if not server.implicit_tls:
            if not any(line[4:].upper().startswith("STARTTLS") for line in features):
                raise _Refused("the mail server does not offer STARTTLS")
            await self.command("STARTTLS", (220,), "STARTTLS")
            await self.writer.start_tls(network.ssl_context, server_hostname=server.host)
            await self.command("EHLO matrix-delegation", (250,), "EHLO")
        if server.username is not None:
            token = f"\0{server.username}\0{server.password or ''}".encode()
            auth = "AUTH PLAIN " + base64.b64encode(token).decode()
            await self.command(auth, (235,), "the login")

    async def deliver(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        await self.command(f"MAIL FROM:<{sender}>", (250,), "the sender")
        for recipient in recipients:
            await self.command(f"RCPT TO:<{recipient}>", (250, 251), f"the recipient {recipient}")
        await self.command("DATA", (354,), "DATA")
        stuffed = b"\r\n".join(
            b"." + line if line.startswith(b".") else line for line in message.split(b"\r\n")
        )
        self.writer.write(stuffed + b"\r\n.\r\n")
        await self.writer.drain()
        await self.reply((250,), "the message")
        self.writer.write(b"QUIT\r\n")
        await self.writer.drain()
