"""The per-implementation table on the page and ``peers`` in ``/api/v1/check`` (docs/peers.md).

The world: two SRV records, the first (lowest priority) pointing at an address
where nothing listens. Synapse and Dendrite try the next and get through;
Conduit and continuwuity use one record only, and the tester wants every
address to pass. The page shows a tick or a cross per implementation, with the
reason, and Chromium renders it (the screenshot is artifacts/web-peers.png).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_browser import CHROMIUM, MakeClient, load, screenshot
from test_page import NAME

from checker.test_problem_codes import FED, homeserver
from matrix_delegation.sandbox.world import Sandbox

ORDER = ["synapse", "dendrite", "conduit", "continuwuity", "federation-tester"]
REACHES = {"synapse": True, "dendrite": True, "conduit": False, "continuwuity": False,
           "federation-tester": False}  # fmt: skip


async def first_srv_target_dead(sandbox: Sandbox) -> None:
    sandbox.zone.add("dead.example.test", "A", sandbox.address(8448))
    await homeserver(sandbox, ["live.example.test"])
    for service in (FED, f"_matrix._tcp.{NAME}"):
        sandbox.zone.add(service, "SRV", "10 5 8448 dead.example.test.")
        sandbox.zone.add(service, "SRV", "20 5 8448 live.example.test.")


async def test_api_carries_peers(sandbox: Sandbox, web_client: MakeClient) -> None:
    await first_srv_target_dead(sandbox)
    client = await web_client()
    response = await client.get("/api/v1/check", params={"server_name": NAME})
    document: dict[str, Any] = await response.json()
    peers = document["peers"]
    assert [p["implementation"] for p in peers] == ORDER
    assert {p["implementation"]: p["federation_ok"] for p in peers} == REACHES
    assert set(peers[0]) == {"implementation", "basis", "federation_ok", "route", "endpoints",
                             "differs"}  # fmt: skip
    assert peers[0]["basis"].startswith("element-hq/synapse")
    assert peers[2]["differs"][0].startswith("only 1 SRV record is used")
    codes = [p["code"] for p in document["problems"]]
    assert "peer-disagreement" in codes


async def test_page_shows_the_table(
    sandbox: Sandbox, web_client: MakeClient, tmp_path: Path
) -> None:
    await first_srv_target_dead(sandbox)
    client = await web_client()
    response = await client.get("/", params={"server_name": NAME})
    html = await response.text()
    assert 'id="peers"' in html and 'data-implementation="conduit"' in html
    if not CHROMIUM.exists():
        return  # the server-rendered table is checked above; the browser run needs chromium
    page = await load(client, tmp_path, NAME)
    rows = [row for row in page.one(id="peers").all("tr") if "data-implementation" in row.attrs]
    shown = {row.attrs["data-implementation"]: row.text() for row in rows}
    assert list(shown) == ORDER
    for name, reaches in REACHES.items():
        assert ("reaches it" in shown[name]) == reaches, shown[name]
    assert "only 1 SRV record is used" in shown["conduit"]
    await screenshot(client, tmp_path, NAME, "web-peers", "1200x2000")
