"""Reading a c-ares response, and following its CNAME chain the way dnspython does.

:func:`read_reply` copies out of the C record only what discovery uses (the
records of the asked type, CNAMEs, and the SOA of a negative answer), so the
C memory can go when the callback returns. :func:`chase` is dnspython's
``Message.resolve_chaining`` over those copies: the same aliases, the same
minimum TTL, the same SOA walk for negative answers.
"""

from __future__ import annotations

import socket
import sys
from typing import Any, Final, NamedTuple

import dns.ipv6
from pycares._cares import ffi, lib  # type: ignore[import-not-found]

from .._core.model import SrvRecord
from .._exceptions import DnsLookupError
from .dns import MAX_NEGATIVE_TTL

__all__ = ["Record", "Reply", "address_family", "chase", "read_reply", "srv_records"]

_MAX_TTL: Final = 2**31 - 1  # dnspython's starting minimum
_MAX_CHAIN: Final = 16  # dnspython's bound on CNAME chains
_CNAME: Final = lib.ARES_REC_TYPE_CNAME
_SOA: Final = lib.ARES_REC_TYPE_SOA
_A: Final = lib.ARES_REC_TYPE_A
_AAAA: Final = lib.ARES_REC_TYPE_AAAA
_SRV: Final = lib.ARES_REC_TYPE_SRV
_ANSWER: Final = lib.ARES_SECTION_ANSWER
_AUTHORITY: Final = lib.ARES_SECTION_AUTHORITY


class Record(NamedTuple):
    """One answer record: owner (lower case, no final dot), type, TTL, data."""

    owner: str
    rdtype: int
    ttl: int
    data: Any  # address text, CNAME target, or (priority, weight, port, target)


class Reply(NamedTuple):
    """What discovery needs of one response."""

    answer: tuple[Record, ...]
    soas: tuple[tuple[str, int, int], ...]  # (owner, TTL, SOA minimum) in authority
    nxdomain: bool


def read_reply(dnsrec: Any, rdtype: int, *, nxdomain: bool) -> Reply:
    """Copy the records of ``rdtype``, the CNAMEs and the authority's SOAs."""
    answer = []
    for rr in _section(dnsrec, _ANSWER):
        found = lib.ares_dns_rr_get_type(rr)
        if found in (rdtype, _CNAME):
            data = _data(rr, found)
            answer.append(Record(_owner(rr), found, lib.ares_dns_rr_get_ttl(rr), data))
    soas = tuple(
        (
            _owner(rr),
            lib.ares_dns_rr_get_ttl(rr),
            lib.ares_dns_rr_get_u32(rr, lib.ARES_RR_SOA_MINIMUM),
        )
        for rr in _section(dnsrec, _AUTHORITY)
        if lib.ares_dns_rr_get_type(rr) == _SOA
    )
    return Reply(tuple(answer), soas, nxdomain)


def chase(
    reply: Reply, name: str, kind: str
) -> tuple[tuple[Record, ...], tuple[str, ...], float, str | None]:
    """The records answering ``name``, the chain's aliases, the TTL and its canonical name.

    The canonical name is where the CNAME chain ended (None when there are no
    aliases). A negative answer (no records) has the TTL of its SOA, capped;
    NXDOMAIN reports no aliases, as dnspython's NXDOMAIN carries no answer.
    """
    qname, min_ttl = _normal(name), _MAX_TTL
    aliases: list[str] = []
    answer: tuple[Record, ...] = ()
    rdtype = _rdtype(kind)
    for _ in range(_MAX_CHAIN):
        answer = tuple(r for r in reply.answer if r.owner == qname and r.rdtype == rdtype)
        if answer:
            min_ttl = min(min_ttl, *(r.ttl for r in answer))
            break
        cnames = [r for r in reply.answer if r.owner == qname and r.rdtype == _CNAME]
        if not cnames:
            break
        aliases.append(qname)
        min_ttl = min(min_ttl, *(r.ttl for r in cnames))
        qname = _normal(cnames[0].data)
    else:
        raise DnsLookupError(f"{kind} {name}: the DNS lookup failed")  # chain too long
    canonical = qname if aliases else None
    if answer and not reply.nxdomain:
        return answer, tuple(aliases), float(min_ttl), canonical
    ttl = min(min_ttl, _soa_ttl(reply, qname), MAX_NEGATIVE_TTL)
    if reply.nxdomain:
        return (), (), float(ttl), None
    return (), tuple(aliases), float(ttl), canonical


def srv_records(answer: tuple[Record, ...]) -> tuple[SrvRecord, ...]:
    # Targets are interned: many names share a few hosts.
    return tuple(SrvRecord(p, w, port, sys.intern(t)) for p, w, port, t in (r.data for r in answer))


def address_family(answer: tuple[Record, ...]) -> tuple[str, ...]:
    return tuple(sys.intern(r.data) for r in answer)


def _soa_ttl(reply: Reply, qname: str) -> int:
    """dnspython's walk: the SOA owned by the name or its nearest ancestor."""
    owner = qname
    while True:
        for soa_owner, ttl, minimum in reply.soas:
            if soa_owner == owner:
                return min(ttl, minimum)
        if not owner:
            return _MAX_TTL
        owner = owner.partition(".")[2]


def _section(dnsrec: Any, section: int) -> list[Any]:
    count = lib.ares_dns_record_rr_cnt(dnsrec, section)
    return [lib.ares_dns_record_rr_get_const(dnsrec, section, i) for i in range(count)]


def _owner(rr: Any) -> str:
    return _normal(ffi.string(lib.ares_dns_rr_get_name(rr)).decode("ascii", "backslashreplace"))


def _normal(name: str) -> str:
    return name.rstrip(".").lower() if name != "." else ""


def _data(rr: Any, rdtype: int) -> Any:
    if rdtype == _A:
        return socket.inet_ntoa(ffi.buffer(lib.ares_dns_rr_get_addr(rr, lib.ARES_RR_A_ADDR), 4)[:])
    if rdtype == _AAAA:
        raw = ffi.buffer(lib.ares_dns_rr_get_addr6(rr, lib.ARES_RR_AAAA_ADDR), 16)[:]
        return dns.ipv6.inet_ntoa(raw)  # dnspython's text form, to the letter
    if rdtype == _CNAME:
        return _text(rr, lib.ARES_RR_CNAME_CNAME)
    return (
        lib.ares_dns_rr_get_u16(rr, lib.ARES_RR_SRV_PRIORITY),
        lib.ares_dns_rr_get_u16(rr, lib.ARES_RR_SRV_WEIGHT),
        lib.ares_dns_rr_get_u16(rr, lib.ARES_RR_SRV_PORT),
        _text(rr, lib.ARES_RR_SRV_TARGET) or ".",  # the root: "no service" (RFC 2782)
    )


def _text(rr: Any, key: int) -> str:
    value = lib.ares_dns_rr_get_str(rr, key)
    text: str = ffi.string(value).decode("ascii", "backslashreplace") if value != ffi.NULL else ""
    return text.rstrip(".") if text != "." else text


def _rdtype(kind: str) -> int:
    rdtype: int = {"A": _A, "AAAA": _AAAA, "SRV": _SRV}[kind]
    return rdtype
