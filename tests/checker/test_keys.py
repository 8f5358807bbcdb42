"""The key-response judge: spec test vectors, a good response and its broken twins."""

from __future__ import annotations

import base64
import json
from typing import Any

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from signedjson.key import (
    decode_signing_key_base64,
    encode_verify_key_base64,
    generate_signing_key,
    get_verify_key,
)
from signedjson.sign import sign_json
from signedjson.types import SigningKey

from matrix_delegation.checker.keys import (
    SEVERITIES,
    KeyReport,
    check_server_keys,
)

NOW = 1_700_000_000_000
DAY = 86_400_000
SERVER = "example.org"

SPEC_SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
SPEC_SIG_EMPTY = (
    "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
)
SPEC_SIG_ONE_TWO = (
    "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
)


def spec_key() -> SigningKey:
    """The spec's test key: ed25519:1 from the unpadded base64 seed."""
    return decode_signing_key_base64("ed25519", "1", SPEC_SEED)


def unsigned_response(
    keys: list[SigningKey], server_name: str = SERVER, valid_until_ts: int = NOW + DAY
) -> dict[str, Any]:
    return {
        "server_name": server_name,
        "valid_until_ts": valid_until_ts,
        "verify_keys": {
            f"{key.alg}:{key.version}": {"key": encode_verify_key_base64(get_verify_key(key))}
            for key in keys
        },
        "old_verify_keys": {},
    }


def signed(body: dict[str, Any], *keys: SigningKey, name: str = SERVER) -> dict[str, Any]:
    for key in keys:
        body = sign_json(body, name, key)
    return body


def encode(body: object) -> bytes:
    return json.dumps(body).encode()


def codes(report: KeyReport) -> list[str]:
    return [problem.code for problem in report.problems]


@pytest.fixture
def key() -> SigningKey:
    return generate_signing_key("a_1")


# --- the spec's cryptographic test vectors ----------------------------------------------


def test_spec_seed_is_unpadded_base64_of_32_bytes() -> None:
    key = spec_key()
    assert isinstance(key, nacl.signing.SigningKey)
    assert len(key.encode()) == 32
    assert f"{key.alg}:{key.version}" == "ed25519:1"


def test_spec_vector_empty_object() -> None:
    assert sign_json({}, "domain", spec_key()) == {
        "signatures": {"domain": {"ed25519:1": SPEC_SIG_EMPTY}}
    }


def test_spec_vector_one_two() -> None:
    assert sign_json({"one": 1, "two": "Two"}, "domain", spec_key()) == {
        "one": 1,
        "two": "Two",
        "signatures": {"domain": {"ed25519:1": SPEC_SIG_ONE_TWO}},
    }


def test_spec_vector_raw_pynacl() -> None:
    # The same signature straight from PyNaCl over the canonical bytes.
    seed = spec_key().encode()
    raw = nacl.signing.SigningKey(seed).sign(b'{"one":1,"two":"Two"}').signature
    assert base64.b64encode(raw).decode().rstrip("=") == SPEC_SIG_ONE_TWO


def test_key_response_signed_with_the_spec_key_is_accepted() -> None:
    body = signed(unsigned_response([spec_key()], server_name="domain"), spec_key(), name="domain")
    report = check_server_keys(encode(body), "domain", NOW)
    assert report.ok, report.problems
    assert report.problems == ()
    assert [c.key_id for c in report.ed25519_checks] == ["ed25519:1"]
    assert report.all_ed25519_checks_ok


# --- a good response ---------------------------------------------------------------------


def test_valid_response(key: SigningKey) -> None:
    body = signed(unsigned_response([key]), key)
    report = check_server_keys(encode(body), SERVER, NOW)
    assert report.ok
    assert report.problems == ()
    assert report.server_name == SERVER
    assert report.valid_until_ts == NOW + DAY
    assert report.expires_in_ms == DAY
    assert report.matching_server_name
    assert report.future_valid_until_ts
    assert report.has_ed25519_key
    assert report.all_ed25519_checks_ok
    assert report.old_verify_keys_ok
    assert report.canonical_safe
    (check,) = report.ed25519_checks
    assert check.key_id == "ed25519:a_1"
    assert check.valid_key and check.matching_signature
    assert dict(report.verify_keys) == {"ed25519:a_1": check.key}


