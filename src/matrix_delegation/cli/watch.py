"""``matrix-delegation watch``: check names on a schedule, record history, notify events.

See docs/watch.md. SIGTERM (or SIGINT) finishes the checks in flight and
stops; SIGHUP reads the names again.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AsyncExitStack
from typing import Any

from aiohttp import web

from .._exceptions import ConfigurationError
from .._io.network import Network
from ..config import load_site
from ..watch.daemon import Schedule, Watcher
from ..watch.database import open_database
from ..watch.deliver import Sender
from ..watch.events import Rules
from ..watch.metrics import WatchMetrics, metrics_app
from ..watch.names import NameList
from ..watch.notify import Notifier
from ..watch.outbox import Outbox
from ..watch.store import Store
from .common import (
    EXIT_OK,
    NO_NAMES,
    PROG,
    Commands,
    add_network_options,
    parse_listen,
    read_names,
    resolver_options,
    warn,
)
from .common import run as run_loop
from .watch_options import add_watch_options, notifiers

__all__ = ["add_parser", "run"]

_log = logging.getLogger("matrix_delegation.watch")
_SECRET_ENV = "MATRIX_DELEGATION_WEBHOOK_SECRET"


def add_parser(commands: Commands, help: str) -> None:
    """Add ``watch`` and its options."""
    parser = commands.add_parser(
        "watch",
        help=help,
        description="Check server names on a schedule, keep their history in a database "
        "and notify events (docs/watch.md). SIGHUP re-reads the names.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="server names to watch")
    parser.add_argument("--from-file", metavar="FILE", help="watch names from FILE, one a line")
    parser.add_argument(
        "--config", metavar="FILE", help="watch the domains of a `serve` site configuration"
    )
    add_watch_options(parser)
    add_network_options(parser)


def run(args: argparse.Namespace) -> int:
    """Watch until SIGTERM or SIGINT."""
    names = NameList(lambda: _sources(args), warn)
    if not names.load():
        raise ConfigurationError(NO_NAMES.replace("--from-file", "--from-file or --config"))
    chosen = notifiers(args, args.webhook_secret or _env_secrets())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return run_loop(_watch(args, names, chosen))


def _env_secrets() -> list[str]:
    secret = os.environ.get(_SECRET_ENV)
    return [secret] if secret else []


def _sources(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    yield from ((name, "argument") for name in args.names)
    if args.from_file is not None:
        yield from read_names(args.from_file)
    if args.config is not None:
        site, _warnings = load_site(args.config)
        yield from ((domain.server_name, args.config) for domain in site.domains)


def _schedule(args: argparse.Namespace) -> Schedule:
    return Schedule(
        interval=args.interval,
        failing_interval=args.failing_interval,
        jitter=args.jitter,
        concurrency=args.concurrency,
        timeout=args.timeout,
        keep_days=args.keep_days,
        claim_for=args.lease,
    )


def _rules(args: argparse.Namespace) -> Rules:
    return Rules(
        confirm=args.confirm,
        reminder_every=args.reminder_every,
        cert_warning_days=args.cert_warning_days,
    )


async def _watch(args: argparse.Namespace, names: NameList, chosen: list[Notifier]) -> int:
    engine = await open_database(args.database)  # unreachable: one line, exit 2
    worker = args.worker_id or f"{socket.gethostname()}:{os.getpid()}"
    schedule, config = _schedule(args), resolver_options(args)
    store, metrics = Store(engine, worker), WatchMetrics()
    async with AsyncExitStack() as stack:
        stack.push_async_callback(engine.dispose)
        network = await stack.enter_async_context(Network(config))
        watched = names.load()
        await store.sync_names(watched, _spread(len(watched), schedule))
        outbox = Outbox(engine, worker, retry_delays=args.retry_delays)
        sender = Sender(
            outbox, network, chosen, tick=schedule.tick, timeout=args.timeout, lease=args.lease
        )
        watcher = Watcher(
            store,
            config,
            schedule,
            _rules(args),
            targets=sender.targets,
            on_checked=metrics.checked,
        )
        for address in args.metrics_listen:
            await _serve_metrics(stack, metrics_app(metrics), address)
        stop = asyncio.Event()

        async def reload() -> None:
            again = names.load()
            await store.sync_names(again, _spread(len(again), schedule))
            metrics.forget_except(set(again))
            _log.info("names read again: watching %d", len(again))

        _handle_signals(stop, reload)
        print(f"{PROG} watch: watching {len(watched)} names as {worker}", file=sys.stderr)
        sys.stderr.flush()
        await asyncio.gather(watcher.run(stop), sender.run(stop))
    return EXIT_OK


def _spread(count: int, schedule: Schedule) -> float:
    """New names fall due within this many seconds: at once for a few, spread over an
    interval for thousands."""
    return min(schedule.interval, count / schedule.concurrency)


async def _serve_metrics(stack: AsyncExitStack, app: web.Application, address: str) -> None:
    host, port = parse_listen(address)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {address}: {exc.strerror or exc}") from None


def _handle_signals(stop: asyncio.Event, reload: Callable[[], Coroutine[Any, Any, None]]) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    pending: set[asyncio.Task[None]] = set()

    async def guarded() -> None:
        try:
            await reload()
        except ConfigurationError as exc:  # a broken list: keep watching the old one
            _log.error("names not read again: %s", exc)
        except Exception as exc:  # the database, say: the old list stays
            _log.error("names not read again: %s", exc)

    def hangup() -> None:
        task = asyncio.ensure_future(guarded())
        pending.add(task)
        task.add_done_callback(pending.discard)

    loop.add_signal_handler(signal.SIGHUP, hangup)
