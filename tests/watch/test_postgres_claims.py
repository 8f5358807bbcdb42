"""Claims on a real PostgreSQL: several processes share the names, each due name claimed once
(``FOR UPDATE SKIP LOCKED``), and a claim whose lease ran out is taken over."""

from __future__ import annotations

import asyncio
from collections import Counter

from postgres import Postgres

from matrix_delegation.watch.database import open_database
from matrix_delegation.watch.events import Event, NameState
from matrix_delegation.watch.observe import Observation
from matrix_delegation.watch.store import Checked, Store

NAMES = [f"name{index}.test" for index in range(200)]


async def test_concurrent_claims_take_each_due_name_once(postgres: Postgres) -> None:
    url = await postgres.new_database()
    engines = [await open_database(url) for _ in range(4)]
    try:
        stores = [Store(engine, f"worker{index}") for index, engine in enumerate(engines)]
        await stores[0].sync_names(NAMES, 0)
        batches = await asyncio.gather(*(s.claim(10, 60) for s in stores for _ in range(10)))
        claimed = Counter(one.name for batch in batches for one in batch)
        assert set(claimed) == set(NAMES) and set(claimed.values()) == {1}
        assert await stores[1].claim(10, 60) == []  # all held
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_lease_that_ran_out_is_taken_over_and_the_late_result_dropped(
    postgres: Postgres,
) -> None:
    url = await postgres.new_database()
    first, second = await open_database(url), await open_database(url)
    try:
        dead, alive = Store(first, "dead"), Store(second, "alive")
        await dead.sync_names(NAMES[:5], 0)
        assert len(await dead.claim(10, 0.2)) == 5
        assert await alive.claim(10, 60) == []  # the lease holds
        await asyncio.sleep(0.4)
        taken = await alive.claim(10, 60)
        assert sorted(one.name for one in taken) == NAMES[:5]
        late = Checked(NAMES[0], 1.0, 0.1, Observation(False), NameState(failures=1),
                       [Event("federation-down", "late")], 2.0, {})  # fmt: skip
        assert await dead.record(late, ["webhook http://x/"]) == []  # no longer its claim
        on_time = Checked(NAMES[0], 1.0, 0.1, Observation(True), NameState(), [], 2.0, {})
        assert await alive.record(on_time, []) == []
        assert [row.federation_ok for row in await alive.history(NAMES[0], 0)] == [True]
        assert await alive.events_of() == []
    finally:
        await first.dispose()
        await second.dispose()
