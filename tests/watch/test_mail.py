"""E-mail notifications against a real SMTP server (aiosmtpd): STARTTLS and TLS, a login,
the certificate verified for the server's name; and `watch --smtp` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mailserver import PASSWORD, USER, Inbox, start_mail_server
from watching import FAST, NAME, make_world, network_flags, start_watch, stop_watch, wait_for

from matrix_delegation._cli import main
from matrix_delegation._io.config import NetworkConfig
from matrix_delegation._io.network import Network
from matrix_delegation._io.smtp import SmtpServer
from matrix_delegation.sandbox.world import Sandbox
from matrix_delegation.watch.mail import Mailbox

MAIL_HOST = "mail.example.test"
PAYLOAD = {
    "id": "0123456789abcdef0123456789abcdef",
    "event": "federation-down",
    "server_name": NAME,
    "at": 1.0,
    "summary": f"{NAME}: federation fails (3 checks in a row): tls-cert-expired",
    "report": {"server_name": NAME, "federation_ok": False, "problems": [
        {"code": "tls-cert-expired", "severity": "error", "message": "expired <b>",
         "fix": "Renew it."}]},
}  # fmt: skip


def _network(sandbox: Sandbox) -> Network:
    return Network(NetworkConfig(**sandbox.resolver_options(connect_to=[])))


def _mailbox(port: int, scheme: str = "smtp") -> Mailbox:
    server = SmtpServer.parse(f"{scheme}://{USER}:{PASSWORD}@{MAIL_HOST}:{port}")
    return Mailbox(server, "watch@example.test", ("ops@example.test", "oncall@example.test"))


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls", "tls"])
async def test_a_mail_is_sent_encrypted_with_a_login(sandbox: Sandbox, implicit_tls: bool) -> None:
    sandbox.zone.add(MAIL_HOST, "A", "127.0.0.1")
    inbox = Inbox()
    server = start_mail_server(
        inbox, sandbox.ca.server_context(MAIL_HOST), implicit_tls=implicit_tls
    )
    try:
        async with _network(sandbox) as network:
            mailbox = _mailbox(server.port, "smtps" if implicit_tls else "smtp")
            error = await mailbox.send(network, json.dumps(PAYLOAD).encode(), 10)
    finally:
        server.stop()
    assert error is None
    [mail] = inbox.messages
    assert inbox.recipients == [["ops@example.test", "oncall@example.test"]]
    assert inbox.logins == ["PLAIN"]
    assert mail["Subject"] == f"[matrix-delegation] federation-down: {NAME}"
    assert mail["Message-ID"] == f"<{PAYLOAD['id']}@matrix-delegation>"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert (
        PAYLOAD["summary"] in text and "fix: Renew it." in text and '"federation_ok": false' in text
    )
    assert "expired &lt;b&gt;" in html  # the server's words are escaped in HTML


async def test_no_starttls_on_offer_means_no_mail(sandbox: Sandbox) -> None:
    sandbox.zone.add(MAIL_HOST, "A", "127.0.0.1")
    inbox = Inbox()
    server = start_mail_server(inbox, None)
    try:
        async with _network(sandbox) as network:
            error = await _mailbox(server.port).send(network, json.dumps(PAYLOAD).encode(), 10)
    finally:
        server.stop()
    assert error == "the mail server does not offer STARTTLS" and inbox.messages == []


async def test_a_certificate_for_another_name_means_no_mail(sandbox: Sandbox) -> None:
    sandbox.zone.add(MAIL_HOST, "A", "127.0.0.1")
    inbox = Inbox()
    server = start_mail_server(inbox, sandbox.ca.server_context("other.example.test"))
    try:
        async with _network(sandbox) as network:
            error = await _mailbox(server.port).send(network, json.dumps(PAYLOAD).encode(), 10)
    finally:
        server.stop()
    assert error is not None and "connection failed" in error and inbox.messages == []


async def test_a_mail_server_on_a_blocked_address_is_not_contacted(sandbox: Sandbox) -> None:
    sandbox.zone.add(MAIL_HOST, "A", "127.0.0.1")
    async with Network(NetworkConfig(nameservers=[sandbox.dns.nameserver])) as network:
        error = await _mailbox(9).send(network, json.dumps(PAYLOAD).encode(), 10)
    assert error is not None and "blocked" in error


async def test_watch_mails_federation_down(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.zone.add(MAIL_HOST, "A", "127.0.0.1")
    world = await make_world(sandbox)
    world.take_down()
    inbox = Inbox()
    server = start_mail_server(inbox, sandbox.ca.server_context(MAIL_HOST))
    process = await start_watch(
        NAME, *FAST, "--confirm", "1", "--database", f"sqlite:///{tmp_path / 'watch.db'}",
        "--smtp", f"smtp://{USER}:{PASSWORD}@{MAIL_HOST}:{server.port}",
        "--mail-to", "ops@example.test", *network_flags(sandbox, tmp_path),
    )  # fmt: skip
    try:
        await wait_for(lambda: inbox.messages, "the mail")
    finally:
        status, err = await stop_watch(process)
        server.stop()
    assert status == 0, err
    assert [m["Subject"] for m in inbox.messages] == [
        f"[matrix-delegation] federation-down: {NAME}"
    ]


def test_mail_options_are_checked(tmp_path: Path, capsys) -> None:
    database = f"sqlite:///{tmp_path / 'watch.db'}"
    base = ["watch", NAME, "--database", database]
    assert main([*base, "--smtp", "smtp://mail.example.test"]) == 2  # no --mail-to
    assert main([*base, "--smtp", "imap://x", "--mail-to", "a@b.test"]) == 2
    assert main([*base, "--smtp", "smtp://x", "--mail-to", "a@b.test\r\nRCPT TO:<x@y>"]) == 2
    assert main([*base, "--notify-room", "!r:x.test"]) == 2  # no homeserver nor token
    err = capsys.readouterr().err
    assert "--smtp and --mail-to go together" in err and "Traceback" not in err