def test_unsigned_member_is_not_signed(key: SigningKey) -> None:
    body = signed(unsigned_response([key]), key)
    body["unsigned"] = {"note": 1.5}  # outside the signed bytes, but still not canonical
    report = check_server_keys(encode(body), SERVER, NOW)
    assert report.ed25519_checks[0].matching_signature
    assert not report.canonical_safe
    assert codes(report) == ["keys-not-canonical"]
    assert "can still be checked" in report.problems[0].message


def test_padded_key_and_signature_are_accepted(key: SigningKey) -> None:
    body = unsigned_response([key])
    body["verify_keys"]["ed25519:a_1"]["key"] += "="  # 32 bytes: 43 characters and one "="
    body = signed(body, key)
    body["signatures"][SERVER]["ed25519:a_1"] += "=="  # 64 bytes: 86 characters and "=="
    report = check_server_keys(encode(body), SERVER, NOW)
    assert report.ok, report.problems
    assert report.all_ed25519_checks_ok


def test_multiple_signed_keys_and_foreign_signatures(key: SigningKey) -> None:
    other = generate_signing_key("b")
    notary = generate_signing_key("notary")
    body = signed(unsigned_response([key, other]), key, other)
    body = sign_json(body, "notary.example", notary)
    body["signatures"][SERVER]["ed25519:not_listed"] = "AAAA"  # key not in verify_keys
    report = check_server_keys(encode(body), SERVER, NOW)
    assert report.ok
    assert report.problems == ()
    assert report.all_ed25519_checks_ok
    assert len(report.ed25519_checks) == 2


# --- negative twins ----------------------------------------------------------------------


def flip(text: str, index: int = 10) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def test_tampered_signature(key: SigningKey) -> None:
    body = signed(unsigned_response([key]), key)
    body["signatures"][SERVER]["ed25519:a_1"] = flip(body["signatures"][SERVER]["ed25519:a_1"])
    report = check_server_keys(encode(body), SERVER, NOW)
    assert not report.ok
    assert codes(report) == ["keys-bad-signature"]
    assert "ed25519:a_1" in report.problems[0].message
    assert "does not verify" in report.problems[0].message
    assert not report.ed25519_checks[0].matching_signature
    assert report.ed25519_checks[0].valid_key
    assert not report.all_ed25519_checks_ok


def test_tampered_body_after_signing(key: SigningKey) -> None:
    body = signed(unsigned_response([key]), key)
    body["valid_until_ts"] += 1
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-bad-signature"]
    assert not report.ok


def test_signature_not_base64(key: SigningKey) -> None:
    body = signed(unsigned_response([key]), key)
    body["signatures"][SERVER]["ed25519:a_1"] = "not base64!"
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-bad-signature"]
    assert "'not base64!' is not base64" in report.problems[0].message


def test_signature_wrong_length(key: SigningKey) -> None:
    body = signed(unsigned_response([key]), key)
    body["signatures"][SERVER]["ed25519:a_1"] = "AAAA"
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-bad-signature"]
    assert "3 bytes, not 64" in report.problems[0].message


def test_wrong_server_name(key: SigningKey) -> None:
    body = signed(unsigned_response([key], server_name="Example.org"), key, name="Example.org")
    report = check_server_keys(encode(body), SERVER, NOW)
    assert not report.ok
    assert not report.matching_server_name
    assert report.server_name == "Example.org"
    assert codes(report)[0] == "keys-server-name-mismatch"
    assert report.problems[0].message == (
        "the key response is for 'Example.org', not 'example.org'"
    )
    # Signatures are looked up under the expected name, as a requester does.
    assert "keys-bad-signature" in codes(report)


def test_expired(key: SigningKey) -> None:
    body = signed(unsigned_response([key], valid_until_ts=NOW - 2 * DAY - 3_600_000), key)
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-expired"]
    assert not report.ok
    assert not report.future_valid_until_ts
    assert report.expires_in_ms == -2 * DAY - 3_600_000
    message = report.problems[0].message
    assert "2023-11-12T21:13:20.000Z" in message
    assert "2 days 1 hour ago" in message


