"""Table-driven tests of ServerName.parse (docs/design.md §2.3, §2.4 and §6)."""

from __future__ import annotations

import ipaddress

import pytest

from matrix_delegation._core.names import ServerName, is_valid_server_name
from matrix_delegation._exceptions import InvalidServerName

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address

# (text, host, port, ip): what parse() must return.
VALID: list[tuple[str, str, int | None, V4 | V6 | None]] = [
    # The spec's own examples (docs/design.md §2.2).
    ("matrix.org", "matrix.org", None, None),
    ("matrix.org:8888", "matrix.org", 8888, None),
    ("1.2.3.4", "1.2.3.4", None, V4("1.2.3.4")),
    ("1.2.3.4:1234", "1.2.3.4", 1234, V4("1.2.3.4")),
    ("[1234:5678::abcd]", "1234:5678::abcd", None, V6("1234:5678::abcd")),
    ("[1234:5678::abcd]:5678", "1234:5678::abcd", 5678, V6("1234:5678::abcd")),
    # Synapse's parse table (docs/design.md §2.4), minus the two empty hosts.
    ("localhost", "localhost", None, None),
    ("my-example.com:1234", "my-example.com", 1234, None),
    ("[0abc:1def::1234]", "0abc:1def::1234", None, V6("abc:1def::1234")),
    ("1.2.3.4:1", "1.2.3.4", 1, V4("1.2.3.4")),
    ("[0abc:1def::1234]:8080", "0abc:1def::1234", 8080, V6("abc:1def::1234")),
    # Case is part of the identity and is kept (docs/design.md §6).
    ("Example.COM", "Example.COM", None, None),
    ("[::ABCD]:443", "::ABCD", 443, V6("::abcd")),
    # Boundaries.
    ("a", "a", None, None),
    ("x:1", "x", 1, None),
    ("x:65535", "x", 65535, None),
    ("x:08448", "x", 8448, None),  # 1*5DIGIT allows a leading zero
    ("0.0.0.0", "0.0.0.0", None, V4("0.0.0.0")),
    ("255.255.255.255:8448", "255.255.255.255", 8448, V4("255.255.255.255")),
    ("[::]", "::", None, V6("::")),
    ("[::ffff:1.2.3.4]", "::ffff:1.2.3.4", None, V6("::ffff:1.2.3.4")),
    ("1.2.3.a", "1.2.3.a", None, None),
    ("123.example", "123.example", None, None),
    ("xn--bcher-kva.com", "xn--bcher-kva.com", None, None),
    ("a-b--c.d", "a-b--c.d", None, None),
    ("a" * 63 + ".com", "a" * 63 + ".com", None, None),
    # Over the spec's *recommended* 230 characters, under the hard 255.
    (
        ".".join(["a" * 63] * 3 + ["b" * 63]),
        ".".join(["a" * 63] * 3 + ["b" * 63]),
        None,
        None,
    ),
]

# (text, phrase the reason must contain).
INVALID: list[tuple[str, str]] = [
    # Synapse's reject list (docs/design.md §2.4).
    ("", "empty hostname"),
    ("localhost:http", "port 'http' is not a number"),
    ("1234]", "']' without a matching '['"),
    ("[1234", "'[' without a matching ']'"),
    ("[1.2.3.4]", "'1.2.3.4' is not a valid IPv6 address"),
    ("underscore_.com", "'_' is not allowed in a hostname"),
    ("percent%65.com", "'%' is not allowed in a hostname"),
    ("newline.com\n", "'\\n' is not allowed in a hostname"),
    (".empty-label.com", "empty label"),
    ("1234:5678:80", "an IPv6 address must be in square brackets"),
    (":80", "empty hostname"),
    # Further edge cases (docs/design.md §2.3).
    ("999.1.1.1", "'999.1.1.1' is not a valid IPv4 address"),
    ("1.2.3", "'1.2.3' is not a valid IPv4 address"),
    ("01.2.3.4", "'01.2.3.4' is not a valid IPv4 address"),
    ("1.2.3.4.5", "'1.2.3.4.5' is not a valid IPv4 address"),
    ("1234", "'1234' is not a valid IPv4 address"),
    ("example.123", "top-level label '123' is all-numeric"),
    ("example.com.", "a trailing dot is not allowed"),
    ("a..b", "empty label"),
    (".", "empty label"),
    ("a..", "empty label"),
    ("x:0", "port 0 is out of range (1-65535)"),
    ("x:99999", "port 99999 is out of range (1-65535)"),
    ("x:65536", "port 65536 is out of range (1-65535)"),
    ("x:123456", "port 123456 is out of range (1-65535)"),
    ("x:000080", "port '000080' has more than 5 digits"),
    ("x:" + "9" * 5000, "is out of range (1-65535)"),
    ("x:", "empty port after ':'"),
    ("[::1]:", "empty port after ':'"),
    ("x:+80", "port '+80' is not a number"),
    ("x: 80", "port ' 80' is not a number"),
    ("x:80 ", "port '80 ' is not a number"),
    ("x:-1", "port '-1' is not a number"),
    ("x:\u0663", "is not a number"),  # ARABIC-INDIC DIGIT THREE is not DIGIT
    ("::1", "an IPv6 address must be in square brackets"),
    ("[]", "empty IPv6 address"),
    ("[]:80", "empty IPv6 address"),
    ("[fe80::1%eth0]", "zone id"),
    ("[::1]x", "only ':port' may follow"),
    ("[::1]]", "only ':port' may follow"),
    ("[::1]:80x", "port '80x' is not a number"),
    ("[::g]", "'g' is not allowed in an IPv6 address"),
    ("[ ::1]", "' ' is not allowed in an IPv6 address"),
    ("[1:2:3:4:5:6:7:8:9]", "is not a valid IPv6 address"),
    ("[[::1]", "'[' is not allowed in an IPv6 address"),
    ("[[::1]]", "only ':port' may follow"),
    ("a[b", "'[' may only open the server name"),
    ("a" * 64 + ".com", "is longer than 63 characters"),
    ("-a.com", "label '-a' starts with '-'"),
    ("a-.com", "label 'a-' ends with '-'"),
    ("a.-", "starts with '-'"),
    (".".join(["a" * 63] * 4 + ["b"]), "257 characters long; at most 255"),
    (" example.com", "' ' is not allowed in a hostname"),
    ("exa mple.com", "' ' is not allowed in a hostname"),
    ("example.com\t", "'\\t' is not allowed in a hostname"),
    ("exam\x00ple.com", "'\\x00' is not allowed in a hostname"),
    ("example.com/", "'/' is not allowed in a hostname"),
    ("user@example.com", "'@' is not allowed in a hostname"),
    # Non-ASCII: suggest the A-label (docs/design.md §6).
    ("bücher.com", "its A-label (IDNA) form is 'xn--bcher-kva.com'"),
    ("Bücher.com:8448", "its A-label (IDNA) form is 'xn--bcher-kva.com'"),
    ("târget.com", "'xn--trget-3qa.com'"),
    ("bücher_x.com", "cannot be converted to an A-label"),
    ("\ud800.com", "cannot be converted to an A-label"),
    ("bücher.com.", "is not valid either: a trailing dot is not allowed"),
]


