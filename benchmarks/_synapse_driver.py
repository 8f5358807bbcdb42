"""Driver for Synapse's own resolver (the interface: ``_driver_io``).

Synapse splits discovery in two (docs/design.md §5.5): ``MatrixFederationAgent.request``
fetches ``.well-known`` (``WellKnownResolver``) and rewrites the URI and the
Host header; ``MatrixHostnameEndpoint._resolve_server`` then does the SRV steps
(``SrvResolver``) and ``HostnameEndpoint`` the A/AAAA lookups. This driver runs
that real code in Twisted's reactor, configured as a homeserver would be
(``federation_custom_ca_list`` = the sandbox CA, loopback let through the
default IP blocklist by ``ip_range_whitelist``), and stops just short of
connecting: the agent's inner HTTP agent is swapped for one that records the
request it is handed, and the endpoint built for that request is asked for
its server list instead of being connected.

Every DNS question goes to the sandbox: SRV through a Twisted DNS client given
to ``SrvResolver``, A/AAAA through a name resolver installed on the reactor.
The system resolver is never used.

It reaches into Synapse's private attributes (``MatrixFederationAgent._agent`` and
``_well_known_resolver``, the endpoint's ``_resolve_server`` and ``_tls_options``):
the ``test`` extra pins the Synapse version it was written against.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from collections.abc import Callable
from importlib.metadata import version
from typing import Any
from urllib.parse import urlparse

import _driver_io as io
from synapse.config.homeserver import HomeServerConfig
from synapse.crypto.context_factory import FederationPolicyForHTTPS
from synapse.http.federation.matrix_federation_agent import MatrixFederationAgent
from synapse.http.federation.srv_resolver import Server, SrvResolver
from synapse.util.clock import Clock
from twisted.internet import defer, error, reactor, task
from twisted.internet._resolver import HostResolution
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver, IResolutionReceiver
from twisted.names import client, dns
from twisted.names.error import DomainError
from twisted.web.client import URI
from zope.interface import implementer

_DEADLINE = 30.0  # seconds for one resolution, well-known retries included
_PATH = b"/_matrix/federation/v1/version"


@implementer(IHostnameResolver)
class SandboxNameResolver:
    """A/AAAA lookups through a Twisted DNS client (the sandbox), for the reactor."""

    def __init__(self, dns_client: client.Resolver) -> None:
        self._dns = dns_client
        self.raw: dict[str, list[str]] = {}  # every answer, before Synapse's IP filter

    def resolveHostName(
        self,
        receiver: Any,  # an IResolutionReceiver
        hostName: str,
        portNumber: int = 0,
        addressTypes: object = None,
        transportSemantics: str = "TCP",
    ) -> HostResolution:
        resolution = HostResolution(hostName)
        receiver.resolutionBegan(resolution)

        def deliver(ips: list[str]) -> None:
            self.raw[hostName] = ips
            for ip in ips:
                kind = IPv6Address if ":" in ip else IPv4Address
                receiver.addressResolved(kind("TCP", ip, portNumber))
            receiver.resolutionComplete()

        self.addresses(hostName).addCallback(deliver)
        return resolution

    def addresses(self, host: str) -> defer.Deferred[list[str]]:
        """The A then AAAA addresses of ``host`` (an IP literal stands for itself)."""
        if io.is_ip(host):
            return defer.succeed([host])
        lookups = [
            self._dns.lookupAddress(host),  # type: ignore[no-untyped-call]
            self._dns.lookupIPV6Address(host),  # type: ignore[no-untyped-call]
        ]
        for lookup in lookups:
            lookup.addErrback(lambda _failure: ([], [], []))
        gathered = defer.gatherResults(lookups)
        return gathered.addCallback(lambda results: [ip for r in results for ip in _ips(r[0])])


def _ips(answers: list[dns.RRHeader]) -> list[str]:
    found = []
    for answer in answers:
        payload: Any = answer.payload
        if answer.type == dns.A:
            found.append(payload.dottedQuad())
        elif answer.type == dns.AAAA:
            found.append(socket.inet_ntop(socket.AF_INET6, payload.address))
    return found


class _Capture:
    """Stands in for the agent's inner HTTP agent: records the request, sends nothing."""

    def request(self, method: bytes, uri: bytes, headers: Any = None, body: Any = None) -> Any:
        return defer.succeed((uri, headers))


class _RecordingSrv(SrvResolver):
    """Synapse's SRV resolver, noting which service names gave records."""

    def __init__(self, dns_client: client.Resolver, clock: Callable[[], float]) -> None:
        super().__init__(dns_client=dns_client, cache={}, get_time=clock)
        self.answered: set[bytes] = set()  # a set, not per resolution: many run at once

    async def resolve_service(self, service_name: bytes) -> list[Server]:
        servers = await super().resolve_service(service_name)
        if servers:
            self.answered.add(service_name)
        return servers


def _config(ca_file: str, allow: list[str]) -> HomeServerConfig:
    """The two config sections the agent reads, parsed by Synapse itself."""
    config = HomeServerConfig()
    settings = {
        "server_name": "conformance.test",
        "report_stats": False,
        "federation_custom_ca_list": [ca_file],
        "ip_range_whitelist": allow,  # the default blocklist stays, loopback let through
    }
    with tempfile.TemporaryDirectory() as scratch:
        for section in (config.server, config.tls):
            section.read_config(settings, config_dir_path=scratch, data_dir_path=scratch)
    return config


