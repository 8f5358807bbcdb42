"""``peer-disagreement`` from `watch` over real sockets: the implementations split when a
dead SRV target comes first, and agree again when it goes (docs/peers.md)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from watching import FAST, NAME, SECRET, Receiver, network_flags, start_watch, stop_watch, wait_for

from checker.test_problem_codes import homeserver
from matrix_delegation.sandbox.world import Sandbox
from matrix_delegation.watch.store import Store

FED, LEGACY = f"_matrix-fed._tcp.{NAME}", f"_matrix._tcp.{NAME}"
LIVE, DEAD = "live.example.test", "dead.example.test"


@pytest.fixture
def dead(sandbox: Sandbox) -> Iterator[str]:
    """A loopback address whose port 8448 refuses connections: bound here, never listening,
    so that no other server (another test run, say) can take it meanwhile."""
    for _ in range(5):
        address = sandbox.address(8448)
        held = socket.socket()
        # Connections of earlier tests to this address may linger in TIME_WAIT; a listener
        # would still refuse the bind, which is what "free" means here.
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            held.bind((address, 8448))
        except OSError:
            held.close()
            continue
        with held:
            yield address
        return
    raise OSError("no loopback address with port 8448 free")


def only_live(sandbox: Sandbox) -> None:
    for record in (FED, LEGACY):
        sandbox.zone.remove(record)
        sandbox.zone.add(record, "SRV", f"20 5 8448 {LIVE}.", ttl=1)


def dead_first(sandbox: Sandbox) -> None:
    """Conduit and continuwuity use only the first record, the tester only _matrix._tcp:
    a dead first target fails them while Synapse and Dendrite go on to the next."""
    for record in (FED, LEGACY):
        sandbox.zone.add(record, "SRV", f"10 5 8448 {DEAD}.", ttl=1)


async def checks(store: Store) -> int:
    return len(await store.history(NAME, 0))


async def test_split_verdicts_are_one_event_and_their_end_another(
    sandbox: Sandbox, tmp_path: Path, receiver: Receiver, store: Store, database: str, dead: str
) -> None:
    sandbox.zone.add(DEAD, "A", dead)
    await homeserver(sandbox, [LIVE])
    only_live(sandbox)
    process = await start_watch(
        NAME, *FAST, "--confirm", "1000", "--database", database,
        "--webhook", receiver.url, "--webhook-secret", SECRET, *network_flags(sandbox, tmp_path),
    )  # fmt: skip
    try:
        await wait_for(lambda: _at_least(store, 2), "two checks")
        assert receiver.kinds() == []  # every implementation agrees
        dead_first(sandbox)
        await wait_for(lambda: "peer-disagreement" in receiver.kinds(), "the split")
        seen = await checks(store)
        await wait_for(lambda: _at_least(store, seen + 3), "three more checks, still split")
        assert receiver.kinds() == ["delegation-changed", "peer-disagreement"]
        only_live(sandbox)
        await wait_for(lambda: receiver.kinds().count("peer-disagreement") == 2, "the end")
        seen = await checks(store)
        await wait_for(lambda: _at_least(store, seen + 3), "three more checks, agreeing")
    finally:
        status, err = await stop_watch(process)
    assert status == 0, err
    # The endpoint set changes with the records too: delegation-changed each time.
    assert receiver.kinds() == ["delegation-changed", "peer-disagreement"] * 2
    assert receiver.bad_signatures == 0
    split, joined = (p["summary"] for p in receiver.received if p["event"] == "peer-disagreement")
    assert (
        "conduit, continuwuity, federation-tester cannot reach it; synapse, dendrite can" in split
    )
    assert split.endswith("(before: all reach it)")
    assert "all reach it (before: conduit" in joined
    document = receiver.received[1]["report"]
    assert {p["implementation"]: p["federation_ok"] for p in document["peers"]}["conduit"] is False
    recorded = [(row.kind, row.id) for row in await store.events_of(NAME)]
    assert recorded == [(p["event"], p["id"]) for p in receiver.received]


async def _at_least(store: Store, count: int) -> bool:
    return await checks(store) >= count
