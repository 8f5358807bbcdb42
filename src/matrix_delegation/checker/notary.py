"""Both directions and the outside view: ``check --outbound`` and ``check --notary``.

Every federation checker tests one direction from one place. These two
opt-in tests use the Server-Server API's unauthenticated key query (``POST
/_matrix/key/v2/query``, "Querying Keys Through Another Server"), with no
account and no signing key of our own:

- **Outbound**: the checked server, asked as a notary for the keys of
  another server (``via``), must fetch them itself. The key IDs are learnt
  from ``via`` directly first (a query naming key IDs is what makes Synapse
  fetch), with a ``minimum_valid_until_ts`` above what ``via`` serves now so
  that a cached copy does not do. The answer counts when it holds ``via``'s
  keys, signed by ``via`` with the keys we fetched from it, and countersigned
  by the checked server with the keys the check verified.
- **Outside view**: each notary is asked for the checked server's keys; they
  must be signed by the server and by the notary (whose own keys are fetched
  and verified first), and be the keys the server serves here.

Both contact servers other than the checked one and tell them the checked
name, so both are off unless asked for. Every connection goes through the
network edge (resolution by the resolver, the IP policy at every socket).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .._core.model import Resolution
from .._io.probe import KEYS_PATH, HttpResult
from ..resolver import Resolver
from .keys import check_server_keys
from .keys_model import KeyReport
from .notary_model import NotaryResult, OutboundResult, ThirdParty
from .notary_verify import QUERY_PATH, Answer, peer_words, query_body, read_answer
from .report import EndpointReport

__all__ = ["gather_third_party"]

#: Endpoints of a server tried, one after the other, for one test.
MAX_TRIED = 4


@dataclass(frozen=True, slots=True)
class _Where:
    """One endpoint and how to speak to it: TLS name and Host header."""

    ip: str
    port: int
    tls_name: str
    host_header: str

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(frozen=True, slots=True)
class _Keys:
    """A server's keys as it serves them: all of them, and those that signed."""

    served: Mapping[str, str]
    trusted: Mapping[str, str]
    valid_until: int
    where: _Where | None = None


@dataclass(frozen=True, slots=True)
class _Context:
    resolver: Resolver
    server_name: str
    timeout: float
    now_ms: int
    own: _Keys | None  # the checked server's keys, from an endpoint that passed its checks

    async def ask(self, where: _Where, path: str, body: bytes | None = None) -> HttpResult:
        return await self.resolver.network.fetch_path(
            where.ip, where.port, path, tls_name=where.tls_name,
            host_header=where.host_header, timeout=self.timeout, body=body,
        )  # fmt: skip


async def gather_third_party(
    resolver: Resolver,
    server_name: str,
    resolution: Resolution,
    endpoints: tuple[EndpointReport, ...],
    asked: ThirdParty,
    *,
    timeout: float,
    clock: Callable[[], float] = time.time,
) -> tuple[tuple[OutboundResult, ...] | None, tuple[NotaryResult, ...] | None]:
    """Run the tests ``asked`` for; None for each one not asked."""
    passed = [e for e in endpoints if e.ok and e.keys is not None][:MAX_TRIED]
    own = _own_keys(passed[0].keys) if passed and passed[0].keys is not None else None
    context = _Context(resolver, server_name, timeout, int(clock() * 1000), own)
    ours = [_where(resolution, e.probe.ip, e.probe.port) for e in passed]
    outbound = notary = None
    if asked.outbound is not None:
        outbound = tuple(
            await asyncio.gather(*(_outbound(context, ours, v) for v in asked.outbound))
        )
    if asked.notary is not None:
        notary = tuple(await asyncio.gather(*(_notary(context, n) for n in asked.notary)))
    return outbound, notary


def _own_keys(report: KeyReport) -> _Keys:
    trusted = {c.key_id: c.key for c in report.ed25519_checks if c.matching_signature}
    return _Keys(dict(report.verify_keys), trusted, report.valid_until_ts or 0)


def _where(resolution: Resolution, ip: str, port: int) -> _Where:
    host = resolution.host_header or resolution.server_name
    return _Where(ip, port, resolution.tls_server_name or ip, host)


