"""The generators' text, without running any program: structure and escaping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from matrix_delegation._cli import main
from matrix_delegation._core.site import Domain, Site, render_site
from matrix_delegation._exceptions import ConfigurationError
from matrix_delegation.generate import caddy, format_for_stdout, generate, haproxy, nginx
from matrix_delegation.generate._common import entries
from matrix_delegation.generate.apache import asis_file

SERVER = "/.well-known/matrix/server"


def _one(site: Site, target: str, **options: Any) -> str:
    (text,) = generate(site, target, **options).files.values()
    return text


# -- nginx ----------------------------------------------------------------------------------


def test_nginx_has_a_server_block_per_domain_with_exact_locations(site: Site) -> None:
    text = _one(site, "nginx")
    assert "server_name example.com;" in text
    assert "server_name other.example.org;" in text
    assert text.count("location = /.well-known/matrix/server {") == 2
    assert 'return 404 \'{"errcode":"M_NOT_FOUND"' in text
    assert "add_header ETag '\"" in text and "' always;" in text
    assert "listen 443 ssl;" in text


def test_nginx_listen_replaces_the_tls_lines(site: Site) -> None:
    text = _one(site, "nginx", listen="127.0.0.9:8080")
    assert "listen 127.0.0.9:8080;" in text
    assert "    ssl_certificate" not in text


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        ("plain", "'plain'"),
        ("it's", "'it\\'s'"),
        ('a\\"b', "'a\\\\\"b'"),
        ("$HOME", "'${matrix_delegation_dollar}HOME'"),
        ("{};#", "'{};#'"),
        ("é 日本", "'é 日本'"),
    ],
)
def test_nginx_quote(raw: str, quoted: str) -> None:
    assert nginx.quote(raw) == quoted


def test_nginx_defines_the_dollar_variable_only_when_used() -> None:
    plain = Site((Domain("example.com", "m.example.com:443"),))
    assert "geo $matrix_delegation_dollar" not in _one(plain, "nginx")
    dollar = Site(
        (Domain("example.com", "m.example.com:443", {"m.homeserver": {"base_url": "$"}}),)
    )
    assert 'geo $matrix_delegation_dollar {\n    default "$";\n}' in _one(dollar, "nginx")


def test_nginx_proxy_mode_forwards_the_prefix_with_host(site: Site) -> None:
    text = _one(site, "nginx", proxy_to="http://127.0.0.1:8080")
    assert "location ^~ /.well-known/matrix/ {" in text
    assert "proxy_pass http://127.0.0.1:8080;" in text
    assert "proxy_set_header Host $host;" in text
    assert "return 200" not in text


# -- HAProxy ---------------------------------------------------------------------------------


def test_haproxy_rules(site: Site) -> None:
    text = _one(site, "haproxy")
    assert text.count("http-request return status 200") == 4  # 3 + 1 published files
    assert text.count("http-request return status 404") == 2
    assert "acl matrix_host_example_com req.hdr(host) -m reg -i '^example\\.com(:[0-9]+)?$'" in text
    assert "if METH_OPTIONS matrix_wk_file matrix_host_any" in text


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [("it's", "'it'\\''s'"), ('"x" $y #z \\w', "'\"x\" $y #z \\w'"), ("日本", "'日本'")],
)
def test_haproxy_quote(raw: str, quoted: str) -> None:
    assert haproxy.quote(raw) == quoted


def test_haproxy_proxy_mode_uses_a_backend(site: Site) -> None:
    text = _one(site, "haproxy", proxy_to="https://serve.internal:8443")
    assert "use_backend matrix_delegation_serve if matrix_wk_prefix matrix_host_any" in text
    assert "server serve serve.internal:8443 ssl verify required" in text


# -- Caddy -----------------------------------------------------------------------------------


def _caddy_passes(token: str, variables: dict[str, str]) -> str:
    """What Caddy 2.6 makes of an imported backtick token (a model, for the unit test)."""
    assert token.startswith("`") and token.endswith("`")
    text = token[1:-1]
    assert "{$" not in text  # the environment pass would eat it
    text = _unescape_braces(text)  # import's placeholder pass
    for name, value in variables.items():  # the request's pass, with the vars set
        text = text.replace("{http.vars." + name + "}", value)
    text = text.replace("{http.vars.matrix_delegation_empty}", "")
    return _unescape_braces(text)


def _unescape_braces(text: str) -> str:
    out: list[str] = []
    for char in text:
        if char in "{}" and out and out[-1] == "\\":
            out[-1] = char
        else:
            out.append(char)
    return "".join(out)


@pytest.mark.parametrize(
    "raw", ["TRICKY", "{$HOME}", "\\\\`", "\\\\{", '{"a":"\\\\"}', "`", "plain"]
)
def test_caddy_quote_survives_the_passes(raw: str, tricky: str) -> None:
    raw = tricky if raw == "TRICKY" else raw
    variables = {"matrix_delegation_backtick": "`", "matrix_delegation_backslash": "\\"}
    assert _caddy_passes(caddy.quote(raw), variables) == raw


def test_caddy_sets_the_variables_a_body_needs(site: Site) -> None:
    text = _one(site, "caddy")
    assert 'vars matrix_delegation_backtick "`"' in text
    assert "example.com {" in text and "respond 204" in text


# -- Apache ----------------------------------------------------------------------------------


def test_apache_asis_files_hold_status_headers_and_exact_body(site: Site) -> None:
    domain = site.domains[0]
    server, _, _ = entries(domain)
    text = asis_file(server)
    head, body = text.split("\n\n", 1)
    assert head.splitlines()[0] == "Status: 200 OK"
    assert f"ETag: {server.response.header('ETag')}" in head
    assert "Access-Control" not in head  # mod_headers adds CORS, once
    assert body.encode() == server.response.body
    missing = list(entries(site.domains[1]))[1]
    assert asis_file(missing).startswith("Status: 404 Not Found\n")


def test_apache_output_is_the_conf_plus_one_file_per_response(site: Site) -> None:
    files = generate(site, "apache", files_root="/srv/md").files
    assert set(files) == {
        "matrix-delegation.apache.conf",
        *(
            f"matrix-delegation/{h}/{n}"
            for h in render_site(site)
            for n in ("server", "client", "support")
        ),
    }
    conf = files["matrix-delegation.apache.conf"]
    assert 'Define MATRIX_DELEGATION_ROOT "/srv/md"' in conf
    assert "RewriteRule ^/\\.well-known/matrix/(server|client|support)$ - [R=204,L]" in conf
    separated = format_for_stdout(files)
    assert "# ===== file: matrix-delegation/example.com/client =====" in separated


# -- static, Traefik -------------------------------------------------------------------------


def test_static_writes_published_bodies_and_headers(site: Site) -> None:
    generated = generate(site, "static")
    files = generated.files
    expected = render_site(site)
    assert files["example.com/.well-known/matrix/client"].encode() == (
        expected["example.com"]["/.well-known/matrix/client"].body
    )
    assert "other.example.org/.well-known/matrix/client" not in files
    headers = files["other.example.org/_headers"]
    etag = expected["other.example.org"][SERVER].header("ETag")
    assert headers.startswith(f"{SERVER}\n  Content-Type: application/json\n")
    assert f"  ETag: {etag}\n" in headers
    assert any("404" in warning for warning in generated.warnings)


def test_traefik_needs_proxy_to(site: Site) -> None:
    with pytest.raises(ConfigurationError, match="--for traefik needs --proxy-to URL"):
        generate(site, "traefik")


def test_traefik_routes_each_domain_to_serve(site: Site) -> None:
    document = yaml.safe_load(_one(site, "traefik", proxy_to="http://127.0.0.1:8080"))
    routers = document["http"]["routers"]
    assert routers["matrix-delegation-example_com"]["rule"] == (
        "Host(`example.com`) && PathPrefix(`/.well-known/matrix/`)"
    )
    assert {r["service"] for r in routers.values()} == {"matrix-delegation"}
    balancer = document["http"]["services"]["matrix-delegation"]["loadBalancer"]
    assert balancer == {"servers": [{"url": "http://127.0.0.1:8080"}], "passHostHeader": True}


def test_unknown_target_is_a_configuration_error(site: Site) -> None:
    with pytest.raises(ConfigurationError, match="unknown target"):
        generate(site, "lighttpd")


@pytest.mark.parametrize("url", ["ftp://x", "http://x/path", "127.0.0.1:8080", "http://x:99999"])
def test_bad_proxy_to_is_a_configuration_error(site: Site, url: str) -> None:
    with pytest.raises(ConfigurationError):
        generate(site, "nginx", proxy_to=url)


# -- DNS ---------------------------------------------------------------------------------------


def test_dns_records_and_comments() -> None:
    site = Site(
        (
            Domain("example.com", "matrix.example.com:443"),
            Domain("nodefault.org", "fed.nodefault.org"),
            Domain("none.org", None),
            Domain("ip.org", "192.0.2.1:8448"),
            Domain("port.org:8448", "port.org:8448"),
        )
    )
    text = _one(site, "dns", legacy_srv=True)
    assert "_matrix-fed._tcp.example.com. 3600 IN SRV 10 0 443 matrix.example.com.\n" in text
    assert "_matrix-fed._tcp.nodefault.org. 3600 IN SRV 10 0 8448 fed.nodefault.org.\n" in text
    assert "_matrix._tcp.example.com. 3600 IN SRV 10 0 443 matrix.example.com." in text
    assert "; deprecated" in text
    assert "; none.org: no SRV record: no m_server" in text
    assert "; ip.org: no SRV record: m_server 192.0.2.1:8448 is an IP address" in text
    assert "; port.org: no SRV record: the server name has a port" in text
    assert "certificate valid for the SERVER NAME" in text
    assert "/.well-known/matrix/client" in text


def test_dns_without_legacy_has_no_matrix_tcp(site: Site) -> None:
    assert "_matrix._tcp" not in _one(site, "dns")


# -- Synapse -----------------------------------------------------------------------------------


def test_synapse_keys_and_warnings() -> None:
    rule = Domain("example.com", "example.com:443", {"m.homeserver": {"base_url": "https://m.ex/"}})
    other = Domain(
        "other.org",
        "matrix.other.org",
        {
            "m.homeserver": {"base_url": "https://matrix.other.org"},
            "m.identity_server": {"base_url": "https://id.other.org"},
            "org.other.x": {"y": "é"},
        },
        support_page="https://other.org/help",
    )
    generated = generate(Site((rule, other)), "synapse")
    (text,) = generated.files.values()
    first, second = yaml.safe_load_all(text)
    assert first == {
        "server_name": "example.com",
        "serve_server_wellknown": True,
        "public_baseurl": "https://m.ex/",
    }
    assert second["serve_server_wellknown"] is False
    assert second["default_identity_server"] == "https://id.other.org"
    assert second["extra_well_known_client_content"] == {"org.other.x": {"y": "é"}}
    warnings = "\n".join(generated.warnings)
    assert "does not serve /.well-known/matrix/support" in warnings
    assert "'matrix.other.org' cannot come from Synapse" in warnings
    assert "trailing slash" in warnings
    assert "https://example.com/ (port 443) is routed to Synapse" in warnings


# -- the command line --------------------------------------------------------------------------


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(
        "domains:\n"
        "  - server_name: example.com\n"
        '    m_server: "matrix.example.com:443"\n'
        '    client: {homeserver: "https://matrix.example.com"}\n',
        encoding="utf-8",
    )
    return path


def test_cli_prints_to_stdout(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--config", str(config_file), "--for", "nginx"]) == 0
    assert "server_name example.com;" in capsys.readouterr().out


def test_cli_static_needs_out(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--config", str(config_file), "--for", "static"]) == 2
    assert "--for static needs --out DIR" in capsys.readouterr().err


def test_cli_writes_into_out(config_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert (
        main(["generate", "--config", str(config_file), "--for", "apache", "--out", str(out)]) == 0
    )
    conf = (out / "matrix-delegation.apache.conf").read_text(encoding="utf-8")
    assert f'Define MATRIX_DELEGATION_ROOT "{out.resolve() / "matrix-delegation"}"' in conf
    assert (
        (out / "matrix-delegation/example.com/server")
        .read_bytes()
        .endswith(b'{"m.server":"matrix.example.com:443"}')
    )


def test_cli_warns_on_stderr(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--config", str(config_file), "--for", "synapse"]) == 0
    err = capsys.readouterr().err
    assert "matrix-delegation: warning: synapse: example.com: m.server" in err
