"""``--connect-to`` overrides, as in curl: connect elsewhere, keep names as they are.

``HOST1:PORT1:HOST2:PORT2`` sends connections meant for ``HOST1:PORT1`` to
``HOST2:PORT2``; the ``Host`` header, SNI and certificate check still use
``HOST1``. An empty ``HOST1`` or ``PORT1`` matches any host or port; an empty
``HOST2`` or ``PORT2`` keeps the original one. IPv6 addresses go in brackets.
This lets an admin test a deployment before DNS points at it, and lets tests
run on unprivileged ports through the very code path production uses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from .._exceptions import ConfigurationError

__all__ = ["ConnectTo", "apply_connect_to"]


@dataclass(frozen=True, slots=True)
class ConnectTo:
    """One override; a None field matches anything (from) or keeps the value (to)."""

    host: str | None
    port: int | None
    to_host: str | None
    to_port: int | None

    @classmethod
    def parse(cls, text: str) -> ConnectTo:
        """Parse ``HOST1:PORT1:HOST2:PORT2`` or raise ConfigurationError."""
        fields = _split_fields(text)
        if len(fields) != 4:
            raise ConfigurationError(
                f"invalid --connect-to {text!r}: expected HOST1:PORT1:HOST2:PORT2"
            )
        host, port, to_host, to_port = fields
        return cls(
            _host_field(text, host),
            _port_field(text, port),
            _host_field(text, to_host),
            _port_field(text, to_port),
        )

    def matches(self, host: str, port: int) -> bool:
        """Whether a connection to ``host:port`` is redirected by this rule."""
        return (self.host is None or self.host == host.lower()) and (
            self.port is None or self.port == port
        )

    def __str__(self) -> str:
        def show(host: str | None) -> str:
            return f"[{host}]" if host and ":" in host else host or ""

        return ":".join(
            (show(self.host), str(self.port or ""), show(self.to_host), str(self.to_port or ""))
        )


def apply_connect_to(
    rules: Iterable[ConnectTo], host: str, port: int
) -> tuple[str, int, ConnectTo | None]:
    """Where to really connect for ``host:port``: the first matching rule wins."""
    for rule in rules:
        if rule.matches(host, port):
            return rule.to_host or host, rule.to_port or port, rule
    return host, port, None


def _split_fields(text: str) -> list[str]:
    """Split on ':' outside square brackets."""
    fields: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == ":" and depth == 0:
            fields.append("".join(current))
            current = []
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        current.append(char)
    fields.append("".join(current))
    return fields


def _host_field(text: str, value: str) -> str | None:
    if not value:
        return None
    if value.startswith("[") and value.endswith("]"):
        try:
            return str(ipaddress.IPv6Address(value[1:-1]))
        except ValueError:
            raise ConfigurationError(
                f"invalid --connect-to {text!r}: {value!r} is not an IPv6 address"
            ) from None
    if any(char.isspace() or char in "[]/" for char in value):
        raise ConfigurationError(f"invalid --connect-to {text!r}: bad host {value!r}")
    return value.lower()


def _port_field(text: str, value: str) -> int | None:
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ConfigurationError(
            f"invalid --connect-to {text!r}: port {value!r} is not a number from 1 to 65535"
        )
    return int(value)
