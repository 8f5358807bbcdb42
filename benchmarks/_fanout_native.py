"""The fan-out served by nginx and dnsmasq instead of the Python sandbox (``--servers``).

The same N names as ``_fanout_sandbox`` (the catalog's fan-out entry, ``scenarios.fanout``)
and the same records, published by servers written in C, so that a cold run measures the
client side without Python servers taking a share of the two cores:

- nginx (serve.py's settings: one worker, no access log) on 127.0.0.X:443 with one ECDSA
  wildcard certificate from a sandbox CA, answering ``/.well-known/matrix/server`` for
  each name from a ``map`` of the Host header built from the catalog, 404 otherwise;
- dnsmasq in the foreground on 127.0.0.X:53 (loopback only, no upstream, no
  /etc/hosts): the A records in an ``--addn-hosts`` file, the SRV records as
  ``srv-host`` lines of a configuration file, every record an hour long as in the
  catalog (``--local-ttl``).

``native(count, work)`` yields a setup of the same shape as ``_fanout_sandbox.sandbox``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dns.message
import dns.query
import scenarios as sc
from _compare_tls import listening
from serve import NGINX_PREAMBLE, NGINX_TEMPS, child_pid, indent, launch, log_tail, stop

from matrix_delegation.sandbox import SandboxCA, free_loopback_address
from matrix_delegation.sandbox.world import LOOPBACK_RANGES

READY_TIMEOUT = 20.0
RESOLVE_TIMEOUT = 30.0
TTL = 3600  # the catalog's fan-out records live an hour

NGINX = (
    NGINX_PREAMBLE
    + """\
    map_hash_max_size {map_size};
    map_hash_bucket_size 128;
{temp_paths}
    map $host $m_server {{
        default "";
{entries}
    }}
    server {{
        listen {address}:{port} ssl;
        server_name _;
        ssl_certificate {certificate};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location = {path} {{
            if ($m_server = "") {{
                return 404;
            }}
            default_type application/json;
            return 200 '{{"m.server": "$m_server"}}';
        }}
    }}
}}
"""
)


def _published(names: list[sc.Scenario]) -> tuple[dict[str, str], list[str], list[str]]:
    """From the catalog: the m.server per name, the A records, the SRV records."""
    delegations, hosts, srv = {}, [], []
    for scenario in names:
        for url, reply in scenario.get("web", {}).items():
            delegations[urlsplit(url).hostname or ""] = reply["json"]["m.server"]
        for owner, rdtype, value, *_ in scenario.get("dns", []):
            if rdtype == "A":
                hosts.append(f"{value} {owner}")
            elif rdtype == "SRV":
                priority, weight, port, target = value.split()
                srv.append(f"srv-host={owner},{target.rstrip('.')},{port},{priority},{weight}")
    return delegations, sorted(set(hosts)), srv


def _nginx(work: Path, where: tuple[str, int], files: dict[str, str], to: dict[str, str]) -> Path:
    conf = work / "nginx-fanout.conf"
    conf.write_text(
        NGINX.format(
            work=work,
            map_size=max(1024, 2 * len(to)),
            temp_paths=indent(
                [f"{kind}_temp_path {work}/nginx-{kind};" for kind in NGINX_TEMPS], 4
            ),
            entries=indent([f'"{name}" "{server}";' for name, server in to.items()], 8),
            address=where[0],
            port=where[1],
            certificate=files["certificate"],
            key=files["key"],
            path=sc.WELL_KNOWN,
        )
    )
    return conf


def _dnsmasq(work: Path, where: tuple[str, int], hosts: list[str], srv: list[str]) -> list[str]:
    (work / "hosts").write_text("\n".join(hosts) + "\n")
    (work / "srv.conf").write_text("\n".join(srv) + "\n")
    return [
        "dnsmasq", "--no-daemon", f"--port={where[1]}", f"--listen-address={where[0]}",
        "--bind-interfaces", "--no-resolv", "--no-hosts", f"--addn-hosts={work / 'hosts'}",
        f"--conf-file={work / 'srv.conf'}", f"--local-ttl={TTL}",
        f"--local=/{sc.FANOUT_DOMAIN}/", "--pid-file=", "--user=root",
    ]  # fmt: skip


def _answers(address: str, port: int, name: str) -> bool:
    query = dns.message.make_query(name, "A")
    with contextlib.suppress(OSError, dns.exception.DNSException):
        return bool(dns.query.udp(query, address, port=port, timeout=0.5).answer)
    return False


def _wait(process: subprocess.Popen[bytes], ready: Any, log: Path, what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start:\n{log_tail(log)}")
        time.sleep(0.05)


def _address(port: int, fallback: int, first: int) -> tuple[str, int]:
    """A 127.0.0.X with ``port`` free, or (not root) one with ``fallback`` free."""
    for wanted in (port, fallback):
        address = free_loopback_address(wanted, first=first)
        if address is not None:
            return address, wanted
    raise RuntimeError(f"no 127.0.0.X has port {port} or {fallback} free")


@contextlib.contextmanager
def native(count: int, work: Path) -> Iterator[dict[str, Any]]:
    """nginx and dnsmasq serving ``count`` fan-out names; yield the setup."""
    missing = [tool for tool in ("nginx", "dnsmasq") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"not installed: {', '.join(missing)}")
    work = work / "native"
    work.mkdir()
    wildcard = f"*.{sc.FANOUT_DOMAIN}"
    ca = SandboxCA()
    files = ca.issue_files(wildcard, work)
    ca_file = str(ca.write_ca_pem(work / "ca.pem"))
    names = sc.fanout(count)
    delegations, hosts, srv = _published(names)
    web = _address(443, 18443, 160)
    dns_at = _address(53, 15353, 170)
    hosts = [f"{web[0]} {name}" for name in delegations] + hosts
    with contextlib.ExitStack() as stack:
        conf = _nginx(work, web, files, delegations)
        command = ["nginx", "-p", str(work), "-e", str(work / "nginx-error.log"), "-c", str(conf)]
        nginx = launch(command, work / "nginx.log", work)
        stack.callback(stop, nginx)
        _wait(nginx, lambda: listening(*web), work / "nginx-error.log", "nginx")
        dnsmasq = launch(_dnsmasq(work, dns_at, hosts, srv), work / "dnsmasq.log", work)
        stack.callback(stop, dnsmasq)
        first = names[0]["server_name"]
        _wait(dnsmasq, lambda: _answers(*dns_at, first), work / "dnsmasq.log", "dnsmasq")
        yield {
            "servers": "nginx-dnsmasq",
            "dns_host": dns_at[0],
            "dns_port": dns_at[1],
            "https_host": web[0],
            "https_port": web[1],
            "ca_file": ca_file,
            "files": files,
            "names": [scenario["server_name"] for scenario in names],
            "expected": [scenario["expect"]["endpoints"][0] for scenario in names],
            "server_pids": [child_pid(nginx.pid), dnsmasq.pid],
            "target": {
                "nameserver": list(dns_at),
                "ca_file": ca_file,
                "allow": list(LOOPBACK_RANGES),
                "connect_to": [] if web[1] == 443 else [f":443:{web[0]}:{web[1]}"],
                "timeout": RESOLVE_TIMEOUT,
            },
        }
