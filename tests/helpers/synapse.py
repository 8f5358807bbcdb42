"""Run a real Synapse on loopback, as a reference to compare against.

Facts (checked with matrix-synapse 1.163.2):

- ``--generate-config`` takes about 3 s, so :func:`generate_base_config` runs it
  once per session. The server name is baked into the generated file, but
  nothing else in it depends on it: the signing key is a bare ed25519 key, and
  a later ``-c`` file may set any other ``server_name`` (each instance gets a
  fresh SQLite database, so Synapse's "server_name changed" check never fires).
- A start takes 1-3 s until ``/_matrix/federation/v1/version`` answers.

Every instance gets its own directory (database, media, pid file, log), its
own ``127.0.0.X`` and a free port, a plain HTTP listener with the ``client``
and ``federation`` resources, and the settings that keep it off the internet.

With ``tls=`` (certificate and key PEM files, e.g. from :func:`issue_certificate`)
the listener serves TLS itself, as a federation listener on port 8448 does;
``port=`` asks for a port (8448) and falls back to a free one when taken.
"""

from __future__ import annotations

import http.client
import itertools
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import trustme

__all__ = [
    "FEDERATION_PORT",
    "OFFLINE_SETTINGS",
    "SynapseError",
    "SynapseProcess",
    "generate_base_config",
    "issue_certificate",
    "loopback_address",
    "start_synapse",
    "start_synapses",
]

#: Settings that keep a test Synapse from talking to anything but loopback.
OFFLINE_SETTINGS: Mapping[str, Any] = {
    "trusted_key_servers": [],
    "suppress_key_server_warning": True,
    "report_stats": False,
    "url_preview_enabled": False,
    "presence": {"enabled": False},
    "ip_range_blacklist": ["0.0.0.0/0", "::/0"],
    "ip_range_whitelist": ["127.0.0.0/8", "::1/128"],
}

READY_PATH = "/_matrix/federation/v1/version"
#: The default federation port, which a TLS listener asks for first.
FEDERATION_PORT = 8448
_PORT_ATTEMPTS = 8  # addresses tried for a wanted port before settling for a free one
_LOG_TAIL_LINES = 40
# Each instance gets its own loopback address, away from the sandbox's low ones.
_addresses = itertools.cycle(f"127.0.0.{last}" for last in range(200, 250))
_addresses_lock = threading.Lock()
_generated: dict[tuple[Path, str], Path] = {}


class SynapseError(RuntimeError):
    """Synapse could not be generated or started; the message has its log tail."""


def _environment() -> dict[str, str]:
    """The current environment without proxy settings (Synapse honours them)."""
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


