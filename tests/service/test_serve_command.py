"""`matrix-delegation serve` as a real process: HTTPS with SNI, SIGHUP reloads, bad configs."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from serving import Serve, any_name, free_port, get, wait_ready

from matrix_delegation.sandbox import SandboxCA
from matrix_delegation.sandbox.addresses import free_loopback_address

SERVER = "/.well-known/matrix/server"


def write_config(
    path: Path, m_server: str, tls: dict[str, str] | None = None, **extra: object
) -> None:
    domains = [{"server_name": "one.test", "m_server": m_server, **({"tls": tls} if tls else {})}]
    if tls:
        domains.append(
            {"server_name": "two.test", "m_server": "two.test:443", "tls": extra["tls_two"]}
        )
    path.write_text(json.dumps({"domains": domains}))  # JSON is YAML too


def test_sighup_reloads_and_a_broken_config_keeps_the_old_one(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    write_config(config, "first.example:443")
    address = free_loopback_address(0) or "127.0.0.1"
    base = f"http://{address}:{free_port(address)}"
    serve = Serve("--config", str(config), "--listen", base.removeprefix("http://"))
    try:
        wait_ready(base, serve)
        assert json.loads(get(base + SERVER, "one.test")[1]) == {"m.server": "first.example:443"}
        write_config(config, "second.example:443")
        serve.process.send_signal(signal.SIGHUP)
        for _ in range(50):
            if json.loads(get(base + SERVER, "one.test")[1])["m.server"] == "second.example:443":
                break
            time.sleep(0.1)
        config.write_text("domains: [{server_name: 'bad_name'}]")
        serve.process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert json.loads(get(base + SERVER, "one.test")[1]) == {"m.server": "second.example:443"}
        metrics = get(base + "/metrics", "x")[1].decode()
        assert 'matrix_delegation_reloads_total{outcome="ok"} 1.0' in metrics
        assert 'matrix_delegation_reloads_total{outcome="failed"} 1.0' in metrics
    finally:
        status, err = serve.stop()
    assert status == 0
    assert "reload refused, still serving the previous config" in err
    assert "'bad_name' is not a server name" in err
    assert '"path":"/.well-known/matrix/server"' in err  # the JSON access log


def test_https_picks_each_domains_certificate_by_sni(tmp_path: Path) -> None:
    ca = SandboxCA()
    files = {}
    for name in ("one.test", "two.test"):
        files[name] = ca.issue_files(name, tmp_path)
    config = tmp_path / "site.yaml"
    write_config(config, "one.test:443", tls=files["one.test"], tls_two=files["two.test"])
    address = free_loopback_address(0) or "127.0.0.1"
    port = free_port(address)
    serve = Serve(
        "--config", str(config), "--listen", f"{address}:{port}", "--tls", "--access-log", "off"
    )
    client = ca.client_context()
    try:
        wait_ready(f"https://{address}:{port}", serve, any_name())
        for name in ("one.test", "two.test"):
            with (
                socket.create_connection((address, port), timeout=5) as raw,
                client.wrap_socket(raw, server_hostname=name) as tls,
            ):
                assert tls.getpeercert() is not None  # verified for this very name
        with (
            socket.create_connection((address, port), timeout=5) as raw,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            client.wrap_socket(raw, server_hostname="three.test")
    finally:
        status, _ = serve.stop()
    assert status == 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            "domains: [{server_name: 'bad_name'}]",
            "domains[0].server_name: 'bad_name' is not a server name",
        ),
        ("domains: [{server_name: a.test, m_server: 'https://m.a.test'}]", "without a scheme"),
        (
            "domains: [{server_name: a.test, client: {homeserver: a.test}}]",
            "did you mean 'https://a.test'",
        ),
        ("domains: [", "invalid YAML"),
    ],
)
def test_invalid_config_refuses_to_start(tmp_path: Path, config: str, message: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(config)
    done = subprocess.run(
        [sys.executable, "-m", "matrix_delegation", "serve", "--config", str(path)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
