"""The real ports: .well-known on 443 and federation on 8448, each on its own 127.0.0.X.

No --connect-to override is involved: the resolver finds the hosts by DNS
alone, then the test connects to the endpoint exactly as a homeserver would,
with the resolved SNI and Host header.
"""

from __future__ import annotations

import aiohttp
import pytest

from matrix_delegation import Resolver, Route
from matrix_delegation.sandbox import Reply
from matrix_delegation.sandbox.world import Sandbox

VERSION = "/_matrix/federation/v1/version"


async def test_well_known_on_443_then_federation_on_8448(sandbox: Sandbox) -> None:
    base = await sandbox.https_host(["example.test"], port=443)
    federation = await sandbox.https_host(["matrix.example.test"], port=8448)
    if sandbox.connect_to:
        pytest.skip("binding port 443 needs root here (CI runs as root)")
    base.set(
        "example.test",
        "/.well-known/matrix/server",
        Reply.json({"m.server": "matrix.example.test"}),
    )
    federation.set("matrix.example.test", VERSION, Reply.json({"server": {"name": "sandbox"}}))

    async with Resolver(**sandbox.resolver_options()) as resolver:
        resolution = await resolver.resolve("example.test")
    assert resolution.route is Route.WELL_KNOWN_DEFAULT_PORT
    endpoint = resolution.endpoints[0]
    assert (endpoint.ip, endpoint.port) == (federation.host, 8448)
    assert base.host != federation.host and base.port == 443

    async with aiohttp.ClientSession() as session:
        url = f"https://{endpoint.ip}:{endpoint.port}{VERSION}"
        async with session.get(
            url,
            headers={"Host": resolution.host_header or ""},
            server_hostname=resolution.tls_server_name,
            ssl=sandbox.ca.client_context(),
        ) as response:
            assert response.status == 200
            assert await response.json() == {"server": {"name": "sandbox"}}
    assert federation.requests == [("GET", "matrix.example.test", VERSION)]
