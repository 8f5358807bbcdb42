"""``web --outbound`` and ``--notary``: off by default, shown on the page when the operator
enables them, and nothing third-party is contacted otherwise."""

from __future__ import annotations

import signedjson.key

from conftest import MakeClient
from matrix_delegation._cli import _build_parser
from matrix_delegation.checker.notary_model import ThirdParty
from matrix_delegation.cli.web import settings_from_args
from matrix_delegation.sandbox.homeserver import key_response, publish_homeserver
from matrix_delegation.sandbox.notary import publish_notary
from matrix_delegation.sandbox.world import Sandbox

NAME, VIA, NOTARY = "hs.test", "via.test", "notary.test"
KEY = signedjson.key.generate_signing_key("hs")
VIA_KEY = signedjson.key.generate_signing_key("via")


async def world(sandbox: Sandbox) -> tuple[object, object]:
    checked = await sandbox.https_host([NAME], port=8448)
    publish_notary(checked, NAME, NAME, [key_response(VIA, VIA_KEY)], KEY)
    via = await sandbox.https_host([VIA], port=8448)
    publish_homeserver(via, VIA, VIA, VIA_KEY)
    notary = await sandbox.https_host([NOTARY], port=8448)
    publish_notary(notary, NOTARY, NOTARY, [key_response(NAME, KEY)])
    return via, notary


async def test_the_page_shows_both_when_enabled(sandbox: Sandbox, web_client: MakeClient) -> None:
    via, notary = await world(sandbox)
    client = await web_client(third_party=ThirdParty(outbound=(VIA,), notary=(NOTARY,)))

    page = await (await client.get("/", params={"server_name": NAME})).text()

    assert 'id="outside"' in page
    assert f"Can it fetch the keys of {VIA}?" in page
    assert f"What the key notary {NOTARY} sees" in page
    assert via.requests and notary.requests  # type: ignore[attr-defined]


async def test_off_by_default(sandbox: Sandbox, web_client: MakeClient) -> None:
    via, notary = await world(sandbox)
    client = await web_client()

    page = await (await client.get("/", params={"server_name": NAME})).text()
    document = await (await client.get("/api/v1/check", params={"server_name": NAME})).json()

    assert 'id="outside"' not in page
    assert document["outbound"] is None and document["notary"] is None
    assert via.requests == [] and notary.requests == []  # type: ignore[attr-defined]


def test_the_flags() -> None:
    def settings(*words: str) -> ThirdParty | None:
        args = _build_parser("web").parse_args(["web", *words])
        return settings_from_args(args).third_party

    assert settings() is None
    assert settings("--notary", NOTARY, "--notary", "other.test") == ThirdParty(
        None, (NOTARY, "other.test")
    )
    assert settings("--outbound", VIA) == ThirdParty((VIA,), None)
