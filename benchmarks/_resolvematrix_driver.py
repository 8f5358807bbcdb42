"""Driver for the PyPI ``resolvematrix`` package (the interface: ``_driver_io``).

``ServerResolver`` takes its own dnspython resolver and its own httpx client,
so both can be pointed at the sandbox through its public constructor: the DNS
resolver is configured with the sandbox server only (``configure=False``: no
``/etc/resolv.conf``), and the httpx client trusts only the sandbox CA. For
conformance the client connects through a network backend that looks hostnames
up in the sandbox too, so nothing reaches the system resolver. ``compare.py``
measures the client as shipped (``sandbox_backend=False``: getaddrinfo, which it
points at the sandbox from a private mount namespace) and with its cache.

It overrides the private ``ServerResolver._srv_lookup`` (to see which SRV name
answered): the ``test`` extra pins the resolvematrix version it was written against.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import threading
from typing import Any

import _driver_io as io
import dns.resolver
import httpcore
import httpx
from resolvematrix import ResolutionError, ServerDestination, ServerResolver
from resolvematrix.cache import VoidResolutionCache


def _dns(config: io.Target) -> dns.resolver.Resolver:
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
    """resolvematrix's resolver, noting the addresses it picked and the SRV names that answered.

    What one resolution did is noted per thread: compare.py resolves from many threads.
    """

    def __init__(self, target: io.Target, *, sandbox_backend: bool, cache: bool) -> None:
        resolver = _dns(target)
        context = ssl.create_default_context(cafile=target["ca_file"])
        if sandbox_backend:
            backend = SandboxBackend(resolver, target["connect_to"])
            http = httpx.Client(transport=_Transport(context, backend),
                                timeout=target["timeout"], trust_env=False)  # fmt: skip
        else:  # no proxy from the environment either: loopback only
            http = httpx.Client(verify=context, timeout=target["timeout"], trust_env=False)
        kept = {} if cache else {"cache": VoidResolutionCache()}
        super().__init__(client=http, dns_resolver=resolver, **kept)
        self.addresses: dict[str, str] = {}
        self.notes = threading.local()

    def lookup_domain(self, domain: str) -> Any:
        address = super().lookup_domain(domain)
        self.addresses[domain] = str(address)
        return address

    def _srv_lookup(self, record_name: str) -> Any:
        found = super()._srv_lookup(record_name)
        if found:
            self.notes.answered.append(record_name)
        return found

    def resolve_well_known(self, destination: ServerDestination) -> ServerDestination:
        resolved = super().resolve_well_known(destination)
        self.notes.delegated = True
        return resolved


class Driver:
    """resolvematrix's ``ServerResolver`` on the sandbox; ``resolver`` for the speed runs."""

    def __init__(
        self, target: io.Target, *, sandbox_backend: bool = True, cache: bool = False
    ) -> None:
        self.resolver = ObservedResolver(target, sandbox_backend=sandbox_backend, cache=cache)

    def resolve_here(self, server_name: str) -> io.Outcome:
        """:meth:`resolve` in this thread (resolvematrix is synchronous)."""
        return _attempt(self.resolver, server_name)

    async def resolve(self, server_name: str) -> io.Outcome:
        return self.resolve_here(server_name)

    def advance(self, seconds: float) -> None:
        """Nothing to move: it keeps no SRV cache, and resolve() never reads its cache."""

    async def close(self) -> None:
        self.resolver.client.close()


def _attempt(resolver: ObservedResolver, server_name: str) -> io.Outcome:
    resolver.notes.answered = []
    resolver.notes.delegated = False
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
    prefix = "well-known/" if resolver.notes.delegated else ""
    if resolver.notes.answered:
        legacy = resolver.notes.answered[0].startswith("_matrix._tcp.")
        return prefix + ("srv-legacy" if legacy else "srv")
    host = destination.hostname.rsplit(":", 1)[0]
    if prefix and io.is_ip(host):
        return prefix + "ip-literal"
    if prefix and ":" in destination.host_header:
        return prefix + "explicit-port"
    return prefix + "default-port"


def main() -> int:
    # It caches whole destinations but never reads that cache in resolve(), and keeps
    # no SRV cache: a two-phase scenario's second resolution starts from nothing.
    asyncio.run(io.run_scenarios(io.read_config(), Driver))
    return 0


if __name__ == "__main__":
    sys.exit(main())
