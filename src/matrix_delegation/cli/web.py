"""``matrix-delegation web``: serve the checker until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from ..web.app import WebSettings, create_app
from .common import (
    Commands,
    add_listen_option,
    add_network_options,
    listen_addresses,
    resolver_options,
    serve_until_signal,
)
from .common import run as run_loop

__all__ = ["DEFAULT_LISTEN", "add_parser", "run", "settings_from_args"]

DEFAULT_LISTEN = "127.0.0.1:8090"
_SHUTDOWN_TIMEOUT = 5.0
_log = logging.getLogger("matrix_delegation.web")


def add_parser(commands: Commands, help: str) -> None:
    """Add ``web`` and its options."""
    parser = commands.add_parser(
        "web",
        help=help,
        description="Serve the federation checker: a page, /api/report (federation-tester"
        " compatible), /api/federation-ok, /api/v1/check, /health and /metrics.",
    )
    add_listen_option(parser, DEFAULT_LISTEN)
    add_network_options(parser)


def settings_from_args(args: argparse.Namespace) -> WebSettings:
    """The network flags, shared with ``check``, as web settings (limits at their defaults).

    Only what ``--allow-ip-range`` names gets through the IP blocklist: loopback
    and private ranges stay blocked unless the operator lets them through.
    """
    return WebSettings(resolver_options=resolver_options(args), check_timeout=args.timeout)


def run(args: argparse.Namespace) -> int:
    """Listen and serve; returns the exit status."""
    listen = listen_addresses(args, DEFAULT_LISTEN)
    settings = settings_from_args(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return run_loop(_serve(settings, listen))


async def _serve(settings: WebSettings, listen: list[tuple[str, int]]) -> int:
    runner = web.AppRunner(
        create_app(settings), handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT
    )
    await runner.setup()

    async def start() -> None:
        for host, port in listen:
            await web.TCPSite(runner, host, port).start()

    def announce() -> None:
        _log.info("web checker on %s", ", ".join(_address(a) for a in runner.addresses))

    return await serve_until_signal(listen, start, runner.cleanup, announce)


def _address(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"
    return str(address)
