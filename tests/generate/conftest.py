"""Fixtures for the generate tests: sites, and real web servers on loopback.

A :class:`Harness` knows how to wrap a generated snippet in a minimal main
configuration of one program, check its syntax and run it in the foreground
with every path (pid, logs, temp files, Caddy's storage) under a temporary
directory. Traffic stays on 127.0.0.0/8.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from matrix_delegation._core.site import Contact, Domain, Site
from matrix_delegation.generate import generate

#: Every character class the config languages treat specially, in one value.
TRICKY = (
    'it\'s "quoted" \\ back\\slash $HOME ${x} $ {$HOME} {http.request.host} {} '
    "`tick` \\` %d %% ; # é ü 日本 \u2028 ' end"
)

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def make_site() -> Site:
    """Two domains: one publishes all three files (with tricky text), one only server."""
    full = Domain(
        server_name="example.com",
        m_server="matrix.example.com:443",
        client={
            "m.homeserver": {"base_url": "https://matrix.example.com"},
            "m.identity_server": {"base_url": "https://id.example.com"},
            "org.example.tricky": {"text": TRICKY, "list": [1, True, None]},
        },
        support_contacts=(Contact("m.role.admin", "@admin:example.com", "admin@example.com"),),
        support_page="https://example.com/help?a=1&b=$2;#x",
        max_age=600,
    )
    minimal = Domain(server_name="Other.Example.ORG", m_server="matrix.other.example.org")
    return Site((full, minimal))


@pytest.fixture
def site() -> Site:
    """The two-domain site of :func:`make_site`."""
    return make_site()


def free_endpoint() -> tuple[str, int]:
    """A loopback address other than 127.0.0.1 and a port free on it right now."""
    last = random.randint(20, 250)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        address = f"127.0.0.{last}"
        sock.bind((address, 0))
        return address, sock.getsockname()[1]


@dataclass
class Harness:
    """How to configure, check and run one real program.

    Attributes:
        target: The ``--for`` name.
        binary: The executable looked up on PATH.
        write: Writes the main config around the generated files into a
            directory, returns the main config's path.
        check: The syntax-check command for a main config path.
        run: The foreground run command for a main config path.
    """

    target: str
    binary: str
    write: Callable[[Path, dict[str, str], str], Path]
    check: Callable[[Path], list[str]]
    run: Callable[[Path], list[str]]

    def available(self) -> bool:
        """Whether the program is installed."""
        return shutil.which(self.binary) is not None


def _write_files(directory: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


def _nginx_write(directory: Path, files: dict[str, str], listen: str) -> Path:
    _write_files(directory, files)
    (snippet,) = files
    temp = [
        f"    {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    ]
    main = [
        "worker_processes 1;",
        f"error_log {directory / 'error.log'};",
        "events { worker_connections 64; }",
        "http {",
        "    access_log off;",
        *temp,
        f"    include {directory / snippet};",
        "}",
    ]
    return _write_main(directory / "main.conf", main)


def _nginx_args(main: Path) -> list[str]:
    # -e: the startup error log, which otherwise is /var/log/nginx/error.log.
    return ["nginx", "-p", f"{main.parent}/", "-e", str(main.parent / "error.log"), "-c", str(main)]


def _apache_write(directory: Path, files: dict[str, str], listen: str) -> Path:
    _write_files(directory, files)
    modules = ["mpm_event", "authz_core", "alias", "headers", "rewrite", "asis"]
    modules += ["proxy", "proxy_http"]
    loads = [f"LoadModule {name}_module /usr/lib/apache2/modules/mod_{name}.so" for name in modules]
    main = [
        f'ServerRoot "{directory}"',
        *loads,
        f'PidFile "{directory / "apache.pid"}"',
        f'ErrorLog "{directory / "error.log"}"',
        f'DefaultRuntimeDir "{directory}"',
        f"Mutex file:{directory} default",
        "ServerName localhost",
        f"Listen {listen}",
    ]
    if os.geteuid() == 0:  # Apache will not serve as root; it switches to this user
        main += ["User nobody", "Group nogroup"]
    main.append(f'Include "{directory / "matrix-delegation.apache.conf"}"')
    return _write_main(directory / "main.conf", main)


def _haproxy_write(directory: Path, files: dict[str, str], listen: str) -> Path:
    _write_files(directory, files)
    main = [
        "global",
        "    log stderr format short local0",
        "defaults",
        "    mode http",
        "    timeout connect 5s",
        "    timeout client 10s",
        "    timeout server 10s",
    ]
    _write_main(directory / "main.cfg", main)
    return directory / "main.cfg"


def _haproxy_files(main: Path) -> list[str]:
    # The snippet is a second -f, as if it were appended to haproxy.cfg.
    return ["-f", str(main), "-f", str(main.parent / "matrix-delegation.haproxy.cfg")]


def _caddy_write(directory: Path, files: dict[str, str], listen: str) -> Path:
    _write_files(directory, files)
    main = [
        "{",
        "\tadmin off",
        "\tauto_https off",
        f"\tstorage file_system {directory / 'caddy-storage'}",
        "}",
        f"import {directory / 'matrix-delegation.caddy'}",
    ]
    return _write_main(directory / "Caddyfile", main)


def _write_main(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


HARNESSES = {
    "nginx": Harness(
        "nginx",
        "nginx",
        _nginx_write,
        lambda main: [*_nginx_args(main), "-t"],
        lambda main: [*_nginx_args(main), "-g", f"daemon off; pid {main.parent / 'nginx.pid'};"],
    ),
    "apache": Harness(
        "apache",
        "apache2",
        _apache_write,
        lambda main: ["apache2", "-t", "-f", str(main)],
        lambda main: ["apache2", "-f", str(main), "-DFOREGROUND"],
    ),
    "haproxy": Harness(
        "haproxy",
        "haproxy",
        _haproxy_write,
        lambda main: ["haproxy", "-c", *_haproxy_files(main)],
        lambda main: ["haproxy", "-db", *_haproxy_files(main)],
    ),
    "caddy": Harness(
        "caddy",
        "caddy",
        _caddy_write,
        lambda main: ["caddy", "validate", "--config", str(main), "--adapter", "caddyfile"],
        lambda main: ["caddy", "run", "--config", str(main), "--adapter", "caddyfile"],
    ),
}


@dataclass
class Running:
    """A real server answering on ``address:port``."""

    harness: Harness
    address: str
    port: int
    directory: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        """Its logs and output so far (the tail), for failure messages."""
        texts = [p.read_text(errors="replace") for p in self.directory.glob("*.log")]
        output = self.directory / "output.txt"
        if output.exists():
            texts.append(output.read_text(errors="replace"))
        return "\n".join(texts)[-4000:]


def program_env(directory: Path) -> dict[str, str]:
    """The environment of a real program: Caddy's home and storage in ``directory``."""
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    env.update(
        HOME=str(directory),
        XDG_DATA_HOME=str(directory / "xdg-data"),
        XDG_CONFIG_HOME=str(directory / "xdg-config"),
    )
    return env


