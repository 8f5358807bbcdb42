"""Requests per second of `serve` against nginx and Synapse answering /.well-known/matrix/server.

A benchmark, not a test: it asserts nothing and prints the figures.

    python benchmarks/serve.py [--connections 256] [--duration 10] [--json]
    python benchmarks/serve.py --smoke        # 2 s runs, 32 connections, no Synapse (CI)

Method. Every server runs alone, one after the other, on its own 127.0.0.X address of
this machine, and answers the same file for ``example.com``:

- ``serve``: ``matrix-delegation serve`` as ONE subprocess with ``--access-log off``,
  once with ``--tls`` (HTTPS) and once without (plain HTTP).
- nginx: ``worker_processes 1``, ``access_log off``, answering the very bytes that
  ``render_domain`` makes (same body, Content-Type, CORS, Cache-Control and ETag; the
  response is fetched once and compared before measuring), with the same ECDSA
  certificate, TLS 1.2-1.3 as ``serve`` allows, and keep-alive connections that are
  never closed by a request count (``keepalive_requests``), once with and once without TLS.
- Synapse: its own ``/.well-known/matrix/server`` (``serve_server_wellknown: true``) on
  a plain HTTP listener, as Synapse is normally run behind a TLS-terminating proxy; and
  also on a listener where Synapse terminates TLS itself (``tls: true``), if it starts.
  Its access log is silenced as the others' are.

The load comes from wrk: ``-t1`` (one client thread, so that the server gets the other
core), ``-c256`` keep-alive connections and a Host header of ``example.com``. Each server
first gets a short warm-up run, then the measured run. From wrk (through a small Lua
``done`` hook) come requests per second, the p50 and p99 latencies, the responses with
a status of 400 or more, and socket errors (connect, read, write, timeout). The
server's resident memory (``VmRSS`` in /proc; for nginx, its worker's) is read when
it is ready, after the warm-up and after the measured run, to show whether it stays
flat; its CPU time and wrk's over the measured run show which side was saturated.

Every process started here is stopped at the end, also on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from matrix_delegation._core.site import Response, render_domain
from matrix_delegation.config import load_site
from matrix_delegation.sandbox import SandboxCA, free_loopback_address

ROOT = Path(__file__).resolve().parents[1]
SERVER_NAME = "example.com"
M_SERVER = "example.com:443"  # what Synapse itself publishes for example.com
PATH = "/.well-known/matrix/server"
PORTS = {"https": 8443, "http": 8080}
READY_TIMEOUT = {"serve": 20.0, "nginx": 20.0, "synapse": 90.0}
STOP_TIMEOUT = 10.0
MARKER = "WRK-RESULT "

NGINX_TEMPS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
#: How every benchmark runs nginx: in the foreground, one worker, its files in {work};
#: the text goes on inside the http block.
NGINX_PREAMBLE = """\
daemon off;
master_process on;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
"""
NGINX_TEMPLATE = (
    NGINX_PREAMBLE
    + """\
    # Connections stay open however many requests they carry, as serve's do.
    keepalive_requests 100000000;
{temp_paths}
    server {{
        listen {listen};
        server_name {server_name};
{tls_lines}
        location = {path} {{
            default_type {content_type};
            charset off;
            gzip off;
{add_headers}
            return {status} {body};
        }}
    }}
}}
"""
)

# wrk's done() hook: the summary as one JSON line, latencies in microseconds.
WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


class BenchmarkError(RuntimeError):
    """A server could not be started or measured; the message says why."""


@dataclass(frozen=True)
class Settings:
    """How hard and how long to drive each server."""

    connections: int
    duration: int
    warmup: int
    threads: int
    synapse: bool


@dataclass
class Server:
    """A server that is up and answering: where to send the load, whose RSS to read."""

    name: str
    scheme: str
    address: str
    port: int
    pid: int
    check: str
    notes: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}:{self.port}{PATH}"


@dataclass
class Result:
    """The figures of one server over one scheme."""

    server: str
    scheme: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    status_errors: int
    socket_errors: int
    requests: int
    rss_mib: tuple[float, float, float]
    server_cpu_pct: float
    wrk_cpu_pct: float
    requests_per_cpu_s: float
    check: str
    notes: list[str]


@dataclass
class Fetched:
    """One response read whole from a socket."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    tls: str = ""


