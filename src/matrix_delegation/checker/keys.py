"""Judging a server's own key response, ``GET /_matrix/key/v2/server``.

This module is pure: it gets the response body as bytes and the current time as
``now_ms`` and returns a :class:`KeyReport`. Nothing in the body can make it
raise; every defect becomes a :class:`KeyProblem` with a stable ``code`` and a
plain-English message quoting the values seen.

Problem codes and their severity (``KeyReport.ok`` is true when no *error* is
present):

=============================  ========  ==============================================
code                           severity  meaning
=============================  ========  ==============================================
``keys-not-json``              error     the body is not a UTF-8 JSON object
``keys-not-canonical``         error     a float, an integer beyond +/-(2**53 - 1) or an
                                         unpaired surrogate: no canonical JSON exists
``keys-server-name-mismatch``  error     ``server_name`` is not the name that was asked
``keys-expired``               error     ``valid_until_ts`` is not in the future
``keys-expire-soon``           warning   ``valid_until_ts`` is less than an hour away
``keys-malformed``             error     a field is missing or has the wrong shape
``keys-no-ed25519``            error     ``verify_keys`` holds no ``ed25519:`` key
``keys-bad-signature``         error     see below
``keys-unsigned-key``          warning   see below
=============================  ========  ==============================================

Signatures are looked up under the *expected* server name, as a requesting
server does, and checked with matrix-org's ``signedjson`` over the canonical
JSON of the body without ``signatures`` and ``unsigned``. The decision on
partial signing:

* A signature that is present but does not verify (bad base64, wrong length or
  wrong bytes) is always ``keys-bad-signature``, an error. Synapse's key
  fetcher checks the first origin signature whose key is in ``verify_keys`` and
  rejects the whole response if that one fails, so a single bad signature can
  break federation depending on the order the keys are served in.
* A key in ``verify_keys`` with *no* signature is ``keys-bad-signature`` when no
  key's signature verified at all (the response is then rejected outright), and
  the warning ``keys-unsigned-key`` when some other key's signature did verify
  (Synapse accepts the response; the spec expects every key to sign).

When the signed part of the body cannot be canonical JSON, signatures are not
checked at all: ``keys-not-canonical`` explains why and every
``matching_signature`` is false.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from signedjson.key import decode_verify_key_bytes
from signedjson.sign import SignatureVerifyException, verify_signed_json

__all__ = [
    "KEYS_BAD_SIGNATURE",
    "KEYS_EXPIRED",
    "KEYS_EXPIRE_SOON",
    "KEYS_MALFORMED",
    "KEYS_NOT_CANONICAL",
    "KEYS_NOT_JSON",
    "KEYS_NO_ED25519",
    "KEYS_SERVER_NAME_MISMATCH",
    "KEYS_UNSIGNED_KEY",
    "SEVERITIES",
    "Ed25519Check",
    "KeyProblem",
    "KeyReport",
    "Severity",
    "check_server_keys",
]

Severity = Literal["error", "warning"]

KEYS_NOT_JSON: Final = "keys-not-json"
KEYS_NOT_CANONICAL: Final = "keys-not-canonical"
KEYS_SERVER_NAME_MISMATCH: Final = "keys-server-name-mismatch"
KEYS_EXPIRED: Final = "keys-expired"
KEYS_EXPIRE_SOON: Final = "keys-expire-soon"
KEYS_MALFORMED: Final = "keys-malformed"
KEYS_NO_ED25519: Final = "keys-no-ed25519"
KEYS_BAD_SIGNATURE: Final = "keys-bad-signature"
KEYS_UNSIGNED_KEY: Final = "keys-unsigned-key"

SEVERITIES: Final[Mapping[str, Severity]] = MappingProxyType(
    {
        KEYS_NOT_JSON: "error",
        KEYS_NOT_CANONICAL: "error",
        KEYS_SERVER_NAME_MISMATCH: "error",
        KEYS_EXPIRED: "error",
        KEYS_EXPIRE_SOON: "warning",
        KEYS_MALFORMED: "error",
        KEYS_NO_ED25519: "error",
        KEYS_BAD_SIGNATURE: "error",
        KEYS_UNSIGNED_KEY: "warning",
    }
)

# Canonical JSON only has integers in this closed range.
MAX_SAFE_INTEGER: Final = 2**53 - 1
# The spec: origin servers should not serve responses expiring in under an hour.
MIN_LIFETIME_MS: Final = 60 * 60 * 1000

_ED25519_PREFIX: Final = "ed25519:"
_KEY_ID = re.compile(r"[^:]+:[a-zA-Z0-9_]+")
_BASE64_BODY = re.compile(r"[A-Za-z0-9+/]*")
_PUBLIC_KEY_BYTES: Final = 32
_SIGNATURE_BYTES: Final = 64
_MAX_LISTED: Final = 5  # non-canonical values named in one message
_UNSIGNED_MEMBERS: Final = ("signatures", "unsigned")  # left out of the signed bytes


@dataclass(frozen=True, slots=True)
class Ed25519Check:
    """One ``ed25519`` entry of ``verify_keys`` and whether it signed the response.

    Attributes:
        key_id: The key ID as served, e.g. ``"ed25519:abc"``.
        key: The public key as served (unpadded base64); empty when not a string.
        valid_key: The key decodes to a 32-byte ed25519 public key.
        matching_signature: The response carries a signature by this key under the
            expected server name, and it verifies.
    """

    key_id: str
    key: str
    valid_key: bool
    matching_signature: bool


@dataclass(frozen=True, slots=True)
class KeyProblem:
    """One thing wrong with the key response.

    Attributes:
        code: A stable code, one of the keys of :data:`SEVERITIES`.
        message: Plain English, naming the concrete values seen.
    """

    code: str
    message: str

    @property
    def severity(self) -> Severity:
        """``"error"`` or ``"warning"``, from :data:`SEVERITIES`."""
        return SEVERITIES.get(self.code, "error")


@dataclass(frozen=True, slots=True)
class KeyReport:
    """The verdict on one key response.

    Attributes:
        server_name: ``server_name`` as served, or None when absent or not a string.
        valid_until_ts: ``valid_until_ts`` as served, or None when not an integer.
        matching_server_name: ``server_name`` equals the expected name exactly.
        future_valid_until_ts: ``valid_until_ts`` is later than ``now_ms``.
        expires_in_ms: ``valid_until_ts - now_ms`` (negative once expired).
        has_ed25519_key: ``verify_keys`` has at least one ``ed25519:`` entry.
        all_ed25519_checks_ok: There is an ed25519 key, and every one is valid and
            signed the response.
        ed25519_checks: One check per ``ed25519:`` entry, in the order served.
        old_verify_keys_ok: ``old_verify_keys`` is absent or well formed.
        canonical_safe: The whole body can be written as canonical JSON.
        verify_keys: Key ID to key, as served (entries whose ``key`` is a string).
        problems: Everything wrong, errors and warnings, in the order found.
    """

    server_name: str | None
    valid_until_ts: int | None
    matching_server_name: bool
    future_valid_until_ts: bool
    expires_in_ms: int | None
    has_ed25519_key: bool
    all_ed25519_checks_ok: bool
    ed25519_checks: tuple[Ed25519Check, ...]
    old_verify_keys_ok: bool
    canonical_safe: bool
    verify_keys: Mapping[str, str]
    problems: tuple[KeyProblem, ...]

    @property
    def ok(self) -> bool:
        """True when no problem is of the error kind (warnings are allowed)."""
        return all(problem.severity != "error" for problem in self.problems)


# --- parsing ---------------------------------------------------------------------------


class _JsonFloat(float):
    """A number written with a fraction or an exponent; keeps the text as served."""

    text: str


class _HugeInt:
    """An integer too long for Python to convert; never canonical."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _NotJson(ValueError):
    """The body is not JSON at all (used for NaN and Infinity)."""


