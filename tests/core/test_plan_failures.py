"""What discovery does when DNS fails, targets are missing, or addresses are blocked."""

from __future__ import annotations

from helpers.scripted import LOOPBACK_OK, World, addrs, delegates, run_scripted, srv
from matrix_delegation._core.ipfilter import IpPolicy
from matrix_delegation._core.model import Endpoint, LookupSrv, Route
from matrix_delegation._core.plan import Policy

FED = "_matrix-fed._tcp.example.org"
LEGACY = "_matrix._tcp.example.org"
DEFAULT = Policy(IpPolicy.default())


def test_servfail_on_srv_is_an_error_not_no_record() -> None:
    world = World(srv={FED: srv(FED, error="SERVFAIL from 127.0.0.1:53")})
    resolution, asked = run_scripted("example.org", world)
    assert resolution.error is not None and resolution.error.code == "dns-error"
    assert "SERVFAIL" in resolution.error.message
    assert LookupSrv(LEGACY) not in asked, "a broken DNS server must not mean 'no record'"
    assert resolution.endpoints == ()
    assert resolution.route is None
    assert (resolution.host_header, resolution.tls_server_name) == ("example.org", "example.org")


def test_stale_srv_answer_is_used_with_a_warning() -> None:
    world = World(
        srv={FED: srv(FED, "0 0 8448 fed.example.org", error="SERVFAIL", stale=True)},
        addresses={"fed.example.org": addrs("fed.example.org", "127.0.0.9")},
    )
    resolution, _ = run_scripted("example.org", world)
    assert resolution.ok and resolution.route is Route.SRV
    assert any(e.level == "warning" and "expired" in e.rule for e in resolution.trace)


def test_sole_root_target_means_service_unavailable_without_fallback() -> None:
    world = World(
        srv={FED: srv(FED, "0 0 0 .")},
        addresses={"example.org": addrs("example.org", "127.0.0.2")},
    )
    resolution, asked = run_scripted("example.org", world)
    assert resolution.error is not None and resolution.error.code == "service-unavailable"
    assert resolution.route is Route.SRV
    assert LookupSrv(LEGACY) not in asked


def test_root_target_among_others_is_ignored() -> None:
    world = World(
        srv={FED: srv(FED, "0 0 0 .", "1 0 8448 fed.example.org")},
        addresses={"fed.example.org": addrs("fed.example.org", "127.0.0.2")},
    )
    resolution, _ = run_scripted("example.org", world)
    assert resolution.endpoints == (Endpoint("fed.example.org", "127.0.0.2", 8448),)


def test_no_address_anywhere() -> None:
    resolution, _ = run_scripted("example.org", World())
    assert resolution.error is not None and resolution.error.code == "no-address"
    assert resolution.route is Route.DEFAULT_PORT
    assert resolution.trace[-1].level == "error"


def test_address_lookup_failure_is_a_dns_error() -> None:
    world = World(addresses={"example.org": addrs("example.org", error="A example.org: timed out")})
    resolution, _ = run_scripted("example.org", world)
    assert resolution.error is not None and resolution.error.code == "dns-error"


def test_one_family_failing_still_gives_the_other_with_a_warning() -> None:
    world = World(
        addresses={"example.org": addrs("example.org", "127.0.0.3", error="AAAA: SERVFAIL")}
    )
    resolution, _ = run_scripted("example.org", world)
    assert [e.ip for e in resolution.endpoints] == ["127.0.0.3"]
    assert resolution.trace[-1].level == "warning"


def test_a_blocked_address_disqualifies_the_whole_name() -> None:
    """DNS-rebinding safety: one private address means none of them is used."""
    world = World(addresses={"example.org": addrs("example.org", "8.8.8.8", "10.1.2.3")})
    resolution, _ = run_scripted("example.org", world, policy=DEFAULT)
    assert resolution.error is not None and resolution.error.code == "blocked-address"
    rule = resolution.trace[-1].rule
    assert "10.1.2.3" in rule and "10.0.0.0/8" in rule