def test_expires_exactly_now_is_expired(key: SigningKey) -> None:
    body = signed(unsigned_response([key], valid_until_ts=NOW), key)
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-expired"]
    assert "just now" in report.problems[0].message


def test_expires_in_30_minutes_is_a_warning(key: SigningKey) -> None:
    body = signed(unsigned_response([key], valid_until_ts=NOW + 30 * 60_000), key)
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-expire-soon"]
    assert report.problems[0].severity == "warning"
    assert "30 minutes" in report.problems[0].message
    assert report.ok
    assert report.future_valid_until_ts


def test_expires_in_exactly_an_hour_is_fine(key: SigningKey) -> None:
    body = signed(unsigned_response([key], valid_until_ts=NOW + 3_600_000), key)
    assert check_server_keys(encode(body), SERVER, NOW).problems == ()


@pytest.mark.parametrize("value", ["1700000000000", None, True, [1]])
def test_valid_until_ts_not_an_integer(key: SigningKey, value: object) -> None:
    body = signed({**unsigned_response([key]), "valid_until_ts": value}, key)
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-malformed"]
    assert report.valid_until_ts is None
    assert report.expires_in_ms is None
    assert "valid_until_ts is" in report.problems[0].message


def test_missing_fields() -> None:
    report = check_server_keys(b"{}", SERVER, NOW)
    assert not report.ok
    assert codes(report) == ["keys-malformed"] * 4
    messages = " | ".join(problem.message for problem in report.problems)
    for field in ("server_name", "valid_until_ts", "verify_keys", "signatures"):
        assert f"{field} is missing" in messages


def test_no_ed25519_key(key: SigningKey) -> None:
    body = unsigned_response([key])
    body["verify_keys"] = {"curve25519:x": {"key": "AAAA"}}
    body = signed(body, key)
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-no-ed25519"]
    assert "'curve25519:x'" in report.problems[0].message
    assert not report.has_ed25519_key
    assert not report.all_ed25519_checks_ok
    assert dict(report.verify_keys) == {"curve25519:x": "AAAA"}


def test_empty_verify_keys(key: SigningKey) -> None:
    body = signed({**unsigned_response([key]), "verify_keys": {}}, key)
    assert codes(check_server_keys(encode(body), SERVER, NOW)) == ["keys-no-ed25519"]


@pytest.mark.parametrize(
    ("key_text", "detail"),
    [("AAAA", "3 bytes, not 32"), ("!!not-base64!!", "is not base64"), ("A", "is not base64")],
)
def test_malformed_key(key: SigningKey, key_text: str, detail: str) -> None:
    body = unsigned_response([key])
    body["verify_keys"]["ed25519:a_1"]["key"] = key_text
    body = signed(body, key)
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-malformed", "keys-bad-signature"]
    assert detail in report.problems[0].message
    assert "ed25519:a_1" in report.problems[0].message
    (check,) = report.ed25519_checks
    assert not check.valid_key and not check.matching_signature
    assert check.key == key_text


def test_urlsafe_base64_key_is_rejected(key: SigningKey) -> None:
    body = unsigned_response([key])
    body["verify_keys"]["ed25519:a_1"]["key"] = "-_" + "A" * 41
    body = signed(body, key)
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report)[0] == "keys-malformed"


def test_verify_key_entry_without_key(key: SigningKey) -> None:
    body = signed({**unsigned_response([key]), "verify_keys": {"ed25519:a_1": {}}}, key)
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-malformed", "keys-bad-signature"]
    assert "has no 'key'" in report.problems[0].message
    assert report.ed25519_checks[0].key == ""


def test_bad_key_id(key: SigningKey) -> None:
    body = unsigned_response([key])
    body["verify_keys"]["ed25519:a-1"] = body["verify_keys"]["ed25519:a_1"]
    body = signed(body, key)
    report = check_server_keys(encode(body), SERVER, NOW)
    assert "keys-malformed" in codes(report)
    assert "'ed25519:a-1'" in report.problems[0].message


