"""The one JSON reader for every document read from the network.

Bounded and total: :func:`read_json` never raises for anything in the body. It
refuses a body over the caller's byte cap, one that is not UTF-8, not JSON
(NaN and Infinity included), nested deeper than :data:`MAX_DEPTH` levels, or
holding an object with the same key twice (the spec's canonical JSON has no
duplicates, and implementations disagree on which copy wins), and, unless the
caller accepts any top level, one whose top level is not an object. Each
refusal is a reason in the returned :class:`JsonDoc`, phrased to follow
"the body is": ``f"the body is {doc.reason}"``.

Numbers: by default floats are Python floats and an integer too long for the
interpreter to convert is refused. With ``exact_numbers=True`` (for the server
key check, which must name what canonical JSON cannot write) a float keeps its
text as a :class:`JsonFloat` and such an integer survives as a
:class:`HugeInt`; the caller reports them.

Depth: CPython's decoder raises ``RecursionError`` (it does not crash) when
nesting exceeds the interpreter's recursion limit; that is caught, and
shallower nesting is measured afterwards without recursion.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["MAX_DEPTH", "HugeInt", "JsonDoc", "JsonFloat", "read_json"]

#: Deeper than any Matrix document needs; 64 arrays or objects inside each other.
MAX_DEPTH: Final = 64

_BOM: Final = b"\xef\xbb\xbf"
_NAMES: Final = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


class JsonFloat(float):
    """A number written with a fraction or an exponent; keeps the text as served."""

    text: str


class HugeInt:
    """An integer too long for Python to convert; never canonical."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


@dataclass(frozen=True, slots=True)
class JsonDoc:
    """The parsed value, or None and why the body was refused."""

    value: Any
    reason: str | None


class _Refused(ValueError):
    """Raised by the decoder hooks; its message is the reason."""


def read_json(
    body: bytes,
    *,
    max_bytes: int,
    any_top_level: bool = False,
    exact_numbers: bool = False,
    allow_bom: bool = False,
) -> JsonDoc:
    """Parse ``body`` within the bounds described in the module docstring.

    Args:
        body: The bytes as received.
        max_bytes: Refuse a longer body.
        any_top_level: Accept an array, string, number, boolean or null at the top.
        exact_numbers: Keep floats' text and integers too long to convert.
        allow_bom: Skip a leading UTF-8 byte order mark, as browsers do.
    """
    if len(body) > max_bytes:
        return JsonDoc(None, f"larger than {max_bytes} bytes")
    if allow_bom and body.startswith(_BOM):
        body = body[len(_BOM) :]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return JsonDoc(None, f"not UTF-8 (byte {exc.start} is {body[exc.start]:#04x})")
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object,
            parse_constant=_constant,
            parse_int=_exact_int if exact_numbers else _int,
            parse_float=_exact_float if exact_numbers else float,
        )
    except _Refused as exc:
        return JsonDoc(None, str(exc))
    except json.JSONDecodeError as exc:
        return JsonDoc(None, f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
    except RecursionError:
        return JsonDoc(None, _too_deep())
    except ValueError as exc:  # pragma: no cover - anything else the decoder refuses
        return JsonDoc(None, f"not JSON ({str(exc)[:80]})")
    # Fewer brackets than the cap cannot nest past it: skip the walk.
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        return JsonDoc(None, _too_deep())
    if not any_top_level and not isinstance(value, dict):
        return JsonDoc(None, f"a JSON {json_type(value)}, not an object")
    return JsonDoc(value, None)


def json_type(value: object) -> str:
    """The JSON type name of a parsed value: object, array, string, number, ..."""
    return _NAMES.get(type(value), "number")


def _too_deep() -> str:
    return f"JSON nested deeper than {MAX_DEPTH} levels"


def _depth(value: object) -> int:
    """How many arrays and objects are nested inside each other, without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        if level > MAX_DEPTH:
            return level
        deepest = max(deepest, level)
        stack.extend((child, level) for child in children)
    return deepest


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _Refused(f"JSON with the key {json.dumps(key)[:80]} twice in one object")
        seen.add(key)
    return found  # pragma: no cover - a length difference means a repeated key


def _constant(name: str) -> Any:
    raise _Refused(f"not JSON ({name} is not a JSON value)")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # longer than the interpreter's digit limit
        raise _Refused(f"JSON with a number of {len(text)} digits") from None


def _exact_int(text: str) -> int | HugeInt:
    try:
        return int(text)
    except ValueError:
        return HugeInt(text)


def _exact_float(text: str) -> JsonFloat:
    number = JsonFloat(text)
    number.text = text
    return number
