"""The spec's "Resolving server names" as one procedure that asks and is told.

:func:`plan` is a generator: it yields a question (:data:`Step`) whenever it
needs the network and is sent the answer (:data:`Observation`); its return
value is the :class:`Resolution`. It never performs I/O, so tests drive it
with a dictionary of answers and the resolver drives it with real DNS and
HTTPS. Step numbers below are those of the Server-Server API, section
"Resolving server names" (v1.8 and later).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .ipfilter import IpPolicy
from .model import (
    DEFAULT_FEDERATION_PORT,
    AddressAnswers,
    Endpoint,
    Fact,
    Failure,
    FailureCode,
    FetchWellKnown,
    HostAddresses,
    LookupAddresses,
    LookupSrv,
    Observation,
    Resolution,
    Route,
    SrvLookup,
    SrvRecord,
    Step,
    WellKnownResult,
)
from .names import ServerName
from .overrides import ConnectTo, apply_connect_to
from .peers import SPEC, PeerPolicy, read_m_server_as_url
from .plan_notes import Choice, Failed, Notes
from .srv import order_srv, service_unavailable, usable_records

__all__ = [
    "MAX_ADDRESSES_PER_HOST",
    "MAX_ENDPOINTS",
    "Plan",
    "Policy",
    "plan",
]

Plan = Generator[Step, Observation, Resolution]


class _SrvRoutes(NamedTuple):
    """The routes of steps 4-6 (or 3.3-3.5): by which SRV service, or none, targets come."""

    fed: Route  # _matrix-fed._tcp
    legacy: Route  # _matrix._tcp (deprecated)
    default_port: Route  # no SRV record: the hostname on port 8448

    def by_service(self, services: tuple[str, ...]) -> list[tuple[str, Route]]:
        """The SRV services to look up, in the order given, with the route each one gives."""
        routes = {"_matrix-fed._tcp": self.fed, "_matrix._tcp": self.legacy}
        return [(service, routes[service]) for service in services if service in routes]


_SRV_ROUTES = _SrvRoutes(Route.SRV, Route.SRV_LEGACY, Route.DEFAULT_PORT)
_WELL_KNOWN_SRV_ROUTES = _SrvRoutes(
    Route.WELL_KNOWN_SRV, Route.WELL_KNOWN_SRV_LEGACY, Route.WELL_KNOWN_DEFAULT_PORT
)
#: Targets beyond this many (in RFC 2782 order) are not resolved.
MAX_SRV_TARGETS = 32
#: Addresses of one host beyond this many (in Happy Eyeballs order) are not used: real
#: servers publish a handful, and each one costs the checker connections.
MAX_ADDRESSES_PER_HOST = 16
#: Endpoints beyond this many (all targets together) are not used.
MAX_ENDPOINTS = 32


@dataclass(frozen=True, slots=True)
class Policy:
    """What discovery may connect to: the IP policy and any ``--connect-to`` rules."""

    ip_policy: IpPolicy
    connect_to: tuple[ConnectTo, ...] = ()


def plan(name: ServerName, policy: Policy, rng: random.Random, peer: PeerPolicy = SPEC) -> Plan:
    """Resolve a parsed server name; see the module docstring for the protocol.

    A driver that answers :class:`FetchWellKnown` with
    :meth:`WellKnownResult.not_fetched` gets the route a peer takes when it
    cannot fetch (or has cached a failure of) the ``.well-known`` file: the
    checker uses it to test that fallback. ``peer`` is the discovery policy:
    the spec's, or an implementation's where it departs from it (docs/peers.md);
    every departure is noted in the trace with :attr:`Fact.PEER_RULE`.
    """
    notes = Notes(str(name))
    choice = yield from _choose_route(name, notes, rng, peer)
    if isinstance(choice, Failed):
        return notes.resolution(choice)
    return (yield from _find_endpoints(choice, notes, policy, peer))


def _choose_route(
    name: ServerName, notes: Notes, rng: random.Random, peer: PeerPolicy
) -> Generator[Step, Observation, Choice | Failed]:
    if name.is_ip_literal:
        notes.note("1", "an IP literal: connect to it directly, with no SNI")
        return _direct(Route.IP_LITERAL, name)
    if name.port is not None:
        notes.note("2", "an explicit port: resolve the hostname and use that port")
        return _direct(Route.EXPLICIT_PORT, name)
    well_known = yield FetchWellKnown(name.lookup_name)
    assert isinstance(well_known, WellKnownResult)
    if not well_known.fetched:
        notes.note("3", ".well-known not consulted (as by a peer that cannot fetch it)")
        return (yield from _srv_or_default(name, notes, rng, _SRV_ROUTES, peer))
    notes.well_known = well_known
    _note_lax_fetch(well_known, notes)
    delegated = well_known.delegated_server
    if delegated is None and well_known.m_server is not None and peer.m_server != "spec":
        invalid = _invalid_m_server(well_known, well_known.m_server, notes, peer)
        if isinstance(invalid, Failed):
            return invalid
        delegated = invalid
    elif delegated is None:
        # S2S 3: an invalid or missing file is not fatal; go on to step 4.
        notes.note("3", "no valid .well-known: go on to SRV (step 4)", well_known)
        return (yield from _srv_or_default(name, notes, rng, _SRV_ROUTES, peer))
    else:
        notes.note("3", "delegated by .well-known", well_known)
    if delegated.is_ip_literal:
        return _direct(Route.WELL_KNOWN_IP_LITERAL, delegated)  # 3.1
    if delegated.port is not None:
        return _direct(Route.WELL_KNOWN_EXPLICIT_PORT, delegated)  # 3.2
    # 3.3-3.5: the delegated name goes through SRV, never through .well-known again.
    return (yield from _srv_or_default(delegated, notes, rng, _WELL_KNOWN_SRV_ROUTES, peer))


def _note_lax_fetch(well_known: WellKnownResult, notes: Notes) -> None:
    """What only a policy laxer than the spec's fetch lets through (docs/peers.md)."""
    if any(url.startswith("http:") for url in well_known.redirects):
        rule = "a redirect to plain http is followed"
        notes.note("3", rule, well_known, "warning", Fact.PEER_RULE)
    if well_known.valid and well_known.status != 200:
        rule = f"the status of the answer (HTTP {well_known.status}) is not checked"
        notes.note("3", rule, well_known, "warning", Fact.PEER_RULE)


