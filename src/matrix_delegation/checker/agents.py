"""User agents and bot walls: the delegation and the keys as each implementation asks for them.

A WAF or CDN in front of a server may refuse some User-Agents (``Go-http-client/``,
anything with ``bot`` in it) or answer them with a bot challenge, so that one
implementation's peers fail while the others, and our own check, get through.
:func:`gather_agents` fetches ``/.well-known/matrix/server`` and
``/_matrix/key/v2/server`` once per distinct agent of :data:`~.agents_model.AGENTS` (each
agent written down with its source in docs/peers.md, "User agents"); the pure
:func:`agent_rows` and :func:`agent_problems` compare each answer with ours.

Cost: :data:`~.agents_model.EXTRA_REQUESTS` requests per check at most (our own ``.well-known``
fetch, for its headers, then each agent on both URLs); none for a URL that
did not answer us at all. They cost few connections: the ``.well-known`` GETs take
turns on the check's kept-alive connection (:mod:`matrix_delegation._io.scope`), and
the key fetches go one after another over one connection to the endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from .._core.jsondoc import read_json
from .._core.model import Resolution
from .._core.wellknown import parse_server_body, well_known_url
from .._io.network import Network
from .._io.probe import KEYS_PATH, MAX_RESPONSE, HttpResult
from .agents_model import AGENTS, Agent, AgentFacts, AgentRow, Fetches, Outcome, Seen
from .codes import Problem, problem
from .report import EndpointReport

__all__ = [
    "agent_problems",
    "agent_rows",
    "challenge_reason",
    "gather_agents",
]

# --- reading answers ------------------------------------------------------------------

_CDN_HEADERS: Final = {
    "cf-ray": "Cloudflare",
    "x-sucuri-id": "Sucuri",
    "x-iinfo": "Imperva",
    "x-amz-cf-id": "CloudFront",
    "akamai-grn": "Akamai",
    "x-ddos-protection": "a DDoS protection",
}
_CDN_SERVERS: Final = ("cloudflare", "akamaighost", "sucuri", "cloudfront", "ddos-guard")


def challenge_reason(
    status: int | None, headers: Iterable[tuple[str, str]], body: bytes
) -> str | None:
    """Why this answer is a bot challenge or a CDN block page, or None when it is not."""
    pairs = [(name.lower(), value.strip()) for name, value in headers]
    if any(name == "cf-mitigated" and value.lower() == "challenge" for name, value in pairs):
        return "a bot challenge (cf-mitigated: challenge)"
    if status not in (403, 429, 503) or not _looks_like_html(body):
        return None
    cdn = next((_CDN_HEADERS[name] for name, _ in pairs if name in _CDN_HEADERS), None)
    server = next((value.lower() for name, value in pairs if name == "server"), "")
    cdn = cdn or next((known for known in _CDN_SERVERS if known in server), None)
    return None if cdn is None else f"an HTML page with HTTP {status} from {cdn}"


def _looks_like_html(body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def well_known_signature(body: bytes) -> str:
    """What a ``.well-known`` body says: its ``m.server``, or the kind of error."""
    m_server, _, _, kind = parse_server_body(body)
    return f"m.server {m_server}" if m_server is not None else f"invalid ({kind})"


def keys_signature(document: Any) -> str:
    """What a key response says: server name and key IDs (signatures and times vary)."""
    if not isinstance(document, Mapping):
        return "not a JSON object"
    keys = document.get("verify_keys")
    ids = sorted(str(key) for key in keys) if isinstance(keys, Mapping) else []
    return f"{document.get('server_name')!r} {ids}"


def _keys_body_signature(body: bytes) -> str:
    doc = read_json(body, max_bytes=MAX_RESPONSE)
    return keys_signature(doc.value) if doc.reason is None else "not JSON"


def _seen(result: HttpResult, sign: Callable[[bytes], str]) -> Seen:
    if result.status is None:
        return Seen(None, error=result.error)
    reason = challenge_reason(result.status, result.headers, result.body)
    return Seen(result.status, sign(result.body), reason)


# --- gathering ------------------------------------------------------------------------


async def gather_agents(
    network: Network,
    resolution: Resolution,
    host: str,
    endpoints: tuple[EndpointReport, ...],
    *,
    timeout: float,
    gate: asyncio.Semaphore,
    clock: Callable[[], float],
) -> AgentFacts:
    """Fetch the ``.well-known`` (when discovery asked for it) and the keys with each agent."""
    well_known, fetched_at, count = None, None, 0
    headers: tuple[tuple[str, str], ...] = ()
    if resolution.well_known is not None:
        url = well_known_url(host)
        async with gate:
            fetched = await network.get(url, timeout=timeout)
        fetched_at, count = clock(), 1
        final = fetched.hops[-1] if fetched.hops and fetched.error is None else None
        headers = tuple(final.headers.items()) if final is not None else ()
        status = fetched.status if final is not None else None
        ours = _seen(HttpResult(status, fetched.body, fetched.error, headers), well_known_signature)
        well_known = Fetches(url, ours)
        if ours.status is not None:  # an agent changes nothing when nothing answers
            asked = (_get_well_known(network, url, agent, timeout, gate) for agent in AGENTS)
            theirs = tuple(await asyncio.gather(*asked))
            well_known, count = Fetches(url, ours, theirs), count + len(AGENTS)
    keys = await _keys(network, resolution, endpoints, timeout, gate)
    count += len(keys.theirs) if keys is not None else 0
    return AgentFacts(well_known, keys, headers, fetched_at, count)


async def _get_well_known(
    network: Network, url: str, agent: Agent, timeout: float, gate: asyncio.Semaphore
) -> Seen:
    async with gate:
        fetched = await network.get(url, timeout=timeout, user_agent=agent.user_agent)
    if fetched.error is not None:
        return Seen(None, error=fetched.error)
    final = fetched.hops[-1]
    result = HttpResult(final.status, fetched.body, None, tuple(final.headers.items()))
    return _seen(result, well_known_signature)


async def _keys(
    network: Network,
    resolution: Resolution,
    endpoints: tuple[EndpointReport, ...],
    timeout: float,
    gate: asyncio.Semaphore,
) -> Fetches | None:
    """The key endpoint of the first endpoint that answered it over verified TLS."""
    report = next((r for r in endpoints if _answered_keys(r)), None)
    if report is None:
        return None
    probe = report.probe
    assert probe.keys is not None
    reason = challenge_reason(probe.keys.status, probe.keys.headers, probe.keys.body)
    ours = Seen(probe.keys.status, keys_signature(report.keys_document), reason)
    where = f"[{probe.ip}]" if ":" in probe.ip else probe.ip
    url = f"https://{where}:{probe.port}{KEYS_PATH}"

    asks = [(KEYS_PATH, agent.user_agent) for agent in AGENTS]
    tls_name = resolution.tls_server_name or probe.ip
    host_header = resolution.host_header or resolution.server_name
    # One connection for all the agents (one TLS handshake) while the server keeps it
    # alive; those left when it closes it (or a request fails) get one each, at once.
    async with gate:
        results = await network.fetch_paths(
            probe.ip, probe.port, asks, tls_name=tls_name, host_header=host_header,
            timeout=timeout,
        )  # fmt: skip

    async def one(user_agent: str | None) -> HttpResult:
        async with gate:
            return await network.fetch_path(
                probe.ip,
                probe.port,
                KEYS_PATH,
                tls_name=tls_name,
                host_header=host_header,
                timeout=timeout,
                user_agent=user_agent,
            )

    results += tuple(await asyncio.gather(*(one(agent) for _, agent in asks[len(results) :])))
    return Fetches(url, ours, tuple(_seen(result, _keys_body_signature) for result in results))


def _answered_keys(report: EndpointReport) -> bool:
    probe = report.probe
    verified = probe.tls is not None and probe.tls.verified
    return verified and probe.keys is not None and probe.keys.status is not None


# --- judging --------------------------------------------------------------------------


def outcome(ours: Seen, theirs: Seen) -> Outcome:
    """How an agent's answer compares with ours."""
    if theirs.challenge is not None:
        return "challenge"
    if theirs.status is None:
        return "error"
    if (theirs.status, theirs.signature) == (ours.status, ours.signature):
        return "same"
    if ours.status == 200 and theirs.status >= 400:
        return "blocked"
    return "different"


