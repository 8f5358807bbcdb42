"""A stand-in key notary: ``POST /_matrix/key/v2/query`` answered from what it is told.

A real notary (Synapse) fetches the keys it is asked for; this one is given
the key responses it "holds" and returns them countersigned, whatever the
query says, so that the checker's outbound and notary tests can run in the
sandbox (the demo, and the negative tests with a tampered answer). The
integration tests use real Synapse processes.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Sequence
from typing import Any, Literal

import signedjson.key
import signedjson.sign
from signedjson.types import SigningKey

from .homeserver import publish_homeserver
from .web import Reply, WebHost

__all__ = ["QUERY_PATH", "Tamper", "notary_answer", "publish_notary"]

QUERY_PATH = "/_matrix/key/v2/query"

#: How an answer is spoiled: no countersignature, a countersignature by a key
#: the notary does not serve, or the quoted server's own signature broken.
Tamper = Literal["unsigned", "wrong-key", "target-signature"]


def notary_answer(
    notary: str,
    key: SigningKey,
    held: Sequence[dict[str, Any]],
    *,
    tamper: Tamper | None = None,
) -> dict[str, Any]:
    """``{"server_keys": [...]}``: each held key response, countersigned by ``notary``."""
    entries = []
    for response in held:
        entry = copy.deepcopy(response)
        if tamper == "target-signature":
            _break_signatures(entry)
        if tamper != "unsigned":
            signer = key if tamper != "wrong-key" else signedjson.key.generate_signing_key("x")
            entry = signedjson.sign.sign_json(entry, notary, signer)
        entries.append(entry)
    return {"server_keys": entries}


def publish_notary(
    host: WebHost,
    virtual_host: str,
    notary: str,
    held: Sequence[dict[str, Any]],
    key: SigningKey | None = None,
    *,
    tamper: Tamper | None = None,
) -> SigningKey:
    """Serve version, own keys and a key query answer on ``host`` for ``virtual_host``."""
    key = publish_homeserver(host, virtual_host, notary, key)
    answer = notary_answer(notary, key, held, tamper=tamper)
    host.set(virtual_host, QUERY_PATH, Reply.json(answer))
    return key


def _break_signatures(entry: dict[str, Any]) -> None:
    """Flip one bit of the quoted server's own signatures (it signed, but not this)."""
    own = entry.get("signatures", {}).get(entry.get("server_name"), {})
    for key_id, signature in own.items():
        raw = bytearray(base64.b64decode(signature + "=" * (-len(signature) % 4)))
        raw[0] ^= 1
        own[key_id] = base64.b64encode(bytes(raw)).decode().rstrip("=")