def _invalid_m_server(
    well_known: WellKnownResult, m_server: str, notes: Notes, peer: PeerPolicy
) -> ServerName | Failed:
    """An invalid ``m.server`` under a policy stricter or laxer than the spec."""
    if peer.m_server == "fail":
        notes.note("3", "an invalid m.server ends discovery", well_known, "error", Fact.PEER_RULE)
        failure = Failure(FailureCode.INVALID_WELL_KNOWN, f"m.server {m_server!r} is invalid")
        return Failed(failure, None, None, None)
    read = read_m_server_as_url(m_server)
    if read is None:
        notes.note("3", "an invalid m.server is used as it is", well_known, "error", Fact.PEER_RULE)
        failure = Failure(FailureCode.NO_ADDRESS, f"m.server {m_server!r} names no host")
        return Failed(failure, None, None, None)
    rule = f"an invalid m.server is used as it is: the host {read} is read off it"
    notes.note("3", rule, well_known, "warning", Fact.PEER_RULE)
    return read


def _direct(route: Route, name: ServerName) -> Choice:
    """Steps 1, 2, 3.1 and 3.2: the Host header is the name exactly as written."""
    tls_server_name = None if name.is_ip_literal else name.lookup_name
    port = name.port or DEFAULT_FEDERATION_PORT
    return Choice(route, str(name), tls_server_name, [(name.lookup_name, port)])


