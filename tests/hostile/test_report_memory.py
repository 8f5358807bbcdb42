"""A report keeps verdicts and excerpts, not the bodies it judged.

24 endpoints (24 SRV targets, one homeserver) whose version and key
responses are padded to about 500 KiB each: about 24 MB were read, and the
report must keep well under 200 KiB of it, while still carrying the verdict
and every parsed field the outputs show.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from types import MappingProxyType

import signedjson.key
import signedjson.sign

from matrix_delegation import Resolver
from matrix_delegation._io.probe import BODY_EXCERPT, HttpResult
from matrix_delegation.checker.check import check_server
from matrix_delegation.checker.output import report_json
from matrix_delegation.sandbox import Reply
from matrix_delegation.sandbox.homeserver import KEYS_PATH, VERSION_PATH, key_response
from matrix_delegation.sandbox.world import Sandbox
from matrix_delegation.web import tester_compat

NAME = "big.example.test"
ENDPOINTS = 24
PADDING = 500 * 1024
KEY = signedjson.key.generate_signing_key("one")
RETAINED_LIMIT = 200 * 1024


def retained_size(root: object) -> int:
    """Bytes held by ``root`` and everything it references (each object counted once)."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    for _ in range(1_000_000):  # bounded: far more objects than any report has
        if not stack:
            return total
        item = stack.pop()
        if id(item) in seen or item is None or isinstance(item, type):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, Mapping | MappingProxyType):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif dataclasses.is_dataclass(item):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
    raise AssertionError("the report is a larger graph than any report should be")


def padded_keys() -> dict[str, object]:
    document = key_response(NAME, KEY)
    del document["signatures"]
    document["padding"] = "k" * PADDING  # signed like the rest: the keys still verify
    signed: dict[str, object] = signedjson.sign.sign_json(document, NAME, KEY)
    return signed


async def test_a_report_keeps_no_large_bodies(sandbox: Sandbox) -> None:
    host = await sandbox.https_host(["hs.example.test"], port=8448, certificate_for=[NAME])
    version = {"server": {"name": "Sandbox", "version": "1"}, "padding": "v" * PADDING}
    host.set("*", VERSION_PATH, Reply.json(version))
    host.set("*", KEYS_PATH, Reply.json(padded_keys()))
    for index in range(ENDPOINTS):
        target = f"t{index}.example.test"
        sandbox.zone.add(f"_matrix-fed._tcp.{NAME}", "SRV", f"10 1 8448 {target}.")
        sandbox.zone.add(target, "A", host.host)

    async with Resolver(**sandbox.resolver_options(timeout=10.0)) as resolver:
        report = await check_server(resolver, NAME, timeout=10.0)

    assert report.federation_ok, [(p.code, p.message) for p in report.problems]
    assert len(report.endpoints) == ENDPOINTS
    for endpoint in report.endpoints:
        assert endpoint.ok and endpoint.server == {"name": "Sandbox", "version": "1"}
        assert endpoint.keys is not None and endpoint.keys.matching_server_name
        assert [c.key_id for c in endpoint.keys.ed25519_checks] == ["ed25519:one"]
        assert endpoint.probe.keys is not None and endpoint.probe.keys.status == 200
        assert len(endpoint.probe.keys.body) == BODY_EXCERPT
        assert endpoint.keys_document is None  # too large to keep as served
    assert retained_size(report) < RETAINED_LIMIT
    # Both outputs are still made from what was kept.
    assert report_json(report)["endpoints"][0]["keys"]["ok"] is True
    tester = tester_compat.tester_report(report)
    assert tester["FederationOK"] is True
    assert all(r["Keys"] is None for r in tester["ConnectionReports"].values())


def test_the_measure_sees_a_body() -> None:
    """The twin of the size assertion: a kept 500 KiB body would be counted."""
    assert retained_size(HttpResult(200, b"x" * PADDING)) > PADDING
    assert retained_size(HttpResult(200, b"x" * PADDING).excerpt()) < 2 * BODY_EXCERPT
