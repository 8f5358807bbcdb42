"""Judging a server's own key response, ``GET /_matrix/key/v2/server``.

This module is pure: it gets the response body as bytes and the current time as
``now_ms`` and returns a :class:`KeyReport`. Nothing in the body can make it
raise; every defect becomes a :class:`~.codes.Problem` with a stable ``code`` and a
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
server does, and checked with matrix-org's ``signedjson`` keys over the
canonical JSON (matrix-org's ``canonicaljson``) of the body without
``signatures`` and ``unsigned``, encoded once per response.

CPU is bounded per response: the body is at most 512 KiB and nested at most
64 levels (:mod:`.._core.jsondoc`), and only the first 16 keys of
``verify_keys`` and of ``old_verify_keys`` are checked (so at most 16
signatures are verified). A map with more is reported as ``keys-malformed``: a
real server publishes a handful. The decision on partial signing:

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

The parsing and its canonical-safety checks live in :mod:`.keys_json`, the
code names and dataclasses in :mod:`.keys_model` (the codes' catalog is
:mod:`.codes`) and the key and signature checks in :mod:`.keys_verify`;
every public name is re-exported here.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from .codes import Severity, problem
from .keys_json import MAX_SAFE_INTEGER as MAX_SAFE_INTEGER
from .keys_json import _duration, _iso, _non_canonical, _parse, _show
from .keys_model import (
    KEYS_BAD_SIGNATURE,
    KEYS_EXPIRE_SOON,
    KEYS_EXPIRED,
    KEYS_MALFORMED,
    KEYS_NO_ED25519,
    KEYS_NOT_CANONICAL,
    KEYS_NOT_JSON,
    KEYS_SERVER_NAME_MISMATCH,
    KEYS_UNSIGNED_KEY,
    SEVERITIES,
    Ed25519Check,
    KeyReport,
    _Problems,
)
from .keys_verify import (
    UNSIGNED_MEMBERS,
    _check_old_verify_keys,
    _check_signatures,
    _check_verify_keys,
)

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
    "KeyReport",
    "Severity",
    "check_key_object",
    "check_server_keys",
]

# The spec: origin servers should not serve responses expiring in under an hour.
MIN_LIFETIME_MS: Final = 60 * 60 * 1000

_MAX_LISTED: Final = 5  # non-canonical values named in one message


# --- the check -------------------------------------------------------------------------


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
            problems=(problem(KEYS_NOT_JSON, not_json or "the body is not a JSON object"),),
        )
    return _check_object(value, server_name, now_ms)


def check_key_object(body: dict[str, object], server_name: str, now_ms: int) -> KeyReport:
    """Judge a key response already parsed (by :mod:`.._core.jsondoc`, ``exact_numbers``).

    As :func:`check_server_keys` for one entry of a notary's ``server_keys``.
    """
    return _check_object(body, server_name, now_ms)


def _check_object(body: dict[str, object], expected: str, now_ms: int) -> KeyReport:
    problems = _Problems()

    # Canonical JSON: only the signed part matters for the signatures.
    unsafe = _non_canonical(body)
    canonical_safe = not unsafe
    signed_part = {key: item for key, item in body.items() if key not in UNSIGNED_MEMBERS}
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