def test_float_in_body(key: SigningKey) -> None:
    body = signed(unsigned_response([key]), key)
    text = encode(body).replace(b'"old_verify_keys": {}', b'"old_verify_keys": {}, "x": 1.0')
    report = check_server_keys(text, SERVER, NOW)
    assert codes(report) == ["keys-not-canonical"]
    assert "x is a float (1.0)" in report.problems[0].message
    assert "cannot be checked" in report.problems[0].message
    assert not report.canonical_safe
    assert not report.ok
    assert not report.ed25519_checks[0].matching_signature
    assert report.ed25519_checks[0].valid_key


def test_float_valid_until_ts(key: SigningKey) -> None:
    body = signed(unsigned_response([key]), key)
    text = encode(body).replace(str(NOW + DAY).encode(), b"1.7e12")
    report = check_server_keys(text, SERVER, NOW)
    assert codes(report) == ["keys-not-canonical", "keys-malformed"]
    assert "valid_until_ts is a float (1.7e12)" in report.problems[0].message


@pytest.mark.parametrize(
    "number",
    [b"9007199254740992", b"-9007199254740992", b"1" + b"0" * 5000],
    ids=["2**53", "-(2**53)", "5001-digits"],
)
def test_integer_out_of_range(key: SigningKey, number: bytes) -> None:
    body = signed(unsigned_response([key]), key)
    text = b'{"big": ' + number + b", " + encode(body)[1:]
    report = check_server_keys(text, SERVER, NOW)
    assert codes(report) == ["keys-not-canonical"]
    assert "big is an integer outside" in report.problems[0].message
    assert len(report.problems[0].message) < 400


def test_largest_safe_integer_is_fine(key: SigningKey) -> None:
    body = signed({**unsigned_response([key]), "big": 2**53 - 1, "small": -(2**53) + 1}, key)
    report = check_server_keys(encode(body), SERVER, NOW)
    assert report.problems == ()
    assert report.canonical_safe


def test_unpaired_surrogate(key: SigningKey) -> None:
    body = signed(unsigned_response([key]), key)
    text = encode(body)[:-1] + b', "s": "\\ud800"}'
    report = check_server_keys(text, SERVER, NOW)
    assert codes(report) == ["keys-not-canonical"]
    report.problems[0].message.encode("utf-8")  # printable


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'{"server_name": ',
        b"\xff\xfe{}",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b"[" * 100_000 + b"]" * 100_000,
        b"\xef\xbb\xbf{}",
    ],
)
def test_not_json(body: bytes) -> None:
    report = check_server_keys(body, SERVER, NOW)
    assert codes(report) == ["keys-not-json"]
    assert not report.ok
    assert report.server_name is None
    assert report.valid_until_ts is None
    assert report.expires_in_ms is None
    assert not any(
        (
            report.matching_server_name,
            report.future_valid_until_ts,
            report.has_ed25519_key,
            report.all_ed25519_checks_ok,
            report.old_verify_keys_ok,
            report.canonical_safe,
        )
    )
    assert report.ed25519_checks == ()
    assert dict(report.verify_keys) == {}
    assert "Traceback" not in report.problems[0].message


@pytest.mark.parametrize(("body", "shown"), [(b"[]", "an array"), (b'"x"', "'x'"), (b"1", "1")])
def test_json_but_not_an_object(body: bytes, shown: str) -> None:
    report = check_server_keys(body, SERVER, NOW)
    assert codes(report) == ["keys-not-json"]
    assert report.problems[0].message == f"the body is JSON but {shown}, not an object"


@pytest.mark.parametrize(
    ("old", "detail"),
    [
        ([], "old_verify_keys is an array, not an object"),
        ({"ed25519:old": {"key": "AAAA"}}, "it has no expired_ts"),
        (
            {"ed25519:old": {"expired_ts": "1", "key": "A" * 43}},
            "expired_ts is '1', not an integer",
        ),
        ({"ed25519:old": {"expired_ts": 1}}, "it has no key"),
        ({"ed25519:old": {"expired_ts": 1, "key": 5}}, "key is 5, not a string"),
        ({"ed25519:old": {"expired_ts": 1, "key": "AAAA"}}, "3 bytes, not 32"),
        ({"ed25519:old": {"expired_ts": 1, "key": "%%"}}, "is not base64"),
        ({"ed25519:o.d": {"expired_ts": 1, "key": "A" * 43}}, "its key ID is not"),
        ({"ed25519:old": "x"}, "it is 'x', not an object"),
    ],
)
def test_old_verify_keys_malformed(key: SigningKey, old: object, detail: str) -> None:
    body = signed({**unsigned_response([key]), "old_verify_keys": old}, key)
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-malformed"]
    assert detail in report.problems[0].message
    if isinstance(old, dict):
        assert next(iter(old)) in report.problems[0].message
    assert not report.old_verify_keys_ok
    assert not report.ok
    assert report.all_ed25519_checks_ok  # the current keys are fine


