"""Hostile documents a malicious server might serve, for tests and benchmarks.

Each stays under the byte cap of the document it stands in for, so that only
the checker's other bounds (nesting depth, keys per response) stop it.
"""

from __future__ import annotations

import json
import time
from typing import Final

from canonicaljson import encode_canonical_json
from signedjson.key import encode_verify_key_base64, get_verify_key
from signedjson.types import SigningKey
from unpaddedbase64 import encode_base64

__all__ = ["BOMB_KEYS", "key_bomb", "nested_json"]

#: Keys in :func:`key_bomb`'s response: about 500 KiB, under the 512 KiB cap.
BOMB_KEYS: Final = 2900


def nested_json(depth: int = 20_000) -> bytes:
    """Arrays nested ``depth`` deep: 2 bytes a level, so 20,000 levels are 40 KB."""
    return b"[" * depth + b"]" * depth


def key_bomb(server_name: str, key: SigningKey, count: int = BOMB_KEYS) -> bytes:
    """A key response listing ``count`` ed25519 keys, each with a valid signature.

    Every key ID holds the same public key and carries the same signature, so
    the document is cheap to build (signed once) but, checked naively, costs
    one canonical encoding of the whole body and one verification per key.
    """
    public = encode_verify_key_base64(get_verify_key(key))
    key_ids = [f"ed25519:k{index}" for index in range(count)]
    signed = {
        "server_name": server_name,
        "valid_until_ts": int(time.time() * 1000) + 24 * 3600 * 1000,
        "verify_keys": {key_id: {"key": public} for key_id in key_ids},
        "old_verify_keys": {},
    }
    signature = encode_base64(key.sign(encode_canonical_json(signed)).signature)
    document = {**signed, "signatures": {server_name: dict.fromkeys(key_ids, signature)}}
    return json.dumps(document, separators=(",", ":")).encode()
