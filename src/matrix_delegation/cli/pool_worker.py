"""One worker process of a bulk run (``--workers``): its own event loop and resolver.

The parent sends lists of ``(index, name)`` on ``tasks`` and ``None`` once the
input is over; the worker answers ``(index, Outcome)`` on ``results`` as each
name finishes, at most ``concurrency`` at once, then :data:`DONE`. At end of
file on ``tasks`` (the parent stopped, or died) it stops at once. It ignores
SIGINT: Ctrl-C on a terminal reaches the whole process group, and the parent
alone decides how the run ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from .._io.config import ResolverConfig
from ..resolver import Resolver
from .common import run

__all__ = ["DONE", "FAILED", "Job", "Outcome", "worker_main"]

DONE = "done"  # the worker's last message after a clean end of input
FAILED = "failed"  # ``(FAILED, reason)``: the worker hit a bug and stops


@dataclass(frozen=True)
class Outcome:
    """One name's result, rendered in the worker: the parent only writes and counts."""

    ok: bool
    text: str
    route: str | None = None
    codes: tuple[str, ...] = ()


#: Resolves or checks one name; a module-level function, so that it pickles by name.
Handler = Callable[[Resolver, str, "Job"], Awaitable[Outcome]]


@dataclass(frozen=True)
class Job:
    """What every worker is told: the same options as a single-process run."""

    handle: Handler
    resolver_options: ResolverConfig = field(default_factory=ResolverConfig)
    concurrency: int = 50
    timeout: float = 10.0
    as_json: bool = False
    nested: bool = False  # JSON: an element of a top-level array (indented by two)
    colour: bool = False


def worker_main(tasks: Connection, results: Connection, job: Job) -> None:
    """The worker process's entry point (its parent started it with SIGINT blocked)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        run(_work(tasks, results, job))
    except (EOFError, OSError):  # the parent went away: nobody is left to tell
        return
    except Exception as exc:  # a bug: one line for the parent rather than a traceback here
        with contextlib.suppress(OSError):
            results.send((FAILED, str(exc) or type(exc).__name__))


async def _work(tasks: Connection, results: Connection, job: Job) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue()
    gone = asyncio.Event()
    reader = threading.Thread(
        target=_read, args=(tasks, loop, queue, gone, job.concurrency), daemon=True
    )
    reader.start()
    async with Resolver.from_config(job.resolver_options) as resolver:

        async def one() -> None:
            while (item := await queue.get()) is not None:
                index, name = item
                results.send((index, await job.handle(resolver, name, job)))

        working: asyncio.Future[Any] = asyncio.gather(*(one() for _ in range(job.concurrency)))
        stopping: asyncio.Future[Any] = asyncio.ensure_future(gone.wait())
        await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not working.done():  # the parent is gone: drop what is in flight
            working.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await working
            return
        working.result()  # a bug in a handler surfaces here
    results.send(DONE)


def _read(
    tasks: Connection,
    loop: asyncio.AbstractEventLoop,
    queue: asyncio.Queue[tuple[int, str] | None],
    gone: asyncio.Event,
    concurrency: int,
) -> None:
    """Feed the event loop from the blocking pipe (a thread: the loop never waits on it)."""
    try:
        try:
            while (chunk := tasks.recv()) is not None:
                loop.call_soon_threadsafe(_feed, queue, chunk)
        except (EOFError, OSError):
            loop.call_soon_threadsafe(gone.set)
        else:
            loop.call_soon_threadsafe(_feed, queue, [None] * concurrency)
    except RuntimeError:  # the loop already closed: the worker is ending anyway
        return


def _feed(queue: asyncio.Queue[tuple[int, str] | None], items: list[Any]) -> None:
    for item in items:
        queue.put_nowait(item)
