"""Two `watch` processes on one real PostgreSQL share the names: each check made once per
interval, each event recorded and notified once; one killed with SIGKILL has its names
taken over when its lease runs out."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from itertools import pairwise
from pathlib import Path

import pytest
from postgres import Postgres
from watching import NAME, Receiver, make_world, network_flags, start_watch, stop_watch, wait_for

from matrix_delegation.sandbox.world import Sandbox
from matrix_delegation.watch.database import open_database
from matrix_delegation.watch.store import Store

FAILING = [f"gone{index}.test" for index in range(24)]  # no address: fails at once
INTERVAL = 0.5
LEASE = 2.0
OPTIONS = ["--interval", str(INTERVAL), "--failing-interval", str(INTERVAL), "--jitter", "0",
           "--timeout", "3", "--confirm", "2", "--lease", str(LEASE)]  # fmt: skip


@pytest.fixture
async def shared(postgres: Postgres) -> AsyncIterator[tuple[str, Store]]:
    url = await postgres.new_database()
    engine = await open_database(url)
    yield url, Store(engine, "test")
    await engine.dispose()


async def _rows(store: Store) -> list:  # type: ignore[type-arg]
    rows = []
    for name in [NAME, *FAILING]:
        rows += await store.history(name, 0)
    return rows


async def test_two_watchers_share_the_names_and_one_takes_over_after_sigkill(
    sandbox: Sandbox, tmp_path: Path, shared: tuple[str, Store]
) -> None:
    url, store = shared
    await make_world(sandbox)
    names = tmp_path / "names.txt"
    names.write_text("\n".join([NAME, *FAILING]) + "\n")
    receiver = Receiver()
    await receiver.start()
    common = ["--from-file", str(names), *OPTIONS, "--database", url, "--webhook", receiver.url,
              "--webhook-secret", "s3cret", *network_flags(sandbox, tmp_path)]  # fmt: skip
    first = await start_watch(*common, "--worker-id", "first")
    second = await start_watch(*common, "--worker-id", "second")
    try:
        await wait_for(lambda: _both_checked(store), "checks by both processes")
        await wait_for(lambda: len(receiver.received) >= len(FAILING), "every federation-down")
        second.send_signal(signal.SIGKILL)
        await second.wait()
        killed_at = time.time()
        await wait_for(
            lambda: _all_checked_since(store, killed_at + LEASE, "first"),
            "every name checked by the survivor after the lease", limit=90,
        )  # fmt: skip
    finally:
        status, err = await stop_watch(first)
        await receiver.stop()
    assert status == 0, err
    rows = await _rows(store)
    by_name = defaultdict(list)
    for row in rows:
        by_name[row.server_name].append(row.checked_at)
    for times in by_name.values():
        gaps = [later - earlier for earlier, later in pairwise(sorted(times))]
        assert min(gaps) >= INTERVAL * 0.9  # never twice in one interval
    events = await store.events_of()
    assert Counter(e.kind for e in events) == {"federation-down": len(FAILING)}
    assert len({e.server_name for e in events}) == len(FAILING)
    received_ids = {payload["id"] for payload in receiver.received}
    assert received_ids == {e.id for e in events}  # each event notified (at least once)
    assert receiver.bad_signatures == 0


async def _both_checked(store: Store) -> bool:
    return {row.checked_by for row in await _rows(store)} == {"first", "second"}


async def _all_checked_since(store: Store, since: float, worker: str) -> bool:
    latest = {}
    for row in await _rows(store):
        if row.checked_at >= since and row.checked_by == worker:
            latest[row.server_name] = row
    return len(latest) == len(FAILING) + 1


async def test_a_database_lost_while_running_is_waited_for_and_nothing_breaks(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    server = Postgres()  # its own: this test stops it
    await asyncio.to_thread(server.start)
    try:
        url = await server.new_database()
        engine = await open_database(url)
        store = Store(engine, "test")
        await make_world(sandbox)
        process = await start_watch(
            NAME, *OPTIONS, "--database", url, *network_flags(sandbox, tmp_path)
        )
        try:
            await wait_for(lambda: store.history(NAME, 0), "a check")
            await engine.dispose()
            await asyncio.to_thread(server.pause)
            await asyncio.sleep(2 * INTERVAL)  # checks go on, their results wait
            await asyncio.to_thread(server.start)
            back = time.time()
            await wait_for(lambda: _checked_after(store, back), "a check recorded after")
        finally:
            status, err = await stop_watch(process)
            await engine.dispose()
    finally:
        await asyncio.to_thread(server.stop)
    assert status == 0, err
    assert "the database did not answer" in err and "Traceback" not in err


async def _checked_after(store: Store, since: float) -> bool:
    return any(row.checked_at >= since for row in await store.history(NAME, 0))