def _srv_or_default(
    name: ServerName, notes: Notes, rng: random.Random, routes: _SrvRoutes, peer: PeerPolicy
) -> Generator[Step, Observation, Choice | Failed]:
    """Steps 3.3-3.5 or 4-6. Host and certificate stay on ``name``, not the SRV target."""
    host_header, tls_server_name = name.hostname, name.lookup_name
    if peer.srv_services != SPEC.srv_services:
        asked = " and ".join(peer.srv_services) or "no SRV service"
        notes.note(routes.fed.spec_step, f"only {asked} is asked", None, "info", Fact.PEER_RULE)
    for service, route in routes.by_service(peer.srv_services):
        lookup = yield LookupSrv(f"{service}.{name.lookup_name}")
        assert isinstance(lookup, SrvLookup)
        notes.srv.append(lookup)
        step = route.spec_step
        if lookup.error and not lookup.stale:
            mode = _dns_error_mode(lookup.error, peer)
            if mode == "no-record":
                notes.note(step, "a failed SRV lookup is read as no record", lookup, "warning",
                           Fact.PEER_RULE)  # fmt: skip
                continue
            if mode == "default-port":
                notes.note(step, "a failed SRV lookup goes straight to port 8448", lookup,
                           "warning", Fact.PEER_RULE)  # fmt: skip
                break
            # Only "no such record" moves on; a broken DNS server must not
            # silently send traffic to another place.
            notes.note(step, "the SRV lookup failed: discovery stops", lookup, "error")
            failure = Failure(
                FailureCode.DNS_ERROR, f"SRV lookup {lookup.name} failed: {lookup.error}"
            )
            return Failed(failure, None, host_header, tls_server_name)
        if lookup.stale:
            notes.note(step, "DNS failed: using the expired cached answer", lookup, "warning")
        if service_unavailable(lookup.records):
            notes.note(step, 'the sole SRV target is ".": no service here', lookup, "error")
            failure = Failure(FailureCode.SERVICE_UNAVAILABLE, f'{lookup.name} has the target "."')
            return Failed(failure, route, host_header, tls_server_name)
        records = usable_records(lookup.records)
        if records:
            legacy = route.legacy_srv
            rule = (
                "SRV records found (the deprecated _matrix._tcp)" if legacy else "SRV records found"
            )
            notes.note(step, rule, lookup, "warning" if legacy else "info")
            targets = [(r.target.lower(), r.port) for r in _srv_order(records, rng, peer)]
            if peer.srv_records is not None and len(targets) > peer.srv_records:
                rule = f"only {peer.srv_records} SRV record is used (the first of the answer)"
                notes.note(step, rule, lookup, "warning", Fact.PEER_RULE)
                targets = targets[: peer.srv_records]
            if len(targets) > MAX_SRV_TARGETS:
                # A hostile zone could list thousands; real ones list a handful.
                notes.note(
                    step,
                    f"only the first {MAX_SRV_TARGETS} of {len(targets)} SRV targets are used",
                    lookup,
                    "warning",
                )
                targets = targets[:MAX_SRV_TARGETS]
            return Choice(route, host_header, tls_server_name, targets)
        notes.note(step, "no SRV records", lookup)
    default = routes.default_port
    notes.note(default.spec_step, "no SRV records: the hostname on port 8448")
    return Choice(
        default, host_header, tls_server_name, [(name.lookup_name, DEFAULT_FEDERATION_PORT)]
    )


def _dns_error_mode(error: str, peer: PeerPolicy) -> str:
    """What a failed SRV lookup does under ``peer`` (a timeout may end it regardless)."""
    if peer.dns_timeout_fails and "timed out" in error:
        return "fail"
    return peer.dns_error


def _srv_order(
    records: list[SrvRecord], rng: random.Random, peer: PeerPolicy
) -> Sequence[SrvRecord]:
    """RFC 2782 order, or the order of the answer for implementations that keep it."""
    return order_srv(records, rng) if peer.srv_order == "rfc2782" else records


