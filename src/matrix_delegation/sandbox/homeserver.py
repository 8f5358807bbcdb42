"""A stand-in homeserver's federation answers: version and correctly signed keys.

Enough of the Server-Server API for the checker to judge an endpoint, served
by a sandbox :class:`~.web.WebHost`; integration tests also use a real Synapse.
"""

from __future__ import annotations

import time
from typing import Any

import signedjson.key
import signedjson.sign
from signedjson.types import SigningKey, VerifyKey

from .web import Reply, WebHost

__all__ = ["DAY_MS", "KEYS_PATH", "VERSION_PATH", "key_response", "publish_homeserver"]

VERSION_PATH = "/_matrix/federation/v1/version"
KEYS_PATH = "/_matrix/key/v2/server"
DAY_MS = 24 * 3600 * 1000


def key_response(
    server_name: str, key: SigningKey, *, valid_for_ms: int = DAY_MS, now: float | None = None
) -> dict[str, Any]:
    """A ``/_matrix/key/v2/server`` body signed by ``key`` (docs/design.md §4.1)."""
    moment = time.time() if now is None else now
    key_id = f"{key.alg}:{key.version}"
    document = {
        "server_name": server_name,
        "valid_until_ts": int(moment * 1000) + valid_for_ms,
        "verify_keys": {key_id: {"key": signedjson.key.encode_verify_key_base64(_verify_key(key))}},
        "old_verify_keys": {},
    }
    signed: dict[str, Any] = signedjson.sign.sign_json(document, server_name, key)
    return signed


def _verify_key(key: SigningKey) -> VerifyKey:
    return signedjson.key.get_verify_key(key)


def publish_homeserver(
    host: WebHost,
    virtual_host: str,
    server_name: str,
    key: SigningKey | None = None,
    *,
    valid_for_ms: int = DAY_MS,
) -> SigningKey:
    """Answer the version and key endpoints on ``host`` for ``virtual_host``."""
    key = key or signedjson.key.generate_signing_key("sandbox")
    host.set(
        virtual_host, VERSION_PATH, Reply.json({"server": {"name": "Sandbox", "version": "1"}})
    )
    body = key_response(server_name, key, valid_for_ms=valid_for_ms)
    host.set(virtual_host, KEYS_PATH, Reply.json(body))
    return key
