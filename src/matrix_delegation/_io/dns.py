"""DNS at the edge: SRV and A/AAAA queries with dnspython's asyncio resolver.

"No such record" (NXDOMAIN, NODATA) is an answer: an empty one. Anything else
(SERVFAIL, REFUSED, a timeout) raises :class:`DnsLookupError`, because
treating a broken DNS server as "no SRV record" would silently send traffic
to the wrong place. dnspython's exceptions do not leave this module.
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.inet
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver

from .._core.model import SrvRecord
from .._exceptions import ConfigurationError, DnsLookupError

__all__ = [
    "MAX_NEGATIVE_TTL",
    "AddressRecords",
    "DnsBackend",
    "DnspythonBackend",
    "gather_families",
    "parse_nameserver",
]

# Negative answers are kept at most this long, whatever the SOA says.
MAX_NEGATIVE_TTL = 3600

# One address family's answer: addresses, the CNAME chain's aliases, the TTL, and the
# name the chain ended at (None without aliases).
Family = tuple[tuple[str, ...], tuple[str, ...], float, str | None]


@dataclass(frozen=True, slots=True)
class AddressRecords:
    """The A and AAAA answers of one name, with the CNAME chain followed and a TTL.

    ``canonical`` is the name the CNAME chain ended at, None when there are no aliases.
    """

    addresses: tuple[str, ...]
    aliases: tuple[str, ...]
    error: str | None
    ttl: float
    canonical: str | None = None


class DnsBackend(Protocol):
    """What discovery needs from DNS."""

    async def srv(self, name: str) -> tuple[tuple[SrvRecord, ...], float]:
        """The SRV records of ``name`` and how long they may be cached."""
        ...

    async def addresses(self, host: str) -> AddressRecords:
        """The IPv6 and IPv4 addresses of ``host``."""
        ...


async def gather_families(
    v6_lookup: Awaitable[Family], v4_lookup: Awaitable[Family]
) -> AddressRecords:
    """Both families at once; one failing family is an error beside the other's answer."""
    v6, v4 = await asyncio.gather(v6_lookup, v4_lookup, return_exceptions=True)
    results = [r for r in (v6, v4) if not isinstance(r, BaseException)]
    errors = [str(r) for r in (v6, v4) if isinstance(r, DnsLookupError)]
    for outcome in (v6, v4):
        if isinstance(outcome, BaseException) and not isinstance(outcome, DnsLookupError):
            raise outcome
    if not results:
        return AddressRecords((), (), "; ".join(errors), 0.0)
    addresses = tuple(ip for found in results for ip in found[0])
    chained = next((found for found in results if found[1]), None)
    aliases, canonical = (chained[1], chained[3]) if chained is not None else ((), None)
    ttl = min(found[2] for found in results)
    return AddressRecords(addresses, aliases, "; ".join(errors) or None, ttl, canonical)


def parse_nameserver(text: str) -> tuple[str, int]:
    """Parse ``IP``, ``IP:PORT`` or ``[IPv6]:PORT`` into (ip, port)."""
    host, port = text.strip(), "53"
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ConfigurationError(f"invalid DNS server {text!r}: expected [IPv6]:PORT")
            port = rest[1:]
    elif host.count(":") == 1:
        host, port = host.split(":")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ConfigurationError(
            f"invalid DNS server {text!r}: {host!r} is not an IP address"
        ) from None
    if not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigurationError(
            f"invalid DNS server {text!r}: port {port!r} is not from 1 to 65535"
        )
    return str(ip), int(port)


