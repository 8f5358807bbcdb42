"""`matrix-delegation serve` as a child process, and what the tests read of it."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


class Serve:
    def __init__(self, *args: str, preexec_fn: Callable[[], None] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "matrix_delegation", "serve", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn,
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

    def status(self, field: str) -> int:
        """A ``/proc/<pid>/status`` figure in kB, e.g. ``VmHWM`` (peak RSS)."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/{self.process.pid}/status")

    def cpu_seconds(self) -> float:
        """User plus system CPU time so far, from ``/proc/<pid>/stat``."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))


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


def any_name() -> ssl.SSLContext:
    """A client context that checks nothing: for readiness probes and certificate reads."""
    relaxed = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    relaxed.check_hostname = False
    relaxed.verify_mode = ssl.CERT_NONE
    return relaxed
