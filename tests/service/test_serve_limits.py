"""`matrix-delegation serve` under hostile load: endless header lines, no file descriptors left."""

from __future__ import annotations

import json
import resource
import select
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from serving import Serve, any_name, free_port, get, wait_ready

from matrix_delegation.sandbox import SandboxCA
from matrix_delegation.sandbox.addresses import free_loopback_address

SERVER = "/.well-known/matrix/server"
FD_LIMIT = 64
ENDLESS = 40 * 1024 * 1024  # one header line of 40 MiB, unless the server stops it
CHUNK = 64 * 1024


class Running:
    """A serve process for one.test, over HTTP or HTTPS, on a free loopback port."""

    def __init__(
        self, tmp_path: Path, *, tls: bool, preexec_fn: Callable[[], None] | None = None
    ) -> None:
        domain: dict[str, object] = {"server_name": "one.test", "m_server": "one.test:443"}
        if tls:
            domain["tls"] = SandboxCA().issue_files("one.test", tmp_path)
        config = tmp_path / "site.yaml"
        config.write_text(json.dumps({"domains": [domain]}))  # JSON is YAML too
        self.address = free_loopback_address(0) or "127.0.0.1"
        self.port = free_port(self.address)
        self.base = f"{'https' if tls else 'http'}://{self.address}:{self.port}"
        self.context: ssl.SSLContext | None = any_name() if tls else None
        args = ["--config", str(config), "--listen", f"{self.address}:{self.port}"]
        self.serve = Serve(*args, *(["--tls"] if tls else []), preexec_fn=preexec_fn)
        wait_ready(self.base, self.serve, self.context)

    def get(self) -> int:
        return get(self.base + SERVER, "one.test", self.context)[0]


def send_endless_header(address: str, port: int) -> tuple[int, bytes | None]:
    """Send one header line of up to ENDLESS bytes; (bytes sent, what came back).

    What came back is None if the server neither answered nor closed.
    """
    sent = 0
    with socket.create_connection((address, port), timeout=5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)
        chunk = b"a" * CHUNK
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: one.test\r\nX-Endless: ")
            while sent < ENDLESS and not select.select([sock], [], [], 0.001)[0]:
                sock.sendall(chunk)
                sent += CHUNK
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection
        try:
            return sent, sock.recv(4096)
        except ConnectionResetError:
            return sent, b""
        except TimeoutError:
            return sent, None


def test_an_endless_header_line_is_refused_without_being_buffered(tmp_path: Path) -> None:
    running = Running(tmp_path, tls=False)
    try:
        assert running.get() == 200
        before = running.serve.status("VmHWM")
        sent, answer = send_endless_header(running.address, running.port)
        risen_kb = running.serve.status("VmHWM") - before
        assert answer is not None, "the server neither refused nor closed"
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:40]
        assert sent < ENDLESS // 4
        assert risen_kb < 5 * 1024
        assert running.get() == 200  # and it serves on
    finally:
        running.serve.stop()


def low_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.05) + 2):
        if condition() or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return condition()


def served(running: Running) -> bool:
    try:
        return running.get() == 200
    except OSError:
        return False


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_running_out_of_file_descriptors_does_not_spin(tmp_path: Path, tls: bool) -> None:
    running = Running(tmp_path, tls=tls, preexec_fn=low_fd_limit)
    held: list[socket.socket] = []
    try:
        for _ in range(FD_LIMIT + 16):  # more than the server can accept
            held.append(socket.create_connection((running.address, running.port), timeout=5))
        assert until(lambda: running.serve.open_files() >= FD_LIMIT - 1, 5), "no EMFILE"
        cpu = running.serve.cpu_seconds()
        time.sleep(2)
        spent = running.serve.cpu_seconds() - cpu
        assert spent < 0.5, f"{spent:.2f} s of CPU in 2 s while out of file descriptors"
    finally:
        for sock in held:
            sock.close()
    try:
        assert until(lambda: served(running), 10)
    finally:
        status, err = running.serve.stop()
    assert status == 0 and "Traceback" not in err, err[-2000:]
    if tls:
        assert err.count("cannot accept connections (Too many open files)") == 1, err[-2000:]
