"""The exceptions that depend on nothing: the base class and the two ``ValueError`` kinds.

They live apart from :mod:`matrix_delegation._exceptions` (which re-exports them, and
holds the whole tree) because the name grammar in ``_core/names.py`` raises
:class:`InvalidServerName`, while :class:`~matrix_delegation.DiscoveryError` refers to
the model built on those names: one module for both would be an import circle.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["ConfigurationError", "DelegationError", "InvalidServerName"]


class DelegationError(Exception):
    """Base class of every error this package raises."""


class InvalidServerName(DelegationError, ValueError):
    """The text is not a server name by the grammar of the spec's appendix.

    Attributes:
        text: The rejected input, as given.
        reason: What is wrong with it, in one phrase.
    """

    code: ClassVar[str] = "invalid-server-name"

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"invalid server name {text!r}: {reason}")
        self.text = text
        self.reason = reason


class ConfigurationError(DelegationError, ValueError):
    """An option given to the resolver or the command line is malformed."""