def world_readable_dir() -> Path:
    """A fresh directory under /tmp that Apache's unprivileged user can read."""
    directory = Path(tempfile.mkdtemp(prefix="md-generate-"))
    directory.chmod(0o755)
    return directory


def configure(
    harness: Harness, site: Site, directory: Path, *, proxy_to: str | None = None
) -> tuple[Path, str, int]:
    """Generate for ``harness`` with a loopback listen address; write everything.

    Returns:
        The main config path, the address and the port.
    """
    address, port = free_endpoint()
    listen = f"{address}:{port}"
    root = str(directory / "matrix-delegation")
    generated = generate(site, harness.target, proxy_to=proxy_to, listen=listen, files_root=root)
    main = harness.write(directory, generated.files, listen)
    for path in directory.rglob("*"):  # Apache's worker must read the response files
        path.chmod(0o755 if path.is_dir() else 0o644)
    return main, address, port


def check_syntax(harness: Harness, main: Path) -> subprocess.CompletedProcess[str]:
    """Run the program's own syntax check."""
    return subprocess.run(
        harness.check(main),
        capture_output=True,
        text=True,
        timeout=30,
        env=program_env(main.parent),
        check=False,
    )


@contextmanager
def running(harness: Harness, main: Path, address: str, port: int) -> Iterator[Running]:
    """Run the program in the foreground until the block ends; always stop it."""
    directory = main.parent
    with (directory / "output.txt").open("wb") as output:
        process = subprocess.Popen(
            harness.run(main),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=program_env(directory),
        )
        server = Running(harness, address, port, directory, process)
        try:
            _wait_until_listening(server)
            yield server
        finally:
            _stop(process)


def _wait_until_listening(server: Running) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"{server.harness.binary} exited with {server.process.returncode}:\n{server.log()}"
            )
        try:
            socket.create_connection((server.address, server.port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
            continue
        return
    pytest.fail(f"{server.harness.binary} did not listen within {START_TIMEOUT} s:\n{server.log()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture
def program_dir() -> Iterator[Path]:
    """A world-readable scratch directory, removed afterwards."""
    directory = world_readable_dir()
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def tricky() -> str:
    """The text with every special character, as used in :func:`make_site`."""
    return TRICKY


@dataclass(frozen=True)
class RealServers:
    """The harness functions, handed to tests as one fixture (tests never
    import conftest: several conftest modules share that name)."""

    harnesses: dict[str, Harness]
    configure: Callable[..., tuple[Path, str, int]]
    check_syntax: Callable[[Harness, Path], subprocess.CompletedProcess[str]]
    running: Callable[[Harness, Path, str, int], AbstractContextManager[Running]]
    free_endpoint: Callable[[], tuple[str, int]]

    def harness(self, name: str) -> Harness:
        """The harness of ``name``; skips the test when the program is absent."""
        harness = self.harnesses[name]
        if not harness.available():
            pytest.skip(f"{harness.binary} is not installed (CI installs it: see .ci/run)")
        return harness


@pytest.fixture
def real_servers() -> RealServers:
    """Everything needed to run nginx, Apache, HAProxy and Caddy on loopback."""
    return RealServers(HARNESSES, configure, check_syntax, running, free_endpoint)
