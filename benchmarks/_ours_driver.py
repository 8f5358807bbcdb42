"""Driver for our own :class:`~matrix_delegation.Resolver` (the interface: ``_driver_io``)."""

from __future__ import annotations

import asyncio
import sys
import time

import _driver_io as io

from matrix_delegation import Resolver
from matrix_delegation._core.peers import SPEC, peer_policy
from matrix_delegation._exceptions import DiscoveryError, InvalidServerName


class Driver:
    """A fresh ``Resolver`` on the sandbox; ``resolver`` is there for the speed runs' loops."""

    def __init__(self, target: io.Target, *, skewed: bool = True) -> None:
        # The speed runs pass skewed=False: the plain wall clock, as the command line
        # has, so that a warm lookup pays for no extra call.
        self._clock = io.SkewedClock()
        # "peer": resolve as that implementation does (docs/peers.md), not as the spec.
        self._peer = peer_policy(str(target.get("peer", "spec")))
        self.resolver = Resolver(
            nameservers=["{}:{}".format(*target["nameserver"])],
            ca_file=target["ca_file"],
            allow_ip_ranges=target["allow"],
            connect_to=target["connect_to"],
            timeout=target["timeout"],
            clock=self._clock if skewed else time.time,
        )

    async def resolve(self, server_name: str) -> io.Outcome:
        """Our route, first endpoint, Host header and TLS name for ``server_name``."""
        try:
            if self._peer is SPEC:
                resolution = await self.resolver.resolve(server_name)
            else:
                resolution = await self.resolver.resolution(server_name, peer=self._peer)
        except DiscoveryError as exc:
            return io.failed(exc.code, str(exc))
        except InvalidServerName as exc:
            return io.failed("invalid-server-name", str(exc))
        if resolution.error is not None:
            return io.failed(resolution.error.code, resolution.error.message)
        first = resolution.endpoints[0]
        return {
            "endpoints": [io.endpoint_text(e.ip, e.port) for e in resolution.endpoints],
            "route": resolution.route.value if resolution.route else None,
            "endpoint": io.endpoint_text(first.ip, first.port),
            "host": resolution.host_header,
            # None means "no SNI, the certificate must carry the IP address".
            "tls": resolution.tls_server_name or first.ip,
        }

    def advance(self, seconds: float) -> None:
        self._clock.offset += seconds

    async def close(self) -> None:
        await self.resolver.close()


def main() -> int:
    asyncio.run(io.run_scenarios(io.read_config(), Driver))
    return 0


if __name__ == "__main__":
    sys.exit(main())
