"""``matrix-delegation generate``: write configuration that publishes the same files.

The renderers are in :mod:`matrix_delegation.generate`; this is the option
parsing and the writing to stdout or ``--out``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .._exceptions import ConfigurationError
from ..config import load_site
from ..generate import TARGETS, format_for_stdout, generate
from .common import EXIT_OK, Commands, add_site_options, warn

__all__ = ["add_parser", "run"]


def add_parser(commands: Commands, help: str) -> None:
    """Add ``generate`` and its options."""
    parser = commands.add_parser(
        "generate",
        help=help,
        description="Generate configuration for a real web server, static files, DNS or Synapse.",
    )
    add_site_options(parser)
    parser.add_argument(
        "--for", dest="target", required=True, choices=TARGETS, help="what to generate for"
    )
    parser.add_argument("--out", metavar="DIR", help="directory to write to (static: required)")
    parser.add_argument(
        "--proxy-to",
        metavar="URL",
        help="proxy /.well-known/matrix/ to a running 'serve' instead of inlining the files",
    )
    parser.add_argument(
        "--legacy-srv", action="store_true", help="dns: also the deprecated _matrix._tcp records"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``generate`` from parsed arguments; returns the exit status (0).

    Raises:
        ConfigurationError: Bad configuration or options (the CLI prints it).
    """
    if args.target == "static" and not args.out:
        raise ConfigurationError("--for static needs --out DIR (it writes one file per response)")
    site, warnings = load_site(config=args.config, synapse_configs=args.synapse_config or ())
    files_root = None
    if args.out:
        files_root = str(Path(args.out).resolve() / "matrix-delegation")
    result = generate(
        site,
        args.target,
        proxy_to=args.proxy_to,
        legacy_srv=args.legacy_srv,
        files_root=files_root,
    )
    for warning in (*warnings, *result.warnings):
        warn(warning)
    if args.out:
        _write(Path(args.out), result.files)
    else:
        sys.stdout.write(format_for_stdout(result.files))
    return EXIT_OK


def _write(out: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        # Bytes, not text mode: bodies must not gain a newline translation.
        path.write_bytes(text.encode("utf-8"))
        print(os.fspath(path))