def agent_rows(facts: AgentFacts) -> tuple[AgentRow, ...]:
    """One row per implementation and URL, in the order of :data:`AGENTS`."""
    rows = []
    for fetches in (facts.well_known, facts.keys):
        if fetches is None:
            continue
        for agent, seen in zip(AGENTS, fetches.theirs, strict=False):
            verdict = outcome(fetches.ours, seen)
            for name in agent.implementations:
                rows.append(AgentRow(name, agent.user_agent, fetches.url, seen.status, verdict))
    return tuple(rows)


def agent_problems(facts: AgentFacts) -> list[Problem]:
    """``cdn-challenge`` and ``user-agent-blocked``, per URL."""
    found: list[Problem] = []
    for fetches in (facts.well_known, facts.keys):
        if fetches is not None:
            found.extend(_challenges(fetches))
            found.extend(_blocked(fetches))
    return found


def _challenges(fetches: Fetches) -> list[Problem]:
    hit = [("us", fetches.ours)] if fetches.ours.challenge else []
    hit += [(a.label, s) for a, s in zip(AGENTS, fetches.theirs, strict=False) if s.challenge]
    if not hit:
        return []
    who = ", ".join(label for label, _ in hit)
    message = f"{fetches.url}: {hit[0][1].challenge} instead of JSON (for {who})"
    return [problem("cdn-challenge", message)]


