"""What every subcommand shares: exit codes, option helpers, the runner, names, listening.

This module stays light (no aiohttp, no DNS library, no asyncio, no resolver): the
dispatcher imports it for ``--help``, and ``resolve`` of IP literals needs no more.
What only running needs is imported where it is used.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias, TypeVar

from .._exceptions import ConfigurationError

if TYPE_CHECKING:
    from ..resolver import Resolver, ResolverConfig

__all__ = [
    "DEFAULT_TIMEOUT",
    "DNS_BACKENDS",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "EXIT_WORKER_FAILED",
    "NO_NAMES",
    "PROG",
    "Commands",
    "Parser",
    "add_listen_option",
    "add_names_options",
    "add_network_options",
    "add_site_options",
    "checked",
    "listen_addresses",
    "parse_listen",
    "positive_int",
    "positive_seconds",
    "read_names",
    "resolver_from_args",
    "resolver_options",
    "run",
    "serve_until_signal",
    "warn",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_WORKER_FAILED = 3  # a worker process of a bulk run (--workers) died
PROG = "matrix-delegation"
NO_NAMES = "no server names given (pass NAME or --from-file)"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# The resolver's defaults, restated here so that building the parser imports neither
# the resolver nor a DNS library; tests/e2e/test_startup.py keeps them equal.
DEFAULT_TIMEOUT = 10.0
DNS_BACKENDS = ("c-ares", "dnspython")
T = TypeVar("T")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


#: What ``add_subparsers`` returns: each subcommand module adds its parser to it.
Commands: TypeAlias = "argparse._SubParsersAction[Parser]"  # argparse has no public name


def checked(parse: Callable[[str], T], what: str) -> Callable[[str], T]:
    """Wrap a parser raising ValueError so that argparse shows our message."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = what
    return convert


def positive_seconds(text: str) -> float:
    """A finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise ValueError(f"{text!r} must be a positive number of seconds")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{text!r} is not a positive whole number")
    return int(text)


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


# --- options -------------------------------------------------------------------


def add_network_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that goes out to the network."""
    # Here rather than at the top: the bare ``--help`` needs neither (nor ipaddress).
    from .._core.ipfilter import parse_network
    from .._core.overrides import ConnectTo

    parser.add_argument(
        "--dns-server",
        action="append",
        default=[],
        metavar="IP[:PORT]",
        type=checked(lambda t: (_parse_nameserver(t), t)[1], "dns server"),
        help="DNS server to ask (repeatable); default: the system's",
    )
    parser.add_argument(
        "--ca-file", metavar="PEM", help="CA bundle that replaces the system trust store"
    )
    parser.add_argument(
        "--allow-ip-range",
        action="append",
        default=[],
        metavar="CIDR",
        type=checked(lambda t: (parse_network(t), t)[1], "IP range"),
        help="let this range through the IP blocklist (repeatable)",
    )
    parser.add_argument(
        "--connect-to",
        action="append",
        default=[],
        metavar="H:P:H2:P2",
        type=checked(ConnectTo.parse, "connect-to"),
        help="connect to H2:P2 instead of H:P, keeping Host and SNI (repeatable)",
    )
    parser.add_argument(
        "--timeout",
        type=checked(positive_seconds, "timeout"),
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"bound on each DNS query and .well-known fetch (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--dns-backend",
        choices=DNS_BACKENDS,
        default=None,
        help="DNS client library (default: c-ares when installed, else dnspython)",
    )


def resolver_options(args: argparse.Namespace) -> ResolverConfig:
    """The :class:`Resolver` configuration from the network options every command shares."""
    from .._io.config import ResolverConfig  # imports asyncio and ssl: not for --help

    return ResolverConfig(
        nameservers=tuple(args.dns_server),
        ca_file=args.ca_file,
        allow_ip_ranges=tuple(args.allow_ip_range),
        connect_to=tuple(args.connect_to),
        timeout=args.timeout,
        dns_backend=args.dns_backend,
    )


def resolver_from_args(args: argparse.Namespace, **extra: Any) -> Resolver:
    """A resolver configured by the shared network options (plus ``extra`` config fields)."""
    from dataclasses import replace

    from ..resolver import Resolver

    return Resolver.from_config(replace(resolver_options(args), **extra))


