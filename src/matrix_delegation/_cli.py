"""The ``matrix-delegation`` command.

Exit status: 0 when everything worked, 1 when a resolution failed, 2 for bad
usage (an invalid option, server name, file or CA bundle), 130 on Ctrl-C.
Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NoReturn, TypeVar

from . import __version__
from ._core.explain import asked, failure_json, resolution_json, summary, told
from ._core.ipfilter import parse_network
from ._core.model import Resolution
from ._core.names import ServerName
from ._core.overrides import ConnectTo
from ._exceptions import ConfigurationError, DelegationError, InvalidServerName
from ._io.dns import parse_nameserver
from .resolver import DEFAULT_TIMEOUT, Resolver

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
PROG = "matrix-delegation"
T = TypeVar("T")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _checked(parse: Callable[[str], T], what: str) -> Callable[[str], T]:
    """Wrap a parser raising ValueError so that argparse shows our message."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = what
    return convert


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise ValueError(f"{text!r} must be a positive number of seconds")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{text!r} is not a positive whole number")
    return int(text)


def _add_network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dns-server",
        action="append",
        default=[],
        metavar="IP[:PORT]",
        type=_checked(lambda t: (parse_nameserver(t), t)[1], "dns server"),
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
        type=_checked(lambda t: (parse_network(t), t)[1], "IP range"),
        help="let this range through the IP blocklist (repeatable)",
    )
    parser.add_argument(
        "--connect-to",
        action="append",
        default=[],
        metavar="H:P:H2:P2",
        type=_checked(ConnectTo.parse, "connect-to"),
        help="connect to H2:P2 instead of H:P, keeping Host and SNI (repeatable)",
    )
    parser.add_argument(
        "--timeout",
        type=_checked(_positive_seconds, "timeout"),
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"bound on each DNS query and .well-known fetch (default {DEFAULT_TIMEOUT:g})",
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Matrix server discovery and delegation.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    resolve = commands.add_parser(
        "resolve",
        help="show where federation traffic for server names goes",
        description="Resolve server names by the spec's discovery steps.",
    )
    resolve.add_argument("names", nargs="*", metavar="NAME", help="server names to resolve")
    resolve.add_argument(
        "--from-file", metavar="FILE", help="read names from FILE, one per line ('-': stdin)"
    )
    resolve.add_argument("--json", action="store_true", help="print JSON (docs/resolve-json.md)")
    resolve.add_argument(
        "--concurrency",
        type=_checked(_positive_int, "concurrency"),
        default=50,
        metavar="N",
        help="resolve at most N names at once (default 50)",
    )
    _add_network_options(resolve)
    _add_check_parser(commands)
    _add_web_parser(commands)
    _add_serve_parser(commands)
    _add_generate_parser(commands)
    demo = commands.add_parser(
        "demo",
        help="every route, the served files and the checker, in a built-in loopback sandbox",
        description="Start a sandbox of DNS and HTTPS servers on loopback, resolve one name per"
        " route of the spec, show the files `serve` publishes there and check stand-in"
        " homeservers. Nothing leaves the machine.",
    )
    demo.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def _add_site_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", metavar="FILE", help="our YAML site configuration")
    source.add_argument(
        "--synapse-config",
        action="append",
        metavar="FILE",
        help="Synapse's homeserver.yaml (repeatable; later files override earlier keys)",
    )


def _add_check_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    check = commands.add_parser(
        "check",
        help="check that federation with servers works, and why not",
        description="Discover, connect and verify each server; report problems with fixes.",
    )
    check.add_argument("names", nargs="*", metavar="NAME", help="server names to check")
    check.add_argument(
        "--from-file", metavar="FILE", help="check names from FILE, one per line ('-': stdin)"
    )
    check.add_argument(
        "--json",
        action="store_true",
        help="JSON (JSON Lines for several names; docs/check-json.md)",
    )
    check.add_argument(
        "--concurrency",
        type=_checked(_positive_int, "concurrency"),
        default=50,
        metavar="N",
        help="check at most N servers at once (default 50)",
    )
    _add_network_options(check)


def _add_web_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    web = commands.add_parser(
        "web",
        help="the checker as a web page and a JSON API (safe to put on the internet)",
        description="Serve the federation checker: a page, /api/report (federation-tester"
        " compatible), /api/federation-ok, /api/v1/check, /health and /metrics.",
    )
    web.add_argument(
        "--listen",
        action="append",
        metavar="ADDR:PORT",
        help="address to listen on (repeatable; IPv6 in brackets); default 127.0.0.1:8090",
    )
    _add_network_options(web)
    from .web.cli import add_web_options  # here: web.cli imports this module

    add_web_options(web)


def _add_serve_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve /.well-known/matrix/{server,client,support} for one or many domains",
        description="Serve the delegation files, chosen by the Host header. SIGHUP reloads.",
    )
    _add_site_options(serve)
    serve.add_argument(
        "--listen",
        action="append",
        metavar="ADDR:PORT",
        help="address to listen on (repeatable; IPv6 in brackets); default 127.0.0.1:8080",
    )
    serve.add_argument(
        "--tls", action="store_true", help="serve HTTPS with each domain's certificate (SNI)"
    )
    serve.add_argument(
        "--access-log", choices=("json", "off"), default="json", help="access log on stderr"
    )


