"""``matrix-delegation check``: one report per name, as text or JSON (Lines)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator

from .._core.names import ServerName
from .._exceptions import ConfigurationError
from ..resolver import Resolver
from .check import Report, check_server
from .output import report_json, report_text

__all__ = ["run_check"]


def run_check(args: argparse.Namespace) -> int:
    """Check every name; 0 when federation works with all of them, 1 otherwise."""
    from .._cli import run

    for name in args.names:
        ServerName.parse(name)  # a bad name on the command line is a usage error
    if not args.names and args.from_file is None:
        raise ConfigurationError("no server names given (pass NAME or --from-file)")
    resolver = Resolver(
        nameservers=args.dns_server,
        ca_file=args.ca_file,
        allow_ip_ranges=args.allow_ip_range,
        connect_to=args.connect_to,
        timeout=args.timeout,
    )
    return run(_check_all(resolver, args))


async def _check_all(resolver: Resolver, args: argparse.Namespace) -> int:
    all_ok = True
    lines = args.json and (args.from_file is not None or len(args.names) > 1)
    async with resolver:
        async for report in _reports(resolver, _names(args), args.concurrency, args.timeout):
            all_ok &= report.federation_ok
            if args.json:
                indent = None if lines else 2
                print(json.dumps(report_json(report), indent=indent), flush=True)
            else:
                print(report_text(report), flush=True)
    return 0 if all_ok else 1


def _names(args: argparse.Namespace) -> Iterator[str]:
    yield from args.names
    if args.from_file is not None:
        yield from _read_lines(args.from_file)


def _read_lines(path: str) -> Iterator[str]:
    try:
        handle = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise ConfigurationError(f"cannot read names from {path!r}: {exc.strerror}") from None
    with handle:
        for line in handle:
            name = line.strip()
            if name and not name.startswith("#"):
                yield name


async def _reports(
    resolver: Resolver, names: Iterator[str], concurrency: int, timeout: float
) -> AsyncIterator[Report]:
    """Reports as they finish, at most ``concurrency`` checks at once.

    Names are read lazily and results leave as soon as they are ready, so a
    list of any length costs memory for ``concurrency`` checks only.
    """
    queue: asyncio.Queue[Report | None] = asyncio.Queue(maxsize=concurrency)

    async def worker() -> None:
        for name in names:
            await queue.put(await check_server(resolver, name, timeout=timeout))
        await queue.put(None)

    workers = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
    finished = 0
    while finished < len(workers):
        report = await queue.get()
        if report is None:
            finished += 1
        else:
            yield report
    await asyncio.gather(*workers)