def test_public_addresses_pass_the_default_policy() -> None:
    """The negative twin of the blocked test: same world, public addresses only."""
    world = World(addresses={"example.org": addrs("example.org", "8.8.8.8", "2606:4700::1")})
    resolution, _ = run_scripted("example.org", world, policy=DEFAULT)
    assert resolution.ok and len(resolution.endpoints) == 2


def test_blocked_ip_literal() -> None:
    for name in ("127.0.0.1", "[::1]:8448", "[::ffff:10.0.0.1]"):
        resolution, _ = run_scripted(name, World(), policy=DEFAULT)
        assert resolution.error is not None and resolution.error.code == "blocked-address"


def test_allowlist_lets_a_range_through() -> None:
    resolution, _ = run_scripted("127.0.0.1", World(), policy=LOOPBACK_OK)
    assert resolution.ok


def test_blocked_srv_target_falls_to_the_next_target() -> None:
    world = World(
        srv={FED: srv(FED, "0 0 8448 inside.example.org", "5 0 8448 outside.example.org")},
        addresses={
            "inside.example.org": addrs("inside.example.org", "192.168.1.1"),
            "outside.example.org": addrs("outside.example.org", "8.8.4.4"),
        },
    )
    resolution, _ = run_scripted("example.org", world, policy=DEFAULT)
    assert [e.target for e in resolution.endpoints] == ["outside.example.org"]
    assert any(e.level == "error" and "192.168.1.1" in e.rule for e in resolution.trace)


def test_srv_target_alias_is_followed_and_reported() -> None:
    world = World(
        srv={FED: srv(FED, "0 0 8448 alias.example.org")},
        addresses={
            "alias.example.org": addrs(
                "alias.example.org", "127.0.0.4", aliases=("alias.example.org",)
            )
        },
    )
    resolution, _ = run_scripted("example.org", world)
    assert resolution.ok
    assert any(e.level == "warning" and "CNAME" in e.rule for e in resolution.trace)


def test_cname_on_the_server_name_itself_is_fine() -> None:
    world = World(
        addresses={"example.org": addrs("example.org", "127.0.0.4", aliases=("example.org",))}
    )
    resolution, _ = run_scripted("example.org", world)
    assert not any(e.level == "warning" for e in resolution.trace)


def test_connect_to_keeps_host_and_sni() -> None:
    world = World(
        well_known={"example.org": delegates("example.org", "m.example.org:8448")},
        addresses={"staging.example.org": addrs("staging.example.org", "127.0.0.5")},
    )
    resolution, _ = run_scripted(
        "example.org", world, connect_to=("m.example.org:8448:staging.example.org:9448",)
    )
    assert resolution.endpoints == (Endpoint("m.example.org", "127.0.0.5", 9448),)
    assert resolution.host_header == "m.example.org:8448"
    assert resolution.tls_server_name == "m.example.org"
    assert any("--connect-to" in e.rule for e in resolution.trace)


def test_connect_to_an_ip_skips_dns_but_not_the_blocklist() -> None:
    resolution, asked = run_scripted(
        "example.org:8448", World(), policy=DEFAULT, connect_to=("::127.0.0.1:",)
    )
    assert asked == []
    assert resolution.error is not None and resolution.error.code == "blocked-address"


def test_a_thousand_srv_records_are_cut_to_32_targets() -> None:
    records = [f"{i % 3} 1 8448 t{i}.example.org" for i in range(1000)]
    world = World(srv={FED: srv(FED, *records)})
    for index in range(1000):
        world.addresses[f"t{index}.example.org"] = addrs(f"t{index}.example.org", "127.0.0.8")
    resolution, asked = run_scripted("example.org", world)
    assert len(resolution.endpoints) == 32
    assert all(int(e.target[1:].split(".")[0]) % 3 == 0 for e in resolution.endpoints)  # priority 0
    (lookup,) = [s for s in asked if hasattr(s, "hosts")]
    assert len(lookup.hosts) == 32
    assert any("only the first 32 of 1000" in e.rule for e in resolution.trace)
