"""`matrix-delegation serve` as a real process: HTTPS with SNI, SIGHUP reloads, bad configs."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from matrix_delegation.sandbox import SandboxCA
from matrix_delegation.sandbox.addresses import free_loopback_address

SERVER = "/.well-known/matrix/server"


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def write_config(
    path: Path, m_server: str, tls: dict[str, str] | None = None, **extra: object
) -> None:
    domains = [{"server_name": "one.test", "m_server": m_server, **({"tls": tls} if tls else {})}]
    if tls:
        domains.append(
            {"server_name": "two.test", "m_server": "two.test:443", "tls": extra["tls_two"]}
        )
    path.write_text(json.dumps({"domains": domains}))  # JSON is YAML too


class Serve:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "matrix_delegation", "serve", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            _, err = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return self.process.returncode, err


def get(url: str, host: str, context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready(url: str, serve: Serve, context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if serve.process.poll() is not None:
            raise AssertionError(f"serve exited: {serve.stop()[1]}")
        try:
            get(url + "/health", "x", context)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("serve did not start")


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
        wait_ready(f"https://{address}:{port}", serve, _any_name(client))
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


def _any_name(context: ssl.SSLContext) -> ssl.SSLContext:
    relaxed = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    relaxed.check_hostname = False
    relaxed.verify_mode = ssl.CERT_NONE
    return relaxed


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
