"""The server key check's vocabulary: the names of its codes and the report.

Plain values, re-exported by :mod:`.keys` (where the codes are explained);
the checks in :mod:`.keys` and :mod:`.keys_verify` fill them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from .codes import FEDERATION, Problem, Severity, problem

KEYS_NOT_JSON: Final = "keys-not-json"
KEYS_NOT_CANONICAL: Final = "keys-not-canonical"
KEYS_SERVER_NAME_MISMATCH: Final = "keys-server-name-mismatch"
KEYS_EXPIRED: Final = "keys-expired"
KEYS_EXPIRE_SOON: Final = "keys-expire-soon"
KEYS_MALFORMED: Final = "keys-malformed"
KEYS_NO_ED25519: Final = "keys-no-ed25519"
KEYS_BAD_SIGNATURE: Final = "keys-bad-signature"
KEYS_UNSIGNED_KEY: Final = "keys-unsigned-key"

#: The severity of each key code, as the catalog in :mod:`.codes` says.
SEVERITIES: Final[Mapping[str, Severity]] = MappingProxyType(
    {code: FEDERATION[code].severity for code in FEDERATION if code.startswith("keys-")}
)


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
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when no problem is of the error kind (warnings are allowed)."""
        return all(problem.severity != "error" for problem in self.problems)


# --- collecting problems ---------------------------------------------------------------


class _Problems:
    """Collects problems in order."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, code: str, message: str) -> None:
        # An unpaired surrogate from the body must not make the message unprintable.
        printable = message.encode("utf-8", "backslashreplace").decode("utf-8")
        self.items.append(problem(code, printable))
