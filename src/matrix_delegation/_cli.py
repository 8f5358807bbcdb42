"""The ``matrix-delegation`` command: a table of subcommands, each in :mod:`.cli`.

Exit status: 0 when everything worked, 1 when a resolution failed, 2 for bad
usage (an invalid option, server name, file or CA bundle), 3 when a worker
process of a ``--workers`` run died, 130 on Ctrl-C or SIGTERM.
Errors are one line on stderr, never a traceback.

Only the subcommand named on the command line is imported (the others cost
up to half a second each), so ``--help`` lists them from the table below.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from ._exceptions import DelegationError
from ._version import __version__
from .cli.common import EXIT_INTERRUPTED, EXIT_USAGE, PROG, Parser

__all__ = ["main"]

#: Each subcommand (a module of :mod:`matrix_delegation.cli` by the same name) and its
#: line in ``--help``.
COMMANDS: dict[str, str] = {
    "resolve": "show where federation traffic for server names goes",
    "check": "check that federation with servers works, and why not",
    "web": "the checker as a web page and a JSON API (safe to put on the internet)",
    "serve": "serve /.well-known/matrix/{server,client,support} for one or many domains",
    "generate": "write web-server, DNS or Synapse configuration that publishes the same files",
    "watch": "check names on a schedule, keep their history and notify events",
    "history": "what `watch` recorded for a server name",
    "demo": "every route, the served files and the checker, in a built-in loopback sandbox",
}


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand: the first word that is not an option (the top level takes no values)."""
    first = next((word for word in argv if not word.startswith("-")), None)
    return first if first in COMMANDS else None


def _module(command: str) -> ModuleType:
    return importlib.import_module(f".cli.{command}", __package__)


def _build_parser(chosen: str | None) -> argparse.ArgumentParser:
    """Every subcommand by name and help line; only ``chosen`` gets its options."""
    parser = Parser(prog=PROG, description="Matrix server discovery and delegation.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command, help_line in COMMANDS.items():
        if command == chosen:
            _module(command).add_parser(commands, help_line)
        else:
            commands.add_parser(command, help=help_line)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    words = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _build_parser(_chosen(words)).parse_args(words)
    except SystemExit as done:  # --help, --version, or a usage error already printed
        return done.code if isinstance(done.code, int) else EXIT_USAGE
    try:
        status: int = _module(args.command).run(args)
        return status
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except DelegationError as exc:  # ConfigurationError, InvalidServerName
        for line in str(exc).splitlines():  # a config error lists every problem
            print(f"{PROG}: error: {line}", file=sys.stderr)
        return EXIT_USAGE