def test_old_verify_keys_well_formed(key: SigningKey) -> None:
    old = {"ed25519:0ld": {"expired_ts": NOW - DAY, "key": "A" * 43}}
    body = signed({**unsigned_response([key]), "old_verify_keys": old}, key)
    report = check_server_keys(encode(body), SERVER, NOW)
    assert report.problems == ()
    assert report.old_verify_keys_ok


def test_second_key_without_signature_is_a_warning(key: SigningKey) -> None:
    other = generate_signing_key("b")
    body = signed(unsigned_response([key, other]), key)
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-unsigned-key"]
    assert report.problems[0].severity == "warning"
    assert "ed25519:b" in report.problems[0].message
    assert report.ok
    assert not report.all_ed25519_checks_ok
    assert [c.matching_signature for c in report.ed25519_checks] == [True, False]


def test_second_key_with_bad_signature_is_an_error(key: SigningKey) -> None:
    other = generate_signing_key("b")
    body = signed(unsigned_response([key, other]), key, other)
    body["signatures"][SERVER]["ed25519:b"] = flip(body["signatures"][SERVER]["ed25519:b"])
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-bad-signature"]
    assert "ed25519:b" in report.problems[0].message
    assert not report.ok


def test_no_key_signed(key: SigningKey) -> None:
    other = generate_signing_key("b")
    body = signed(unsigned_response([key, other]), generate_signing_key("c"))
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-bad-signature", "keys-bad-signature"]
    assert "no signature by 'ed25519:a_1'" in report.problems[0].message
    assert "no signature by 'ed25519:b'" in report.problems[1].message


def test_signatures_not_an_object(key: SigningKey) -> None:
    body = {**unsigned_response([key]), "signatures": {SERVER: "x"}}
    report = check_server_keys(encode(body), SERVER, NOW)
    assert codes(report) == ["keys-malformed", "keys-bad-signature"]
    assert "signatures['example.org'] is 'x', not an object" in report.problems[0].message


def test_every_code_has_a_severity() -> None:
    assert set(SEVERITIES.values()) == {"error", "warning"}
    assert {code for code, level in SEVERITIES.items() if level == "warning"} == {
        "keys-expire-soon",
        "keys-unsigned-key",
    }


# --- never raises ------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "server_name",
        "valid_until_ts",
        "verify_keys",
        "old_verify_keys",
        "signatures",
        "unsigned",
        "ed25519:a_1",
        "key",
        "expired_ts",
        SERVER,
    ]
)
shaped = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(field_names, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, shaped), st.integers(min_value=-(2**64), max_value=2**64))
def test_never_raises_on_json(value: object, now_ms: int) -> None:
    report = check_server_keys(json.dumps(value).encode(), SERVER, now_ms)
    assert isinstance(report.ok, bool)
    for problem in report.problems:
        assert problem.code in SEVERITIES
        problem.message.encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_never_raises_on_bytes(body: bytes) -> None:
    report = check_server_keys(body, SERVER, NOW)
    assert all(problem.code in SEVERITIES for problem in report.problems)


@settings(max_examples=200, deadline=None)
@given(
    key_entry=json_values,
    signature=json_values,
    valid_until=json_values,
    old=json_values,
)
def test_never_raises_on_mutated_good_response(
    key_entry: object, signature: object, valid_until: object, old: object
) -> None:
    key = generate_signing_key("x")
    body = signed(unsigned_response([key]), key)
    body["verify_keys"]["ed25519:y"] = key_entry
    body["signatures"][SERVER]["ed25519:y"] = signature
    body["valid_until_ts"] = valid_until
    body["old_verify_keys"] = {"ed25519:z": old}
    report = check_server_keys(json.dumps(body).encode(), SERVER, NOW)
    assert all(problem.code in SEVERITIES for problem in report.problems)
