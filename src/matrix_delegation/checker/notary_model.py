"""What the opt-in tests through third-party servers ask and find: plain values.

:class:`ThirdParty` says which tests to run (both off by default: they
contact servers the user did not name as the checked one, and tell them the
checked name). :class:`OutboundResult` and :class:`NotaryResult` are what
:mod:`.notary` found; :mod:`.judge` turns them into problems.
"""

from __future__ import annotations

from dataclasses import dataclass

from .codes import Problem, problem

__all__ = [
    "DEFAULT_THIRD_PARTY",
    "NotaryResult",
    "OutboundResult",
    "ThirdParty",
    "third_party_problems",
]

#: The server asked when ``--outbound`` or ``--notary`` names none.
DEFAULT_THIRD_PARTY = "matrix.org"


@dataclass(frozen=True, slots=True)
class ThirdParty:
    """The opt-in tests: None means not asked.

    Attributes:
        outbound: Servers whose keys the checked server is asked to fetch
            (is outbound federation working?).
        notary: Key notaries asked for the checked server's keys (what does
            the outside see?).
    """

    outbound: tuple[str, ...] | None = None
    notary: tuple[str, ...] | None = None

    @property
    def asked(self) -> bool:
        """Whether any test through a third party was asked for."""
        return self.outbound is not None or self.notary is not None


@dataclass(frozen=True, slots=True)
class OutboundResult:
    """The checked server, asked as a notary for ``via``'s keys.

    Attributes:
        via: The server whose keys the checked server was asked to fetch.
        endpoint: The checked server's endpoint asked (``ip:port``), None when
            none could be (no endpoint passed its checks).
        ok: It returned ``via``'s keys, signed by ``via`` with the keys we
            fetched from ``via`` ourselves and countersigned by the checked server.
        error: Why not, in the peer's words where it gave any.
        elapsed_ms: How long the query took, None when it was not made.
        via_unavailable: We could not fetch ``via``'s keys ourselves: the test
            says nothing about the checked server.
    """

    via: str
    endpoint: str | None
    ok: bool
    error: str | None
    elapsed_ms: float | None
    via_unavailable: bool = False


@dataclass(frozen=True, slots=True)
class NotaryResult:
    """A key notary, asked for the checked server's keys.

    Attributes:
        notary: The notary's server name.
        ok: It returned the server's keys, signed by the server and by itself.
        keys_match: Those keys are the ones the server serves us (None when
            there was nothing to compare).
        error: Why not ``ok`` or not matching, in the peer's words where it gave any.
        notary_unavailable: The notary itself could not be used (unreachable,
            or its answer is not validly signed): a warning about the notary.
    """

    notary: str
    ok: bool
    keys_match: bool | None
    error: str | None
    notary_unavailable: bool = False


def third_party_problems(
    outbound: tuple[OutboundResult, ...] | None, notary: tuple[NotaryResult, ...] | None
) -> list[Problem]:
    """The problems the tests through third parties found (none when not asked)."""
    found: list[Problem] = []
    for tried in outbound or ():
        if tried.via_unavailable:
            found.append(problem("outbound-via-unavailable", tried.error or tried.via))
        elif not tried.ok and tried.endpoint is not None:
            message = f"{tried.endpoint} could not fetch the keys of {tried.via}: {tried.error}"
            found.append(problem("outbound-failed", message))
    for asked in notary or ():
        message = asked.error or asked.notary
        if asked.notary_unavailable:
            found.append(problem("notary-unavailable", message))
        elif not asked.ok:
            found.append(problem("notary-cannot-reach", message))
        elif asked.keys_match is False:
            found.append(problem("notary-keys-differ", message))
    return found
