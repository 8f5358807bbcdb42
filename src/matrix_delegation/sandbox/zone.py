"""The sandbox DNS server's records: a mutable, in-memory zone with fault injection.

The :class:`Zone` holds records (parsed once by dnspython, then kept in
wire format so that no query re-parses or re-renders them) plus
fault-injection rules, and computes the zone-dependent part of each reply:
CNAME chasing, NODATA versus NXDOMAIN, and the SOA for negative caching.
:class:`~.dns_server.DnsServer` serves it (and re-exports it).
"""

from __future__ import annotations

import collections
import io
from typing import Final, NamedTuple

import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

__all__ = ["Zone"]

_DROP: Final = -1  # rule value meaning "never answer"
_MAX_CNAME_HOPS: Final = 8


def _normalise(name: str) -> str:
    """Lower-case ``name`` and strip its trailing dot: the zone's key form."""
    return name.lower().rstrip(".")


class _Wire(NamedTuple):
    """An RRset rendered to wire format (names uncompressed)."""

    data: bytes
    rrs: int


_EMPTY: Final = _Wire(b"", 0)


def _to_wire(rrset: dns.rrset.RRset) -> _Wire:
    buffer = io.BytesIO()
    count = rrset.to_wire(buffer)
    return _Wire(buffer.getvalue(), count)


class _Answer(NamedTuple):
    """The parts of a reply that depend on the zone, in wire format."""

    rcode: int
    answer: _Wire
    authority: _Wire


