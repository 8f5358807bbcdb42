"""``matrix-delegation check``: one report per name, as text or JSON (Lines).

With a list (``--from-file`` or several names) reports stream out as they
finish, a summary (counts by route and by problem code) goes to stderr at the
end, and a progress line is drawn on stderr when it is a terminal. Only
counters are kept, so memory does not grow with the length of the list.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TextIO

from .._core.names import ServerName
from .._exceptions import ConfigurationError
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    NO_NAMES,
    Commands,
    add_names_options,
    add_network_options,
    read_names,
    resolver_from_args,
    resolver_options,
)
from .common import run as run_loop

# The checker, the resolver and the worker pool are imported where a check runs,
# not for ``check --help`` (they bring aiohttp, a DNS library and cryptography).
if TYPE_CHECKING:
    from .._io.config import ResolverConfig
    from ..checker.check import Report
    from ..resolver import Resolver
    from .pool import Job, Outcome

__all__ = ["Summary", "add_parser", "run"]

_PROGRESS_EVERY = 0.1  # seconds between redraws of the progress line
# Each name is checked once: the resolver's caches only need to hold the names
# in flight (and shared SRV targets), not every name of a long list.
_CACHE_PER_CHECK = 10
_MIN_CACHE = 1000


def add_parser(commands: Commands, help: str) -> None:
    """Add ``check`` and its options."""
    parser = commands.add_parser(
        "check",
        help=help,
        description="Discover, connect and verify each server; report problems with fixes.",
    )
    add_names_options(
        parser,
        names_help="server names to check",
        from_file_help="check names from FILE, one per line ('-': stdin)",
        json_help="JSON (JSON Lines for several names; docs/check-json.md)",
        concurrency_help="check at most N servers at once (default 50)",
    )
    add_network_options(parser)


def run(args: argparse.Namespace) -> int:
    """Check every name; 0 when federation works with all of them, 1 otherwise."""
    for name in args.names:
        ServerName.parse(name)  # a bad name on the command line is a usage error
    if not args.names and args.from_file is None:
        raise ConfigurationError(NO_NAMES)
    # Every name is checked once: caches only need what is in flight.
    cache = max(_MIN_CACHE, _CACHE_PER_CHECK * args.concurrency)
    if args.from_file is not None and args.workers > 1:
        options = replace(resolver_options(args), max_cache_entries=cache)
        return _check_with_workers(args, options)
    resolver = resolver_from_args(args, max_cache_entries=cache)
    return run_loop(_check_all(resolver, args))


@dataclass
class Summary:
    """Counts over a run: how many were checked and OK, by route and by problem code."""

    checked: int = 0
    ok: int = 0
    routes: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)

    def add(self, report: Report) -> None:
        """Count one report (and forget it)."""
        self.count(_outcome(report, ""))

    def count(self, outcome: Outcome) -> None:
        """Count one report, as a worker process sums it up."""
        self.checked += 1
        self.ok += outcome.ok
        self.routes[outcome.route or "failed"] += 1
        self.codes.update(outcome.codes)

    @property
    def failing(self) -> int:
        """Names with which federation does not work."""
        return self.checked - self.ok

    def text(self) -> str:
        """The summary for a person: totals, then routes and codes, most frequent first."""
        lines = [f"checked {self.checked}: {self.ok} OK, {self.failing} failing"]
        for title, counts in (("by route", self.routes), ("by problem code", self.codes)):
            if counts:
                lines.append(f"{title}:")
                lines += [f"  {count:>8}  {key}" for key, count in _by_count(counts)]
        return "\n".join(lines) + "\n"


def _by_count(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


class _Progress:
    """A one-line progress display on a terminal, redrawn at most every 0.1 s."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._started = self._drawn = time.monotonic()

    def update(self, summary: Summary) -> None:
        now = time.monotonic()
        if now - self._drawn >= _PROGRESS_EVERY:
            self._drawn = now
            rate = summary.checked / max(now - self._started, 1e-9)
            line = f"{summary.checked} checked, {summary.ok} OK, {summary.failing} failing"
            self._stream.write(f"\r\x1b[K{line}, {rate:.0f}/s")
            self._stream.flush()

    def close(self) -> None:
        self._stream.write("\r\x1b[K")
        self._stream.flush()


