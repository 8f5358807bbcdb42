"""Bulk runs over several processes (``--workers``): every core for ``--from-file``.

Each worker (:mod:`.pool_worker`) is a spawned process with its own event loop
and resolver. A name always goes to the same worker, chosen by a hash of its
normalised form, so that one worker owns it and its cache: the same name twice
gets the same answer. Names are read lazily and handed out in chunks; at most
``window`` names are between the input and the output at any time, so memory
does not grow with the length of the list, and neither does the reorder buffer
of an ordered run.

SIGINT and SIGTERM stop the run (:class:`KeyboardInterrupt`, exit 130): the
workers get end of file and stop, and any that lingers is killed. A worker that
dies fails the run with :class:`WorkerFailed` rather than leaving it hanging.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
import threading
import zlib
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType, TracebackType

from .._core.names import ServerName
from .._exceptions import InvalidServerName
from .common import EXIT_WORKER_FAILED, PROG
from .pool_worker import DONE, FAILED, Job, Outcome, worker_main

__all__ = ["Job", "Outcome", "WorkerFailed", "WorkerPool", "failed", "owner"]

CHUNK = 32  # names per message to a worker
STOP_GRACE = 2.0  # seconds a worker gets to stop by itself before it is killed
_NOT_SET = object()


class WorkerFailed(Exception):
    """A worker died or hit a bug; the message is one line for the user."""


def failed(error: WorkerFailed) -> int:
    """Say why the run stopped (one line on stderr); the exit status for it."""
    print(f"{PROG}: error: {error}", file=sys.stderr)
    return EXIT_WORKER_FAILED


def owner(name: str, workers: int) -> int:
    """The worker that owns ``name``: the same for every spelling of the same name."""
    try:
        parsed = ServerName.parse(name)
        key = f"{parsed.lookup_name}:{parsed.port}"
    except InvalidServerName:
        key = name  # reported by whichever worker gets it; any one will do
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % workers


class WorkerPool:
    """``workers`` processes running ``job``; a context manager that always stops them."""

    def __init__(self, job: Job, workers: int) -> None:
        self._job = job
        self._count = workers
        self._processes: list[BaseProcess] = []
        self._tasks: list[Connection] = []
        self._results: dict[Connection, int] = {}  # still open, to its worker's number
        self._pending: list[list[tuple[int, str]]] = [[] for _ in range(workers)]
        self._previous_sigterm: object = _NOT_SET

    def __enter__(self) -> WorkerPool:
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
        try:
            for number in range(self._count):
                self._start(number)
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop()

    def outcomes(self, names: Iterable[str], *, ordered: bool) -> Iterator[Outcome]:
        """Every name's outcome: in input order when ``ordered``, else as they finish."""
        window = max(4 * self._job.concurrency, 2 * CHUNK) * self._count
        source = enumerate(names)
        sent = emitted = 0
        exhausted = False
        early: dict[int, Outcome] = {}  # ordered: finished ahead of an earlier name
        while not exhausted or emitted < sent:
            # Refill at half the window, so that chunks stay full.
            if not exhausted and sent - emitted <= window // 2:
                sent, exhausted = self._hand_out(source, sent, emitted + window)
            for index, outcome in self._receive():
                if not ordered:
                    emitted += 1
                    yield outcome
                    continue
                early[index] = outcome
                while emitted in early:
                    yield early.pop(emitted)
                    emitted += 1

    # --- handing out and collecting ------------------------------------------------

    def _hand_out(
        self, source: Iterator[tuple[int, str]], sent: int, limit: int
    ) -> tuple[int, bool]:
        """Send names until ``limit`` have been sent; whether the input is over."""
        for index, name in source:
            number = owner(name, self._count)
            self._pending[number].append((index, name))
            if len(self._pending[number]) >= CHUNK:
                self._send(number)
            sent = index + 1
            if sent >= limit:
                break
        else:
            self._flush()
            for number in range(self._count):
                self._post(number, None)
            return sent, True
        self._flush()
        return sent, False

    def _flush(self) -> None:
        for number, chunk in enumerate(self._pending):
            if chunk:
                self._send(number)

    def _send(self, number: int) -> None:
        self._post(number, self._pending[number])
        self._pending[number] = []

    def _post(self, number: int, message: list[tuple[int, str]] | None) -> None:
        try:
            self._tasks[number].send(message)
        except OSError:  # its end of the pipe is closed: it died
            raise self._died(number) from None

    def _receive(self) -> list[tuple[int, Outcome]]:
        """What the workers have sent, waiting for at least one message."""
        if not self._results:
            raise WorkerFailed("every worker has stopped before the end of the input")
        received: list[tuple[int, Outcome]] = []
        for ready in wait(list(self._results)):
            assert isinstance(ready, Connection)
            number = self._results[ready]
            try:
                while ready.poll():
                    message = ready.recv()
                    if message == DONE:
                        del self._results[ready]
                        break
                    if message[0] == FAILED:
                        raise WorkerFailed(f"worker {number + 1} failed: {message[1]}")
                    received.append(message)
            except (EOFError, OSError):
                raise self._died(number) from None
        return received

    def _died(self, number: int) -> WorkerFailed:
        process = self._processes[number]
        process.join(STOP_GRACE)
        code = process.exitcode
        how = (
            "is stuck"
            if code is None
            else f"was killed by signal {-code}"
            if code < 0
            else f"exited with status {code}"
        )
        return WorkerFailed(f"worker {number + 1} (pid {process.pid}) {how}; stopping the run")

    # --- starting and stopping -----------------------------------------------------

    def _start(self, number: int) -> None:
        context = multiprocessing.get_context("spawn")
        task_out, task_in = context.Pipe(duplex=False)
        result_out, result_in = context.Pipe(duplex=False)
        process = context.Process(
            target=worker_main,
            args=(task_out, result_in, self._job),
            name=f"matrix-delegation worker {number + 1}",
            daemon=True,
        )
        # The child starts with SIGINT blocked and ignores it before unblocking, so
        # that a Ctrl-C while it imports cannot print a traceback from it.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            task_out.close()
            result_in.close()
        self._processes.append(process)
        self._tasks.append(task_in)
        self._results[result_out] = number

    def _stop(self) -> None:
        """End of file for every worker, then a grace period, then SIGTERM and SIGKILL."""
        for connection in [*self._tasks, *self._results]:
            connection.close()
        self._results.clear()
        for process in self._processes:
            process.join(STOP_GRACE)
        for stop in (BaseProcess.terminate, BaseProcess.kill):
            for process in self._processes:
                if process.exitcode is None:
                    stop(process)
                    process.join(STOP_GRACE)
        if self._previous_sigterm is not _NOT_SET:
            signal.signal(signal.SIGTERM, self._previous_sigterm)  # type: ignore[arg-type]
            self._previous_sigterm = _NOT_SET


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM ends a bulk run as Ctrl-C does: workers stopped, exit status 130."""
    raise KeyboardInterrupt
