"""``matrix-delegation web``: serve the checker until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from aiohttp import web

from .._exceptions import ConfigurationError
from ..service.cli import parse_listen
from .app import WebSettings, create_app

__all__ = ["DEFAULT_LISTEN", "run_web", "settings_from_args"]

DEFAULT_LISTEN = "127.0.0.1:8090"
_SHUTDOWN_TIMEOUT = 5.0
_log = logging.getLogger("matrix_delegation.web")


def settings_from_args(args: argparse.Namespace) -> WebSettings:
    """The network flags, shared with ``check``, as web settings (limits at their defaults).

    Only what ``--allow-ip-range`` names gets through the IP blocklist: loopback
    and private ranges stay blocked unless the operator lets them through.
    """
    from .._cli import resolver_options

    return WebSettings(resolver_options=resolver_options(args), check_timeout=args.timeout)


def run_web(args: argparse.Namespace) -> int:
    """Listen and serve; returns the exit status."""
    from .._cli import run

    listen = [parse_listen(text) for text in (args.listen or [DEFAULT_LISTEN])]
    settings = settings_from_args(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return run(_serve(settings, listen))


async def _serve(settings: WebSettings, listen: list[tuple[str, int]]) -> int:
    runner = web.AppRunner(
        create_app(settings), handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    try:
        for host, port in listen:
            await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigurationError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    where = ", ".join(_address(address) for address in runner.addresses)
    _log.info("web checker on %s", where)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await runner.cleanup()
    return 0


def _address(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"
    return str(address)