def _parse_float(text: str) -> _JsonFloat:
    number = _JsonFloat(text)
    number.text = text
    return number


def _parse_int(text: str) -> int | _HugeInt:
    try:
        return int(text)
    except ValueError:  # longer than the interpreter's digit limit
        return _HugeInt(text)


def _reject_constant(text: str) -> object:
    raise _NotJson(f"{text} is not a JSON value")


def _parse(body: bytes) -> tuple[object, str | None]:
    """Decode the body; return the value, or None and the reason it is not JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"the body is not UTF-8 (byte {exc.start} is {body[exc.start]:#04x})"
    try:
        value = json.loads(
            text,
            parse_float=_parse_float,
            parse_int=_parse_int,
            parse_constant=_reject_constant,
        )
    except _NotJson as exc:
        return None, f"the body is not JSON: {exc}"
    except json.JSONDecodeError as exc:
        return None, f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        return None, "the body is not usable JSON: it is nested too deeply"
    except ValueError as exc:  # anything else the decoder refuses
        return None, f"the body is not JSON: {_clip(str(exc))}"
    return value, None


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
    return _clip(repr(value))  # pragma: no cover - json.loads yields nothing else


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


# --- the check -------------------------------------------------------------------------


class _Problems:
    """Collects problems in order."""

    def __init__(self) -> None:
        self.items: list[KeyProblem] = []

    def add(self, code: str, message: str) -> None:
        # An unpaired surrogate from the body must not make the message unprintable.
        printable = message.encode("utf-8", "backslashreplace").decode("utf-8")
        self.items.append(KeyProblem(code, printable))


def check_server_keys(body: bytes, server_name: str, now_ms: int) -> KeyReport:
    """Judge a ``GET /_matrix/key/v2/server`` response body.

    Args:
        body: The response body exactly as received.
        server_name: The server name the keys were requested for; ``server_name``
            in the body must equal it exactly and the signatures are looked up
            under it.
        now_ms: The current time, milliseconds since the epoch.

    Returns:
        The report. It never raises for anything in ``body``.
    """
    value, not_json = _parse(body)
    if not_json is None and not isinstance(value, dict):
        not_json = f"the body is JSON but {_show(value)}, not an object"
    if not_json is not None or not isinstance(value, dict):
        return KeyReport(
            server_name=None,
            valid_until_ts=None,
            matching_server_name=False,
            future_valid_until_ts=False,
            expires_in_ms=None,
            has_ed25519_key=False,
            all_ed25519_checks_ok=False,
            ed25519_checks=(),
            old_verify_keys_ok=False,
            canonical_safe=False,
            verify_keys=MappingProxyType({}),
            problems=(KeyProblem(KEYS_NOT_JSON, not_json or "the body is not a JSON object"),),
        )
    return _check_object(value, server_name, now_ms)


def _check_object(body: dict[str, object], expected: str, now_ms: int) -> KeyReport:
    problems = _Problems()

    # Canonical JSON: only the signed part matters for the signatures.
    unsafe = _non_canonical(body)
    canonical_safe = not unsafe
    signed_part = {key: item for key, item in body.items() if key not in _UNSIGNED_MEMBERS}
    signed_safe = canonical_safe or not _non_canonical(signed_part)
    if unsafe:
        listed = "; ".join(f"{path} {why}" for path, why in unsafe[:_MAX_LISTED])
        more = f" (and {len(unsafe) - _MAX_LISTED} more)" if len(unsafe) > _MAX_LISTED else ""
        consequence = (
            "so its signatures cannot be checked as the spec defines"
            if not signed_safe
            else "(outside the signed part, so the signatures can still be checked)"
        )
        problems.add(
            KEYS_NOT_CANONICAL,
            f"the response cannot be written as canonical JSON, {consequence}: {listed}{more}",
        )

    served_name, name_matches = _check_server_name(body, expected, problems)
    valid_until, future, expires_in = _check_validity(body, now_ms, problems)
    verify_keys, entries = _check_verify_keys(body, problems)
    checks = _check_signatures(body, expected, entries, signed_safe, problems)
    old_ok = _check_old_verify_keys(body, problems)

    return KeyReport(
        server_name=served_name,
        valid_until_ts=valid_until,
        matching_server_name=name_matches,
        future_valid_until_ts=future,
        expires_in_ms=expires_in,
        has_ed25519_key=bool(entries),
        all_ed25519_checks_ok=bool(checks)
        and all(check.valid_key and check.matching_signature for check in checks),
        ed25519_checks=checks,
        old_verify_keys_ok=old_ok,
        canonical_safe=canonical_safe,
        verify_keys=MappingProxyType(verify_keys),
        problems=tuple(problems.items),
    )


def _check_server_name(
    body: dict[str, object], expected: str, problems: _Problems
) -> tuple[str | None, bool]:
    served = body.get("server_name")
    if not isinstance(served, str):
        what = "is missing" if "server_name" not in body else f"is {_show(served)}, not a string"
        problems.add(KEYS_MALFORMED, f"server_name {what}")
        return None, False
    if served != expected:
        problems.add(
            KEYS_SERVER_NAME_MISMATCH,
            f"the key response is for {_show(served)}, not {_show(expected)}",
        )
        return served, False
    return served, True


def _check_validity(
    body: dict[str, object], now_ms: int, problems: _Problems
) -> tuple[int | None, bool, int | None]:
    raw = body.get("valid_until_ts")
    if not isinstance(raw, int) or isinstance(raw, bool):
        what = (
            "is missing"
            if "valid_until_ts" not in body
            else f"is {_show(raw)}, not an integer number of milliseconds"
        )
        problems.add(KEYS_MALFORMED, f"valid_until_ts {what}")
        return None, False, None
    expires_in = raw - now_ms
    if expires_in <= 0:
        ago = "just now" if -expires_in < 1000 else f"{_duration(expires_in)} ago"
        problems.add(
            KEYS_EXPIRED,
            f"the keys expired at {_iso(raw)} ({ago}); valid_until_ts is {_show(raw)}",
        )
        return raw, False, expires_in
    if expires_in < MIN_LIFETIME_MS:
        problems.add(
            KEYS_EXPIRE_SOON,
            f"the keys expire at {_iso(raw)}, in {_duration(expires_in)}; origin servers "
            "should not serve key responses that expire in under an hour",
        )
    return raw, True, expires_in


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
    for key_id, entry in raw.items():
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
        listed = ", ".join(_show(key_id) for key_id in raw) or "nothing"
        problems.add(
            KEYS_NO_ED25519, f"verify_keys has no ed25519 key (it holds {_clip(listed, 200)})"
        )
    return served, entries


def _signature_failure(
    body: dict[str, object], expected: str, key_id: str, key_bytes: bytes, origin: dict[str, object]
) -> str | None:
    """Why the signature by ``key_id`` does not verify, or None when it does."""
    signature = origin[key_id]
    if not isinstance(signature, str):
        return f"is {_show(signature)}, not a string"
    decoded = _decode_base64(signature)
    if decoded is None:
        return f"{_show(signature)} is not base64"
    if len(decoded) != _SIGNATURE_BYTES:
        return f"{_show(signature)} decodes to {len(decoded)} bytes, not {_SIGNATURE_BYTES}"
    # Give signedjson a copy holding only this one signature, so that other,
    # possibly malformed, signatures cannot get in the way.
    candidate = dict(body)
    candidate["signatures"] = {expected: {key_id: signature}}
    try:
        verify_key = decode_verify_key_bytes(key_id, key_bytes)
        verify_signed_json(candidate, expected, verify_key)
    except SignatureVerifyException:
        return f"{_show(signature)} does not verify against the key"
    except (ValueError, TypeError, UnicodeError) as exc:  # pragma: no cover - defensive
        return f"could not be checked ({_clip(str(exc))})"
    return None


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
    for key_id, key, key_bytes in entries:
        if key_bytes is None:
            checks.append(Ed25519Check(key_id, key, False, False))
            continue
        if key_id not in origin:
            missing.append(key_id)
            checks.append(Ed25519Check(key_id, key, True, False))
            continue
        failure = _signature_failure(body, expected, key_id, key_bytes, origin)
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
    ok = True
    for key_id, entry in raw.items():
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