def _parse_nameserver(text: str) -> tuple[str, int]:
    """``IP[:PORT]``, as the resolver reads ``--dns-server`` (its module imports dnspython)."""
    from .._io.dns import parse_nameserver

    return parse_nameserver(text)


def add_names_options(
    parser: argparse.ArgumentParser,
    *,
    names_help: str,
    from_file_help: str,
    json_help: str,
    concurrency_help: str,
) -> None:
    """NAME..., ``--from-file``, ``--json``, ``--concurrency`` and ``--workers``."""
    parser.add_argument("names", nargs="*", metavar="NAME", help=names_help)
    parser.add_argument("--from-file", metavar="FILE", help=from_file_help)
    parser.add_argument("--json", action="store_true", help=json_help)
    parser.add_argument(
        "--concurrency",
        type=checked(positive_int, "concurrency"),
        default=50,
        metavar="N",
        help=concurrency_help,
    )
    cores = len(os.sched_getaffinity(0))
    parser.add_argument(
        "--workers",
        type=checked(positive_int, "workers"),
        default=cores,
        metavar="N",
        help="with --from-file: spread the names over N processes, each with its own "
        f"--concurrency (default: the usable cores, here {cores}; 1: one process)",
    )


def add_site_options(parser: argparse.ArgumentParser) -> None:
    """Where the site comes from: our YAML or Synapse's (serve and generate)."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", metavar="FILE", help="our YAML site configuration")
    source.add_argument(
        "--synapse-config",
        action="append",
        metavar="FILE",
        help="Synapse's homeserver.yaml (repeatable; later files override earlier keys)",
    )


def add_listen_option(parser: argparse.ArgumentParser, default: str) -> None:
    """``--listen`` (repeatable); :func:`listen_addresses` applies ``default``."""
    parser.add_argument(
        "--listen",
        action="append",
        metavar="ADDR:PORT",
        help=f"address to listen on (repeatable; IPv6 in brackets); default {default}",
    )


# --- input ---------------------------------------------------------------------


def read_names(path: str) -> Iterator[tuple[str, str]]:
    """``(name, where)`` for each line of ``path`` (``-``: stdin), read lazily.

    Blank lines and ``#`` comments are skipped; ``where`` is ``FILE:LINE`` for
    messages. An unreadable file is a :class:`ConfigurationError` (exit 2).
    """
    label = "stdin" if path == "-" else path
    try:
        handle = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
        try:
            for number, line in enumerate(handle, 1):
                name = line.strip()
                if name and not name.startswith("#"):
                    yield name, f"{label}:{number}"
        finally:
            if handle is not sys.stdin:
                handle.close()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigurationError(f"cannot read names from {path!r}: {reason}") from None


def parse_listen(text: str) -> tuple[str, int]:
    """``ADDR:PORT`` or ``[IPv6]:PORT``; the port is required."""
    if ":" not in text.replace("[", "").replace("]", "") or text.endswith(":"):
        raise ConfigurationError(f"invalid --listen {text!r}: expected ADDR:PORT")
    try:
        return _parse_nameserver(text)
    except ConfigurationError as exc:
        raise ConfigurationError(str(exc).replace("DNS server", "--listen")) from None


def listen_addresses(args: argparse.Namespace, default: str) -> list[tuple[str, int]]:
    """Every ``--listen``, parsed; ``default`` when none is given."""
    return [parse_listen(text) for text in (args.listen or [default])]


# --- running -------------------------------------------------------------------


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when it is installed (it is by default, but on
    Windows): its event loop and TLS are about a fifth cheaper per resolution."""
    import asyncio

    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


async def serve_until_signal(
    listen: list[tuple[str, int]],
    start: Callable[[], Awaitable[None]],
    close: Callable[[], Awaitable[None]],
    announce: Callable[[], None],
    on_hangup: Callable[[], object] | None = None,
) -> int:
    """Start listening, then serve until SIGINT or SIGTERM; returns the exit status.

    ``announce`` runs once the stop signals are handled, so whoever waits for
    its log line may signal at once. A port that cannot be bound is a
    :class:`ConfigurationError` (exit 2), after ``close``.
    """
    import asyncio

    try:
        await start()
    except OSError as exc:
        await close()
        raise ConfigurationError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled = [*_STOP_SIGNALS, *([signal.SIGHUP] if on_hangup is not None else [])]
    if on_hangup is not None:
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        announce()
        await stop.wait()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        await close()
    return EXIT_OK
