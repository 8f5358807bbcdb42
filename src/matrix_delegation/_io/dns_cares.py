"""DNS at the edge on c-ares: the same answers as :class:`~.dns.DnspythonBackend`, in C.

dnspython's message codec cost about a third of a cold resolution's CPU; c-ares
builds and parses messages in C. pycares's Python layer cannot serve us as is:
it drops the response of a negative answer (whose SOA gives the negative TTL
and whose CNAMEs are the aliases) and leaves on c-ares's own query cache (which
would answer from memory after :meth:`Resolver.flush`). So this module drives
the C library that pycares ships (``pycares._cares``) directly: a channel with
no cache, its own event thread, and a callback that reads every response.

Semantics follow :class:`~.dns.DnspythonBackend`: NXDOMAIN and NODATA are empty
answers; SERVFAIL, REFUSED and timeouts raise :class:`DnsLookupError` with the
same wording, which never names the DNS server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import threading
import weakref
from collections.abc import Sequence
from typing import Any, Final

from pycares._cares import ffi, lib  # type: ignore[import-not-found]

from .._core.model import SrvRecord
from .._exceptions import ConfigurationError, DnsLookupError
from .dns import AddressRecords, Family, gather_families, parse_nameserver
from .dns_records import Reply, address_family, chase, read_reply, srv_records

__all__ = ["CaresBackend", "channel_servers"]

# Not exported by pycares's bindings; the values of c-ares's ares.h.
_OPT_QUERY_CACHE: Final = 1 << 21
_SUCCESS: Final = lib.ARES_SUCCESS
# Statuses that carry a response: an answer, NODATA, NXDOMAIN.
_ANSWERED: Final = frozenset({lib.ARES_SUCCESS, lib.ARES_ENODATA, lib.ARES_ENOTFOUND})
_RCODE_ERRORS: Final = {
    lib.ARES_ESERVFAIL: "SERVFAIL",
    lib.ARES_EREFUSED: "REFUSED",
    lib.ARES_ENOTIMP: "NOTIMP",
    lib.ARES_EFORMERR: "FORMERR",
}
_UNUSABLE: Final = frozenset({lib.ARES_ECONNREFUSED, lib.ARES_EBADRESP})
_TYPES: Final = {"A": lib.ARES_REC_TYPE_A, "AAAA": lib.ARES_REC_TYPE_AAAA}
_SRV: Final = lib.ARES_REC_TYPE_SRV
_CLASS_IN: Final = lib.ARES_CLASS_IN
_MAX_NAME: Final = 253
_MAX_LABEL: Final = 63


class CaresBackend:
    """:class:`~.dns.DnsBackend` on c-ares; no caching of its own (c-ares's is off)."""

    def __init__(
        self, nameservers: Sequence[str] = (), *, timeout: float = 10.0, tries: int = 1
    ) -> None:
        """Use the given ``IP[:PORT]`` nameservers, or the system's when none are given.

        ``timeout`` bounds each lookup as a whole (as dnspython's lifetime);
        ``tries`` is how often c-ares asks each server within it.
        """
        servers = [_server_text(*parse_nameserver(text)) for text in nameservers]
        self._timeout = timeout
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._callback = ffi.callback(
            "void(void *, ares_status_t, size_t, const ares_dns_record_t *)",
            _answered(self._pending),
            onerror=_swallow,
        )
        self._options = (servers, timeout, tries)
        self._channel: Any = None
        self._finalizer: weakref.finalize[Any, CaresBackend] | None = None
        self._open()  # a bad server list is refused here, not at the first query

    def _open(self) -> Any:
        """The channel, opened anew after :meth:`close`."""
        if self._channel is None:
            self._channel = _open_channel(*self._options)
            self._finalizer = weakref.finalize(self, _close_channel, self._channel, self._callback)
        return self._channel

    def close(self) -> None:
        """Release the channel's sockets and thread now; a later query opens a new channel.

        Queries still running end as failed lookups.
        """
        if self._channel is not None and self._finalizer is not None:
            self._finalizer()  # runs _close_channel once, and never again at collection
            self._channel = self._finalizer = None

    async def srv(self, name: str) -> tuple[tuple[SrvRecord, ...], float]:
        answer, _aliases, ttl, _canonical = chase(await self._query(name, "SRV", _SRV), name, "SRV")
        return srv_records(answer), ttl

    async def addresses(self, host: str) -> AddressRecords:
        return await gather_families(self._family(host, "AAAA"), self._family(host, "A"))

    async def _family(self, host: str, kind: str) -> Family:
        reply = await self._query(host, kind, _TYPES[kind])
        answer, aliases, ttl, canonical = chase(reply, host, kind)
        return address_family(answer), aliases, ttl, canonical

    async def _query(self, name: str, kind: str, rdtype: int) -> Reply:
        wire_name = _checked_name(name, kind)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, Reply | None]] = loop.create_future()
        query_id = next(self._ids)
        self._pending[query_id] = _Pending(loop, future, rdtype)
        status = lib.ares_query_dnsrec(
            self._open()[0],
            wire_name,
            _CLASS_IN,
            rdtype,
            self._callback,
            ffi.cast("void *", query_id),
            ffi.NULL,
        )
        if status != _SUCCESS:
            self._pending.pop(query_id, None)
            raise DnsLookupError(f"{kind} {name}: the DNS lookup failed")
        # The bound of the whole lookup, as dnspython's lifetime: c-ares's own
        # timeout is per server and per try.
        deadline = loop.call_later(self._timeout, _expire, future)
        try:
            status, reply = await future
        finally:
            deadline.cancel()
            self._pending.pop(query_id, None)
        if status in _ANSWERED and reply is not None:
            return reply
        raise DnsLookupError(f"{kind} {name}: {self._failure(status)}")

    def _failure(self, status: int) -> str:
        if status == lib.ARES_ETIMEOUT:
            return f"timed out after {self._timeout:g} s"
        if status in _RCODE_ERRORS:
            return f"the DNS server answered {_RCODE_ERRORS[status]}"
        if status in _UNUSABLE:
            return "the DNS server gave no usable answer"
        return "the DNS lookup failed"


