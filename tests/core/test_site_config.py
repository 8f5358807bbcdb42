"""Site configuration: every mistake named by file, domain and key; Synapse's semantics."""

from __future__ import annotations

import pytest

from matrix_delegation._core.site import render_domain
from matrix_delegation._core.site_config import SiteConfigError, site_from_config, site_from_synapse

GOOD = {
    "server_name": "example.test",
    "m_server": "matrix.example.test:443",
    "client": {
        "homeserver": "https://matrix.example.test",
        "identity_server": "https://id.example.test",
        "extra": {"im.vector.riot.jitsi": {"preferredDomain": "j.example.test"}, "io.x.flag": True},
    },
    "support": {
        "contacts": [{"role": "m.role.admin", "matrix_id": "@admin:example.test"}],
        "support_page": "https://example.test/help",
    },
    "max_age": 120,
}


def load(*domains: object, **top: object):
    return site_from_config({"domains": list(domains), **top}, "site.yaml")


def problems(*domains: object, **top: object) -> list[str]:
    with pytest.raises(SiteConfigError) as caught:
        load(*domains, **top)
    return caught.value.problems


def test_a_complete_domain_loads() -> None:
    site, warnings = load(GOOD)
    (domain,) = site.domains
    assert warnings == []
    assert domain.client == {
        "m.homeserver": {"base_url": "https://matrix.example.test"},
        "m.identity_server": {"base_url": "https://id.example.test"},
        "im.vector.riot.jitsi": {"preferredDomain": "j.example.test"},
        "io.x.flag": True,
    }
    assert render_domain(domain)["/.well-known/matrix/support"].body == (
        b'{"contacts":[{"matrix_id":"@admin:example.test","role":"m.role.admin"}],'
        b'"support_page":"https://example.test/help"}'
    )


def test_m_server_defaults_to_synapses_rule() -> None:
    site, _ = load({"server_name": "example.test"}, {"server_name": "other.test:8448"})
    assert [d.m_server for d in site.domains] == ["example.test:443", "other.test:8448"]
    site, _ = load({"server_name": "example.test", "m_server": False})
    assert site.domains[0].m_server is None


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        (
            {"server_name": "bad_name"},
            "site.yaml: domains[0].server_name: 'bad_name' is not a server name: '_'",
        ),
        ({}, "site.yaml: domains[0].server_name: is required"),
        (
            {**GOOD, "m_server": "https://matrix.example.test"},
            "m_server: 'https://matrix.example.test' is not a server name",
        ),
        ({**GOOD, "m_server": "matrix.example.test/fed"}, "without a path"),
        ({**GOOD, "m_server": "matrix.example.test:99999"}, "port 99999 is out of range"),
        ({**GOOD, "m_server": 443}, "m_server: must be a string"),
        (
            {**GOOD, "client": {"homeserver": "matrix.example.test"}},
            "did you mean 'https://matrix.example.test'",
        ),
        (
            {**GOOD, "client": {"homeserver": "http://matrix.example.test"}},
            "must be an absolute https URL",
        ),
        (
            {**GOOD, "client": {"homeserver": "https://m.example.test/?x=1"}},
            "may not have a query or fragment",
        ),
        ({**GOOD, "client": {}}, "client.homeserver: must be a URL string"),
        (
            {**GOOD, "client": {"homeserver": "https://m.example.test", "extra": {"jitsi": {}}}},
            "key 'jitsi' must be namespaced",
        ),
        (
            {
                **GOOD,
                "client": {"homeserver": "https://m.example.test", "extra": {"m.homeserver": {}}},
            },
            "use homeserver / identity_server",
        ),
        (
            {**GOOD, "client": {"homeserver": "https://m.example.test", "colour": "red"}},
            "client.colour: unknown key",
        ),
        ({**GOOD, "support": {}}, "needs contacts or support_page"),
        ({**GOOD, "support": {"contacts": []}}, "contacts: must be a non-empty list"),
        (
            {**GOOD, "support": {"contacts": [{"role": "m.role.admin"}]}},
            "needs matrix_id or email_address",
        ),
        (
            {**GOOD, "support": {"contacts": [{"role": "boss", "email_address": "a@b.test"}]}},
            "'boss' must be m.role.admin, m.role.security or namespaced",
        ),
        (
            {**GOOD, "support": {"contacts": [{"role": "m.role.admin", "matrix_id": "admin"}]}},
            "'admin' is not a user ID",
        ),
        (
            {**GOOD, "support": {"contacts": [{"role": "m.role.admin", "email_address": "nope"}]}},
            "'nope' is not an email address",
        ),
        ({**GOOD, "max_age": -1}, "max_age: -1 must be a whole number"),
        ({**GOOD, "max_age": "1h"}, "max_age: '1h' must be a whole number"),
        (
            {**GOOD, "tls": {"certificate": "a.pem"}},
            "tls: must be a mapping with exactly certificate and key",
        ),
        ({**GOOD, "colour": "red"}, "domain example.test.colour: unknown key"),
    ],
)
def test_each_mistake_is_named_precisely(domain: dict[str, object], expected: str) -> None:
    found = problems(domain)
    assert any(expected in problem for problem in found), found
    assert all(problem.startswith("site.yaml: ") for problem in found)


