"""The keys and their signatures: ``verify_keys``, ``old_verify_keys`` and ``signatures``.

The checks :func:`~.keys.check_server_keys` runs on the key maps and on the
origin's signatures; the policy on partial signing is explained in
:mod:`.keys`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import islice
from typing import Final

from canonicaljson import encode_canonical_json
from nacl.exceptions import BadSignatureError, CryptoError
from signedjson.key import decode_verify_key_bytes

from .keys_json import _clip, _decode_base64, _is_int, _show
from .keys_model import (
    KEYS_BAD_SIGNATURE,
    KEYS_MALFORMED,
    KEYS_NO_ED25519,
    KEYS_UNSIGNED_KEY,
    Ed25519Check,
    _Problems,
)

# The rest are helpers of .keys, which re-exports the public names.
__all__ = ["MAX_CHECKED_KEYS", "UNSIGNED_MEMBERS", "signature_failure"]

#: Keys checked per map (``verify_keys``, ``old_verify_keys``): a real server
#: has a handful, and each one costs a signature verification.
MAX_CHECKED_KEYS: Final = 16
#: Left out of the bytes the signatures cover.
UNSIGNED_MEMBERS: Final = ("signatures", "unsigned")

_ED25519_PREFIX: Final = "ed25519:"
_KEY_ID = re.compile(r"[^:]+:[a-zA-Z0-9_]+")
_PUBLIC_KEY_BYTES: Final = 32
_SIGNATURE_BYTES: Final = 64


def _key_id_problem(where: str, key_id: str) -> str | None:
    if _KEY_ID.fullmatch(key_id) is None:
        return (
            f"{where} key ID {_show(key_id)} is not 'algorithm:version' with a version "
            "of letters, digits and underscores"
        )
    return None


def _check_verify_keys(
    body: dict[str, object], problems: _Problems
) -> tuple[dict[str, str], list[tuple[str, str, bytes | None]]]:
    """Return the served key map and the ed25519 entries as (key ID, key, key bytes)."""
    served: dict[str, str] = {}
    entries: list[tuple[str, str, bytes | None]] = []
    raw = body.get("verify_keys")
    if not isinstance(raw, dict):
        what = "is missing" if "verify_keys" not in body else f"is {_show(raw)}, not an object"
        problems.add(KEYS_MALFORMED, f"verify_keys {what}")
        return served, entries
    _too_many("verify_keys", raw, problems)
    for key_id, entry in islice(raw.items(), MAX_CHECKED_KEYS):
        id_problem = _key_id_problem("verify_keys", key_id)
        if id_problem:
            problems.add(KEYS_MALFORMED, id_problem)
        is_ed25519 = key_id.startswith(_ED25519_PREFIX)
        key = entry.get("key") if isinstance(entry, dict) else None
        if not isinstance(key, str):
            if not isinstance(entry, dict):
                what = f"is {_show(entry)}, not an object"
            elif "key" not in entry:
                what = "has no 'key'"
            else:
                what = f"has key {_show(key)}, not a string"
            problems.add(KEYS_MALFORMED, f"verify_keys[{_show(key_id)}] {what}")
            if is_ed25519:
                entries.append((key_id, "", None))
            continue
        served[key_id] = key
        if not is_ed25519:
            continue  # another algorithm: the spec defines none, nothing to check
        key_bytes = _decode_base64(key)
        if key_bytes is None or len(key_bytes) != _PUBLIC_KEY_BYTES:
            why = (
                "is not base64"
                if key_bytes is None
                else f"decodes to {len(key_bytes)} bytes, not {_PUBLIC_KEY_BYTES}"
            )
            problems.add(
                KEYS_MALFORMED,
                f"verify_keys[{_show(key_id)}] key {_show(key)} {why}, "
                "so it is not an ed25519 public key",
            )
            key_bytes = None
        entries.append((key_id, key, key_bytes))
    if not entries:
        listed = ", ".join(_show(key_id) for key_id in islice(raw, MAX_CHECKED_KEYS)) or "nothing"
        problems.add(
            KEYS_NO_ED25519, f"verify_keys has no ed25519 key (it holds {_clip(listed, 200)})"
        )
    return served, entries


def _too_many(where: str, raw: dict[str, object], problems: _Problems) -> bool:
    """Report a map with more keys than are checked; true when it has too many."""
    if len(raw) <= MAX_CHECKED_KEYS:
        return False
    problems.add(
        KEYS_MALFORMED,
        f"{where} holds {len(raw)} keys; a server publishes a handful, so only the first "
        f"{MAX_CHECKED_KEYS} are checked",
    )
    return True


def _signature_failure(
    message: bytes, key_id: str, key_bytes: bytes, signature: object
) -> str | None:
    """Why ``signature`` by ``key_id`` over ``message`` does not verify, or None when it does."""
    if not isinstance(signature, str):
        return f"is {_show(signature)}, not a string"
    decoded = _decode_base64(signature)
    if decoded is None:
        return f"{_show(signature)} is not base64"
    if len(decoded) != _SIGNATURE_BYTES:
        return f"{_show(signature)} decodes to {len(decoded)} bytes, not {_SIGNATURE_BYTES}"
    try:
        decode_verify_key_bytes(key_id, key_bytes).verify(message, decoded)
    except BadSignatureError:
        return f"{_show(signature)} does not verify against the key"
    except (CryptoError, ValueError, TypeError) as exc:  # pragma: no cover - defensive
        return f"could not be checked ({_clip(str(exc))})"
    return None


def _signed_bytes(body: dict[str, object]) -> bytes:
    """The bytes every signature covers: canonical JSON without signatures and unsigned."""
    return encode_canonical_json(
        {key: item for key, item in body.items() if key not in UNSIGNED_MEMBERS}
    )


def signature_failure(body: dict[str, object], signer: str, keys: Mapping[str, str]) -> str | None:
    """Why no signature by ``signer`` with one of ``keys`` verifies over ``body``; None if one does.

    ``keys`` maps key IDs to unpadded base64 ed25519 keys that the caller
    trusts (fetched from ``signer`` itself and self-signed); the body must be
    canonical-safe (its own key check said so).
    """
    signatures = body.get("signatures")
    mine = signatures.get(signer) if isinstance(signatures, dict) else None
    if not isinstance(mine, dict) or not mine:
        return f"it has no signature by {_show(signer)}"
    message = _signed_bytes(body)
    reasons: list[str] = []
    for key_id, key in islice(keys.items(), MAX_CHECKED_KEYS):
        key_bytes = _decode_base64(key)
        if key_id not in mine or key_bytes is None:
            continue
        failure = _signature_failure(message, key_id, key_bytes, mine[key_id])
        if failure is None:
            return None
        reasons.append(f"the signature by {_show(key_id)} {failure}")
    if not reasons:
        known = ", ".join(_show(key_id) for key_id in islice(keys, MAX_CHECKED_KEYS)) or "none"
        return f"it is not signed by a key {_show(signer)} serves (its keys: {_clip(known, 200)})"
    return "; ".join(reasons)


def _check_signatures(
    body: dict[str, object],
    expected: str,
    entries: list[tuple[str, str, bytes | None]],
    signed_safe: bool,
    problems: _Problems,
) -> tuple[Ed25519Check, ...]:
    if not signed_safe:
        return tuple(
            Ed25519Check(key_id, key, key_bytes is not None, False)
            for key_id, key, key_bytes in entries
        )

    origin: dict[str, object] = {}
    signatures = body.get("signatures")
    if not isinstance(signatures, dict):
        what = "is missing" if "signatures" not in body else f"is {_show(signatures)}"
        problems.add(KEYS_MALFORMED, f"signatures {what}, not an object")
    else:
        mine = signatures.get(expected)
        if isinstance(mine, dict):
            origin = mine
        elif expected in signatures:
            problems.add(
                KEYS_MALFORMED, f"signatures[{_show(expected)}] is {_show(mine)}, not an object"
            )

    checks: list[Ed25519Check] = []
    missing: list[str] = []
    # Encoded once for the whole document (entries holds at most MAX_CHECKED_KEYS).
    message = _signed_bytes(body) if any(key_id in origin for key_id, _, _ in entries) else b""
    for key_id, key, key_bytes in entries:
        if key_bytes is None:
            checks.append(Ed25519Check(key_id, key, False, False))
            continue
        if key_id not in origin:
            missing.append(key_id)
            checks.append(Ed25519Check(key_id, key, True, False))
            continue
        failure = _signature_failure(message, key_id, key_bytes, origin[key_id])
        if failure is not None:
            problems.add(
                KEYS_BAD_SIGNATURE,
                f"the signature by {_show(key_id)} under {_show(expected)} {failure}",
            )
        checks.append(Ed25519Check(key_id, key, True, failure is None))

    verified = any(check.matching_signature for check in checks)
    for key_id in missing:
        if verified:
            problems.add(
                KEYS_UNSIGNED_KEY,
                f"key {_show(key_id)} did not sign the response under {_show(expected)}; "
                "another key did, so servers accept it, but every listed key should sign",
            )
        else:
            problems.add(
                KEYS_BAD_SIGNATURE,
                f"the response has no signature by {_show(key_id)} under {_show(expected)}",
            )
    if entries and not verified and not any(p.code == KEYS_BAD_SIGNATURE for p in problems.items):
        problems.add(
            KEYS_BAD_SIGNATURE,
            f"no signature under {_show(expected)} could be verified: none of the ed25519 "
            "keys in verify_keys is usable",
        )
    return tuple(checks)


def _check_old_verify_keys(body: dict[str, object], problems: _Problems) -> bool:
    if "old_verify_keys" not in body:
        return True
    raw = body["old_verify_keys"]
    if not isinstance(raw, dict):
        problems.add(KEYS_MALFORMED, f"old_verify_keys is {_show(raw)}, not an object")
        return False
    ok = not _too_many("old_verify_keys", raw, problems)
    for key_id, entry in islice(raw.items(), MAX_CHECKED_KEYS):
        where = f"old_verify_keys[{_show(key_id)}]"
        faults: list[str] = []
        id_problem = _key_id_problem("old_verify_keys", key_id)
        if id_problem:
            faults.append("its key ID is not 'algorithm:version' with a [a-zA-Z0-9_] version")
        if not isinstance(entry, dict):
            faults.append(f"it is {_show(entry)}, not an object")
        else:
            expired_ts = entry.get("expired_ts")
            if "expired_ts" not in entry:
                faults.append("it has no expired_ts")
            elif not _is_int(expired_ts):
                faults.append(f"expired_ts is {_show(expired_ts)}, not an integer")
            key = entry.get("key")
            if "key" not in entry:
                faults.append("it has no key")
            elif not isinstance(key, str):
                faults.append(f"key is {_show(key)}, not a string")
            else:
                key_bytes = _decode_base64(key)
                if key_bytes is None:
                    faults.append(f"key {_show(key)} is not base64")
                elif key_id.startswith(_ED25519_PREFIX) and len(key_bytes) != _PUBLIC_KEY_BYTES:
                    faults.append(
                        f"key {_show(key)} decodes to {len(key_bytes)} bytes, "
                        f"not {_PUBLIC_KEY_BYTES}"
                    )
        if faults:
            ok = False
            problems.add(KEYS_MALFORMED, f"{where}: {'; '.join(faults)}")
    return ok
