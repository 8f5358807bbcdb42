"""A small internet on loopback: one DNS server, one CA, HTTPS hosts on 127.0.0.X.

Every HTTPS host gets its own loopback address so that it can listen on the
real port 443, as ``.well-known`` requires. Without the right to bind port
443 (not root), a host listens on a free port instead and the sandbox adds a
``--connect-to`` rule for it: names, Host headers and certificates stay as
they would be in production either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from .._core.site import Site
from ..service import WellKnownService
from .addresses import free_loopback_address
from .dns_server import DnsServer, Zone
from .tls import SandboxCA
from .web import WebHost

__all__ = ["LOOPBACK_RANGES", "Sandbox"]

#: What a resolver must allow through its blocklist to reach the sandbox.
LOOPBACK_RANGES = ("127.0.0.0/8", "::1/128")
HTTPS_PORT = 443
_IPV6_LOOPBACK = "::1"


class Sandbox:
    """A running DNS server, CA and set of HTTPS hosts, all on loopback.

    Attributes:
        zone: The DNS records served; change them at any time.
        ca: The throwaway CA every sandbox certificate comes from.
        connect_to: ``--connect-to`` rules for hosts that could not bind 443.
        services: The well-known services started by :meth:`serve_site`.
    """

    def __init__(self, *, first_address: int = 2) -> None:
        self.zone = Zone()
        self.dns = DnsServer(self.zone)
        self.ca = SandboxCA()
        self.connect_to: list[str] = []
        self.services: list[WellKnownService] = []
        self._hosts: list[WebHost] = []
        self._taken: set[str] = set()
        self._first = first_address

    async def __aenter__(self) -> Self:
        await self.dns.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop every server."""
        for host in self._hosts:
            await host.stop()
        for service in self.services:
            await service.close()
        self._hosts.clear()
        self.services.clear()
        await self.dns.stop()

    def address(self, port: int) -> str:
        """A loopback address not yet handed out where ``port`` is free (or any, for 0)."""
        found = free_loopback_address(port, first=self._first, taken=self._taken)
        if found is None:
            raise OSError(f"no free loopback address for port {port}")
        self._taken.add(found)
        return found

    async def https_host(
        self,
        names: Sequence[str],
        *,
        port: int = HTTPS_PORT,
        certificate_for: Sequence[str] | None = None,
        expired: bool = False,
        self_signed: bool = False,
        untrusted: bool = False,
        days_left: int | None = None,
        malformed_san: bool = False,
        ipv6: bool = False,
    ) -> WebHost:
        """Start an HTTPS host answering for ``names``, with A records pointing at it.

        Args:
            names: The hostnames it serves; each gets an A record.
            port: The port to listen on (443 unless told otherwise).
            certificate_for: The names on its certificate (default: ``names``).
            expired: Give it an expired certificate.
            self_signed: Give it a certificate that signed itself.
            untrusted: Give it a certificate from a CA nobody trusts.
            days_left: Give it a certificate that expires in that many days.
            malformed_san: Give it a self-signed certificate whose subjectAltName
                is not valid DER.
            ipv6: Listen on ``::1`` and publish AAAA records instead of A records.
        """
        cert_names = list(certificate_for if certificate_for is not None else names)
        if self_signed or malformed_san:
            context = self.ca.self_signed_context(*cert_names, malformed_san=malformed_san)
        elif untrusted:
            context = self.ca.untrusted_context(*cert_names)
        else:
            context = self.ca.server_context(*cert_names, expired=expired, days_left=days_left)
        ip, bound_port = _IPV6_LOOPBACK, port
        if not ipv6:
            ip, bound_port = self._listen_address(port)
        host = WebHost(ip, bound_port, context)
        try:
            await host.start()
        except OSError:
            if not ipv6:
                raise
            host = WebHost(ip, 0, context)  # ::1 is one address: the port may be taken
            await host.start()
        self._hosts.append(host)
        self._publish(names, ip, port, host.port)
        return host

    async def serve_site(self, site: Site, *, port: int = HTTPS_PORT) -> WellKnownService:
        """Run the real well-known service (``serve``) over HTTPS for a site's domains.

        Each domain gets an A record pointing at it and a certificate from the
        sandbox CA.
        """
        names = [domain.hostname for domain in site.domains]
        ip, bound_port = self._listen_address(port)
        service = WellKnownService(site, ssl_context=self.ca.server_context(*names))
        await service.start([(ip, bound_port)])
        self.services.append(service)
        self._publish(names, ip, port, service.addresses[0][1])
        return service

    def _listen_address(self, port: int) -> tuple[str, int]:
        """A fresh loopback address for ``port``, or any port there without the right."""
        ip = free_loopback_address(port, first=self._first, taken=self._taken)
        if ip is None:  # no right to bind this port here: any port, plus a rule
            return self.address(0), 0
        self._taken.add(ip)
        return ip, port

    def _publish(self, names: Sequence[str], ip: str, port: int, bound_port: int) -> None:
        for name in names:
            self.zone.add(name, "AAAA" if ":" in ip else "A", ip)
            if bound_port != port:
                where = f"[{ip}]" if ":" in ip else ip
                self.connect_to.append(f"{name}:{port}:{where}:{bound_port}")

    def resolver_options(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for :class:`~matrix_delegation.Resolver` that reach the sandbox."""
        options: dict[str, Any] = {
            "nameservers": [self.dns.nameserver],
            "ssl_context": self.ca.client_context(),
            "allow_ip_ranges": LOOPBACK_RANGES,
            "connect_to": list(self.connect_to),
            "timeout": 5.0,
        }
        options.update(overrides)
        return options
