"""compare.py's ``--servers nginx-dnsmasq``: the fan-out's names served by nginx and dnsmasq.

The servers are started as compare.py starts them and asked over loopback sockets what
the Python sandbox would answer; no figure is asserted. Skipped where nginx or dnsmasq
is not installed (compare.py then says so and stops: the twin below).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import ssl
import subprocess
import sys

import dns.message
import dns.query
import dns.rcode
import pytest

BENCHMARKS = pathlib.Path(__file__).parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

from _fanout_native import native  # noqa: E402

NEEDS = pytest.mark.skipif(
    shutil.which("nginx") is None or shutil.which("dnsmasq") is None,
    reason="needs nginx and dnsmasq",
)


def _get(setup: dict[str, object], server_name: str) -> bytes:
    context = ssl.create_default_context(cafile=str(setup["ca_file"]))
    where = (str(setup["https_host"]), int(str(setup["https_port"])))
    with (
        socket.create_connection(where, timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        request = f"GET /.well-known/matrix/server HTTP/1.1\r\nHost: {server_name}\r\n"
        tls.sendall((request + "Connection: close\r\n\r\n").encode())
        return b"".join(iter(lambda: tls.recv(65536), b""))


def _ask(setup: dict[str, object], name: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, str(setup["dns_host"]), port=int(str(setup["dns_port"])), timeout=5)


@NEEDS
def test_names_are_delegated_and_their_srv_records_published(tmp_path: pathlib.Path) -> None:
    os.chmod(tmp_path, 0o755)  # nginx's worker may run as nobody
    with native(3, tmp_path) as setup:
        assert _get(setup, "n2.bench.test").endswith(b'{"m.server": "m2.bench.test"}')
        srv = _ask(setup, "_matrix-fed._tcp.m2.bench.test", "SRV")
        assert [rdata.to_text() for rdata in srv.answer[0]] == ["10 5 8448 fed2.bench.test."]
        target = _ask(setup, "fed2.bench.test", "A")
        assert [rdata.to_text() for rdata in target.answer[0]] == ["127.0.2.3"]
        assert len(setup["server_pids"]) == 2  # nginx's worker and dnsmasq


@NEEDS
def test_unknown_names_get_404_and_nxdomain(tmp_path: pathlib.Path) -> None:
    os.chmod(tmp_path, 0o755)
    with native(3, tmp_path) as setup:
        assert _get(setup, "n9.bench.test").startswith(b"HTTP/1.1 404")
        assert _ask(setup, "n9.bench.test", "A").rcode() == dns.rcode.NXDOMAIN


def test_compare_without_dnsmasq_says_so_and_stops(tmp_path: pathlib.Path) -> None:
    environment = dict(os.environ, PATH=str(tmp_path))  # no dnsmasq on this PATH
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "compare.py"), "--servers", "nginx-dnsmasq"],
        capture_output=True, text=True, timeout=60, env=environment, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "dnsmasq is not installed" in done.stderr and "Traceback" not in done.stderr
