"""Helpers of the watch tests: a world to watch, a webhook receiver, the daemon as a process."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import signedjson.key
from aiohttp import web

import matrix_delegation
from matrix_delegation.sandbox import Reply, WebHost
from matrix_delegation.sandbox.homeserver import KEYS_PATH, VERSION_PATH, key_response
from matrix_delegation.sandbox.world import LOOPBACK_RANGES, Sandbox

SRC = str(Path(matrix_delegation.__file__).resolve().parents[1])
NAME = "example.test"
MATRIX, MATRIX2 = "matrix.example.test", "matrix2.example.test"
WK = "/.well-known/matrix/server"
KEY = signedjson.key.generate_signing_key("one")
OTHER_KEY = signedjson.key.generate_signing_key("two")
SECRET = "s3cret"
WAIT_LIMIT = 60.0  # seconds: a condition not met by then is a failure
STOP_LIMIT = 30.0  # seconds from SIGTERM to the end of the process
# Short enough that a test sees many checks, long enough for two runs at once on 2 cores.
FAST = ["--interval", "0.3", "--failing-interval", "0.2", "--jitter", "0", "--timeout", "3"]


@dataclass
class World:
    """A delegated name: .well-known on the name's host, a homeserver for two names."""

    sandbox: Sandbox
    well_known: WebHost
    homeserver: WebHost

    def take_down(self) -> None:
        """The homeserver is down behind its reverse proxy: 502 Bad Gateway."""
        for path in (VERSION_PATH, KEYS_PATH):
            self.homeserver.set("*", path, Reply(status=502, body="Bad Gateway"))

    def bring_up(self) -> None:
        serve_homeserver(self.homeserver)

    def renew_certificate(self) -> None:
        """The homeserver's certificate is renewed: a new one from its next handshake."""
        self.sandbox.ca.renew(MATRIX, MATRIX2)


def serve_homeserver(host: WebHost, key: Any = KEY) -> None:
    host.set("*", VERSION_PATH, Reply.json({"server": {"name": "Sandbox", "version": "1"}}))
    host.set("*", KEYS_PATH, Reply.json(key_response(NAME, key)))


async def make_world(sandbox: Sandbox) -> World:
    well_known = await sandbox.https_host([NAME])
    well_known.set(NAME, WK, Reply.json({"m.server": f"{MATRIX}:8448"}))
    homeserver = await sandbox.https_host([MATRIX, MATRIX2], port=8448)  # its own address
    serve_homeserver(homeserver)
    return World(sandbox, well_known, homeserver)


def network_flags(sandbox: Sandbox, tmp_path: Path) -> list[str]:
    ca = sandbox.ca.write_ca_pem(tmp_path / "ca.pem")
    found = ["--dns-server", sandbox.dns.nameserver, "--ca-file", str(ca)]
    for cidr in LOOPBACK_RANGES:
        found += ["--allow-ip-range", cidr]
    for rule in sandbox.connect_to:
        found += ["--connect-to", rule]
    return found


@dataclass
class Receiver:
    """A webhook receiver that checks every signature; answers 500 ``fail_first`` times."""

    secret: bytes = SECRET.encode()
    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    attempts: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.attempts += 1
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Signature-256", ""), expected):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.attempts <= self.fail_first:
            return web.Response(status=500)
        self.received.append(json.loads(body))
        return web.Response(status=204)

    def kinds(self) -> list[str]:
        return [event["event"] for event in self.received]


async def start_watch(*argv: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "matrix_delegation", "watch", *argv,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True,
    )  # fmt: skip


async def stop_watch(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """SIGTERM, then the exit status and everything it wrote on stderr."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, err = await asyncio.wait_for(process.communicate(), STOP_LIMIT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, err.decode()


async def wait_for(condition: Callable[[], Any], what: str, limit: float = WAIT_LIMIT) -> Any:
    """Poll ``condition`` (sync or async) until it is truthy; fail after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {limit:g} s: {what}")
