"""Strict JSON for the server key check: parsing that keeps what canonical JSON cannot write.

The body is parsed by :func:`~.._core.jsondoc.read_json` so that floats keep
their text and integers too long to convert survive as text (NaN, Infinity,
duplicate keys and deep nesting are refused), and
:func:`_non_canonical` then names every float, integer beyond
+/-(2**53 - 1) and unpaired surrogate. The small helpers that render values
for messages and decode base64 live here too; :mod:`.keys` uses all of them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from typing import Final

from .._core.jsondoc import HugeInt as _HugeInt
from .._core.jsondoc import JsonFloat as _JsonFloat
from .._core.jsondoc import read_json

__all__ = ["MAX_KEY_BODY", "MAX_SAFE_INTEGER"]

#: Far above any real key response (a handful of keys is a few hundred bytes).
MAX_KEY_BODY: Final = 512 * 1024

# Canonical JSON only has integers in this closed range.
MAX_SAFE_INTEGER: Final = 2**53 - 1

_BASE64_BODY = re.compile(r"[A-Za-z0-9+/]*")


# --- parsing ---------------------------------------------------------------------------


def _parse(body: bytes) -> tuple[object, str | None]:
    """Decode the body; return the value, or None and the reason it is not JSON."""
    doc = read_json(body, max_bytes=MAX_KEY_BODY, any_top_level=True, exact_numbers=True)
    if doc.reason is not None:
        return None, f"the body is {doc.reason}"
    return doc.value, None


# --- small helpers ---------------------------------------------------------------------


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _show(value: object) -> str:
    """A short rendering of a JSON value for a message."""
    if isinstance(value, _JsonFloat):
        return _clip(value.text)
    if isinstance(value, _HugeInt):
        return _clip(value.text)
    if isinstance(value, str):
        return repr(_clip(value))
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return _clip(str(value))
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return _clip(repr(value))  # pragma: no cover - the reader yields nothing else


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _member(path: str, key: str) -> str:
    if key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{_clip(json.dumps(key, ensure_ascii=False))}]"


def _iso(ms: int) -> str:
    """A millisecond POSIX timestamp as ISO 8601 UTC, or a note that it has none."""
    try:
        moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
    except OverflowError:
        return "a date outside the calendar"
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _duration(ms: int) -> str:
    """A rough human duration: the two largest units, e.g. ``"2 days 3 hours"``."""
    seconds = abs(ms) // 1000
    if seconds == 0:
        return "less than a second"
    parts: list[str] = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts[:2])


def _decode_base64(text: str) -> bytes | None:
    """Standard base64, padded or not; None when it is not that."""
    unpadded = text.rstrip("=")
    if len(text) - len(unpadded) > 2 or len(unpadded) % 4 == 1:
        return None
    if _BASE64_BODY.fullmatch(unpadded) is None:
        return None
    if len(text) != len(unpadded) and len(text) % 4 != 0:
        return None  # padding present but of the wrong length
    try:
        return base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), validate=True)
    except (binascii.Error, ValueError):  # pragma: no cover - filtered above
        return None


def _non_canonical(body: dict[str, object]) -> list[tuple[str, str]]:
    """Every value in ``body`` that canonical JSON cannot write, as (path, why)."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[str, object]] = [("", body)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((_member(path, key), item) for key, item in reversed(value.items()))
            for key in value:
                if _has_surrogate(key):
                    found.append((_member(path, key), "has a key with an unpaired surrogate"))
        elif isinstance(value, list):
            stack.extend(
                (f"{path}[{index}]", item) for index, item in reversed(list(enumerate(value)))
            )
        elif isinstance(value, _JsonFloat):
            found.append((path, f"is a float ({_show(value)})"))
        elif isinstance(value, _HugeInt) or (
            isinstance(value, int) and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
        ):
            found.append((path, f"is an integer outside +/-(2**53 - 1) ({_show(value)})"))
        elif isinstance(value, str) and _has_surrogate(value):
            found.append((path, "is a string with an unpaired surrogate, which UTF-8 cannot hold"))
    return found


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
