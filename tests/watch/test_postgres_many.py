"""Two `watch` processes, one real PostgreSQL, 200 names: each name checked once per
interval, each event recorded and notified once; one process killed with SIGKILL while it
holds claims has its names (and the events their checks were about to bring) taken over by
the other when the lease runs out."""

from __future__ import annotations

import signal
import time
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from watching import Receiver, network_flags, start_watch, stop_watch, wait_for

from checker.test_problem_codes import KEY, homeserver
from matrix_delegation.sandbox import Reply
from matrix_delegation.sandbox.homeserver import KEYS_PATH, VERSION_PATH, key_response
from matrix_delegation.sandbox.world import Sandbox
from matrix_delegation.watch.schema import check_results, names
from matrix_delegation.watch.store import Store

HOMESERVER = "hs.many.test"
GOOD = [f"good{index}.many.test" for index in range(40)]  # SRV to one homeserver
GONE = [f"gone{index}.many.test" for index in range(160)]  # no records: fails at once
INTERVAL = 5.0
LEASE = 4.0
OPTIONS = ["--interval", str(INTERVAL), "--failing-interval", str(INTERVAL), "--jitter", "0",
           "--timeout", "3", "--confirm", "2", "--lease", str(LEASE)]  # fmt: skip


async def serve_all(sandbox: Sandbox) -> Any:
    host = await homeserver(sandbox, [HOMESERVER], certificate_for=GOOD)
    for name in GOOD:
        for service in ("_matrix-fed", "_matrix"):  # every implementation finds it
            sandbox.zone.add(f"{service}._tcp.{name}", "SRV", f"10 5 8448 {HOMESERVER}.")
        host.set(name, KEYS_PATH, Reply.json(key_response(name, KEY)))  # signed for the name
    return host


async def rows(store: Store, *where: Any) -> list[sa.Row[Any]]:
    async with store.engine.connect() as connection:
        return list((await connection.execute(sa.select(check_results).where(*where))).all())


async def held_by(store: Store, worker: str, *where: Any) -> list[sa.Row[Any]]:
    """The names ``worker`` holds a live claim on."""
    query = sa.select(names).where(
        names.c.claimed_by == worker, names.c.lease_until > time.time(), *where
    )
    async with store.engine.connect() as connection:
        return list((await connection.execute(query)).all())


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_two_watchers_share_200_names_and_survive_a_sigkill(
    sandbox: Sandbox, tmp_path: Path, receiver: Receiver, store: Store, database: str
) -> None:
    host = await serve_all(sandbox)
    listed = tmp_path / "names.txt"
    listed.write_text("\n".join(GOOD + GONE) + "\n")
    common = ["--from-file", str(listed), *OPTIONS, "--database", database,
              "--webhook", receiver.url, "--webhook-secret", "s3cret",
              *network_flags(sandbox, tmp_path)]  # fmt: skip
    first = await start_watch(*common, "--worker-id", "first")
    second = await start_watch(*common, "--worker-id", "second")
    try:
        await wait_for(lambda: _down_events(receiver, len(GONE)), "federation-down of the gone")
        assert {row.checked_by for row in await rows(store)} == {"first", "second"}
        good = (check_results.c.server_name.in_(GOOD), check_results.c.federation_ok)
        assert await rows(store, *good)  # (one may fail now and then on a loaded machine)
        for name in ["*", *GOOD]:  # the homeserver goes down behind its proxy
            for path in (VERSION_PATH, KEYS_PATH):
                host.set(name, path, Reply(status=502, body="Bad Gateway"))
        # Killed while it checks good names whose next failure confirms them down.
        pending = (names.c.failures >= 1, ~names.c.down, names.c.name.in_(GOOD))
        held = await wait_for(lambda: held_by(store, "second", *pending), "claims to die with")
        second.send_signal(signal.SIGKILL)
        await second.wait()
        killed_at = time.time()
        await wait_for(lambda: _down_events(receiver, len(GONE) + len(GOOD)), "every event")
        await wait_for(lambda: _all_checked_by(store, "first", killed_at + LEASE), "take-over")
    finally:
        status, err = await stop_watch(first)
        if second.returncode is None:
            second.kill()
            await second.wait()
    assert status == 0, err
    assert "Traceback" not in err
    results = await rows(store)
    by_name: dict[str, list[float]] = defaultdict(list)
    for row in results:
        by_name[row.server_name].append(row.checked_at)
    assert set(by_name) == set(GOOD + GONE)
    for name, times in by_name.items():
        gaps = [later - earlier for earlier, later in pairwise(sorted(times))]
        assert min(gaps, default=INTERVAL) >= INTERVAL * 0.9, name  # never twice an interval
    # The names the killed process held: not checked again before its claims ran out.
    for claim in held:
        after = [row for row in results if row.server_name == claim.name]
        later = [row for row in after if row.checked_at > killed_at]
        assert later and min(row.checked_at for row in later) >= claim.lease_until - 0.01
        assert {row.checked_by for row in later} == {"first"}
    events = await store.events_of()
    assert Counter(e.kind for e in events) == {"federation-down": len(GONE) + len(GOOD)}
    assert sorted(e.server_name for e in events) == sorted(GOOD + GONE)  # one each
    received = Counter(payload["id"] for payload in receiver.received)
    assert set(received) == {e.id for e in events}  # none lost
    assert max(received.values()) == 1  # none twice
    assert receiver.bad_signatures == 0


def _down_events(receiver: Receiver, count: int) -> bool:
    return receiver.kinds().count("federation-down") >= count


async def _all_checked_by(store: Store, worker: str, since: float) -> bool:
    recent = await rows(
        store, check_results.c.checked_by == worker, check_results.c.checked_at >= since
    )
    return len({row.server_name for row in recent}) == len(GOOD) + len(GONE)
