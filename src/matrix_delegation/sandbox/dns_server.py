"""An authoritative DNS server for the sandbox, on loopback, over UDP and TCP.

The :class:`Zone` holds records (parsed once by dnspython, then kept in
wire format so that no query re-parses or re-renders them) plus
fault-injection rules. The :class:`DnsServer` answers questions about it
on one port, over both transports, the way a real authoritative server
would: AA flag, CNAME chasing, NODATA versus NXDOMAIN with an SOA for
negative caching, and truncation of large UDP answers so that clients
retry over TCP.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import logging
import struct
from types import TracebackType
from typing import Final, NamedTuple, Self, cast

import dns.flags
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

__all__ = ["DnsServer", "Zone"]

_log = logging.getLogger(__name__)

_UDP_DEFAULT_PAYLOAD: Final = 512  # RFC 1035 limit for a client without EDNS
_TCP_MAX: Final = 65535  # the 2-byte length prefix caps a TCP message
_TCP_IDLE: Final = 10.0
_BIND_ATTEMPTS: Final = 10
_CACHE_MAX: Final = 8192
_HEADER_LEN: Final = 12
_OUR_PAYLOAD: Final = 4096
# Plain ints: enum arithmetic would be a visible cost on the hot path.
_QR: Final = int(dns.flags.QR)
_AA: Final = int(dns.flags.AA)
_TC: Final = int(dns.flags.TC)
_ECHOED: Final = int(dns.flags.RD | dns.flags.CD) | 0x7800  # RD, CD, opcode
_OPT: Final = int(dns.rdatatype.OPT)
_NOTIMP: Final = int(dns.rcode.NOTIMP)
_MAX_LABEL: Final = 63
_HEADER: Final = struct.Struct("!HHHHHH")
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


class _Cached(NamedTuple):
    """A built reply, minus its 2-byte ID, and what to log for it."""

    body: bytes | None  # None: the question is dropped, send nothing
    name: str
    rdtype: str


class DnsServer:
    """Serve a :class:`Zone` on one loopback port, over UDP and TCP.

    Replies are memoised per exact query bytes (minus the ID) and zone
    version, so a benchmark repeating the same questions costs a dict
    lookup per query; a new question costs a small hand-written parse
    and the concatenation of pre-rendered records.

    Attributes:
        zone: The records served; mutating it takes effect immediately.
        queries: Log of ``(name, rdtype, transport)`` for every well-formed
            question received, ``transport`` being ``"udp"`` or ``"tcp"``.
    """

    def __init__(self, zone: Zone, host: str = "127.0.0.1", port: int = 0) -> None:
        """Prepare a server; nothing is bound until :meth:`start`.

        Args:
            zone: The records to serve.
            host: Loopback address to bind, IPv4 or IPv6.
            port: Port for both transports; 0 picks a free one.
        """
        self.zone = zone
        self.queries: list[tuple[str, str, str]] = []
        self._host = host
        self._requested_port = port
        self._port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tcp_writers: set[asyncio.StreamWriter] = set()
        self._tcp_tasks: set[asyncio.Task[None]] = set()
        self._cache: dict[tuple[str, bytes], _Cached] = {}
        self._cache_version = -1

    @property
    def host(self) -> str:
        """The address the server binds."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (shared by UDP and TCP); 0 before :meth:`start`."""
        return self._port

    @property
    def nameserver(self) -> str:
        """``host:port`` of the server, with IPv6 hosts in brackets."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self._port}"

    async def start(self) -> None:
        """Bind UDP, then TCP on the same port number, and start serving.

        Raises:
            OSError: The port could not be bound on both transports.
        """
        loop = asyncio.get_running_loop()
        attempts = 1 if self._requested_port else _BIND_ATTEMPTS
        for attempt in range(attempts):
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(self._host, self._requested_port)
            )
            port: int = udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self._host, port)
            except OSError:
                udp.close()
                # With port 0 the kernel chose a UDP port whose TCP twin may be
                # in use by someone else: just draw another one.
                if attempt == attempts - 1:
                    raise
                continue
            self._udp, self._port = udp, port
            return

    async def stop(self) -> None:
        """Close both transports and any open TCP connection."""
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            # Python 3.11's wait_closed does not wait for live connections:
            # close them ourselves so no transport outlives the server.
            for writer in list(self._tcp_writers):
                writer.close()
            if self._tcp_tasks:
                await asyncio.gather(*self._tcp_tasks, return_exceptions=True)
            await self._tcp.wait_closed()
            self._tcp = None

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()

    def respond(self, wire: bytes, transport: str) -> bytes | None:
        """Answer one query in wire format.

        Args:
            wire: The query message, without any TCP length prefix.
            transport: ``"udp"`` (applies the payload size limit) or ``"tcp"``.

        Returns:
            The reply in wire format, or None for a dropped question.

        Raises:
            ValueError: The packet is not a query this server understands.
        """
        if self._cache_version != self.zone.version:
            self._cache.clear()
            self._cache_version = self.zone.version
        key = (transport, wire[2:])
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[key] = cached = _build_reply(self.zone, wire, transport)
        self.queries.append((cached.name, cached.rdtype, transport))
        if cached.body is None:
            return None
        return wire[:2] + cached.body

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer length-prefixed queries on one connection until EOF or idle."""
        task = asyncio.current_task()
        if task is not None:
            self._tcp_tasks.add(task)
        self._tcp_writers.add(writer)
        try:
            while True:
                async with asyncio.timeout(_TCP_IDLE):
                    size = int.from_bytes(await reader.readexactly(2), "big")
                    wire = await reader.readexactly(size)
                try:
                    reply = self.respond(wire, "tcp")
                except ValueError:
                    break  # garbage: the stream may be out of step, hang up
                if reply is not None:
                    writer.write(len(reply).to_bytes(2, "big") + reply)
                    await writer.drain()
        except (OSError, EOFError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or idled: nothing to report
        except Exception:  # never let one connection take the server down
            _log.exception("sandbox DNS: TCP connection failed")
        finally:
            self._tcp_writers.discard(writer)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            if task is not None:
                self._tcp_tasks.discard(task)


class _UdpProtocol(asyncio.DatagramProtocol):
    """Feeds datagrams to :meth:`DnsServer.respond`."""

    def __init__(self, server: DnsServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's UDP transport is not a DatagramTransport subclass.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        # An exception escaping here would close the transport, i.e. kill
        # the server: malformed input must only ever be ignored.
        try:
            reply = self._server.respond(data, "udp")
        except ValueError:
            return  # garbage: ignored, as a real server would
        except Exception:
            _log.exception("sandbox DNS: failed to answer a UDP query")
            return
        if reply is not None and self._transport is not None:
            self._transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors about clients that went away are not our problem.
        _log.debug("sandbox DNS: UDP error %s", exc)


class _Query(NamedTuple):
    """The fields of a query that the reply depends on."""

    flags: int
    question: bytes  # the question section exactly as sent (case included)
    name: str  # normal form
    rdtype: int
    payload: int | None  # EDNS UDP payload size; None without EDNS


def _parse(wire: bytes) -> _Query:
    """Decode a query with one question and at most root-owned OPT extras.

    Hand-written rather than dnspython's parser, which costs several
    times more; anything unusual is rejected, which real clients never send.

    Raises:
        ValueError: Not such a query.
    """
    try:
        _, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire)
        if flags & _QR or qdcount != 1 or ancount or nscount:
            raise ValueError("not a plain query")
        labels: list[bytes] = []
        pos = _HEADER_LEN
        while length := wire[pos]:
            if length > _MAX_LABEL:  # also rejects compression pointers
                raise ValueError("bad label")
            labels.append(wire[pos + 1 : pos + 1 + length])
            pos += 1 + length
        rdtype = struct.unpack_from("!H", wire, pos + 1)[0]
        pos += 5
        question, payload = wire[_HEADER_LEN:pos], None
        for _ in range(arcount):
            if wire[pos] != 0:
                raise ValueError("only an OPT record may follow the question")
            rtype, rclass, _ttl, rdlen = struct.unpack_from("!HHIH", wire, pos + 1)
            pos += 11 + rdlen
            payload = rclass if rtype == _OPT else payload
    except (IndexError, struct.error) as exc:
        raise ValueError("truncated query") from exc
    if pos > len(wire) or len(question) > 259:
        raise ValueError("truncated query or overlong name")
    name = b".".join(labels).decode("ascii", "replace").lower()
    return _Query(flags, question, name, rdtype, payload)


def _build_reply(zone: Zone, wire: bytes, transport: str) -> _Cached:
    """Parse a query and assemble the zone's reply from pre-rendered records.

    Raises:
        ValueError: The packet is not a query this server understands.
    """
    query = _parse(wire)
    rdtype = dns.rdatatype.to_text(dns.rdatatype.RdataType.make(query.rdtype))
    if query.flags & 0x7800:  # any opcode but QUERY
        return _Cached(
            _assemble(query, _Answer(_NOTIMP, _EMPTY, _EMPTY), transport), query.name, rdtype
        )
    answer = zone._answer(query.name, query.rdtype)
    if answer is None:
        return _Cached(None, query.name, rdtype)
    return _Cached(_assemble(query, answer, transport), query.name, rdtype)


def _assemble(query: _Query, answer: _Answer, transport: str) -> bytes:
    """The reply minus its 2-byte ID, truncated (TC) past the size limit."""
    flags = _QR | _AA | (query.flags & _ECHOED) | (answer.rcode & 0xF)
    opt = b""
    if query.payload is not None:  # extended rcode bits go in the OPT TTL
        opt = b"\0" + struct.pack("!HHIH", _OPT, _OUR_PAYLOAD, (answer.rcode >> 4) << 24, 0)
    counts = (answer.answer.rrs, answer.authority.rrs, 1 if opt else 0)
    reply = _HEADER.pack(0, flags, 1, *counts)[2:] + query.question
    reply += answer.answer.data + answer.authority.data + opt
    limit = _TCP_MAX
    if transport == "udp":
        limit = (
            _UDP_DEFAULT_PAYLOAD
            if query.payload is None
            else max(_UDP_DEFAULT_PAYLOAD, query.payload)
        )
    if len(reply) + 2 <= min(limit, _TCP_MAX):
        return reply
    # Too big: an empty reply with TC tells the client to retry over TCP.
    return _HEADER.pack(0, flags | _TC, 1, 0, 0, counts[2])[2:] + query.question + opt
