"""Property tests of ServerName.parse: valid names round-trip, garbage is rejected cleanly."""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from matrix_delegation._core.names import ServerName
from matrix_delegation._exceptions import InvalidServerName

IP = ipaddress.IPv4Address | ipaddress.IPv6Address

DNS_ALPHABET = frozenset(string.ascii_letters + string.digits + "-.")

# RFC 1123 §2.1 label: letters, digits and '-', 1-63 long, no '-' at either end.
labels = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", fullmatch=True)
# RFC 3696 §2: the top-level label is never all-numeric.
top_labels = labels.filter(lambda label: not label.isdigit())
dns_names = st.builds(
    lambda head, top: ".".join([*head, top]),
    st.lists(labels, max_size=4),
    top_labels,
).filter(lambda host: len(host) <= 255)

ipv4s = st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1))
ipv6s = st.builds(ipaddress.IPv6Address, st.integers(0, 2**128 - 1))
# The same address may be written compressed, exploded or in upper case.
SPELLINGS: list[Callable[[ipaddress.IPv6Address], str]] = [
    str,
    lambda a: a.exploded,
    lambda a: str(a).upper(),
    lambda a: a.exploded.upper(),
]
ipv6_spellings = st.sampled_from(SPELLINGS)
ports = st.none() | st.integers(1, 65535)


@st.composite
def hosts(draw: st.DrawFn) -> tuple[str, str, IP | None]:
    """Draw (hostname as in the server name, expected host, expected ip)."""
    kind = draw(st.sampled_from(["dns", "ipv4", "ipv6"]))
    if kind == "dns":
        name = draw(dns_names)
        return name, name, None
    if kind == "ipv4":
        v4 = draw(ipv4s)
        return str(v4), str(v4), v4
    v6 = draw(ipv6s)
    text = draw(ipv6_spellings)(v6)
    return f"[{text}]", text, v6


def with_port(hostname: str, port: int | None) -> str:
    return hostname if port is None else f"{hostname}:{port}"


@settings(deadline=None)
@given(hosts(), ports)
def test_valid_names_parse_and_round_trip(
    host: tuple[str, str, IP | None], port: int | None
) -> None:
    hostname, expected_host, expected_ip = host
    text = with_port(hostname, port)
    name = ServerName.parse(text)
    assert name == ServerName(expected_host, port, expected_ip)
    assert str(name) == text
    assert ServerName.parse(str(name)) == name
    assert name.hostname == hostname
    assert name.is_ip_literal is (expected_ip is not None)
    assert name.lookup_name == (str(expected_ip) if expected_ip else expected_host.lower())


# ':' is left out: it is the port separator, so "a.b1" + ':' can give "a.b:1".
foreign_chars = st.characters(exclude_categories=()).filter(
    lambda c: c not in DNS_ALPHABET and c != ":"
)


@settings(deadline=None)
@given(dns_names, foreign_chars, st.data(), ports)
def test_a_foreign_character_makes_a_dns_name_invalid(
    host: str, char: str, data: st.DataObject, port: int | None
) -> None:
    at = data.draw(st.integers(0, len(host)), label="position")
    text = with_port(host[:at] + char + host[at:], port)
    try:
        ServerName.parse(text)
    except InvalidServerName as exc:
        assert exc.text == text
        assert exc.reason
    else:
        raise AssertionError(f"{text!r} was accepted")


def parses_or_rejects(text: str) -> None:
    try:
        name = ServerName.parse(text)
    except InvalidServerName as exc:
        assert exc.text == text
        return
    assert ServerName.parse(str(name)) == name


@settings(deadline=None)
@given(st.text())
def test_arbitrary_text_parses_or_raises_invalid_server_name(text: str) -> None:
    parses_or_rejects(text)


# Arbitrary text rarely gets past the first check; this alphabet reaches the
# bracket, port, IPv4, IPv6 and IDNA branches.
NEAR_MISS_ALPHABET = "[]:.%-_ 0123456789abcdefABCDEFxX\nü"


@settings(deadline=None)
@given(st.text(alphabet=NEAR_MISS_ALPHABET, max_size=48))
def test_near_miss_text_parses_or_raises_invalid_server_name(text: str) -> None:
    parses_or_rejects(text)