async def _direct_keys(context: _Context, name: str) -> _Keys | str:
    """``name``'s keys fetched from it directly and verified, or why there are none."""
    resolution = await context.resolver.resolution(name)
    if resolution.error is not None:
        return resolution.error.message
    failures: list[str] = []
    for endpoint in resolution.endpoints[:MAX_TRIED]:
        where = _where(resolution, endpoint.ip, endpoint.port)
        result = await context.ask(where, KEYS_PATH)
        if result.status != 200:
            failures.append(f"{where}: {peer_words(result)}")
            continue
        report = await asyncio.to_thread(check_server_keys, result.body, name, context.now_ms)
        keys = _own_keys(report)
        if not report.ok or not keys.trusted:
            first = next((p.message for p in report.problems if p.severity == "error"), "")
            failures.append(f"{where}: its keys fail the checks ({first})")
            continue
        return _Keys(keys.served, keys.trusted, keys.valid_until, where)
    return "; ".join(failures) or "no endpoint"


def _minimum(context: _Context, keys: _Keys) -> int:
    """Above what the server serves now: a notary holding that copy must fetch anew."""
    return max(context.now_ms, keys.valid_until) + 1


async def _query(
    context: _Context, where: _Where, target: str, keys: _Keys, notary: str, trusted: _Keys
) -> tuple[Answer, float]:
    """Ask ``where`` (of ``notary``) for ``target``'s keys; the answer and the milliseconds."""
    body = query_body(target, keys.served, _minimum(context, keys))
    started = time.perf_counter()
    result = await context.ask(where, QUERY_PATH, body)
    elapsed = round(1000 * (time.perf_counter() - started), 2)
    answer = await asyncio.to_thread(
        read_answer, result, target, notary, trusted.trusted, context.now_ms
    )
    return answer, elapsed


# --- outbound: can the checked server reach ``via``? -----------------------------------


async def _outbound(context: _Context, ours: list[_Where], via: str) -> OutboundResult:
    if context.own is None or not ours:
        why = "not tried: no endpoint of the server passed its checks"
        return OutboundResult(via, None, False, why, None)
    direct = await _direct_keys(context, via)
    if isinstance(direct, str):
        why = f"not tried: the keys of {via} cannot be fetched from here: {direct}"
        return OutboundResult(via, None, False, why, None, via_unavailable=True)
    result = OutboundResult(via, None, False, "not tried", None)
    for where in ours:  # one that works is enough
        answer, elapsed = await _query(
            context, where, via, direct, context.server_name, context.own
        )
        error = _outbound_error(answer, via, direct)
        result = OutboundResult(via, str(where), error is None, error, elapsed)
        if error is None:
            break
    return result


def _outbound_error(answer: Answer, via: str, direct: _Keys) -> str | None:
    if answer.kind != "ok":
        return answer.error or answer.kind
    if answer.keys != direct.served:
        return (
            f"it returned keys for {via} ({_listed(answer.keys)}) that are not the keys "
            f"{via} serves here ({_listed(direct.served)})"
        )
    return None


# --- the outside view: what does a notary see? -----------------------------------------


async def _notary(context: _Context, notary: str) -> NotaryResult:
    direct = await _direct_keys(context, notary)
    if isinstance(direct, str):
        why = f"the notary {notary} cannot be used from here: {direct}"
        return NotaryResult(notary, False, None, why, notary_unavailable=True)
    assert direct.where is not None
    own = context.own or _Keys({}, {}, 0)  # nothing to name: ask for whatever it holds
    answer, _ = await _query(context, direct.where, context.server_name, own, notary, direct)
    if answer.kind == "ok":
        if not own.served:
            return NotaryResult(notary, True, None, None)
        if answer.keys == own.served:
            return NotaryResult(notary, True, True, None)
        why = (
            f"{notary} sees the keys {_listed(answer.keys)}; "
            f"the server serves {_listed(own.served)} here"
        )
        return NotaryResult(notary, True, False, why)
    error = f"{notary}: {answer.error or answer.kind}"
    if answer.kind == "no-keys" or answer.timed_out:
        return NotaryResult(notary, False, None, error)  # it could not reach the server
    return NotaryResult(notary, False, None, error, notary_unavailable=True)


def _listed(keys: Mapping[str, str] | None) -> str:
    shown = [f"{key_id}={key[:12]}…" for key_id, key in sorted((keys or {}).items())[:4]]
    return ", ".join(shown) or "none"
