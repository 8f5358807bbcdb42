"""Reading a key notary's answer: ``POST /_matrix/key/v2/query`` (Server-Server API,
"Querying Keys Through Another Server").

Pure: the answer is the HTTP result, the keys to trust come from the caller
(fetched from each server directly and checked there). An entry of
``server_keys`` counts only when it is the target's key response, valid by
the same rules as a direct one (:func:`~.keys.check_key_object`: its own
signature, ``valid_until_ts`` in the future) and countersigned by the notary
with a key the notary serves itself. Nothing in the body can make this raise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Final, Literal

from .._core.jsondoc import read_json
from .._io.probe import MAX_RESPONSE, HttpResult
from .keys import check_key_object
from .keys_json import _clip
from .keys_verify import signature_failure

__all__ = ["MAX_ENTRIES", "QUERY_PATH", "Answer", "peer_words", "query_body", "read_answer"]

QUERY_PATH: Final = "/_matrix/key/v2/query"
#: Entries of ``server_keys`` looked at: a notary returns one per key response it holds.
MAX_ENTRIES: Final = 16
_MAX_WORDS: Final = 200  # characters of the peer's own error text quoted

#: ``ok``: a valid entry; ``no-answer``: no usable response (transport, status, shape);
#: ``no-keys``: a valid response without the target's keys; ``invalid``: entries for
#: the target, none validly signed by it and by the notary.
Kind = Literal["ok", "no-answer", "no-keys", "invalid"]


@dataclass(frozen=True, slots=True)
class Answer:
    """What a notary answered about one target: its keys, or why there are none."""

    kind: Kind
    keys: Mapping[str, str] | None = None  # the target's verify_keys, when ``ok``
    error: str | None = None
    timed_out: bool = False


def query_body(target: str, key_ids: Mapping[str, str], minimum_valid_until_ts: int) -> bytes:
    """The query for ``target``'s keys, naming each key ID (Synapse fetches only then).

    ``minimum_valid_until_ts`` above what the notary may hold makes it fetch
    anew rather than answer from its cache.
    """
    criteria = {key_id: {"minimum_valid_until_ts": minimum_valid_until_ts} for key_id in key_ids}
    return json.dumps({"server_keys": {target: criteria}}, separators=(",", ":")).encode()


def peer_words(result: HttpResult) -> str:
    """Why a response is not a 200, in the peer's words: status, errcode and error."""
    if result.status is None:
        return result.error or "no answer"
    doc = read_json(result.body, max_bytes=MAX_RESPONSE)
    value = doc.value if doc.reason is None else {}
    words = [f"HTTP {result.status}"]
    for member in ("errcode", "error"):
        text = value.get(member)
        if isinstance(text, str) and text:
            words.append(_printable(_clip(text, _MAX_WORDS)))
    return ": ".join(words)


def read_answer(
    result: HttpResult, target: str, notary: str, notary_keys: Mapping[str, str], now_ms: int
) -> Answer:
    """Judge ``notary``'s answer about ``target``, trusting ``notary_keys`` for its signature."""
    if result.status != 200:
        timed_out = result.status is None and "timed out" in (result.error or "")
        return Answer("no-answer", error=peer_words(result), timed_out=timed_out)
    doc = read_json(result.body, max_bytes=MAX_RESPONSE, exact_numbers=True)
    entries = doc.value.get("server_keys") if doc.reason is None else None
    if not isinstance(entries, list):
        why = f"the body is {doc.reason}" if doc.reason else "it has no server_keys list"
        return Answer("no-answer", error=f"HTTP 200, but {why}")
    mine = [
        entry
        for entry in islice(entries, MAX_ENTRIES)
        if isinstance(entry, dict) and entry.get("server_name") == target
    ]
    if not mine:
        return Answer("no-keys", error=f"it returned no keys for {target} (server_keys: "
                      f"{len(entries)} entries, none for it)")  # fmt: skip
    reasons: list[str] = []
    for entry in mine:
        report = check_key_object(entry, target, now_ms)
        if not report.ok:
            first = next(p.message for p in report.problems if p.severity == "error")
            reasons.append(f"the keys of {target} it returned fail the checks: {first}")
            continue
        failure = signature_failure(entry, notary, notary_keys)
        if failure is not None:
            reasons.append(f"its answer is not validly signed by {notary}: {failure}")
            continue
        return Answer("ok", keys=dict(report.verify_keys))
    return Answer("invalid", error=_printable("; ".join(dict.fromkeys(reasons))))


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