# --- the site and the expected response ------------------------------------------------


def write_site(work: Path, ca: SandboxCA) -> tuple[Path, dict[str, str], Response]:
    """Write the certificate, the key and serve's site YAML; return them and the response."""
    files = ca.issue_files(SERVER_NAME, work)
    config = work / "site.yaml"
    domain = {"server_name": SERVER_NAME, "m_server": M_SERVER, "tls": files}
    config.write_text(yaml.safe_dump({"domains": [domain]}, sort_keys=False))
    site, _ = load_site(str(config))
    return config, files, render_domain(site.domains[0])[PATH]


def nginx_string(text: str) -> str:
    """``text`` as a single-quoted nginx string (no variables may appear in it)."""
    if "$" in text:
        raise BenchmarkError(f"cannot put {text!r} in an nginx string without a variable")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def nginx_config(
    work: Path, server: tuple[str, int, bool], files: dict[str, str], response: Response
) -> Path:
    """An nginx.conf with one worker and one location answering ``response``."""
    address, port, tls = server
    headers = [(k, v) for k, v in response.headers if k.lower() != "content-type"]
    tls_lines = [
        f"ssl_certificate {files['certificate']};",
        f"ssl_certificate_key {files['key']};",
        "ssl_protocols TLSv1.2 TLSv1.3;",  # what serve accepts
    ]
    text = NGINX_TEMPLATE.format(
        work=work,
        temp_paths=indent([f"{kind}_temp_path {work}/nginx-{kind};" for kind in NGINX_TEMPS], 4),
        listen=f"{address}:{port}{' ssl' if tls else ''}",
        server_name=SERVER_NAME,
        tls_lines=indent(tls_lines if tls else [], 8),
        path=PATH,
        content_type=nginx_string(response.header("Content-Type") or ""),
        add_headers=indent([f"add_header {k} {nginx_string(v)} always;" for k, v in headers], 12),
        status=response.status,
        body=nginx_string(response.body.decode()),
    )
    conf = work / f"nginx-{'https' if tls else 'http'}.conf"
    conf.write_text(text)
    return conf


def indent(lines: list[str], spaces: int) -> str:
    """Configuration lines, indented, one per line."""
    return "".join(" " * spaces + line + "\n" for line in lines)


# --- talking to a server once ----------------------------------------------------------


def fetch(address: str, port: int, context: ssl.SSLContext | None) -> Fetched | None:
    """GET the file once (Connection: close); None if the server does not answer yet."""
    request = f"GET {PATH} HTTP/1.1\r\nHost: {SERVER_NAME}\r\nConnection: close\r\n\r\n"
    chunks, tls = [], ""
    try:
        with contextlib.ExitStack() as stack:
            sock = stack.enter_context(socket.create_connection((address, port), timeout=3))
            if context is not None:
                secure = context.wrap_socket(sock, server_hostname=SERVER_NAME)
                sock = stack.enter_context(secure)
                tls = f"{secure.version()} {(secure.cipher() or ('',))[0]}"
            sock.sendall(request.encode("ascii"))
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError:
        return None
    return parse_response(b"".join(chunks), tls)


def parse_response(data: bytes, tls: str) -> Fetched | None:
    """Status, headers and body of a whole HTTP/1.1 response; None if it is not one."""
    head, separator, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not separator or not lines[0].startswith("HTTP/1."):
        return None
    headers = [line.partition(":") for line in lines[1:]]
    return Fetched(int(lines[0].split()[1]), [(k, v.strip()) for k, _, v in headers], body, tls)