async def _check_all(resolver: Resolver, args: argparse.Namespace) -> int:
    many = args.from_file is not None or len(args.names) > 1
    summary = Summary()
    progress = _Progress(sys.stderr) if many and sys.stderr.isatty() else None
    try:
        async with resolver:
            reports = _reports(resolver, _names(args), args.concurrency, args.timeout)
            async for report in reports:
                summary.add(report)
                _write(report, args.json, many)
                if progress is not None:
                    progress.update(summary)
    finally:
        if progress is not None:
            progress.close()
    if many:
        sys.stderr.write(summary.text())
    return EXIT_OK if summary.failing == 0 else EXIT_FAILED


def _write(report: Report, as_json: bool, lines: bool) -> None:
    _write_text(_render(report, as_json, lines, colour=sys.stdout.isatty()))


def _write_text(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _render(report: Report, as_json: bool, lines: bool, *, colour: bool) -> str:
    from ..checker.output import report_json, report_text

    if as_json:
        return json.dumps(report_json(report), indent=None if lines else 2)
    return report_text(report, colour=colour)


def _outcome(report: Report, text: str) -> Outcome:
    """What the summary counts of a report, and its rendering."""
    from .pool import Outcome

    route = report.resolution.route if report.resolution is not None else None
    codes = tuple(sorted({found.code for found in report.problems}))
    return Outcome(report.federation_ok, text, route.value if route else None, codes)


# --- several processes (--workers) ------------------------------------------------


def _check_with_workers(args: argparse.Namespace, options: ResolverConfig) -> int:
    """As a list in one process, over ``--workers`` processes: reports stream out as
    any worker finishes them; the summary and the progress line count them all."""
    from .pool import Job, WorkerFailed, WorkerPool, failed

    job = Job(
        handle=check_one,
        resolver_options=options,
        concurrency=args.concurrency,
        timeout=args.timeout,
        as_json=args.json,
        colour=sys.stdout.isatty(),
    )
    summary = Summary()
    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    try:
        with WorkerPool(job, args.workers) as pool:
            for outcome in pool.outcomes(_names(args), ordered=False):
                summary.count(outcome)
                _write_text(outcome.text)
                if progress is not None:
                    progress.update(summary)
    except WorkerFailed as exc:
        return failed(exc)
    finally:
        if progress is not None:
            progress.close()
    sys.stderr.write(summary.text())
    return EXIT_OK if summary.failing == 0 else EXIT_FAILED


async def check_one(resolver: Resolver, name: str, job: Job) -> Outcome:
    """One name in a worker process: its report, rendered as JSON Lines or text."""
    from ..checker.check import check_server

    report = await check_server(resolver, name, timeout=job.timeout)
    return _outcome(report, _render(report, job.as_json, True, colour=job.colour))


def _names(args: argparse.Namespace) -> Iterator[str]:
    yield from args.names
    if args.from_file is not None:
        yield from (name for name, _ in read_names(args.from_file))


async def _reports(
    resolver: Resolver, names: Iterator[str], concurrency: int, timeout: float
) -> AsyncIterator[Report]:
    """Reports as they finish, at most ``concurrency`` checks at once.

    Names are read lazily and results leave as soon as they are ready, so a
    list of any length costs memory for ``concurrency`` checks only.
    """
    from ..checker.check import check_server

    queue: asyncio.Queue[Report | Exception | None] = asyncio.Queue(maxsize=concurrency)

    async def worker() -> None:
        try:
            for name in names:
                await queue.put(await check_server(resolver, name, timeout=timeout))
        except Exception as exc:  # a bug, or an unreadable list: stop the run with it
            await queue.put(exc)
        else:
            await queue.put(None)

    workers = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
    try:
        finished = 0
        while finished < len(workers):
            item = await queue.get()
            if isinstance(item, Exception):
                raise item
            if item is None:
                finished += 1
            else:
                yield item
    finally:
        for task in workers:
            task.cancel()
