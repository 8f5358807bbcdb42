"""A key response of 2,900 signed keys (~500 KiB): bounded CPU, a clear problem.

Checked naively, each signature re-encodes the whole body, so the cost grows
with the square of the number of keys and the web service's event loop stalls.
"""

from __future__ import annotations

import asyncio
import time

from test_problem_codes import KEY, NAME, homeserver

from matrix_delegation import Resolver
from matrix_delegation.checker.check import check_server
from matrix_delegation.checker.keys import check_server_keys
from matrix_delegation.checker.keys_verify import MAX_CHECKED_KEYS
from matrix_delegation.sandbox import Reply
from matrix_delegation.sandbox.hostile import BOMB_KEYS, key_bomb
from matrix_delegation.sandbox.world import Sandbox
from web.conftest import MakeClient

BOMB = Reply(body=key_bomb(NAME, KEY), headers={"Content-Type": "application/json"})
TOO_MANY = f"verify_keys holds {BOMB_KEYS} keys"


def test_the_bomb_is_under_the_byte_cap_and_only_16_keys_are_checked() -> None:
    assert 450 * 1024 < len(BOMB.body_bytes) < 512 * 1024
    report = check_server_keys(BOMB.body_bytes, NAME, int(time.time() * 1000))
    assert [p.code for p in report.problems] == ["keys-malformed"]
    assert TOO_MANY in report.problems[0].message
    assert len(report.ed25519_checks) == MAX_CHECKED_KEYS
    assert all(check.matching_signature for check in report.ed25519_checks)


def test_a_bad_signature_among_the_checked_keys_is_still_found() -> None:
    body = key_bomb(NAME, KEY, count=20).replace(b'"ed25519:k3":"', b'"ed25519:k3":"A', 1)
    report = check_server_keys(body, NAME, int(time.time() * 1000))
    codes = [p.code for p in report.problems]
    assert "keys-bad-signature" in codes and "keys-malformed" in codes
    assert [c.matching_signature for c in report.ed25519_checks].count(False) == 1


def test_a_handful_of_keys_is_not_too_many() -> None:
    report = check_server_keys(key_bomb(NAME, KEY, count=3), NAME, int(time.time() * 1000))
    assert report.ok and report.problems == ()


async def test_check_ends_within_its_deadline_with_the_problem(sandbox: Sandbox) -> None:
    await homeserver(sandbox, keys=BOMB)
    async with Resolver(**sandbox.resolver_options(timeout=3.0)) as resolver:
        async with asyncio.timeout(30):  # generous: a functional deadline, not a timing
            report = await check_server(resolver, NAME, timeout=3.0)
    assert not report.federation_ok
    assert any(p.code == "keys-malformed" and TOO_MANY in p.message for p in report.problems)


async def test_web_health_answers_while_the_bomb_is_checked(
    sandbox: Sandbox, web_client: MakeClient
) -> None:
    await homeserver(sandbox, keys=BOMB)
    client = await web_client()
    check = asyncio.ensure_future(client.get("/api/v1/check", params={"server_name": NAME}))
    latencies: list[float] = []
    for _ in range(2000):  # bounded; stops as soon as the check is done
        if check.done():
            break
        started = time.perf_counter()
        health = await client.get("/health")
        latencies.append(time.perf_counter() - started)
        assert health.status == 200
    response = await asyncio.wait_for(check, 30)
    assert response.status == 200
    problems = (await response.json())["problems"]
    assert any(p["code"] == "keys-malformed" and TOO_MANY in p["message"] for p in problems)
    ordered = sorted(latencies) or [0.0]
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    print(f"/health during the key bomb: {len(latencies)} requests, p99 {1000 * p99:.1f} ms")