def compare(fetched: Fetched, expected: Response | None) -> str:
    """Whether the answer is the expected one, byte for byte in body and listed headers."""
    if fetched.status != 200:
        return f"status {fetched.status}"
    if expected is None:  # Synapse: its own headers; only the document is compared
        with contextlib.suppress(ValueError):
            if json.loads(fetched.body) == {"m.server": M_SERVER}:
                return "ok"
        return f"body {fetched.body!r}"
    if fetched.body != expected.body:
        return f"body differs: {fetched.body!r}"
    missing = [f"{k}: {v}" for k, v in expected.headers if (k, v) not in fetched.headers]
    return "identical" if not missing else "missing " + "; ".join(missing)


def wait_ready(
    process: subprocess.Popen[bytes],
    address: str,
    port: int,
    context: ssl.SSLContext | None,
    timeout: float,
) -> Fetched:
    """Poll until the file is served with 200; bounded by ``timeout``.

    Raises:
        BenchmarkError: The process exited, or did not answer in time.
    """
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.05) + 1):
        if process.poll() is not None:
            raise BenchmarkError(f"exited with {process.returncode} before answering")
        fetched = fetch(address, port, context)
        if fetched is not None and fetched.status == 200:
            return fetched
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    raise BenchmarkError(f"no 200 from {address}:{port} within {timeout:.0f} s")


# --- processes -------------------------------------------------------------------------