class Driver:
    """A fresh ``MatrixFederationAgent`` (fresh caches), asked what it decides for a name."""

    def __init__(self, target: io.Target, *, server_name: str = "conformance.test") -> None:
        host, port = target["nameserver"]
        self._dns = client.Resolver(  # type: ignore[no-untyped-call]
            servers=[(host, int(port))], timeout=(1, 2)
        )
        self.names = SandboxNameResolver(self._dns)
        reactor.installNameResolver(self.names)
        hs_config = _config(target["ca_file"], target["allow"])
        self._clock = io.SkewedClock()
        self.srv = _RecordingSrv(self._dns, self._clock)
        self.agent = MatrixFederationAgent(
            server_name=server_name,
            reactor=reactor,
            clock=Clock(reactor, server_name=server_name),
            tls_client_options_factory=FederationPolicyForHTTPS(hs_config),
            user_agent=f"Synapse/{version('matrix-synapse')}".encode(),
            ip_allowlist=hs_config.server.federation_ip_range_allowlist,
            ip_blocklist=hs_config.server.federation_ip_range_blocklist,
            _srv_resolver=self.srv,
        )
        self._endpoints = self.agent._agent._endpointFactory
        self.agent._agent = _Capture()

    async def resolve(self, server_name: str) -> io.Outcome:
        """Synapse's route, first address, Host and TLS name (bounded in time, never raises)."""
        deferred = defer.ensureDeferred(self._attempt(server_name))
        deferred.addTimeout(_DEADLINE, reactor)
        try:
            outcome: io.Outcome = await deferred
        except defer.TimeoutError:
            return io.failed("timeout", f"no answer within {_DEADLINE} s")
        except Exception as exc:  # report, do not crash: one name must not hide the others
            return io.failed("error", f"{type(exc).__name__}: {exc}")
        return outcome

    def advance(self, seconds: float) -> None:
        self._clock.offset += seconds  # only the SRV cache reads it

    async def close(self) -> None:
        """Nothing to close: the agent's pool holds no connection (none is made)."""

    async def _attempt(self, server_name: str) -> io.Outcome:
        original = b"matrix-federation://" + server_name.encode() + _PATH
        try:
            uri, headers = await self.agent.request(b"GET", original)
            parsed = URI.fromBytes(uri)  # type: ignore[no-untyped-call]
            endpoint = self._endpoints.endpointForURI(parsed)
            servers = await endpoint._resolve_server()
        except DomainError as exc:
            return io.failed("dns-error", repr(exc))
        except error.ConnectError as exc:  # a sole SRV target of "." (docs/design.md §5.4)
            return io.failed("service-unavailable", str(exc))
        tls = endpoint._tls_options._verifier._hostnameASCII
        host = headers.getRawHeaders(b"host")[0].decode()
        every = []
        for server in servers:  # _do_connect tries them in order
            blocking = endpoint._reactor.nameResolver
            ips = await _resolve(blocking, server.host.decode(), server.port)
            every.extend(io.endpoint_text(ip, server.port) for ip in ips)
        if every:
            route = _route(original, uri, self.srv.answered)
            return {"route": route, "endpoint": every[0], "endpoints": every,
                    "host": host, "tls": tls}  # fmt: skip
        first = servers[0].host.decode()
        code = "blocked-address" if self.names.raw.get(first) else "no-address"
        return io.failed(code, f"no usable address for {first!r}: DNSLookupError")


@implementer(IResolutionReceiver)
class _Collect:
    def __init__(self, done: defer.Deferred[list[str]]) -> None:
        self._done, self._ips = done, []  # type: ignore[var-annotated]

    def resolutionBegan(self, resolution: Any) -> None:
        pass

    def addressResolved(self, address: Any) -> None:
        self._ips.append(address.host)

    def resolutionComplete(self) -> None:
        self._done.callback(self._ips)


async def _resolve(resolver: Any, host: str, port: int) -> list[str]:
    """Addresses as ``HostnameEndpoint`` would get them: through Synapse's IP filter."""
    done: defer.Deferred[list[str]] = defer.Deferred()
    resolver.resolveHostName(_Collect(done), host, port)
    return await done


def _route(original: bytes, sent: bytes, answered: set[bytes]) -> str:
    """Name the spec step Synapse's choices amount to (it has no such notion itself)."""
    before, after = urlparse(original), urlparse(sent)
    prefix = "well-known/" if after.netloc != before.netloc else ""
    assert after.hostname is not None
    if io.is_ip(after.hostname.decode()):
        return prefix + "ip-literal"
    if after.port:
        return prefix + "explicit-port"
    if b"_matrix-fed._tcp." + after.hostname in answered:
        return prefix + "srv"
    if b"_matrix._tcp." + after.hostname in answered:
        return prefix + "srv-legacy"
    return prefix + "default-port"


def main() -> int:
    for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        os.environ.pop(variable, None)
    config = io.read_config()
    task.react(lambda _reactor: defer.ensureDeferred(io.run_scenarios(config, Driver)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