class Zone:
    """A mutable, in-memory record store with fault injection.

    Names are compared in normal form: lower-case, without trailing dot.
    Every mutation bumps :attr:`version`, which lets servers drop their
    memoised replies.
    """

    def __init__(self, negative_ttl: int = 60) -> None:
        """Create an empty zone.

        Args:
            negative_ttl: SOA minimum (and TTL) of negative answers.
        """
        self._pending: dict[tuple[str, int], list[tuple[dns.rdata.Rdata, int]]] = {}
        self._rrsets: dict[tuple[str, int], dns.rrset.RRset] = {}
        self._wires: dict[tuple[str, int], _Wire] = {}
        self._cnames: dict[str, str] = {}  # owner -> normalised target
        self._types: dict[str, set[int]] = {}  # owner -> its record types
        # How many owners lie at or below each name: a name with a positive
        # count exists (at worst as an empty non-terminal: NODATA, not NXDOMAIN).
        self._names: collections.Counter[str] = collections.Counter()
        self._rules: dict[tuple[str, int], int] = {}
        self._soas: dict[str, _Wire] = {}
        self._negative_ttl = negative_ttl
        self.version = 0

    @property
    def negative_ttl(self) -> int:
        """SOA minimum and TTL of negative (NXDOMAIN/NODATA) answers."""
        return self._negative_ttl

    @negative_ttl.setter
    def negative_ttl(self, value: int) -> None:
        self._negative_ttl = value
        self._soas.clear()
        self.version += 1

    def add(self, name: str, rdtype: str, value: str, ttl: int = 300) -> None:
        """Add one record; records of one name and type form one RRset.

        Args:
            name: Owner name, e.g. ``"example.test"``.
            rdtype: Record type, e.g. ``"SRV"``.
            value: Record data in zone-file text, e.g. ``"10 5 8448 fed.example.test."``;
                relative names are taken as absolute.
            ttl: Record TTL; the RRset keeps the smallest TTL given.
        """
        key = (_normalise(name), dns.rdatatype.from_text(rdtype))
        rdata = dns.rdata.from_text(
            dns.rdataclass.IN, key[1], value, origin=dns.name.root, relativize=False
        )
        # Records are gathered and their RRset rebuilt on the next question,
        # not on every add: a test that adds hundreds of records to one name
        # would otherwise rebuild (and re-render) that RRset hundreds of times.
        self._pending.setdefault(key, []).append((rdata, ttl))
        self.version += 1

    def _materialise(self) -> None:
        """Fold the records added since the last question into their RRsets."""
        for key, added in self._pending.items():
            old = self._rrsets.get(key)
            rdatas = [*(old or ()), *(rdata for rdata, _ in added)]
            ttl = min(ttl for _, ttl in added)
            ttl = min(ttl, old.ttl) if old is not None else ttl
            # A fresh RRset rather than an in-place update: replies already
            # handed out may still share the old object.
            self._store(key, dns.rrset.from_rdata_list(key[0] + ".", ttl, rdatas))
        self._pending.clear()

    def remove(self, name: str, rdtype: str | None = None) -> None:
        """Remove the records of ``name`` of one type, or of every type."""
        self._materialise()
        owner = _normalise(name)
        wanted = None if rdtype is None else dns.rdatatype.from_text(rdtype)
        for rdtype_ in list(self._types.get(owner, ())):
            if wanted in (None, rdtype_):
                self._store((owner, rdtype_), None)

    def clear(self) -> None:
        """Remove every record and every fail/drop rule."""
        for collection in (
            self._pending,
            self._rrsets,
            self._wires,
            self._cnames,
            self._types,
            self._names,
            self._rules,
        ):
            collection.clear()
        self.version += 1

    def fail(self, name: str, rdtype: str, rcode: str) -> None:
        """Answer questions for ``name``/``rdtype`` with ``rcode``, e.g. ``"SERVFAIL"``."""
        self._rules[self._rule_key(name, rdtype)] = dns.rcode.from_text(rcode)
        self.version += 1

    def drop(self, name: str, rdtype: str) -> None:
        """Never answer questions for ``name``/``rdtype``: clients time out."""
        self._rules[self._rule_key(name, rdtype)] = _DROP
        self.version += 1

    def heal(self, name: str, rdtype: str) -> None:
        """Undo :meth:`fail` or :meth:`drop` for ``name``/``rdtype``."""
        self._rules.pop(self._rule_key(name, rdtype), None)
        self.version += 1

    def _answer(self, name: str, rdtype: int) -> _Answer | None:
        """Compute the reply to a question; None if it must be dropped.

        Args:
            name: Question name in normal form.
            rdtype: Question type (a :class:`dns.rdatatype.RdataType` value).
        """
        if self._pending:
            self._materialise()
        rule = self._rules.get((name, rdtype))
        if rule == _DROP:
            return None
        if rule is not None:
            return _Answer(rule, _EMPTY, _EMPTY)
        chain = _EMPTY
        current = name
        for _ in range(_MAX_CNAME_HOPS + 1):
            found = self._wires.get((current, rdtype))
            if found is not None:
                return _Answer(dns.rcode.NOERROR, _join(chain, found), _EMPTY)
            target = self._cnames.get(current) if rdtype != dns.rdatatype.CNAME else None
            if target is None:
                break
            chain = _join(chain, self._wires[(current, dns.rdatatype.CNAME)])
            current = target
        # RFC 6604: the rcode describes the last name of the chain.
        rcode = dns.rcode.NOERROR if current in self._names else dns.rcode.NXDOMAIN
        return _Answer(rcode, chain, self._soa(current))

    def _rule_key(self, name: str, rdtype: str) -> tuple[str, int]:
        return _normalise(name), dns.rdatatype.from_text(rdtype)

    def _store(self, key: tuple[str, int], rrset: dns.rrset.RRset | None) -> None:
        """Set (or delete, if None) one RRset and keep the indexes in step."""
        owner, rdtype = key
        types = self._types.setdefault(owner, set())
        if not types:
            self._names.update(_ancestors(owner))
        if rrset is None:
            self._rrsets.pop(key, None)
            self._wires.pop(key, None)
            if rdtype == dns.rdatatype.CNAME:
                self._cnames.pop(owner, None)
            types.discard(rdtype)
        else:
            self._rrsets[key], self._wires[key] = rrset, _to_wire(rrset)
            if rdtype == dns.rdatatype.CNAME:
                self._cnames[owner] = _normalise(rrset[0].target.to_text())
            types.add(rdtype)
        if not types:
            del self._types[owner]
            for name in _ancestors(owner):
                self._names[name] -= 1
                if not self._names[name]:
                    del self._names[name]
        self.version += 1

    def _soa(self, name: str) -> _Wire:
        """The SOA for negative answers about ``name``, owned by its top label."""
        top = name.rsplit(".", 1)[-1]
        soa = self._soas.get(top)
        if soa is None:
            ttl = self._negative_ttl
            text = f"ns.sandbox. hostmaster.sandbox. 1 3600 600 86400 {ttl}"
            rrset = dns.rrset.from_text(top + "." if top else ".", ttl, "IN", "SOA", text)
            soa = self._soas[top] = _to_wire(rrset)
        return soa


def _ancestors(name: str) -> list[str]:
    """``name`` and every name above it, in normal form (the root excluded)."""
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def _join(first: _Wire, second: _Wire) -> _Wire:
    return _Wire(first.data + second.data, first.rrs + second.rrs)