def _find_endpoints(choice: Choice, notes: Notes, policy: Policy, peer: PeerPolicy) -> Plan:
    step = choice.route.spec_step
    real: list[tuple[str, int]] = []
    for host, port in choice.targets:
        real_host, real_port, rule = apply_connect_to(policy.connect_to, host, port)
        if rule is not None:
            notes.note(step, f"--connect-to {rule}: {host}:{port} goes to {real_host}:{real_port}")
        real.append((real_host, real_port))
    names = tuple(dict.fromkeys(host for host, _ in real if not _is_ip(host)))
    answers: dict[str, HostAddresses] = {}
    if names:
        reply = yield LookupAddresses(names)
        assert isinstance(reply, AddressAnswers)
        answers = {answer.host: answer for answer in reply.hosts}
    via_srv = choice.route.via_srv
    endpoints: list[Endpoint] = []
    problems: set[FailureCode] = set()
    for (target, _), (host, port) in zip(choice.targets, real, strict=True):
        answer = answers.get(host)
        addresses = answer.addresses if answer else (host,)
        alias_ok = peer.cname_targets or answer is None or not answer.aliases or not via_srv
        usable = (
            _check_addresses(step, answer, addresses, via_srv, notes, policy, problems)
            if alias_ok
            else _alias_refused(step, answer, notes, problems)
        )
        endpoints.extend(Endpoint(target, ip, port) for ip in usable)
    unique = tuple(dict.fromkeys(endpoints))
    if len(unique) > MAX_ENDPOINTS:
        capped = f"only the first {MAX_ENDPOINTS} of {len(unique)} endpoints are used"
        notes.note(step, capped, None, "warning", Fact.ENDPOINTS_CAPPED)
        unique = unique[:MAX_ENDPOINTS]
    if unique:
        return notes.resolution(choice, unique)
    code = next((c for c in _NO_ENDPOINT_ORDER if c in problems), FailureCode.NO_ADDRESS)
    failure = Failure(code, code.message)
    return notes.resolution(
        Failed(failure, choice.route, choice.host_header, choice.tls_server_name)
    )


def _alias_refused(
    step: str, answer: HostAddresses | None, notes: Notes, problems: set[FailureCode]
) -> tuple[str, ...]:
    """An SRV target that is an alias, under a policy that refuses it (RFC 2782)."""
    rule = "the SRV target is an alias (CNAME): not used"
    notes.note(step, rule, answer, "error", Fact.PEER_RULE)
    problems.add(FailureCode.NO_ADDRESS)
    return ()


#: When targets fail differently, the first of these that applies is the failure.
_NO_ENDPOINT_ORDER = (FailureCode.BLOCKED_ADDRESS, FailureCode.DNS_ERROR)


def _check_addresses(
    step: str,
    answer: HostAddresses | None,
    addresses: tuple[str, ...],
    via_srv: bool,
    notes: Notes,
    policy: Policy,
    problems: set[FailureCode],
) -> tuple[str, ...]:
    """The usable addresses of one target, noting what is wrong with them."""
    if answer is not None:
        if answer.aliases and via_srv:
            # RFC 2782: an SRV target must not be an alias. It works with most
            # resolvers, but is reported so the admin can fix it.
            notes.note(
                step,
                "the SRV target is an alias (CNAME), which RFC 2782 forbids",
                answer,
                "warning",
                Fact.SRV_TARGET_ALIAS,
            )
        if answer.error and not addresses:
            problems.add(FailureCode.DNS_ERROR)
            notes.note(step, "the address lookup failed", answer, "error")
            return ()
        if not addresses:
            problems.add(FailureCode.NO_ADDRESS)
            notes.note(step, "no A or AAAA records", answer, "error")
            return ()
    for ip in addresses:
        refusal = policy.ip_policy.refusal(ip)
        if refusal is not None:
            # DNS-rebinding safety: one blocked address disqualifies the whole name.
            problems.add(FailureCode.BLOCKED_ADDRESS)
            host = answer.host if answer else ip
            notes.note(step, f"{refusal}: {host} is not used", answer, "error")
            return ()
    notes.note(
        step,
        "addresses found" if answer else "connect to the IP literal",
        answer,
        "warning" if answer is not None and answer.error else "info",
    )
    ordered = _interleave(addresses)
    if len(ordered) > MAX_ADDRESSES_PER_HOST:
        # A hostile zone could publish hundreds; each would cost a connection.
        rule = f"only the first {MAX_ADDRESSES_PER_HOST} of {len(ordered)} addresses are used"
        notes.note(step, rule, answer, "warning", Fact.ADDRESSES_CAPPED)
        return ordered[:MAX_ADDRESSES_PER_HOST]
    return ordered


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _interleave(addresses: tuple[str, ...]) -> tuple[str, ...]:
    """IPv6 and IPv4 alternately, IPv6 first, as Happy Eyeballs (RFC 8305) tries them."""
    v6 = [a for a in addresses if ":" in a]
    v4 = [a for a in addresses if ":" not in a]
    mixed: list[str] = []
    for index in range(max(len(v6), len(v4))):
        mixed.extend(family[index] for family in (v6, v4) if index < len(family))
    return tuple(mixed)
