"""Conformance driver for the PyPI ``resolvematrix`` package (see ``_driver_io``).

``ServerResolver`` takes its own dnspython resolver and its own httpx client,
so both can be pointed at the sandbox through its public constructor: the DNS
resolver is configured with the sandbox server only (``configure=False``: no
``/etc/resolv.conf``), and the httpx client connects through a network backend
that looks hostnames up in the sandbox too and trusts only the sandbox CA.
Nothing reaches the system resolver.
"""

from __future__ import annotations

import ssl
import sys
from typing import Any

import _driver_io as io
import dns.resolver
import httpcore
import httpx
from resolvematrix import ResolutionError, ServerDestination, ServerResolver
from resolvematrix.cache import VoidResolutionCache


def _dns(config: io.Config) -> dns.resolver.Resolver:
    host, port = config["nameserver"]
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = int(port)
    resolver.timeout = resolver.lifetime = config["timeout"]
    return resolver


class SandboxBackend(httpcore.SyncBackend):
    """Connects to hostnames by their sandbox A/AAAA records (and ``connect_to`` rules)."""

    def __init__(self, resolver: dns.resolver.Resolver, connect_to: list[str]) -> None:
        self._dns = resolver
        self._rules: dict[tuple[str, int], tuple[str, int]] = {}
        for rule in connect_to:
            name, port, ip, bound = rule.rsplit(":", 3)
            self._rules[(name, int(port))] = (ip, int(bound))

    def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        host, port = self._rules.get((host, port), (host, port))
        if not io.is_ip(host):
            host = self._address(host)
        return super().connect_tcp(host, port, *args, **kwargs)

    def _address(self, host: str) -> str:
        for rdtype in ("A", "AAAA"):
            try:
                return self._dns.resolve(host, rdtype)[0].to_text()  # type: ignore[no-any-return]
            except dns.exception.DNSException:
                continue
        raise httpcore.ConnectError(f"{host}: no address in the sandbox DNS")


class _Transport(httpx.HTTPTransport):
    def __init__(self, context: ssl.SSLContext, backend: SandboxBackend) -> None:
        super().__init__(verify=context)
        self._pool = httpcore.ConnectionPool(ssl_context=context, network_backend=backend)


class ObservedResolver(ServerResolver):  # type: ignore[misc]
    """resolvematrix's resolver, noting the addresses it picked and the SRV names that answered."""

    def __init__(self, config: io.Config) -> None:
        resolver = _dns(config)
        context = ssl.create_default_context(cafile=config["ca_file"])
        transport = _Transport(context, SandboxBackend(resolver, config["connect_to"]))
        http = httpx.Client(transport=transport, timeout=config["timeout"], trust_env=False)
        super().__init__(client=http, dns_resolver=resolver, cache=VoidResolutionCache())
        self.addresses: dict[str, str] = {}
        self.answered: list[str] = []
        self.delegated = False

    def lookup_domain(self, domain: str) -> Any:
        address = super().lookup_domain(domain)
        self.addresses[domain] = str(address)
        return address

    def _srv_lookup(self, record_name: str) -> Any:
        found = super()._srv_lookup(record_name)
        if found:
            self.answered.append(record_name)
        return found

    def resolve_well_known(self, destination: ServerDestination) -> ServerDestination:
        resolved = super().resolve_well_known(destination)
        self.delegated = True
        return resolved


def _attempt(resolver: ObservedResolver, server_name: str) -> io.Outcome:
    resolver.answered.clear()
    resolver.delegated = False
    try:
        destination = resolver.resolve(server_name)
    except ResolutionError as exc:
        return io.failed("no-address", str(exc))
    except ValueError as exc:
        return io.failed("invalid-server-name", str(exc))
    host, port = destination.hostname.rsplit(":", 1)
    ip = host if io.is_ip(host) else resolver.addresses.get(host, host)
    return {
        "route": _route(resolver, server_name, destination),
        "endpoint": io.endpoint_text(ip, int(port)),
        "host": destination.host_header,
        # Without an explicit SNI, httpx checks the certificate against the URL's host.
        "tls": destination.sni or host,
    }


def _route(resolver: ObservedResolver, server_name: str, destination: ServerDestination) -> str:
    """Name the spec step its choices amount to (it does not report one)."""
    name = server_name.strip("[]").rsplit(":", 1)[0] if "]" not in server_name else ""
    if io.is_ip(server_name.strip("[]")) or "]" in server_name or io.is_ip(name):
        return "ip-literal"
    if ":" in server_name:
        return "explicit-port"
    prefix = "well-known/" if resolver.delegated else ""
    if resolver.answered:
        legacy = resolver.answered[0].startswith("_matrix._tcp.")
        return prefix + ("srv-legacy" if legacy else "srv")
    host = destination.hostname.rsplit(":", 1)[0]
    if prefix and io.is_ip(host):
        return prefix + "ip-literal"
    if prefix and ":" in destination.host_header:
        return prefix + "explicit-port"
    return prefix + "default-port"


def main() -> int:
    config = io.read_config()
    for scenario in config["scenarios"]:
        resolver = ObservedResolver(config)
        outcome = _attempt(resolver, scenario["server_name"])
        if scenario.get("between"):
            # It caches whole destinations but never reads that cache in resolve(),
            # and keeps no SRV cache: the second resolution starts from nothing.
            io.wait_between(scenario["id"])
            outcome = _attempt(resolver, scenario["server_name"])
        resolver.client.close()
        io.report(scenario["id"], outcome)
    return 0


if __name__ == "__main__":
    sys.exit(main())
