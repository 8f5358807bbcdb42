"""``serve --synapse-config`` against a real Synapse given the same homeserver.yaml files.

For each set of Synapse options, a real Synapse (plain HTTP on 127.0.0.X) and
our service load the very same ``-c`` files; both well-known files must have
the same status and, for 200s, the same JSON. Our service then adds what
Synapse leaves out: CORS and caching on the server file, ``max-age`` and a
strong ETag on both (docs/design.md §5.9 describes Synapse's side).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from helpers.synapse import (
    SynapseProcess,
    generate_base_config,
    loopback_address,
    start_synapses,
)
from matrix_delegation._core.names import ServerName
from matrix_delegation.config import load_site
from matrix_delegation.service import WellKnownService

pytest.importorskip("synapse", reason="needs matrix-synapse (the [test] extra)")

SERVER = "/.well-known/matrix/server"
CLIENT = "/.well-known/matrix/client"
PATHS = (SERVER, CLIENT)
SYNAPSE_SERVER_404 = b"404. Is anything ever truly *well* known?\n"
SYNAPSE_CLIENT_404 = {"errcode": "M_NOT_FOUND", "error": ".well-known not available"}
EXTRA_CONTENT = {
    "org.example.custom.property": {"app_url": "https://app.example.test", "n": 1},
    "org.example.motd": "hello",
    "org.example.flag": True,
    "io.example.unrelated": {"nested": {"list": [1, "two", None]}},
}

#: Synapse options by case; each case is one homeserver.yaml overrides file.
CASES: dict[str, dict[str, Any]] = {
    "a-bare-server-name": {"server_name": "a.example.test"},
    "b-serve-server-wellknown": {"server_name": "b.example.test", "serve_server_wellknown": True},
    "c-server-name-with-port": {
        "server_name": "c.example.test:8448",
        "serve_server_wellknown": True,
    },
    "d-public-baseurl": {
        "server_name": "d.example.test",
        "public_baseurl": "https://matrix.d.example.test",
    },
    "e-identity-server": {
        "server_name": "e.example.test",
        "public_baseurl": "https://matrix.e.example.test",
        "default_identity_server": "https://id.example.test",
    },
    "f-extra-content": {
        "server_name": "f.example.test",
        "public_baseurl": "https://matrix.f.example.test",
        "extra_well_known_client_content": EXTRA_CONTENT,
    },
    "g-identity-without-baseurl": {
        "server_name": "g.example.test",
        "default_identity_server": "https://id.example.test",
    },
    "h-everything": {
        "server_name": "h.example.test:8448",
        "serve_server_wellknown": True,
        "public_baseurl": "https://h.example.test:8443/matrix",
        "default_identity_server": "https://id.example.test/",
        "extra_well_known_client_content": EXTRA_CONTENT,
    },
}


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


#: The test with two ``--synapse-config`` files: the second overrides public_baseurl.
TWO_FILES = "two-files"
TWO_FILES_OPTIONS = (
    {
        "server_name": "two.example.test",
        "serve_server_wellknown": True,
        "public_baseurl": "https://old.example.test",
        "default_identity_server": "https://id.example.test",
    },
    {"public_baseurl": "https://new.example.test/matrix"},
)
#: Every Synapse the module runs: its override files, in ``-c`` order.
INSTANCES: dict[str, Sequence[dict[str, Any]]] = {
    **{name: [options] for name, options in CASES.items()},
    TWO_FILES: TWO_FILES_OPTIONS,
}


@pytest.fixture(scope="session")
def synapse_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated homeserver.yaml (and signing key) for the whole session."""
    return generate_base_config(tmp_path_factory.mktemp("synapse-base"))


def selected_instances(request: pytest.FixtureRequest) -> list[str]:
    """The instances the selected tests of this module use (``-k`` starts only those)."""
    wanted = set()
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if getattr(item, "module", None) is request.module and callspec is not None:
            wanted.add(callspec.params.get("case"))
    return sorted(wanted & set(INSTANCES))


@pytest.fixture(scope="module")
def synapses(
    request: pytest.FixtureRequest,
    synapse_base: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, SynapseProcess]]:
    """Every selected instance, started once for the module, a few at a time."""
    names = selected_instances(request)
    instances = [(tmp_path_factory.mktemp(f"synapse-{name}"), INSTANCES[name]) for name in names]
    running = start_synapses(synapse_base, instances)
    try:
        yield dict(zip(names, running, strict=True))
    finally:
        for synapse in running:
            synapse.stop()


async def fetch(session: aiohttp.ClientSession, url: str, host: str) -> Reply:
    async with session.get(url, headers={"Host": host}, allow_redirects=False) as response:
        body = await response.read()
        headers = {key.lower(): value for key, value in response.headers.items()}
        return Reply(response.status, headers, body)


@asynccontextmanager
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session


async def ask_synapse(synapse: SynapseProcess, host: str) -> dict[str, Reply]:
    async with client() as session:
        return {path: await fetch(session, synapse.base_url + path, host) for path in PATHS}


