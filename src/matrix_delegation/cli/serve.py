"""``matrix-delegation serve``: run the service until SIGINT or SIGTERM; SIGHUP reloads."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys

from .._core.site import Site
from .._exceptions import ConfigurationError
from .._io.dns import parse_nameserver
from ..config import load_site
from .server import AccessLog, WellKnownService
from .tls import server_context

__all__ = ["parse_listen", "run_serve"]

DEFAULT_LISTEN = "127.0.0.1:8080"
_log = logging.getLogger("matrix_delegation.service")


def parse_listen(text: str) -> tuple[str, int]:
    """``ADDR:PORT`` or ``[IPv6]:PORT``; the port is required."""
    if ":" not in text.replace("[", "").replace("]", "") or text.endswith(":"):
        raise ConfigurationError(f"invalid --listen {text!r}: expected ADDR:PORT")
    try:
        return parse_nameserver(text)
    except ConfigurationError as exc:
        raise ConfigurationError(str(exc).replace("DNS server", "--listen")) from None


def run_serve(args: argparse.Namespace) -> int:
    """Load, listen, serve; returns the exit status."""
    from .._cli import run

    listen = [parse_listen(text) for text in (args.listen or [DEFAULT_LISTEN])]
    site, context = _load(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    access_log = AccessLog() if args.access_log == "json" else None
    service = WellKnownService(site, ssl_context=context, access_log=access_log)
    return run(_serve(service, listen, args))


def _load(args: argparse.Namespace) -> tuple[Site, ssl.SSLContext | None]:
    site, warnings = load_site(args.config, args.synapse_config or ())
    for warning in warnings:
        print(f"matrix-delegation: warning: {warning}", file=sys.stderr)
    return site, server_context(site) if args.tls else None


async def _serve(
    service: WellKnownService, listen: list[tuple[str, int]], args: argparse.Namespace
) -> int:
    try:
        await service.start(listen)
    except OSError as exc:
        await service.close()
        raise ConfigurationError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, service.reload, lambda: _load(args))
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    where = ", ".join(f"{host}:{port}" for host, port in service.addresses)
    scheme = "https" if args.tls else "http"
    _log.info("serving %d domains over %s on %s", len(service.site.domains), scheme, where)
    await stop.wait()
    await service.close()
    return 0