def test_every_problem_is_reported_at_once() -> None:
    found = problems({"server_name": "bad_name"}, {**GOOD, "max_age": -5, "m_server": "https://x"})
    assert len(found) == 3


def test_top_level_mistakes() -> None:
    assert any("domains: must be a non-empty list" in p for p in problems())
    assert any("top level.domain: unknown key" in p for p in problems(GOOD, domain=[]))
    assert any(
        "is configured twice" in p for p in problems(GOOD, {**GOOD, "server_name": "EXAMPLE.test"})
    )
    with pytest.raises(SiteConfigError, match="must be a mapping"):
        site_from_config(["example.test"], "site.yaml")


def test_likely_mistakes_load_with_a_warning() -> None:
    _, warnings = load({"server_name": "example.test", "m_server": "example.test:8448"})
    assert any("changes nothing" in w for w in warnings)
    _, warnings = load(
        {**GOOD, "allow_http": True, "client": {"homeserver": "http://m.example.test"}}
    )
    assert any("plain http" in w for w in warnings)


# --- Synapse's keys (docs/design.md §5.9) -------------------------------------------------


def synapse(**options: object):
    site, warnings = site_from_synapse(
        {"server_name": "example.test", **options}, "homeserver.yaml"
    )
    return site.domains[0], warnings


def test_synapse_serves_nothing_by_default() -> None:
    domain, _ = synapse()
    assert domain.m_server is None and domain.client is None and not domain.has_support


def test_synapse_server_file_uses_443_unless_the_name_has_a_port() -> None:
    assert synapse(serve_server_wellknown=True)[0].m_server == "example.test:443"
    options = {"server_name": "example.test:8448", "serve_server_wellknown": True}
    site, _ = site_from_synapse(options, "homeserver.yaml")
    assert site.domains[0].m_server == "example.test:8448"


def test_synapse_client_file_needs_public_baseurl_and_gets_a_slash() -> None:
    assert synapse(default_identity_server="https://id.test")[0].client is None
    domain, _ = synapse(
        public_baseurl="https://matrix.example.test",
        default_identity_server="https://id.test",
        extra_well_known_client_content={"org.x": 1, "m.tile_server": {"map_style_url": "u"}},
    )
    assert domain.client == {
        "m.homeserver": {"base_url": "https://matrix.example.test/"},
        "m.identity_server": {"base_url": "https://id.test"},
        "org.x": 1,
        "m.tile_server": {"map_style_url": "u"},
    }


@pytest.mark.parametrize("key", ["m.homeserver", "m.identity_server"])
def test_synapse_extra_content_may_not_override_reserved_keys(key: str) -> None:
    with pytest.raises(SiteConfigError, match=f"extra_well_known_client_content.{key}: may not"):
        synapse(public_baseurl="https://m.test", extra_well_known_client_content={key: {}})


def test_synapse_invalid_values() -> None:
    with pytest.raises(SiteConfigError, match="server_name: 'bad_name' is not a server name"):
        site_from_synapse({"server_name": "bad_name"}, "homeserver.yaml")
    with pytest.raises(SiteConfigError, match="public_baseurl: 'ftp://x' must be an absolute"):
        synapse(public_baseurl="ftp://x")