async def ask_ours(configs: Sequence[Path], host: str) -> dict[str, Reply]:
    """Our service given the same homeserver.yaml files, asked over plain HTTP."""
    site, _warnings = load_site(synapse_configs=[str(path) for path in configs])
    service = WellKnownService(site)
    await service.start([(loopback_address(), 0)])
    try:
        address, port = service.addresses[0]
        async with client() as session:
            return {
                path: await fetch(session, f"http://{address}:{port}{path}", host) for path in PATHS
            }
    finally:
        await service.close()


def host_of(server_name: str) -> str:
    """The Host a client sends for a server name's well-known files: no port."""
    return ServerName.parse(server_name).hostname


def assert_same_answers(theirs: dict[str, Reply], ours: dict[str, Reply]) -> None:
    for path in PATHS:
        synapse, mine = theirs[path], ours[path]
        assert mine.status == synapse.status, (path, synapse, mine)
        if synapse.status == 200:
            assert synapse.headers["content-type"] == "application/json"
            assert mine.headers["content-type"] == "application/json"
            assert mine.json() == synapse.json(), path
        else:
            assert synapse.status == 404, (path, synapse)
            assert mine.json()["errcode"] == "M_NOT_FOUND", path
    # Synapse's own 404s, as docs/design.md §5.9 describes them.
    if theirs[SERVER].status == 404:
        assert theirs[SERVER].headers["content-type"].startswith("text/plain")
        assert theirs[SERVER].body == SYNAPSE_SERVER_404
    if theirs[CLIENT].status == 404:
        assert theirs[CLIENT].json() == SYNAPSE_CLIENT_404


def expected_documents(options: dict[str, Any]) -> dict[str, Any]:
    """What docs/design.md §5.9 says Synapse serves for these options (None: 404)."""
    name = ServerName.parse(options["server_name"])
    server = None
    if options.get("serve_server_wellknown"):
        server = {"m.server": f"{name.hostname}:{name.port or 443}"}
    client_document = None
    if "public_baseurl" in options:
        base_url = options["public_baseurl"].removesuffix("/") + "/"
        client_document = {"m.homeserver": {"base_url": base_url}}
        if "default_identity_server" in options:
            identity = options["default_identity_server"]  # verbatim: no slash added
            client_document["m.identity_server"] = {"base_url": identity}
        client_document.update(options.get("extra_well_known_client_content", {}))
    return {SERVER: server, CLIENT: client_document}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_same_status_and_json_as_synapse(
    synapses: dict[str, SynapseProcess], case: str
) -> None:
    synapse = synapses[case]
    host = host_of(CASES[case]["server_name"])
    theirs = await ask_synapse(synapse, host)
    ours = await ask_ours(synapse.configs, host)  # the very files Synapse runs with
    assert_same_answers(theirs, ours)
    for path, document in expected_documents(CASES[case]).items():
        assert (theirs[path].json() if theirs[path].status == 200 else None) == document, path


@pytest.mark.parametrize("case", sorted(CASES))
async def test_we_add_cors_cache_control_and_etag(
    synapses: dict[str, SynapseProcess], case: str
) -> None:
    synapse = synapses[case]
    host = host_of(CASES[case]["server_name"])
    theirs = await ask_synapse(synapse, host)
    ours = await ask_ours(synapse.configs, host)
    for path in PATHS:
        mine = ours[path]
        assert mine.headers.get("access-control-allow-origin") == "*", path
        if mine.status == 200:
            assert re.fullmatch(r"max-age=\d+", mine.headers.get("cache-control", "")), path
            etag = mine.headers.get("etag", "")
            assert re.fullmatch(r'"[\x21\x23-\x7e]+"', etag), (path, etag)  # strong: no W/
    # The difference we document: Synapse's server file has neither CORS nor
    # caching headers, and its client file is CORS-enabled but never cacheable.
    server = theirs[SERVER]
    assert "access-control-allow-origin" not in server.headers
    assert "cache-control" not in server.headers
    assert "etag" not in server.headers
    client_file = theirs[CLIENT]
    assert client_file.headers.get("access-control-allow-origin") == "*"
    assert client_file.headers.get("cache-control") == "no-cache, no-store, must-revalidate"
    assert "etag" not in client_file.headers


@pytest.mark.parametrize("case", [TWO_FILES])
async def test_second_config_file_overrides_public_baseurl(
    synapses: dict[str, SynapseProcess], case: str
) -> None:
    synapse = synapses[case]
    first, second = synapse.overrides  # Synapse: -c base -c first -c second -c runtime
    theirs = await ask_synapse(synapse, "two.example.test")
    ours = await ask_ours([first, second], "two.example.test")
    assert_same_answers(theirs, ours)
    assert theirs[CLIENT].json() == {
        "m.homeserver": {"base_url": "https://new.example.test/matrix/"},
        "m.identity_server": {"base_url": "https://id.example.test"},
    }
    assert ours[SERVER].json() == {"m.server": "two.example.test:443"}
