"""Server names: the ``hostname[:port]`` grammar of the spec's appendix.

A server name is parsed once, at the edge, into a :class:`ServerName`; every
later step (the ``.well-known`` fetch, SRV names, SNI, the ``Host`` header)
reads its fields instead of re-splitting text.  Sources: docs/design.md §2 (the
grammar, its edge cases and Synapse's parser) and §6 (IDNA, trailing dots,
case).

The grammar (docs/design.md §2.1)::

    server_name = hostname [ ":" port ]
    hostname    = IPv4address / "[" IPv6address "]" / dns-name
    port        = 1*5DIGIT

This module is stricter than the bare ABNF where the ABNF is ambiguous or
admits names no resolver can use, and says why at each rule.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import idna

from .._base_errors import InvalidServerName

__all__ = [
    "KNOWN_SUPPORT_ROLES",
    "ServerName",
    "is_namespaced",
    "is_support_role",
    "is_user_id",
    "is_valid_server_name",
]

# dns-name = 1*255dns-char (docs/design.md §2.1).
_MAX_HOSTNAME = 255
# RFC 1035 §2.3.4: a label is at most 63 octets.
_MAX_LABEL = 63
# port = 1*5DIGIT; the range is our addition (docs/design.md §2.3 recommendation):
# Synapse lets 0 mean "no port" and chokes on > 65535 later.
_MAX_PORT_DIGITS = 5
_MAX_PORT = 65535

# dns-char = DIGIT / ALPHA / "-" / "." -- ASCII only, so no \w or str.isalnum.
_DNS_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
# IPv6char = DIGIT / %x41-46 / %x61-66 / ":" / "." (docs/design.md §2.1).
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")
# str.isdigit() would accept "٣" or "²"; the grammar's DIGIT is 0-9 only.
_ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)

# How much of an over-long label or port to quote back in a reason.
_QUOTE_LIMIT = 20


class _Rejected(Exception):
    """Internal: a helper found the text invalid; ``parse`` adds the text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ServerName:
    """A parsed, valid server name.

    Build one with :meth:`parse`; the constructor does not validate.

    Attributes:
        host: The hostname exactly as written, without the brackets of an
            IPv6 literal (``"Example.com"``, ``"1.2.3.4"``, ``"::1"``).
        port: The explicit port, or ``None`` when the name has none.
        ip: The address when ``host`` is an IP literal, else ``None``.
    """

    host: str
    port: int | None
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None

    @classmethod
    def parse(cls, text: str) -> ServerName:
        """Parse and validate a server name.

        Args:
            text: The server name, e.g. ``"matrix.org:8448"`` or ``"[::1]"``.

        Returns:
            The parsed server name; ``str()`` of it gives back an equivalent
            name.

        Raises:
            InvalidServerName: If ``text`` is not a server name; its
                ``reason`` says what is wrong in one phrase.
        """
        try:
            host, port_text, bracketed = _split(text)
            ip = _check_ipv6(host) if bracketed else _check_host(host)
            port = None if port_text is None else _check_port(port_text)
        except _Rejected as exc:
            raise InvalidServerName(text, exc.reason) from None
        return cls(host, port, ip)

    @property
    def is_ip_literal(self) -> bool:
        """Whether the host is an IPv4 or IPv6 literal (S2S steps 1 and 3.1)."""
        return self.ip is not None

    @property
    def hostname(self) -> str:
        """The host as written in a URL or ``Host`` header.

        IPv6 literals get their brackets back; case is kept, because the
        ``Host`` header must carry the server name as written (docs/design.md §6).
        """
        if isinstance(self.ip, ipaddress.IPv6Address):
            return f"[{self.host}]"
        return self.host

    @property
    def lookup_name(self) -> str:
        """The host for DNS, SNI and cache keys: lower-case, no brackets.

        DNS and certificate names compare case-insensitively (docs/design.md §6),
        so one spelling is used for all of them; an IPv6 literal is given in
        its compressed form so that ``[::1]`` and ``[0::1]`` share a key.
        """
        if self.ip is not None:
            return str(self.ip)
        # The same string object when nothing changes: it becomes a key in
        # several caches, and one shared copy costs less per cached name.
        return self.host if self.host.islower() else self.host.lower()

    def __str__(self) -> str:
        """The server name as written: ``hostname[:port]``."""
        if self.port is None:
            return self.hostname
        return f"{self.hostname}:{self.port}"