def _blocked(fetches: Fetches) -> list[Problem]:
    pairs = list(zip(AGENTS, fetches.theirs, strict=False))
    homeservers = [(a, s) for a, s in pairs if a.implementations != ("browser",)]
    bad = [(a, s) for a, s in homeservers if outcome(fetches.ours, s) in _REFUSED]
    served = fetches.ours.status == 200 or any(s.status == 200 for _, s in pairs)
    if not bad or not served:  # nobody is served: not a question of agents
        return []
    parts = [f"{a.label} ({', '.join(a.implementations)}) gets {_said(s)}" for a, s in bad]
    message = f"{fetches.url}: " + "; ".join(parts) + f"; we get {_said(fetches.ours)}"
    return [problem("user-agent-blocked", message)]


_REFUSED: Final = frozenset({"blocked", "challenge", "different"})


def _said(seen: Seen) -> str:
    if seen.status is None:
        return f"no answer ({seen.error})"
    return f"HTTP {seen.status}" + (f", {seen.signature}" if seen.signature else "")


def defer_to_challenge(found: list[Problem], facts: AgentFacts | None) -> list[Problem]:
    """Drop what our own challenged answer was reported as: the challenge is the problem.

    A challenge page on ``.well-known`` is otherwise "not JSON" or a server
    error; on the key endpoint, "keys not JSON".
    """
    if facts is None:
        return found
    hidden: set[str] = set()
    if facts.well_known is not None and facts.well_known.ours.challenge:
        hidden |= {"well-known-not-json", "well-known-server-error"}
    if facts.keys is not None and facts.keys.ours.challenge:
        hidden.add("keys-not-json")
    return [p for p in found if p.code not in hidden]


def rows_json(rows: Iterable[AgentRow]) -> list[dict[str, Any]]:
    """The ``user_agents`` list of docs/check-json.md."""
    return [
        {
            "implementation": row.implementation,
            "user_agent": row.user_agent,
            "url": row.url,
            "status": row.status,
            "outcome": row.outcome,
        }
        for row in rows
    ]
