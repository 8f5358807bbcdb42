"""``matrix-delegation serve``: run the service until SIGINT or SIGTERM; SIGHUP reloads."""

from __future__ import annotations

import argparse
import logging
import ssl

from .._core.site import Site
from ..config import load_site
from ..service.server import AccessLog, WellKnownService
from ..service.tls import server_context
from .common import (
    Commands,
    add_listen_option,
    add_site_options,
    listen_addresses,
    serve_until_signal,
    warn,
)
from .common import run as run_loop

__all__ = ["DEFAULT_LISTEN", "add_parser", "run"]

DEFAULT_LISTEN = "127.0.0.1:8080"
_log = logging.getLogger("matrix_delegation.service")


def add_parser(commands: Commands, help: str) -> None:
    """Add ``serve`` and its options."""
    parser = commands.add_parser(
        "serve",
        help=help,
        description="Serve the delegation files, chosen by the Host header. SIGHUP reloads.",
    )
    add_site_options(parser)
    add_listen_option(parser, DEFAULT_LISTEN)
    parser.add_argument(
        "--tls", action="store_true", help="serve HTTPS with each domain's certificate (SNI)"
    )
    parser.add_argument(
        "--access-log", choices=("json", "off"), default="json", help="access log on stderr"
    )


def run(args: argparse.Namespace) -> int:
    """Load, listen, serve; returns the exit status."""
    listen = listen_addresses(args, DEFAULT_LISTEN)
    site, context = _load(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    access_log = AccessLog() if args.access_log == "json" else None
    service = WellKnownService(site, ssl_context=context, access_log=access_log)
    return run_loop(_serve(service, listen, args))


def _load(args: argparse.Namespace) -> tuple[Site, ssl.SSLContext | None]:
    site, warnings = load_site(args.config, args.synapse_config or ())
    for warning in warnings:
        warn(warning)
    return site, server_context(site) if args.tls else None


async def _serve(
    service: WellKnownService, listen: list[tuple[str, int]], args: argparse.Namespace
) -> int:
    def announce() -> None:
        where = ", ".join(f"{host}:{port}" for host, port in service.addresses)
        scheme = "https" if args.tls else "http"
        _log.info("serving %d domains over %s on %s", len(service.site.domains), scheme, where)

    return await serve_until_signal(
        listen,
        start=lambda: service.start(listen),
        close=service.close,
        announce=announce,
        on_hangup=lambda: service.reload(lambda: _load(args)),
    )