class DnspythonBackend:
    """:class:`DnsBackend` on ``dns.asyncresolver``; no caching of its own."""

    def __init__(self, nameservers: Sequence[str] = (), *, timeout: float = 10.0) -> None:
        """Use the given ``IP[:PORT]`` nameservers, or the system's when none are given."""
        try:
            resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        except dns.resolver.NoResolverConfiguration:
            raise ConfigurationError(
                "no DNS server configured on this system: pass --dns-server"
            ) from None
        if nameservers:
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver(*parse_nameserver(text)) for text in nameservers
            ]
        resolver.timeout = resolver.lifetime = timeout
        self._resolver = resolver
        self._timeout = timeout

    async def srv(self, name: str) -> tuple[tuple[SrvRecord, ...], float]:
        answer, ttl = await self._query(name, dns.rdatatype.SRV)
        if answer is None or answer.rrset is None:
            return (), ttl
        # Targets and addresses are interned: many names share a few hosts.
        records = tuple(
            SrvRecord(r.priority, r.weight, r.port, sys.intern(r.target.to_text(True)))
            for r in answer.rrset
        )
        return records, ttl

    async def addresses(self, host: str) -> AddressRecords:
        return await gather_families(
            self._family(host, dns.rdatatype.AAAA), self._family(host, dns.rdatatype.A)
        )

    async def _family(self, host: str, rdtype: dns.rdatatype.RdataType) -> Family:
        answer, ttl = await self._query(host, rdtype)
        if answer is None:
            return (), (), ttl, None
        chain = answer.chaining_result
        aliases = tuple(rrset.name.to_text(omit_final_dot=True).lower() for rrset in chain.cnames)
        canonical = chain.canonical_name.to_text(omit_final_dot=True).lower() if aliases else None
        addresses = tuple(sys.intern(r.address) for r in answer.rrset) if answer.rrset else ()
        return addresses, aliases, ttl, canonical

    async def _query(
        self, name: str, rdtype: dns.rdatatype.RdataType
    ) -> tuple[dns.resolver.Answer | None, float]:
        kind = dns.rdatatype.to_text(rdtype)
        try:
            answer = await self._resolver.resolve(
                name, rdtype, search=False, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN as exc:
            return None, _negative_ttl(exc)
        except dns.exception.Timeout:
            raise DnsLookupError(f"{kind} {name}: timed out after {self._timeout:g} s") from None
        except dns.resolver.NoNameservers as exc:
            raise DnsLookupError(f"{kind} {name}: {_server_errors(exc)}") from None
        except dns.exception.DNSException as exc:
            # A name error says what is wrong with the name; other texts may name
            # a DNS server, which a remote user must not learn: say it plainly.
            plain = str(exc) if _is_name_error(exc) else "the DNS lookup failed"
            raise DnsLookupError(f"{kind} {name}: {plain}") from None
        ttl = float(answer.chaining_result.minimum_ttl)
        if answer.rrset is None:
            ttl = min(ttl, MAX_NEGATIVE_TTL)
        return answer, ttl


def _negative_ttl(exc: dns.resolver.NXDOMAIN) -> float:
    ttls = [response.resolve_chaining().minimum_ttl for response in exc.responses().values()]  # type: ignore[no-untyped-call]
    return float(min([*ttls, MAX_NEGATIVE_TTL]))


def _is_name_error(exc: dns.exception.DNSException) -> bool:
    return type(exc).__module__ == "dns.name"


def _server_errors(exc: dns.resolver.NoNameservers) -> str:
    """'the DNS server answered SERVFAIL' rather than dnspython's long sentence.

    The DNS servers' addresses are left out: a report may go to a remote user
    (the web checker), who has no business learning them.
    """
    answers: list[str] = []
    # Each error is (server, tcp, port, exception or None, response or None).
    for _server, _tcp, _port, error, response in exc.kwargs.get("errors", []):
        if response is not None:
            answer = f"answered {dns.rcode.to_text(response.rcode())}"
        elif isinstance(error, dns.exception.Timeout):
            answer = "did not answer in time"
        else:
            answer = "gave no usable answer"
        if answer not in answers:
            answers.append(answer)
    if not answers:
        return "no DNS server answered"
    return "the DNS server " + " and ".join(answers)