class _Pending:
    """A query in flight: where its answer goes."""

    __slots__ = ("future", "loop", "rdtype")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[tuple[int, Reply | None]],
        rdtype: int,
    ) -> None:
        self.loop, self.future, self.rdtype = loop, future, rdtype


def _answered(pending: dict[int, _Pending]) -> Any:
    """The C callback, run on c-ares's event thread: read the response while it exists."""

    def callback(arg: Any, status: int, _timeouts: int, dnsrec: Any) -> None:
        query = pending.get(int(ffi.cast("uintptr_t", arg)))
        if query is None:
            return  # timed out or cancelled: nobody waits
        reply: Reply | None = None
        if status in _ANSWERED and dnsrec != ffi.NULL:
            reply = read_reply(dnsrec, query.rdtype, nxdomain=status == lib.ARES_ENOTFOUND)
        with contextlib.suppress(RuntimeError):  # the event loop is closed: nobody waits
            query.loop.call_soon_threadsafe(_settle, query.future, status, reply)

    return callback


def _settle(future: asyncio.Future[tuple[int, Reply | None]], status: int, reply: Any) -> None:
    if not future.done():
        future.set_result((status, reply))


def _expire(future: asyncio.Future[tuple[int, Reply | None]]) -> None:
    if not future.done():
        future.set_result((lib.ARES_ETIMEOUT, None))


def _swallow(*_exc_info: object) -> bool:
    # An exception in the C callback must not print a traceback; the lookup
    # then ends by its deadline.
    return True


def _checked_name(name: str, kind: str) -> bytes:
    """The name as c-ares takes it; the name errors in dnspython's words."""
    text = name.rstrip(".") if name not in (".", "") else ""
    if text.isascii():
        labels = text.split(".") if text else []
        if len(text) <= _MAX_NAME and all(0 < len(label) <= _MAX_LABEL for label in labels):
            return text.encode("ascii")
    # Rare: let dnspython say what is wrong, or put a non-ASCII name in IDNA.
    import dns.exception
    import dns.name

    try:
        return dns.name.from_text(name).to_text(omit_final_dot=True).encode("ascii")
    except dns.exception.DNSException as exc:
        raise DnsLookupError(f"{kind} {name}: {exc}") from None


def _server_text(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _open_channel(servers: list[str], timeout: float, tries: int) -> Any:
    """A channel with its own event thread, no cache, no search list, no EDNS.

    No EDNS, like dnspython's resolver: the same 512-byte UDP limit, the same
    fallback to TCP. With nameservers given, the system's resolv.conf is not read.
    """
    options = ffi.new("struct ares_options *")
    options.flags = lib.ARES_FLAG_NOSEARCH | (0 if servers else lib.ARES_FLAG_NO_DFLT_SVR)
    options.timeout = max(1, int(timeout * 1000))
    options.tries = max(1, tries)
    options.qcache_max_ttl = 0
    options.evsys = lib.ARES_EVSYS_DEFAULT
    mask = (
        lib.ARES_OPT_FLAGS
        | lib.ARES_OPT_TIMEOUTMS
        | lib.ARES_OPT_TRIES
        | lib.ARES_OPT_EVENT_THREAD
        | _OPT_QUERY_CACHE
    )
    keep = []  # the C strings must outlive ares_init_options
    if servers:
        keep.append(ffi.new("char[]", os.devnull.encode()))
        options.resolvconf_path = keep[-1]
        mask |= lib.ARES_OPT_RESOLVCONF
    channel = ffi.new("ares_channel *")
    if lib.ares_init_options(channel, options, mask) != _SUCCESS:
        raise ConfigurationError("the DNS resolver could not start")
    if servers and lib.ares_set_servers_csv(channel[0], ",".join(servers).encode()) != _SUCCESS:
        _close_channel(channel, None)
        raise ConfigurationError("invalid DNS server list")
    if not _has_servers(channel):
        _close_channel(channel, None)
        raise ConfigurationError("no DNS server configured on this system: pass --dns-server")
    return channel


def _has_servers(channel: Any) -> bool:
    return bool(_servers(channel))


def _servers(channel: Any) -> list[str]:
    text = lib.ares_get_servers_csv(channel[0])
    if text == ffi.NULL:
        return []
    try:
        return [s for s in ffi.string(text).decode("ascii", "replace").split(",") if s]
    finally:
        lib.ares_free_string(text)


def _close_channel(channel: Any, callback: Any) -> None:
    """Destroy a channel off any c-ares thread: its callbacks may be running."""

    # The callback is an argument so that it lives until no query can call it.
    threading.Thread(
        target=_destroy, args=(channel, callback), name="c-ares close", daemon=True
    ).start()


def _destroy(channel: Any, _callback: Any) -> None:
    lib.ares_cancel(channel[0])
    lib.ares_queue_wait_empty(channel[0], -1)
    lib.ares_destroy(channel[0])


def channel_servers(backend: CaresBackend) -> list[str]:
    """The servers a backend's channel asks, as ``IP:PORT`` (for tests and diagnostics)."""
    return _servers(backend._open())
