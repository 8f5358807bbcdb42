"""Conformance driver for our own :class:`~matrix_delegation.Resolver` (see ``_driver_io``)."""

from __future__ import annotations

import asyncio
import sys
import time

import _driver_io as io

from matrix_delegation import Resolver
from matrix_delegation._exceptions import DiscoveryError, InvalidServerName


class SkewedClock:
    """The wall clock, plus an offset a scenario can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def _attempt(resolver: Resolver, server_name: str) -> io.Outcome:
    try:
        resolution = await resolver.resolve(server_name)
    except DiscoveryError as exc:
        return io.failed(exc.code, str(exc))
    except InvalidServerName as exc:
        return io.failed("invalid-server-name", str(exc))
    first = resolution.endpoints[0]
    return {
        "route": resolution.route.value if resolution.route else None,
        "endpoint": io.endpoint_text(first.ip, first.port),
        "host": resolution.host_header,
        # None means "no SNI, the certificate must carry the IP address".
        "tls": resolution.tls_server_name or first.ip,
    }


async def _run(config: io.Config) -> None:
    for scenario in config["scenarios"]:
        clock = SkewedClock()
        async with Resolver(
            nameservers=["{}:{}".format(*config["nameserver"])],
            ca_file=config["ca_file"],
            allow_ip_ranges=config["allow"],
            connect_to=config["connect_to"],
            timeout=config["timeout"],
            clock=clock,
        ) as resolver:
            outcome = await _attempt(resolver, scenario["server_name"])
            between = scenario.get("between")
            if between:
                io.wait_between(scenario["id"])
                clock.offset += float(between.get("advance", 0))
                outcome = await _attempt(resolver, scenario["server_name"])
        io.report(scenario["id"], outcome)


def main() -> int:
    asyncio.run(_run(io.read_config()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
