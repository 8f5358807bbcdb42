"""The one JSON reader: every refusal is a reason, never an exception."""

from __future__ import annotations

import pytest

from matrix_delegation._core.jsondoc import MAX_DEPTH, HugeInt, JsonFloat, read_json

CAP = 50 * 1024


def nested(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"[]" + b"}" * (depth - 1)


def test_depth_at_the_cap_is_read() -> None:
    doc = read_json(nested(MAX_DEPTH), max_bytes=CAP)
    assert doc.reason is None and isinstance(doc.value, dict)


def test_one_level_more_is_refused() -> None:
    doc = read_json(nested(MAX_DEPTH + 1), max_bytes=CAP)
    assert doc.value is None and doc.reason == "JSON nested deeper than 64 levels"


@pytest.mark.parametrize("depth", [999, 20_000, 200_000])
def test_nesting_past_the_interpreter_limit_is_a_reason(depth: int) -> None:
    doc = read_json(b"[" * depth + b"]" * depth, max_bytes=10 * depth, any_top_level=True)
    assert doc.value is None and doc.reason == "JSON nested deeper than 64 levels"


def test_wide_but_shallow_is_read() -> None:
    body = b"[" + b",".join([b"[1]"] * 5000) + b"]"
    doc = read_json(body, max_bytes=CAP, any_top_level=True)
    assert doc.reason is None and len(doc.value) == 5000


def test_duplicate_keys_are_refused_even_deep_inside() -> None:
    doc = read_json(b'{"a": {"m.server": "x", "m.server": "y"}}', max_bytes=CAP)
    assert doc.value is None
    assert doc.reason == 'JSON with the key "m.server" twice in one object'


def test_same_key_in_different_objects_is_fine() -> None:
    doc = read_json(b'{"a": {"k": 1}, "b": {"k": 2}}', max_bytes=CAP)
    assert doc.value == {"a": {"k": 1}, "b": {"k": 2}}


@pytest.mark.parametrize(("body", "kind"), [(b"[]", "array"), (b'"x"', "string"), (b"1", "number")])
def test_top_level_other_than_object(body: bytes, kind: str) -> None:
    assert read_json(body, max_bytes=CAP).reason == f"a JSON {kind}, not an object"
    assert read_json(body, max_bytes=CAP, any_top_level=True).reason is None


def test_floats_and_big_integers_by_default() -> None:
    doc = read_json(b'{"f": 1.5, "big": 9007199254740993}', max_bytes=CAP)
    assert doc.value == {"f": 1.5, "big": 9007199254740993}
    huge = read_json(b'{"n": ' + b"9" * 5000 + b"}", max_bytes=CAP)
    assert huge.value is None and huge.reason == "JSON with a number of 5000 digits"


def test_exact_numbers_keep_what_canonical_json_cannot_write() -> None:
    doc = read_json(b'{"f": 1.50, "n": ' + b"9" * 5000 + b"}", max_bytes=CAP, exact_numbers=True)
    assert isinstance(doc.value["f"], JsonFloat) and doc.value["f"].text == "1.50"
    assert isinstance(doc.value["n"], HugeInt) and len(doc.value["n"].text) == 5000


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(constant: bytes) -> None:
    doc = read_json(b'{"a": ' + constant + b"}", max_bytes=CAP)
    assert doc.reason == f"not JSON ({constant.decode()} is not a JSON value)"


def test_invalid_utf8() -> None:
    doc = read_json(b'{"a": "\xff"}', max_bytes=CAP)
    assert doc.value is None and doc.reason == "not UTF-8 (byte 7 is 0xff)"


def test_byte_order_mark_only_when_allowed() -> None:
    body = b'\xef\xbb\xbf{"a": 1}'
    assert read_json(body, max_bytes=CAP, allow_bom=True).value == {"a": 1}
    assert (read_json(body, max_bytes=CAP).reason or "").startswith("not JSON (")


def test_byte_cap() -> None:
    body = b'{"a": "' + b"x" * 100 + b'"}'
    assert read_json(body, max_bytes=len(body)).reason is None
    assert read_json(body, max_bytes=len(body) - 1).reason == f"larger than {len(body) - 1} bytes"


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b'{"a" 1}'])
def test_syntax_errors_say_where(body: bytes) -> None:
    reason = read_json(body, max_bytes=CAP).reason or ""
    assert reason.startswith("not JSON (") and "line 1 column" in reason