@pytest.mark.parametrize(("text", "host", "port", "ip"), VALID)
def test_parse_valid(text: str, host: str, port: int | None, ip: V4 | V6 | None) -> None:
    assert ServerName.parse(text) == ServerName(host, port, ip)
    assert is_valid_server_name(text)


@pytest.mark.parametrize(("text", "phrase"), INVALID)
def test_parse_invalid(text: str, phrase: str) -> None:
    with pytest.raises(InvalidServerName) as info:
        ServerName.parse(text)
    assert phrase in info.value.reason
    assert info.value.text == text
    assert not is_valid_server_name(text)


def test_invalid_server_name_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="invalid server name 'a_b': '_' is not allowed"):
        ServerName.parse("a_b")


@pytest.mark.parametrize(("text", "_host", "_port", "_ip"), VALID)
def test_round_trip(text: str, _host: str, _port: int | None, _ip: V4 | V6 | None) -> None:
    name = ServerName.parse(text)
    assert ServerName.parse(str(name)) == name


@pytest.mark.parametrize(
    ("text", "as_written"),
    [
        ("Example.COM:8448", "Example.COM:8448"),
        ("[0ABC::1]:80", "[0ABC::1]:80"),
        ("1.2.3.4", "1.2.3.4"),
        ("x:08448", "x:8448"),  # the one normalisation: the port is an int
    ],
)
def test_str(text: str, as_written: str) -> None:
    assert str(ServerName.parse(text)) == as_written


@pytest.mark.parametrize(
    ("text", "hostname", "lookup_name", "is_ip"),
    [
        ("Example.COM:8448", "Example.COM", "example.com", False),
        ("matrix.org", "matrix.org", "matrix.org", False),
        ("1.2.3.4:80", "1.2.3.4", "1.2.3.4", True),
        ("[::1]", "[::1]", "::1", True),
        ("[0ABC:0:0::1]:8448", "[0ABC:0:0::1]", "abc::1", True),
        ("[2001:DB8:0:0:0:0:0:1]", "[2001:DB8:0:0:0:0:0:1]", "2001:db8::1", True),
    ],
)
def test_hostname_and_lookup_name(text: str, hostname: str, lookup_name: str, is_ip: bool) -> None:
    name = ServerName.parse(text)
    assert name.hostname == hostname
    assert name.lookup_name == lookup_name
    assert name.is_ip_literal is is_ip


def test_case_matters_for_identity() -> None:
    # docs/design.md §2.2: @user:matrix.org and @user:MATRIX.ORG are different users.
    lower, upper = ServerName.parse("matrix.org"), ServerName.parse("MATRIX.ORG")
    assert lower != upper
    assert lower.lookup_name == upper.lookup_name


def test_long_label_is_quoted_short() -> None:
    with pytest.raises(InvalidServerName) as info:
        ServerName.parse("x" * 100 + ".com")
    assert info.value.reason == f"label '{'x' * 20}…' is longer than 63 characters"
