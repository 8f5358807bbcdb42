"""The options of ``watch``: schedule, events, database, notifiers, metrics."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Sequence

from .._exceptions import ConfigurationError
from .._io.smtp import SmtpServer
from ..watch.dburl import default_database
from ..watch.mail import Mailbox, mail_address
from ..watch.matrix_room import MatrixRoom
from ..watch.notify import Notifier
from ..watch.outbox import DEFAULT_RETRY_DELAYS
from ..watch.webhook import Webhook
from .common import checked, parse_listen, positive_int, positive_seconds

__all__ = ["add_watch_options", "notifiers", "retry_delays", "webhooks"]


def retry_delays(text: str) -> tuple[float, ...]:
    """Comma-separated positive seconds, e.g. ``30,120,600,3600``."""
    return tuple(positive_seconds(part.strip()) for part in text.split(","))


def fraction(text: str) -> float:
    """A number from 0 to 0.5."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not 0 <= value <= 0.5:
        raise ValueError(f"{text!r} must be between 0 and 0.5")
    return value


def _seconds(parser: argparse.ArgumentParser, flag: str, default: float, help: str) -> None:
    parser.add_argument(
        flag,
        type=checked(positive_seconds, flag.strip("-")),
        default=default,
        metavar="SECONDS",
        help=f"{help} (default {default:g})",
    )


def add_watch_options(parser: argparse.ArgumentParser) -> None:
    """Every option of ``watch`` but the names and the network options."""
    _seconds(parser, "--interval", 300, "seconds between checks of a name that works")
    _seconds(parser, "--failing-interval", 60, "seconds between checks of a name that fails")
    parser.add_argument(
        "--jitter", type=checked(fraction, "jitter"), default=0.1, metavar="FRACTION",
        help="spread each interval by up to this fraction either way (default 0.1)",
    )  # fmt: skip
    parser.add_argument(
        "--confirm", type=checked(positive_int, "confirm"), default=3, metavar="N",
        help="failed checks in a row before federation-down (default 3)",
    )  # fmt: skip
    parser.add_argument(
        "--concurrency", type=checked(positive_int, "concurrency"), default=50, metavar="N",
        help="check at most N names at once (default 50)",
    )  # fmt: skip
    _seconds(parser, "--reminder-every", 12 * 3600, "seconds between reminders while down")
    _seconds(parser, "--cert-warning-days", 14, "warn this many days before a certificate ends")
    _seconds(parser, "--keep-days", 30, "days of check results and events to keep")
    parser.add_argument(
        "--database", default=default_database(), metavar="URL",
        help="sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB "
        "(default: watch.db in the user's state directory)",
    )  # fmt: skip
    parser.add_argument(
        "--webhook", action="append", default=[], metavar="URL",
        help="POST each event, as signed JSON, to URL (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--webhook-secret", action="append", default=[], metavar="SECRET",
        help="HMAC secret of the webhooks: one for all, or one per --webhook in order "
        "(default: $MATRIX_DELEGATION_WEBHOOK_SECRET)",
    )  # fmt: skip
    parser.add_argument(
        "--retry-delays", type=checked(retry_delays, "retry delays"),
        default=DEFAULT_RETRY_DELAYS, metavar="S,S,...",
        help="seconds before each retry of a failed notification (default 30,120,600,3600)",
    )  # fmt: skip
    _notifier_options(parser)
    parser.add_argument(
        "--metrics-listen", action="append", default=[], metavar="ADDR:PORT",
        type=checked(lambda t: (parse_listen(t), t)[1], "listen address"),
        help="serve Prometheus metrics at http://ADDR:PORT/metrics (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--lease", type=checked(positive_seconds, "lease"), metavar="SECONDS",
        help="how long a claimed name is this process's (default: 12 x --timeout + 30), and a "
        "claimed notification (default: 2 x --timeout + 30, at least --timeout + 5); when a "
        "process dies, others take its names and notifications after this",
    )  # fmt: skip
    parser.add_argument(
        "--worker-id", metavar="ID",
        help="this process's name in the claims (default: HOST:PID)",
    )  # fmt: skip


def _notifier_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--notify-room", action="append", default=[], metavar="ROOM_ID",
        help="post each event to this Matrix room (repeatable; needs --homeserver and "
        "--access-token-file)",
    )  # fmt: skip
    parser.add_argument("--homeserver", metavar="URL", help="client-server URL of the rooms")
    parser.add_argument(
        "--access-token-file", metavar="FILE", help="the access token of the posting account"
    )
    parser.add_argument(
        "--smtp", metavar="URL",
        help="mail each event through smtp://[USER:PASSWORD@]HOST[:587] (STARTTLS) or "
        "smtps://...:465 (TLS)",
    )  # fmt: skip
    parser.add_argument(
        "--mail-to", action="append", default=[], metavar="ADDRESS",
        type=checked(_address, "e-mail address"), help="recipient of the mails (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--mail-from", metavar="ADDRESS", type=checked(_address, "e-mail address"),
        help="sender of the mails (default: matrix-delegation@HOSTNAME)",
    )  # fmt: skip


def _address(text: str) -> str:
    try:
        return mail_address(text)
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None


def notifiers(args: argparse.Namespace, secrets: Sequence[str]) -> list[Notifier]:
    """Every notifier the options ask for.

    Raises:
        ConfigurationError: an option without its companions, or a bad value.
    """
    found: list[Notifier] = list(webhooks(args.webhook, secrets))
    found += _rooms(args)
    if args.smtp is not None or args.mail_to:
        if args.smtp is None or not args.mail_to:
            raise ConfigurationError("--smtp and --mail-to go together")
        sender = args.mail_from or f"matrix-delegation@{socket.getfqdn()}"
        found.append(Mailbox(SmtpServer.parse(args.smtp), sender, tuple(args.mail_to)))
    return found


def _rooms(args: argparse.Namespace) -> list[Notifier]:
    if not args.notify_room:
        return []
    if args.homeserver is None or args.access_token_file is None:
        raise ConfigurationError("--notify-room needs --homeserver and --access-token-file")
    if not args.homeserver.lower().startswith(("https://", "http://")):
        raise ConfigurationError(f"invalid --homeserver {args.homeserver!r}: expected a URL")
    try:
        with open(args.access_token_file, encoding="utf-8") as handle:
            token = handle.read(4096).strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigurationError(f"cannot read {args.access_token_file!r}: {reason}") from None
    if not token or any(c.isspace() for c in token):
        raise ConfigurationError(f"{args.access_token_file!r} holds no access token")
    return [MatrixRoom(args.homeserver, room, token) for room in dict.fromkeys(args.notify_room)]


def webhooks(urls: Sequence[str], secrets: Sequence[str]) -> list[Webhook]:
    """Each ``--webhook`` with its secret.

    Raises:
        ConfigurationError: the secrets neither are one for all nor match the webhooks.
    """
    if len(secrets) > 1 and len(secrets) != len(urls):
        raise ConfigurationError(
            f"{len(secrets)} --webhook-secret for {len(urls)} --webhook: give one for all, "
            "or one per webhook"
        )
    for url in urls:
        if not url.lower().startswith(("https://", "http://")):
            raise ConfigurationError(f"invalid --webhook {url!r}: expected an http(s) URL")
    chosen = list(secrets) * len(urls) if len(secrets) == 1 else list(secrets)
    return [
        Webhook(url, (chosen[index] if chosen else "").encode())
        for index, url in enumerate(dict.fromkeys(urls))
    ]
