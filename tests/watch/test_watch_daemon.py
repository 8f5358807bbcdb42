"""`watch` as a process over real sockets: the sandbox's homeserver as the target, SQLite,
a webhook receiver that verifies each signature."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from pathlib import Path

import aiohttp
import pytest
from watching import (
    FAST,
    MATRIX2,
    NAME,
    OTHER_KEY,
    SECRET,
    WK,
    Receiver,
    make_world,
    network_flags,
    serve_homeserver,
    start_watch,
    stop_watch,
    wait_for,
)

from matrix_delegation._cli import main
from matrix_delegation.sandbox import Reply
from matrix_delegation.sandbox.world import Sandbox
from matrix_delegation.watch.outbox import Outbox
from matrix_delegation.watch.store import Store

PAYLOAD_KEYS = {"id", "event", "server_name", "at", "summary", "report"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def results(store: Store, ok: bool | None = None) -> int:
    rows = await store.history(NAME, 0)
    return sum(1 for row in rows if ok is None or row.federation_ok == ok)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
async def test_down_then_up_is_one_event_each_signed_and_recorded(
    sandbox: Sandbox, tmp_path: Path, receiver: Receiver, store: Store, database: str, capsys
) -> None:
    world = await make_world(sandbox)
    metrics = f"127.0.0.1:{free_port()}"
    process = await start_watch(
        NAME, *FAST, "--confirm", "2", "--database", database,
        "--webhook", receiver.url, "--webhook-secret", SECRET, "--metrics-listen", metrics,
        *network_flags(sandbox, tmp_path),
    )  # fmt: skip
    try:
        await wait_for(lambda: results(store, ok=True), "a good check")
        async with aiohttp.ClientSession() as session:
            page = await (await session.get(f"http://{metrics}/metrics")).text()
        assert f'matrix_delegation_watch_federation_ok{{server_name="{NAME}"}} 1.0' in page
        world.take_down()
        await wait_for(lambda: "federation-down" in receiver.kinds(), "federation-down")
        failing = await results(store, ok=False)
        assert failing >= 2  # --confirm 2: not before the second failure
        await wait_for(
            lambda: _more(store, False, failing + 3), "three more failed checks"
        )  # still down: no second event
        world.bring_up()
        await wait_for(lambda: "federation-up" in receiver.kinds(), "federation-up")
        good = await results(store, ok=True)
        await wait_for(lambda: _more(store, True, good + 3), "three more good checks")
    finally:
        status, err = await stop_watch(process)
    assert status == 0, err
    assert "Traceback" not in err
    assert receiver.kinds() == ["federation-down", "federation-up"]
    assert receiver.bad_signatures == 0
    for payload in receiver.received:
        assert set(payload) == PAYLOAD_KEYS and payload["server_name"] == NAME
        assert payload["report"]["server_name"] == NAME
    assert receiver.received[0]["report"]["federation_ok"] is False
    assert receiver.received[1]["report"]["federation_ok"] is True
    recorded = [(row.kind, row.id) for row in await store.events_of(NAME)]
    assert recorded == [(p["event"], p["id"]) for p in receiver.received]
    # history prints what was recorded, oldest first, as JSON Lines
    history = ["history", NAME, "--json", "--database", database]
    assert await asyncio.to_thread(main, history) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == await results(store)
    assert set(lines[0]) == {"server_name", "checked_at", "federation_ok", "route", "problems",
                             "cert_expires_at"}  # fmt: skip
    assert lines[0]["federation_ok"] is True and lines[0]["route"] == "well-known/explicit-port"
    assert any(not line["federation_ok"] and line["problems"] for line in lines)
    assert lines[-1]["federation_ok"] is True


async def _more(store: Store, ok: bool, count: int) -> bool:
    return await results(store, ok=ok) >= count


async def test_a_changed_key_m_server_and_certificate_are_one_event_each(
    sandbox: Sandbox, tmp_path: Path, receiver: Receiver, store: Store
) -> None:
    world = await make_world(sandbox)
    process = await start_watch(
        NAME, *FAST, "--database", f"sqlite:///{tmp_path / 'watch.db'}",
        "--webhook", receiver.url, "--webhook-secret", SECRET, *network_flags(sandbox, tmp_path),
    )  # fmt: skip
    try:
        await wait_for(lambda: _more(store, True, 2), "two good checks")
        serve_homeserver(world.homeserver, OTHER_KEY)
        await wait_for(lambda: "keys-changed" in receiver.kinds(), "keys-changed")
        world.well_known.set(NAME, WK, Reply.json({"m.server": f"{MATRIX2}:8448"}))
        await wait_for(lambda: "delegation-changed" in receiver.kinds(), "delegation-changed")
        world.renew_certificate()
        await wait_for(lambda: "certificate-changed" in receiver.kinds(), "certificate-changed")
        good = await results(store, ok=True)
        await wait_for(lambda: _more(store, True, good + 3), "three more good checks")
    finally:
        status, err = await stop_watch(process)
    assert status == 0, err
    assert sorted(receiver.kinds()) == ["certificate-changed", "delegation-changed",
                                        "keys-changed"]  # fmt: skip
    summaries = {p["event"]: p["summary"] for p in receiver.received}
    assert "ed25519:one" in summaries["keys-changed"]
    assert "ed25519:two" in summaries["keys-changed"]
    assert f"{MATRIX2}:8448" in summaries["delegation-changed"]


async def test_a_receiver_that_fails_gets_the_event_again_with_the_same_id(
    sandbox: Sandbox, tmp_path: Path, store: Store
) -> None:
    world = await make_world(sandbox)
    world.take_down()  # down from the start: federation-down after --confirm 1
    receiver = Receiver(fail_first=2)
    await receiver.start()
    process = await start_watch(
        NAME, *FAST, "--confirm", "1", "--database", f"sqlite:///{tmp_path / 'watch.db'}",
        "--webhook", receiver.url, "--webhook-secret", SECRET, "--retry-delays", "0.1,0.2",
        *network_flags(sandbox, tmp_path),
    )  # fmt: skip
    try:
        await wait_for(lambda: receiver.received, "the event, after two refusals")
    finally:
        status, err = await stop_watch(process)
        await receiver.stop()
    assert status == 0, err
    assert receiver.kinds() == ["federation-down"] and receiver.attempts == 3
    [row] = await Outbox(store.engine, "test").rows()
    assert (row.state, row.attempts, row.event_id) == ("delivered", 3, receiver.received[0]["id"])
    assert row.last_error == "HTTP 500"


async def test_a_wrong_secret_is_refused_and_retried_not_lost(
    sandbox: Sandbox, tmp_path: Path, store: Store
) -> None:
    world = await make_world(sandbox)
    world.take_down()
    receiver = Receiver(secret=b"another secret")
    await receiver.start()
    process = await start_watch(
        NAME, *FAST, "--confirm", "1", "--database", f"sqlite:///{tmp_path / 'watch.db'}",
        "--webhook", receiver.url, "--webhook-secret", SECRET, "--retry-delays", "0.1",
        *network_flags(sandbox, tmp_path),
    )  # fmt: skip
    try:
        await wait_for(lambda: receiver.bad_signatures >= 2, "two refused deliveries")
    finally:
        status, err = await stop_watch(process)
        await receiver.stop()
    assert status == 0, err
    assert receiver.received == []
    [row] = await Outbox(store.engine, "test").rows()
    assert row.state == "pending" and row.attempts >= 2 and row.last_error == "HTTP 401"


async def test_sighup_reads_the_names_again_and_reports_a_bad_one_once(
    sandbox: Sandbox, tmp_path: Path, store: Store
) -> None:
    await make_world(sandbox)
    names = tmp_path / "names.txt"
    names.write_text(f"{NAME}\nbad_name\n")
    process = await start_watch(
        "--from-file", str(names), *FAST, "--database", f"sqlite:///{tmp_path / 'watch.db'}",
        *network_flags(sandbox, tmp_path),
    )  # fmt: skip
    try:
        await wait_for(lambda: results(store), "a check of the first name")
        names.write_text(f"bad_name\n{MATRIX2}\n")
        process.send_signal(signal.SIGHUP)
        await wait_for(lambda: store.history(MATRIX2, 0), "a check of the added name")
        await asyncio.sleep(0.5)  # a check of the removed name that was in flight ends
        before = await results(store)
        count = len(await store.history(MATRIX2, 0))
        await wait_for(lambda: _count(store, MATRIX2, count + 3), "three more of the new name")
        assert await results(store) == before  # the removed name is no longer checked
    finally:
        status, err = await stop_watch(process)
    assert status == 0, err
    assert err.count("bad_name") == 1 and "Traceback" not in err


async def _count(store: Store, name: str, count: int) -> bool:
    return len(await store.history(name, 0)) >= count