def generate_base_config(directory: Path, server_name: str = "base.test") -> Path:
    """Generate (once per directory and server name) a homeserver.yaml; return its path.

    The signing key is written next to it. Later ``-c`` files may override
    ``server_name``: the generated file works for any server name.
    """
    key = (directory.resolve(), server_name)
    if key in _generated:
        return _generated[key]
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "homeserver.yaml"
    command = [
        sys.executable, "-m", "synapse.app.homeserver",
        "--server-name", server_name,
        "--config-path", str(config),
        "--generate-config",
        "--report-stats=no",
        "--data-directory", str(directory / "data"),
    ]  # fmt: skip
    # cwd: the generated log config would otherwise log to ./homeserver.log.
    result = subprocess.run(
        command, cwd=directory, env=_environment(), capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0 or not config.exists():
        raise SynapseError(
            f"generating a Synapse config failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
    _generated[key] = config
    return config


def loopback_address() -> str:
    """The next of 127.0.0.200-249 (cycling): one per server, away from the sandbox's."""
    with _addresses_lock:
        return next(_addresses)


def _free_port(address: str, wanted: int = 0) -> int:
    """``wanted`` if it can be bound on ``address`` now, else a free port there."""
    for port in (wanted, 0) if wanted else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As Twisted does: connections of an earlier run in TIME_WAIT do not block it.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError:
                continue  # taken (or privileged): any free port will do
            bound: int = probe.getsockname()[1]
            return bound
    raise OSError(f"no free port on {address}")


def _listen_address(address: str | None, wanted: int | None) -> tuple[str, int]:
    """The address and port to listen on: ``wanted`` on a fresh address if one has it free."""
    if address is not None or not wanted:
        address = address or loopback_address()
        return address, _free_port(address, wanted or 0)
    first = loopback_address()
    candidate = first
    for _ in range(_PORT_ATTEMPTS):
        if _free_port(candidate, wanted) == wanted:
            return candidate, wanted
        candidate = loopback_address()
    return first, _free_port(first)


def issue_certificate(ca: trustme.CA, names: Sequence[str], directory: Path) -> dict[str, str]:
    """Write a certificate (chain) for ``names`` and its key as PEM files for Synapse.

    Returns:
        ``{"certificate": path, "key": path}``, the ``tls=`` of :func:`start_synapse`.
    """
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    leaf = ca.issue_cert(*names, key_type=trustme.KeyType.ECDSA)
    stem = directory / (names[0] if names else "certificate")
    chain, key = stem.with_suffix(".chain.pem"), stem.with_suffix(".key.pem")
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    return {"certificate": str(chain), "key": str(key)}


def _log_config(log_file: Path) -> dict[str, Any]:
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "plain",
                "filename": str(log_file),
            }
        },
        "root": {"level": "INFO", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


def runtime_settings(
    directory: Path,
    address: str,
    port: int,
    tls: Mapping[str, str] | None = None,
    offline: Mapping[str, Any] = OFFLINE_SETTINGS,
) -> dict[str, Any]:
    """Listener, storage, logging and offline settings for one instance in ``directory``.

    With ``tls`` (``{"certificate": path, "key": path}``) the listener serves
    TLS itself; without, it is plain HTTP behind an imagined reverse proxy.
    """
    log_config = directory / "log_config.yaml"
    log_config.write_text(yaml.safe_dump(_log_config(directory / "homeserver.log")))
    tls_settings: dict[str, Any] = {}
    if tls is not None:
        tls_settings = {
            "tls_certificate_path": str(tls["certificate"]),
            "tls_private_key_path": str(tls["key"]),
        }
    return {
        "pid_file": str(directory / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": [address],
                "type": "http",
                "tls": tls is not None,
                "x_forwarded": tls is None,
                "resources": [{"names": ["client", "federation"], "compress": False}],
            }
        ],
        **tls_settings,
        "database": {"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}},
        "media_store_path": str(directory / "media_store"),
        "log_config": str(log_config),
        **offline,
    }


@dataclass
class SynapseProcess:
    """A running Synapse; ``configs`` are its ``-c`` files in order."""

    process: subprocess.Popen[bytes]
    address: str
    port: int
    directory: Path
    configs: tuple[Path, ...]
    _output: Any = field(repr=False, default=None)
    tls: bool = False

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.address}:{self.port}"

    @property
    def overrides(self) -> tuple[Path, ...]:
        """The ``-c`` files between the generated base and the runtime settings."""
        return self.configs[1:-1]

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of its stdout/stderr and of its log file."""
        parts = []
        for name in ("output.txt", "homeserver.log"):
            path = self.directory / name
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(parts) or "(no output)"

    def wait_ready(self, timeout: float = 30.0, interval: float = 0.05) -> float:
        """Poll the version endpoint until it answers 200; return the seconds taken.

        Raises:
            SynapseError: It exited, or was not ready within ``timeout``.
        """
        started = time.monotonic()
        deadline = started + timeout
        for _ in range(int(timeout / interval) + 1):
            if self.process.poll() is not None:
                raise SynapseError(
                    f"Synapse exited with {self.process.returncode} before it was ready:\n"
                    + self.log_tail()
                )
            if self._answers():
                return time.monotonic() - started
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
        raise SynapseError(f"Synapse not ready after {timeout:.0f} s:\n" + self.log_tail())

    def _answers(self) -> bool:
        connection: http.client.HTTPConnection
        if self.tls:
            # Only "is it up?": the certificate names a server name, not this IP.
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            connection = http.client.HTTPSConnection(
                self.address, self.port, timeout=2, context=context
            )
        else:
            connection = http.client.HTTPConnection(self.address, self.port, timeout=2)
        try:
            connection.request("GET", READY_PATH)
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate it, wait, kill it if it lingers; idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self._output is not None:
            self._output.close()
            self._output = None


def start_synapse(
    base_config: Path,
    directory: Path,
    overrides: Sequence[Path | Mapping[str, Any]] = (),
    *,
    address: str | None = None,
    tls: Mapping[str, str] | None = None,
    port: int | None = None,
    resolv_conf: Path | None = None,
    offline: Mapping[str, Any] = OFFLINE_SETTINGS,
) -> SynapseProcess:
    """Start Synapse with ``-c base -c override... -c runtime`` without waiting for it.

    Args:
        base_config: The generated homeserver.yaml (:func:`generate_base_config`).
        directory: An empty directory for this instance.
        overrides: YAML files, or mappings written to ``override-N.yaml``, in order.
        address: The loopback address; by default the next of 127.0.0.200-249.
        tls: ``{"certificate": path, "key": path}``: serve TLS on the listener
            (the certificate must cover the server name peers check it for).
        port: The port to ask for (e.g. :data:`FEDERATION_PORT`): without
            ``address``, the first of a few fresh addresses where it is free;
            a free port when it is taken everywhere or not given. Read the
            result from ``.address`` and ``.port``.
        resolv_conf: Run it in a private mount namespace where this file is
            ``/etc/resolv.conf``: its outbound federation (``getaddrinfo`` and
            Twisted's SRV lookups) then asks the test's DNS server, which must
            listen on port 53 (``resolv.conf`` has no port). Needs root.
        offline: The settings that keep it off the internet (the last ``-c``
            file): without ``ip_range_whitelist`` it cannot reach loopback either.

    Call :meth:`SynapseProcess.wait_ready`, and :meth:`SynapseProcess.stop` in
    a finalizer (also when waiting fails).
    """
    directory.mkdir(parents=True, exist_ok=True)
    address, port = _listen_address(address, port)
    configs = [base_config]
    for index, override in enumerate(overrides):
        if isinstance(override, Mapping):
            path = directory / f"override-{index}.yaml"
            path.write_text(yaml.safe_dump(dict(override), sort_keys=False))
            override = path
        configs.append(override)
    runtime = directory / "runtime.yaml"
    settings = runtime_settings(directory, address, port, tls, offline)
    runtime.write_text(yaml.safe_dump(settings, sort_keys=False))
    configs.append(runtime)
    command = [sys.executable, "-m", "synapse.app.homeserver"]
    if resolv_conf is not None:
        # unshare execs (no fork), and so does sh: the PID stays Synapse's own.
        bind = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
        command = ["unshare", "--mount", "sh", "-c", bind, str(resolv_conf), *command]
    for config in configs:
        command += ["-c", str(config)]
    output = (directory / "output.txt").open("wb")
    process = subprocess.Popen(
        command,
        cwd=directory,
        env=_environment(),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    return SynapseProcess(
        process, address, port, directory, tuple(configs), output, tls=tls is not None
    )


Overrides = Sequence[Path | Mapping[str, Any]]
#: ``(directory, overrides)``, or with a third item: keyword arguments of :func:`start_synapse`.
Instance = tuple[Path, Overrides] | tuple[Path, Overrides, Mapping[str, Any]]


def start_synapses(
    base_config: Path,
    instances: Sequence[Instance],
    *,
    parallel: int | None = None,
    timeout: float = 30.0,
) -> list[SynapseProcess]:
    """Start several instances, ``parallel`` at a time, and wait until all are ready.

    Starting is mostly CPU-bound imports (~2.5 s of CPU each), so by default
    as many run at once as there are CPUs. If any fails, all are stopped.

    Args:
        base_config: The generated homeserver.yaml.
        instances: ``(directory, overrides)`` for each, as for :func:`start_synapse`,
            optionally with a third item: its keyword arguments (``tls``, ``port``...).
        parallel: How many start at once (default: the number of CPUs, at least 2).
        timeout: Seconds each may take to become ready.

    Returns:
        The running instances, in the order given; stop each when done.
    """
    started: list[SynapseProcess] = []
    lock = threading.Lock()

    def start(instance: Instance) -> SynapseProcess:
        directory, overrides, *options = instance
        synapse = start_synapse(
            base_config, directory, overrides, **(options[0] if options else {})
        )
        with lock:
            started.append(synapse)
        synapse.wait_ready(timeout)
        return synapse

    workers = parallel or max(2, os.cpu_count() or 1)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(start, instances))
    except BaseException:
        for synapse in started:
            synapse.stop()
        raise