def launch(command: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session (Ctrl-C reaches only us), output to ``log``."""
    with log.open("ab") as output:
        return subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=plain_environment(),
        )


def plain_environment() -> dict[str, str]:
    """This environment without proxy settings: all traffic stays on loopback."""
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait, then SIGKILL its whole process group (nginx's worker too)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
            return
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the group is its pid
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_TIMEOUT)


def child_pid(pid: int, timeout: float = 10.0) -> int:
    """The first child of ``pid`` (nginx's worker), waiting for it within ``timeout``."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for _ in range(int(timeout / 0.05) + 1):
        with contextlib.suppress(OSError):
            found = children.read_text().split()
            if found:
                return int(found[0])
        time.sleep(0.05)
    raise BenchmarkError(f"process {pid} started no worker within {timeout:.0f} s")


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` in MiB (VmRSS); NaN if it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_tail(log: Path, lines: int = 20) -> str:
    """The last lines of a server's output, for error messages."""
    if not log.exists():
        return "(no output)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# --- the servers -----------------------------------------------------------------------


@dataclass
class Bench:
    """What every server needs: the work directory, the site, the CA, addresses handed out."""

    work: Path
    config: Path
    files: dict[str, str]
    expected: Response
    client: ssl.SSLContext
    taken: set[str] = field(default_factory=set)

    def address(self, scheme: str) -> tuple[str, int]:
        """A loopback address of its own where the scheme's port is free."""
        port = PORTS[scheme]
        address = free_loopback_address(port, first=10, taken=self.taken)
        if address is None:
            raise BenchmarkError(f"no 127.0.0.X has port {port} free")
        self.taken.add(address)
        return address, port


@contextlib.contextmanager
def running(
    bench: Bench, name: str, scheme: str, command: list[str], address: str, port: int
) -> Iterator[Server]:
    """Start ``command``, wait until it answers, yield it as a Server; always stop it."""
    log = bench.work / f"{name}-{scheme}.log"
    process = launch(command, log, bench.work)
    try:
        context = bench.client if scheme == "https" else None
        try:
            fetched = wait_ready(process, address, port, context, READY_TIMEOUT[name])
            pid = child_pid(process.pid) if name == "nginx" else process.pid
        except BenchmarkError as exc:
            raise BenchmarkError(f"{name} over {scheme}: {exc}\n{log_tail(log)}") from None
        expected = None if name == "synapse" else bench.expected
        notes = [f"negotiated {fetched.tls}"] if fetched.tls else []
        yield Server(name, scheme, address, port, pid, compare(fetched, expected), notes)
    finally:
        stop(process)


def serve_command(bench: Bench, scheme: str, address: str, port: int) -> list[str]:
    """``matrix-delegation serve`` as one process, without access log."""
    command = [
        sys.executable,
        "-m",
        "matrix_delegation",
        "serve",
        "--config",
        str(bench.config),
        "--listen",
        f"{address}:{port}",
        "--access-log",
        "off",
    ]
    return command + (["--tls"] if scheme == "https" else [])


def nginx_command(bench: Bench, scheme: str, address: str, port: int) -> list[str]:
    """nginx in the foreground with its own configuration, prefix and error log."""
    conf = nginx_config(bench.work, (address, port, scheme == "https"), bench.files, bench.expected)
    error_log = str(bench.work / "nginx-error.log")
    return ["nginx", "-p", str(bench.work), "-e", error_log, "-c", str(conf)]


def synapse_command(bench: Bench, scheme: str, address: str, port: int) -> list[str]:
    """Synapse with a generated base config and a listener of our own (TLS or not)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers.synapse import (  # type: ignore[import-not-found,unused-ignore]
        generate_base_config,
        runtime_settings,
    )

    base = generate_base_config(bench.work / "synapse-base", SERVER_NAME)
    directory = bench.work / f"synapse-{scheme}"
    directory.mkdir()
    settings = runtime_settings(directory, address, port)
    settings["listeners"][0]["tls"] = scheme == "https"
    settings |= {"server_name": SERVER_NAME, "serve_server_wellknown": True}
    if scheme == "https":
        settings |= {
            "tls_certificate_path": bench.files["certificate"],
            "tls_private_key_path": bench.files["key"],
        }
    log_config = yaml.safe_load(Path(settings["log_config"]).read_text())
    log_config["loggers"] = {"synapse.access": {"level": "WARNING"}}  # access log off
    Path(settings["log_config"]).write_text(yaml.safe_dump(log_config))
    runtime = directory / "runtime.yaml"
    runtime.write_text(yaml.safe_dump(settings, sort_keys=False))
    return [sys.executable, "-m", "synapse.app.homeserver", "-c", str(base), "-c", str(runtime)]


COMMANDS = {"serve": serve_command, "nginx": nginx_command, "synapse": synapse_command}


# --- wrk -------------------------------------------------------------------------------


def run_wrk(bench: Bench, url: str, settings: Settings, seconds: int) -> dict[str, int]:
    """One wrk run against ``url``; its summary, parsed from the Lua hook's line."""
    script = bench.work / "summary.lua"
    script.write_text(WRK_SCRIPT)
    command = [
        "wrk",
        f"-t{settings.threads}",
        f"-c{settings.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-H",
        f"Host: {SERVER_NAME}",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            summary: dict[str, int] = json.loads(line[len(MARKER) :])
            return summary
    raise BenchmarkError(f"wrk gave no summary ({done.returncode}):\n{done.stdout}{done.stderr}")


def children_cpu() -> float:
    """CPU seconds used by waited-for children so far (here: the wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(bench: Bench, server: Server, settings: Settings) -> Result:
    """Warm up, then the measured run; RSS at start, after warm-up and at the end."""
    rss = [rss_mib(server.pid)]
    run_wrk(bench, server.url, settings, settings.warmup)
    rss.append(rss_mib(server.pid))
    server_cpu, wrk_cpu = cpu_seconds(server.pid), children_cpu()
    summary = run_wrk(bench, server.url, settings, settings.duration)
    server_cpu, wrk_cpu = cpu_seconds(server.pid) - server_cpu, children_cpu() - wrk_cpu
    rss.append(rss_mib(server.pid))
    seconds = summary["duration_us"] / 1e6
    sockets = sum(summary[kind] for kind in ("connect", "read", "write", "timeout"))
    return Result(
        server.name,
        server.scheme,
        round(summary["requests"] / seconds, 1),
        round(summary["p50_us"] / 1000, 3),
        round(summary["p99_us"] / 1000, 3),
        round(summary["max_us"] / 1000, 3),
        summary["status"],
        sockets,
        summary["requests"],
        (round(rss[0], 1), round(rss[1], 1), round(rss[2], 1)),
        round(100 * server_cpu / seconds, 1),
        round(100 * wrk_cpu / seconds, 1),
        round(summary["requests"] / server_cpu) if server_cpu else 0.0,
        server.check,
        server.notes,
    )


def bench_one(bench: Bench, name: str, scheme: str, settings: Settings) -> Result:
    """Start one server, measure it and stop it."""
    address, port = bench.address(scheme)
    command = COMMANDS[name](bench, scheme, address, port)
    with running(bench, name, scheme, command, address, port) as server:
        if name == "nginx":
            server.notes.append(f"worker pid {server.pid}, keepalive_requests unlimited")
        if name == "synapse" and scheme == "http":
            server.notes.append("plain HTTP listener: Synapse normally sits behind a proxy")
        if name == "synapse" and scheme == "https":
            server.notes.append("Synapse terminating TLS itself (tls: true)")
        return measure(bench, server, settings)


# --- the run ---------------------------------------------------------------------------


def plan(settings: Settings) -> list[tuple[str, str]]:
    """Which servers over which schemes, in the order they run."""
    runs = [("serve", "https"), ("nginx", "https"), ("serve", "http"), ("nginx", "http")]
    if settings.synapse:
        runs += [("synapse", "http"), ("synapse", "https")]
    return runs


def run_all(settings: Settings, notes: list[str]) -> list[Result]:
    """Every run of the plan; a server that cannot start is noted and skipped."""
    results = []
    with tempfile.TemporaryDirectory(prefix="md-bench-serve-") as directory:
        work = Path(directory)
        os.chmod(work, 0o755)  # nginx's worker may run as nobody
        ca = SandboxCA()
        config, files, expected = write_site(work, ca)
        bench = Bench(work, config, files, expected, ca.client_context())
        for name, scheme in plan(settings):
            if name == "nginx" and shutil.which("nginx") is None:
                notes.append("nginx is not installed: its rows are missing")
                continue
            try:
                results.append(bench_one(bench, name, scheme, settings))
            except BenchmarkError as exc:
                notes.append(f"{name} over {scheme} skipped: {exc}")
            print(f"  done: {name} over {scheme}", file=sys.stderr)
    return results


def ratios(results: list[Result], per_cpu: bool = False) -> dict[str, float]:
    """serve's requests per second (or per CPU-second) over nginx's and Synapse's."""
    rate = {
        (r.server, r.scheme): r.requests_per_cpu_s if per_cpu else r.requests_per_s for r in results
    }
    pairs = {
        "serve/nginx https": (("serve", "https"), ("nginx", "https")),
        "serve/nginx http": (("serve", "http"), ("nginx", "http")),
        "serve/synapse http": (("serve", "http"), ("synapse", "http")),
        "serve/synapse https": (("serve", "https"), ("synapse", "https")),
    }
    return {
        label: round(rate[ours] / rate[theirs], 2)
        for label, (ours, theirs) in pairs.items()
        if rate.get(ours) and rate.get(theirs)
    }


# --- the machine -----------------------------------------------------------------------


def first_line(command: list[str]) -> str:
    """The first line a command prints (stdout or stderr), or why there is none."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    return ((done.stdout or "") + (done.stderr or "")).strip().splitlines()[0]


def machine() -> dict[str, Any]:
    """Cores, CPU model, kernel and the versions of everything measured."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    nginx_v = first_line(["nginx", "-v"])
    built = [line for line in first_line_all(["nginx", "-V"]) if "OpenSSL" in line]
    try:
        synapse = importlib.metadata.version("matrix-synapse")
    except importlib.metadata.PackageNotFoundError:
        synapse = "not installed"
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "arch": platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "openssl (python)": ssl.OPENSSL_VERSION,
        "nginx": nginx_v,
        "nginx openssl": built[0] if built else "?",
        "synapse": synapse,
        "wrk": first_line(["wrk", "-v"]),
    }


def first_line_all(command: list[str]) -> list[str]:
    """Every line a command prints, or none."""
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        return (done.stdout + done.stderr).splitlines()
    return []


# --- output ----------------------------------------------------------------------------


def table(results: list[Result]) -> str:
    """The results as a fixed-width table."""
    header = (
        f"{'server':<8} {'scheme':<6} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'>=400':>6} {'sock err':>8} {'RSS MiB start/warm/end':>24} "
        f"{'srv CPU':>8} {'wrk CPU':>8} {'req/CPU-s':>10}  check"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        rss = "/".join(f"{value:.1f}" for value in r.rss_mib)
        lines.append(
            f"{r.server:<8} {r.scheme:<6} {r.requests_per_s:>10,.0f} {r.p50_ms:>8.2f} "
            f"{r.p99_ms:>8.2f} {r.status_errors:>6} {r.socket_errors:>8} {rss:>24} "
            f"{r.server_cpu_pct:>7.0f}% {r.wrk_cpu_pct:>7.0f}% {r.requests_per_cpu_s:>10,.0f}"
            f"  {r.check}"
        )
    return "\n".join(lines)


def report(report_data: dict[str, Any], results: list[Result]) -> str:
    """The human-readable report: command, machine, table, ratios, notes."""
    parts = [f"command: {report_data['command']}", ""]
    parts += [f"{key:>17}: {value}" for key, value in report_data["machine"].items()]
    settings = report_data["settings"]
    parts += [
        "",
        f"wrk -t{settings['threads']} -c{settings['connections']}, "
        f"{settings['warmup']} s warm-up then {settings['duration']} s measured",
        "",
    ]
    parts += [table(results), ""]
    per_cpu = report_data["ratios_per_cpu_s"]
    parts += [
        f"{label}: {value} x requests/s, {per_cpu.get(label, '?')} x requests per CPU-second"
        for label, value in report_data["ratios"].items()
    ]
    for r in results:
        parts += [f"note: {r.server} {r.scheme}: {note}" for note in r.notes]
    parts += [f"note: {note}" for note in report_data["notes"]]
    return "\n".join(parts)


def parse_settings(argv: list[str] | None) -> tuple[Settings, bool]:
    """Settings from the command line; --smoke sets short, light defaults."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--connections", type=int, help="keep-alive connections (256)")
    parser.add_argument("--duration", type=int, help="seconds of each measured run (10)")
    parser.add_argument("--warmup", type=int, help="seconds of each warm-up run (2)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--no-synapse", action="store_true", help="leave Synapse out")
    parser.add_argument(
        "--smoke", action="store_true", help="2 s runs, 32 connections, no Synapse: proves it works"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    smoke = args.smoke
    settings = Settings(
        connections=args.connections or (32 if smoke else 256),
        duration=args.duration or (2 if smoke else 10),
        warmup=args.warmup or (1 if smoke else 2),
        threads=args.threads,
        synapse=not (smoke or args.no_synapse),
    )
    return settings, args.json


def main(argv: list[str] | None = None) -> int:
    settings, as_json = parse_settings(argv)
    if shutil.which("wrk") is None:
        print(
            "benchmarks/serve.py: wrk is not installed; it is the Debian package 'wrk' "
            "(apt-get install wrk)",
            file=sys.stderr,
        )
        return 2
    # SIGTERM unwinds like Ctrl-C, so that every server is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    notes: list[str] = []
    results = run_all(settings, notes)
    data = {
        "command": shlex.join(["python", *(sys.argv if argv is None else [__file__, *argv])]),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        "settings": asdict(settings),
        "results": [asdict(r) for r in results],
        "ratios": ratios(results),
        "ratios_per_cpu_s": ratios(results, per_cpu=True),
        "notes": notes,
    }
    print(json.dumps(data, indent=2) if as_json else report(data, results))
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