def is_valid_server_name(text: str) -> bool:
    """Tell whether ``text`` is a valid server name.

    Args:
        text: The candidate server name.

    Returns:
        ``True`` if :meth:`ServerName.parse` accepts it.
    """
    try:
        ServerName.parse(text)
    except InvalidServerName:
        return False
    return True


def _split(text: str) -> tuple[str, str | None, bool]:
    """Split into (host, port text or None, whether the host was bracketed)."""
    if text.startswith("["):
        close = text.find("]")
        if close == -1:
            raise _Rejected("'[' without a matching ']'")
        host, rest = text[1:close], text[close + 1 :]
        if not rest:
            return host, None, True
        if rest.startswith(":"):
            return host, rest[1:], True
        raise _Rejected(f"unexpected {_quote(rest)} after ']'; only ':port' may follow")
    # Synapse splits on the last ':', which silently turns "1234:5678:80" into
    # host "1234:5678"; a second colon can only mean an unbracketed IPv6.
    if text.count(":") > 1:
        raise _Rejected("an IPv6 address must be in square brackets")
    host, colon, port = text.partition(":")
    return host, (port if colon else None), False


def _check_port(text: str) -> int:
    """Validate ``port = 1*5DIGIT`` and the range 1-65535."""
    if not text:
        raise _Rejected("empty port after ':'")
    # Synapse uses int(), which also takes "+80", " 80" and "8_0"; we do not.
    if not _ASCII_DIGITS.fullmatch(text):
        raise _Rejected(f"port {_quote(text)} is not a number")
    # Strip zeros before int(): Python refuses to convert very long digit strings.
    significant = text.lstrip("0") or "0"
    if len(significant) > _MAX_PORT_DIGITS or not 1 <= int(significant) <= _MAX_PORT:
        raise _Rejected(f"port {_shorten(significant)} is out of range (1-{_MAX_PORT})")
    if len(text) > _MAX_PORT_DIGITS:
        raise _Rejected(f"port {_quote(text)} has more than {_MAX_PORT_DIGITS} digits")
    return int(significant)


def _check_ipv6(host: str) -> ipaddress.IPv6Address:
    """Validate the inside of ``[...]``."""
    if not host:
        raise _Rejected("empty IPv6 address in '[]'")
    # ipaddress accepts "fe80::1%eth0", but a zone only means something on
    # one machine, and '%' is not an IPv6char.
    if "%" in host:
        raise _Rejected("an IPv6 zone id ('%...') is not allowed in a server name")
    for char in host:
        if char not in _IPV6_CHARS:
            raise _Rejected(f"{char!r} is not allowed in an IPv6 address")
    try:
        return ipaddress.IPv6Address(host)
    except ValueError:
        pass
    if ":" not in host:
        raise _Rejected(
            f"{_quote(host)} is not a valid IPv6 address;"
            " IPv4 addresses are written without brackets"
        )
    raise _Rejected(f"{_quote(host)} is not a valid IPv6 address")


def _check_host(host: str) -> ipaddress.IPv4Address | None:
    """Validate an unbracketed hostname; return its address if it is IPv4."""
    if not host:
        raise _Rejected("empty hostname")
    # docs/design.md §6: the grammar is ASCII-only and Synapse does no IDNA, so an
    # IDN must be written as its A-label; we say which one that is.
    if not host.isascii():
        raise _Rejected(_non_ascii_reason(host))
    _check_dns_chars(host)
    labels = host.split(".")
    _check_labels(host, labels)
    if not _ASCII_DIGITS.fullmatch(labels[-1]):
        return None
    # All-numeric top-level label: RFC 3696 §2 rules it out for DNS names, so
    # the only reading left is IPv4.  Rejecting near-misses also keeps them from
    # inet_aton(), which reads "1.2.3" or "01.2.3.4" (octal) as other addresses.
    if all(_ASCII_DIGITS.fullmatch(label) for label in labels):
        try:
            return ipaddress.IPv4Address(host)
        except ValueError:
            raise _Rejected(
                f"{_quote(host)} is not a valid IPv4 address"
                " (four decimal numbers 0-255, without leading zeros)"
            ) from None
    raise _Rejected(f"the top-level label {labels[-1]!r} is all-numeric (RFC 3696 §2)")


