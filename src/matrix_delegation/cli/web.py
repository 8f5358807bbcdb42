"""``web``: the checker as a web page and a JSON API, with the limits that keep it fair."""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Callable

from .._core.ipfilter import parse_network
from .._core.names import ServerName
from ..checker.notary_model import ThirdParty
from ..web.settings import WebSettings
from .common import (
    Commands,
    add_listen_option,
    add_network_options,
    checked,
    listen_addresses,
    positive_int,
    positive_seconds,
    resolver_options,
    serve_until_signal,
)
from .common import run as run_loop

__all__ = ["DEFAULT_LISTEN", "add_parser", "add_web_options", "run", "settings_from_args"]

DEFAULT_LISTEN = "127.0.0.1:8090"
#: Keep-alive bounds: under 15 s a browser reconnects for every page and its
#: assets; over 75 s (nginx's default) an idle client holds a socket for long.
KEEPALIVE_RANGE = (15.0, 75.0)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_BYTES = re.compile(r"([0-9]{1,15})\s*([kmg]?)(?:i?b)?", re.ASCII | re.IGNORECASE)
_log = logging.getLogger("matrix_delegation.web")
_DEFAULTS = WebSettings()


def _per_minute(text: str) -> float:
    try:
        return positive_seconds(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a positive number of checks per minute") from None


def _non_negative_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ValueError(f"{text!r} is not 0 or a positive number of seconds")
    return value


def _non_negative_int(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 15):
        raise ValueError(f"{text!r} is not 0 or a positive whole number")
    return int(text)


def _bytes(text: str) -> int:
    match = _BYTES.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a size in bytes (e.g. 65536, 512K, 64M, 1G)")
    return int(match[1]) * _UNITS[match[2].lower()]


def _keepalive(text: str) -> float:
    value = positive_seconds(text)
    low, high = KEEPALIVE_RANGE
    if not low <= value <= high:
        raise ValueError(f"{text!r} must be between {low:g} and {high:g} seconds")
    return value


def _limits() -> tuple[tuple[str, str, Callable[[str], object], str, str], ...]:
    """(flag, WebSettings field, parser, metavar, help) of every limit."""
    d = _DEFAULTS
    return (
        ("--rate", "rate_per_minute", _per_minute, "N",
         f"new checks a client may start per minute (default {d.rate_per_minute:g})"),
        ("--burst", "burst", positive_int, "N",
         f"new checks a client may start at once (default {d.burst})"),
        ("--max-running-per-client", "max_running_per_client", positive_int, "N",
         f"checks one client may have running at once (default {d.max_running_per_client})"),
        ("--max-running", "max_running", positive_int, "N",
         f"checks running at once, over all clients (default {d.max_running})"),
        ("--deadline", "deadline", positive_seconds, "SECONDS",
         f"bound on a whole check (default {d.deadline:g})"),
        ("--cache-ttl", "cache_ttl", _non_negative_seconds, "SECONDS",
         f"how long a report is served again; 0: no cache (default {d.cache_ttl:g})"),
        ("--cache-size", "cache_size", _non_negative_int, "N",
         f"reports kept at most; 0: no cache (default {d.cache_size})"),
        ("--cache-bytes", "cache_bytes", _bytes, "SIZE",
         f"bound on the reports kept, as JSON; K, M, G suffixes (default {d.cache_bytes >> 20}M)"),
        ("--max-connections", "max_connections", positive_int, "N",
         f"connections open at once; more get a 503 (default {d.max_connections})"),
        ("--keepalive", "keepalive", _keepalive, "SECONDS",
         f"close idle connections after this, 15-75 (default {d.keepalive:g})"),
    )  # fmt: skip


def add_web_options(parser: argparse.ArgumentParser) -> None:
    """The limits of ``web``; each one left out keeps its default from :class:`WebSettings`."""
    group = parser.add_argument_group("limits")
    for flag, field, parse, metavar, help_text in _limits():
        group.add_argument(
            flag, dest=field, type=checked(parse, flag[2:]), metavar=metavar, help=help_text
        )
    group.add_argument(
        "--trusted-proxy",
        dest="trusted_proxies",
        action="append",
        default=[],
        metavar="CIDR",
        type=checked(parse_network, "trusted proxy"),
        help="a reverse proxy whose X-Forwarded-For names the client (repeatable)",
    )
    outside = parser.add_argument_group(
        "through third-party servers (off by default)",
        "Each check then contacts these servers and tells them the checked name.",
    )
    for flag, what in (
        ("--outbound", "ask each checked server, as a key notary, for VIA's keys"),
        ("--notary", "ask key notary NAME for each checked server's keys"),
    ):
        outside.add_argument(
            flag,
            action="append",
            metavar="VIA" if flag == "--outbound" else "NAME",
            type=checked(_server_name, "server name"),
            help=f"{what} (repeatable)",
        )


def add_parser(commands: Commands, help: str) -> None:
    """Add ``web`` and its options."""
    parser = commands.add_parser(
        "web",
        help=help,
        description="Serve the federation checker: a page, /api/report (federation-tester"
        " compatible), /api/federation-ok, /api/v1/check, /health and /metrics.",
    )
    add_listen_option(parser, DEFAULT_LISTEN)
    parser.add_argument(
        "--database", metavar="URL",
        help="a `watch` database (sqlite:///PATH or postgresql://...): serve /history/NAME",
    )  # fmt: skip
    add_network_options(parser)
    add_web_options(parser)


def settings_from_args(args: argparse.Namespace) -> WebSettings:
    """The network flags, shared with ``check``, and the limits, as web settings.

    Only what ``--allow-ip-range`` names gets through the IP blocklist: loopback
    and private ranges stay blocked unless the operator lets them through.
    """
    limits = {
        field: value
        for _, field, *_ in _limits()
        if (value := getattr(args, field, None)) is not None
    }
    return WebSettings(
        resolver_options=resolver_options(args),
        check_timeout=args.timeout,
        trusted_proxies=tuple(getattr(args, "trusted_proxies", ())),
        database=getattr(args, "database", None),
        third_party=_third_party(args),
        **limits,
    )


def _server_name(text: str) -> str:
    ServerName.parse(text)
    return text


def _third_party(args: argparse.Namespace) -> ThirdParty | None:
    outbound, notary = getattr(args, "outbound", None), getattr(args, "notary", None)
    if not outbound and not notary:
        return None
    return ThirdParty(
        tuple(dict.fromkeys(outbound)) if outbound else None,
        tuple(dict.fromkeys(notary)) if notary else None,
    )


def run(args: argparse.Namespace) -> int:
    """Listen and serve; returns the exit status."""
    listen = listen_addresses(args, DEFAULT_LISTEN)
    settings = settings_from_args(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return run_loop(_serve(settings, listen))


async def _serve(settings: WebSettings, listen: list[tuple[str, int]]) -> int:
    from ..web.server import WebServer, start_web

    server: WebServer | None = None

    async def start() -> None:
        nonlocal server
        server = await start_web(settings, listen)

    async def close() -> None:
        if server is not None:
            await server.close()

    def announce() -> None:
        assert server is not None
        _log.info("web checker on %s", ", ".join(_url(*a) for a in server.addresses))

    return await serve_until_signal(listen, start, close, announce)


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
