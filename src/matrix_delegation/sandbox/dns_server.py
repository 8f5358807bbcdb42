"""An authoritative DNS server for the sandbox, on loopback, over UDP and TCP.

The :class:`Zone` holds records (parsed once by dnspython, then kept in
wire format so that no query re-parses or re-renders them) plus
fault-injection rules. The :class:`DnsServer` answers questions about it
on one port, over both transports, the way a real authoritative server
would: AA flag, CNAME chasing, NODATA versus NXDOMAIN with an SOA for
negative caching, and truncation of large UDP answers so that clients
retry over TCP.

The :class:`Zone` lives in :mod:`.zone` and is re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from types import TracebackType
from typing import Final, NamedTuple, Self, cast

import dns.flags
import dns.rcode
import dns.rdatatype

from .zone import _EMPTY, Zone, _Answer

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