def _check_dns_chars(host: str) -> None:
    """Reject the first character that is not a dns-char, showing it with repr."""
    for char in host:
        if char in _DNS_CHARS:
            continue
        if char == "]":
            raise _Rejected("']' without a matching '['")
        if char == "[":
            raise _Rejected("'[' may only open the server name, around an IPv6 address")
        raise _Rejected(f"{char!r} is not allowed in a hostname")


def _check_labels(host: str, labels: list[str]) -> None:
    """Apply the RFC 1123 §2.1 label rules that the bare ABNF leaves out."""
    # docs/design.md §6: "example.com." matches the ABNF, but Synapse rejects it and
    # a second spelling of the same host would split identities and caches.
    if len(labels) > 1 and labels[-1] == "" and all(labels[:-1]):
        raise _Rejected("a trailing dot is not allowed")
    for label in labels:
        if not label:
            raise _Rejected("empty label (a leading '.' or '..')")
        if len(label) > _MAX_LABEL:
            raise _Rejected(f"label {_quote(label)} is longer than {_MAX_LABEL} characters")
        if label.startswith("-"):
            raise _Rejected(f"label {_quote(label)} starts with '-'")
        if label.endswith("-"):
            raise _Rejected(f"label {_quote(label)} ends with '-'")
    # The spec only *recommends* 230 characters for the whole server name
    # (docs/design.md §2.2), so only the grammar's hard limit is enforced here.
    if len(host) > _MAX_HOSTNAME:
        raise _Rejected(
            f"hostname is {len(host)} characters long; at most {_MAX_HOSTNAME} are allowed"
        )


def _non_ascii_reason(host: str) -> str:
    """Explain a non-ASCII hostname, suggesting its A-label when it has one."""
    try:
        a_label = idna.encode(host, uts46=True).decode("ascii")
    except UnicodeError as exc:  # idna.IDNAError is a UnicodeError
        return f"non-ASCII hostname, which cannot be converted to an A-label (IDNA): {exc}"
    try:
        _check_host(a_label)
    except _Rejected as exc:
        return (
            f"non-ASCII hostname; its A-label (IDNA) form {_quote(a_label)}"
            f" is not valid either: {exc.reason}"
        )
    return f"non-ASCII hostname; its A-label (IDNA) form is {a_label!r}"


def _shorten(text: str) -> str:
    """Cut ``text`` to a readable length for an error reason."""
    if len(text) <= _QUOTE_LIMIT:
        return text
    return text[:_QUOTE_LIMIT] + "…"


def _quote(text: str) -> str:
    """``repr`` of :func:`_shorten`, so hidden characters stay visible."""
    return repr(_shorten(text))


#: Java package naming (C-S "Well-known URIs"): dotted segments, e.g. im.vector.riot.jitsi.
_NAMESPACED = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+\Z")
#: The support roles the spec defines; others must be namespaced (C-S "support").
KNOWN_SUPPORT_ROLES = frozenset({"m.role.admin", "m.role.security"})


def is_namespaced(key: object) -> bool:
    """Whether a key follows Java package naming (``org.example.key``)."""
    return isinstance(key, str) and bool(_NAMESPACED.match(key))


def is_support_role(role: object) -> bool:
    """A known support role, or a namespaced one outside the spec's ``m.`` namespace."""
    if not isinstance(role, str):
        return False
    return role in KNOWN_SUPPORT_ROLES or (not role.startswith("m.") and is_namespaced(role))


def is_user_id(value: object) -> bool:
    """Whether ``value`` looks like a Matrix user ID: ``@localpart:server_name``."""
    if not isinstance(value, str) or not value.startswith("@") or ":" not in value:
        return False
    localpart, _, server = value[1:].partition(":")
    return bool(localpart) and is_valid_server_name(server)
