"""The default IP blocklist: the ranges added for the SSRF hardening, and their twins."""

from __future__ import annotations

import pytest

from matrix_delegation._core.ipfilter import IpPolicy

POLICY = IpPolicy.default()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        # NAT64, well-known prefix: judged by the IPv4 address inside.
        ("64:ff9b::7f00:1", "64:ff9b::7f00:0/104 (127.0.0.0/8 in NAT64 form)"),
        ("64:ff9b::10.1.2.3", "64:ff9b::a00:0/104 (10.0.0.0/8 in NAT64 form)"),
        ("64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:0/112 (169.254.0.0/16 in NAT64 form)"),
        # Local-use NAT64 translates to private networks: all of it.
        ("64:ff9b:1::808:808", "64:ff9b:1::/48"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::/32"),  # Teredo
        ("240.0.0.1", "240.0.0.0/4"),
        ("255.255.255.255", "240.0.0.0/4"),
        ("0.0.0.1", "0.0.0.0/8"),
        ("0.255.0.1", "0.0.0.0/8"),
        ("::ffff:240.1.2.3", "::ffff:f000:0/100 (240.0.0.0/4 in IPv4-mapped form)"),
        # The narrowest range names an address: ::1 is loopback, not "0.0.0.0/8" compatible.
        ("::1", "::1/128"),
        ("::", "::/128"),
    ],
)
def test_blocked_with_the_range_named(address: str, reason: str) -> None:
    assert POLICY.refusal(address) == f"{address} is in the blocked range {reason}"


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8: a public address stays usable
        "64:ff9b::5db8:d822",
        "2001:4860:4860::8888",  # next to Teredo, not in it
        "2002:808:808::1",  # 6to4 of a public address
        "8.8.8.8",
        "1.0.0.1",
        "223.255.255.254",  # just below 224.0.0.0/4
    ],
)
def test_twin_public_addresses_pass(address: str) -> None:
    assert POLICY.blocked_by(address) is None
    assert POLICY.refusal(address) is None


def test_an_allowed_ipv4_range_is_allowed_in_its_nat64_form_too() -> None:
    policy = IpPolicy.default(["127.0.0.2/32"])
    assert policy.blocked_by("64:ff9b::7f00:2") is None
    assert policy.blocked_by("64:ff9b::7f00:1") is not None