def _add_generate_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    generate = commands.add_parser(
        "generate",
        help="write web-server, DNS or Synapse configuration that publishes the same files",
        description="Generate configuration for a real web server, static files, DNS or Synapse.",
    )
    _add_site_options(generate)
    generate.add_argument(
        "--for",
        dest="target",
        required=True,
        choices=("nginx", "apache", "haproxy", "caddy", "traefik", "static", "dns", "synapse"),
        help="what to generate for",
    )
    generate.add_argument("--out", metavar="DIR", help="directory to write to (static: required)")
    generate.add_argument(
        "--proxy-to",
        metavar="URL",
        help="proxy /.well-known/matrix/ to a running 'serve' instead of inlining the files",
    )
    generate.add_argument(
        "--legacy-srv", action="store_true", help="dns: also the deprecated _matrix._tcp records"
    )


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when it is installed (it is by default, but on
    Windows): its event loop and TLS are about a fifth cheaper per resolution."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = _build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error already printed
        return done.code if isinstance(done.code, int) else EXIT_USAGE
    try:
        if args.command == "demo":
            from ._demo import run_demo

            return run(run_demo(json_output=args.json))
        if args.command == "check":
            from .checker.cli import run_check

            return run_check(args)
        if args.command == "web":
            from .web.cli import run_web

            return run_web(args)
        if args.command == "serve":
            from .service.cli import run_serve

            return run_serve(args)
        if args.command == "generate":
            from .generate import run_generate

            return run_generate(args)
        return _resolve_command(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except DelegationError as exc:  # ConfigurationError, InvalidServerName
        for line in str(exc).splitlines():  # a config error lists every problem
            print(f"{PROG}: error: {line}", file=sys.stderr)
        return EXIT_USAGE


def resolver_options(args: argparse.Namespace) -> dict[str, Any]:
    """:class:`Resolver` keyword arguments from the network options every command shares."""
    return {
        "nameservers": list(args.dns_server),
        "ca_file": args.ca_file,
        "allow_ip_ranges": list(args.allow_ip_range),
        "connect_to": list(args.connect_to),
        "timeout": args.timeout,
    }


def resolver_from_args(args: argparse.Namespace, **extra: Any) -> Resolver:
    """A resolver configured by the shared network options (plus ``extra``)."""
    return Resolver(**resolver_options(args), **extra)


def _resolve_command(args: argparse.Namespace) -> int:
    names = _collect_names(args.names, args.from_file)
    if not names:
        raise ConfigurationError("no server names given (pass NAME or --from-file)")
    outcomes = run(_resolve_all(resolver_from_args(args), names, args.concurrency))
    _print_outcomes(names, outcomes, as_json=args.json)
    return EXIT_OK if all(isinstance(o, Resolution) and o.ok for o in outcomes) else EXIT_FAILED


def _collect_names(given: list[str], from_file: str | None) -> list[str]:
    """Every name, validated up front: an invalid one is a usage error (exit 2)."""
    sourced = [(name, "argument") for name in given]
    if from_file is not None:
        sourced += _read_names(from_file)
    for name, where in sourced:
        try:
            ServerName.parse(name)
        except InvalidServerName as exc:
            raise InvalidServerName(name, f"{exc.reason} ({where})") from None
    return [name for name, _ in sourced]


def _read_names(path: str) -> list[tuple[str, str]]:
    try:
        if path == "-":
            lines = sys.stdin.read().splitlines()
        else:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigurationError(f"cannot read names from {path!r}: {reason}") from None
    label = "stdin" if path == "-" else path
    return [
        (line.strip(), f"{label}:{number}")
        for number, line in enumerate(lines, 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


async def _resolve_all(
    resolver: Resolver, names: list[str], concurrency: int
) -> list[Resolution | DelegationError]:
    async with resolver:
        return list(await resolver.resolve_all(names, concurrency=concurrency))


def _print_outcomes(
    names: list[str], outcomes: list[Resolution | DelegationError], *, as_json: bool
) -> None:
    if as_json:
        objects = [_outcome_json(name, o) for name, o in zip(names, outcomes, strict=True)]
        print(json.dumps(objects[0] if len(objects) == 1 else objects, indent=2))
        return
    for name, outcome in zip(names, outcomes, strict=True):
        print(_outcome_text(name, outcome))


def _outcome_json(name: str, outcome: Resolution | DelegationError) -> dict[str, object]:
    if isinstance(outcome, Resolution):
        return resolution_json(outcome)
    code = getattr(outcome, "code", "error")
    return failure_json(name, code, str(outcome))


def _outcome_text(name: str, outcome: Resolution | DelegationError) -> str:
    if not isinstance(outcome, Resolution):
        return f"{name}\n  failed: {outcome}\n"
    lines = [name]
    for entry in outcome.trace:
        question = asked(entry)
        answer = f" -> {told(entry)}" if question else ""
        mark = {"info": " ", "warning": "!", "error": "x"}[entry.level]
        lines.append(f" {mark} step {entry.step:<4} {question}{answer}".rstrip())
        lines.append(f"              {entry.rule}")
    if outcome.route is not None:
        lines.append(f"  route {outcome.route.value} (step {outcome.route.spec_step})")
    lines.append(f"  {summary(outcome)}")
    return "\n".join(lines) + "\n"
