"""The hostile world: a server name on its own 127.0.0.X, victims on 127.0.0.1 and [::1].

The hostile host is the only address the resolver is allowed to reach
(``--allow-ip-range <its address>/32``). It publishes files that point at the
victims: listeners that accept TCP connections and count them. A test passes
when the victims counted nothing and the report says which URL was refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from matrix_delegation.sandbox import Reply, WebHost
from matrix_delegation.sandbox.world import Sandbox

NAME = "hostile.test"
CLIENT = "/.well-known/matrix/client"
SERVER = "/.well-known/matrix/server"
SUPPORT = "/.well-known/matrix/support"


@dataclass
class Victim:
    """A TCP listener that counts the connections it accepts and closes them."""

    ip: str
    port: int = 0
    accepted: int = 0
    _server: asyncio.Server | None = field(default=None, repr=False)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.ip, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._server.wait_closed()

    async def _accept(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        writer.close()


@dataclass
class Victims:
    v4: Victim
    v6: Victim

    @property
    def accepted(self) -> int:
        return self.v4.accepted + self.v6.accepted


@dataclass
class Hostile:
    """The hostile HTTPS host and the resolver options that allow only it."""

    host: WebHost
    sandbox: Sandbox

    def options(self, *allowed: str) -> dict[str, Any]:
        """Resolver options: the hostile host's /32 allowed, plus ``allowed``."""
        ranges = [f"{self.host.host}/32", *allowed]
        return self.sandbox.resolver_options(allow_ip_ranges=ranges, timeout=3.0)

    def flags(self, ca_file: str, *allowed: str) -> list[str]:
        """The same as command-line flags."""
        found = ["--dns-server", self.sandbox.dns.nameserver, "--ca-file", ca_file]
        found += ["--timeout", "3", "--allow-ip-range", f"{self.host.host}/32"]
        for cidr in allowed:
            found += ["--allow-ip-range", cidr]
        for rule in self.sandbox.connect_to:
            found += ["--connect-to", rule]
        return found


def publish(hostile: Hostile, path: str, reply: Reply) -> None:
    hostile.host.set(NAME, path, reply)
