"""Notifications to a Matrix room on a real Synapse: a user registered, a room created, the
messages read back; a retry with the same transaction ID posts nothing twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from watching import FAST, NAME, make_world, network_flags, start_watch, stop_watch, wait_for

from helpers.synapse import SynapseProcess, generate_base_config, start_synapse
from matrix_delegation._io.config import NetworkConfig
from matrix_delegation._io.network import Network
from matrix_delegation.sandbox.world import Sandbox
from matrix_delegation.watch.matrix_room import MatrixRoom

SETTINGS = {
    "server_name": "hs.test",
    "enable_registration": True,
    "enable_registration_without_verification": True,
    "rc_message": {"per_second": 1000, "burst_count": 1000},
    "rc_registration": {"per_second": 1000, "burst_count": 1000},
}


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseProcess]:
    root = tmp_path_factory.mktemp("synapse-room")
    process = start_synapse(generate_base_config(root / "base", "hs.test"), root / "hs", [SETTINGS])
    try:
        process.wait_ready(timeout=60)
        yield process
    finally:
        process.stop()


async def _call(
    session: aiohttp.ClientSession, method: str, url: str, token: str | None = None, **body: Any
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    payload = None if method == "GET" else body
    async with session.request(method, url, json=payload, headers=headers) as response:
        answer: dict[str, Any] = await response.json()
        assert response.status == 200, answer
        return answer


async def _account_and_room(base: str) -> tuple[str, str]:
    async with aiohttp.ClientSession() as session:
        account = await _call(
            session, "POST", f"{base}/_matrix/client/v3/register",
            username=f"watcher{uuid.uuid4().hex[:8]}", password="a long password",
            auth={"type": "m.login.dummy"},
        )  # fmt: skip
        token = account["access_token"]
        room = await _call(session, "POST", f"{base}/_matrix/client/v3/createRoom", token)
    return token, room["room_id"]


async def _notices(base: str, token: str, room: str) -> list[dict[str, Any]]:
    url = f"{base}/_matrix/client/v3/rooms/{quote(room, safe='')}/messages?dir=b&limit=50"
    async with aiohttp.ClientSession() as session:
        answer = await _call(session, "GET", url, token)
    return [
        event["content"] for event in reversed(answer["chunk"])
        if event["type"] == "m.room.message" and event["content"].get("msgtype") == "m.notice"
    ]  # fmt: skip


async def test_federation_down_is_posted_once_and_a_retry_posts_nothing_twice(
    synapse: SynapseProcess, sandbox: Sandbox, tmp_path: Path
) -> None:
    token, room = await _account_and_room(synapse.base_url)
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    world = await make_world(sandbox)
    world.take_down()
    process = await start_watch(
        NAME, *FAST, "--confirm", "1", "--database", f"sqlite:///{tmp_path / 'watch.db'}",
        "--notify-room", room, "--homeserver", synapse.base_url,
        "--access-token-file", str(token_file), *network_flags(sandbox, tmp_path),
    )  # fmt: skip
    try:
        await wait_for(lambda: _notices(synapse.base_url, token, room), "the notice")
        await asyncio.sleep(1.0)  # failing checks go on: no second notice
    finally:
        status, err = await stop_watch(process)
    assert status == 0, err
    [notice] = await _notices(synapse.base_url, token, room)
    assert notice["body"].startswith(f"{NAME}: federation fails (1 checks in a row)")
    assert notice["format"] == "org.matrix.custom.html"
    assert notice["formatted_body"].startswith(f"<p><b>{NAME}: federation fails")
    # The same event again (a lost answer, retried): the transaction ID makes it one message.
    payload = json.dumps({"id": "f" * 32, "event": "federation-up", "server_name": NAME,
                          "at": 1.0, "summary": "retried once", "report": {}}).encode()  # fmt: skip
    notifier = MatrixRoom(synapse.base_url, room, token)
    async with Network(NetworkConfig(allow_ip_ranges=("127.0.0.0/8",))) as network:
        assert await notifier.send(network, payload, 10) is None
        assert await notifier.send(network, payload, 10) is None
        bad = MatrixRoom(synapse.base_url, room, "not-a-token")
        assert await bad.send(network, payload, 10) == "HTTP 401: M_UNKNOWN_TOKEN"
    bodies = [n["body"] for n in await _notices(synapse.base_url, token, room)]
    assert bodies.count("retried once") == 1
