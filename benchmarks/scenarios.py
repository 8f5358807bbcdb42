"""Declarative discovery scenarios, and the code that stands them up in a sandbox.

A scenario is plain data (it round-trips through YAML or JSON): the server name,
what the spec requires for it, the DNS records and faults, and the files the web
hosts serve. :func:`install` publishes scenarios into a running
:class:`~matrix_delegation.sandbox.world.Sandbox`: every scenario with HTTPS files
gets its own HTTPS host on its own ``127.0.0.X:443`` with a certificate from the
sandbox CA, plain-HTTP files a host on ``127.0.0.X:80``. Federation targets only
need addresses (resolving never connects to them), so they sit in
``127.0.100.0/24`` where nothing listens.

Fields of a scenario (all strings unless said):

- ``id``, ``about``: a short key and one line for people.
- ``server_name``: the name to resolve.
- ``expect``: ``route``, ``endpoints`` (the acceptable *first* endpoints, ``ip:port``),
  ``host`` (the Host header), ``tls`` (the name the certificate must be valid for);
  or only ``error`` (our error code).
- ``basis``: why that is the expectation; ``"spec"`` or a short reason when the spec
  is silent and Synapse's behaviour is the rule.
- ``dns``: records ``[name, type, value]`` or ``[name, type, value, ttl]``.
- ``fail``: ``[name, type, rcode]`` answered with that rcode from the start.
- ``web``: ``{url: reply}``; a reply has ``status``, ``json`` or ``body``, ``headers``
  and ``redirect`` (a Location).
- ``certificate_for``: the names on the HTTPS host's certificate, if not its own.
- ``between``: resolve twice; in between, apply ``fail`` rules and move the
  resolver's clock ``advance`` seconds on (past the SRV TTL).

The speed runs (``resolve_fanout.py``, ``compare.py``) need thousands of names: they
take them from one catalog entry, :data:`FANOUT` (step 3.3 at scale), stamped out once
per index by :func:`fanout` and published behind one wildcard HTTPS host by
:func:`install_shared`.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterable, Sequence
from typing import Any, NotRequired, TypedDict
from urllib.parse import urlsplit

import yaml

from matrix_delegation.sandbox import Reply, WebHost
from matrix_delegation.sandbox.world import Sandbox

__all__ = [
    "FANOUT", "SCENARIOS", "SMOKE", "Expect", "Scenario", "fanout", "install",
    "install_shared", "load", "reset",
]  # fmt: skip

DOMAIN = "conf.test"
WELL_KNOWN = "/.well-known/matrix/server"


class Expect(TypedDict, total=False):
    """What the spec (or, where it is silent, Synapse) makes of a scenario."""

    route: str
    endpoints: list[str]
    host: str
    tls: str
    error: str


class Between(TypedDict, total=False):
    """What changes between the two resolutions of a two-phase scenario."""

    fail: list[list[str]]
    advance: float


class Scenario(TypedDict):
    """One server name, its published world, and what resolving it must give."""

    id: str
    about: str
    server_name: str
    expect: Expect
    basis: str
    dns: NotRequired[list[list[Any]]]
    fail: NotRequired[list[list[str]]]
    web: NotRequired[dict[str, dict[str, Any]]]
    certificate_for: NotRequired[list[str]]
    between: NotRequired[Between]


def n(label: str) -> str:
    """A name in the scenarios' domain."""
    return f"{label}.{DOMAIN}"


def _wk(label: str) -> str:
    return f"https://{n(label)}{WELL_KNOWN}"


def _ok(route: str, endpoint: str, host: str, tls: str | None = None) -> Expect:
    return {"route": route, "endpoints": [endpoint], "host": host, "tls": tls or host}


def _m(server: str) -> dict[str, Any]:
    return {"json": {"m.server": server}}


def _srv(owner: str, value: str, service: str = "_matrix-fed", ttl: int = 300) -> list[Any]:
    return [f"{service}._tcp.{owner}", "SRV", value, ttl]


def _a(label: str, ip: str) -> list[Any]:
    return [n(label), "A", ip]


_SPEC = "spec"
_SILENT = "spec silent: Synapse's behaviour"

SCENARIOS: list[Scenario] = [
    {"id": "step-1", "about": "an IPv4 literal", "server_name": "127.0.100.1",
     "expect": _ok("ip-literal", "127.0.100.1:8448", "127.0.100.1"), "basis": _SPEC},
    {"id": "step-1-v6", "about": "a bracketed IPv6 literal with a port",
     "server_name": "[::1]:8448", "expect": _ok("ip-literal", "[::1]:8448", "[::1]:8448", "::1"),
     "basis": _SPEC},
    {"id": "step-2", "about": "a hostname with an explicit port", "server_name": n("s2") + ":8448",
     "expect": _ok("explicit-port", "127.0.100.2:8448", n("s2") + ":8448", n("s2")),
     "basis": _SPEC, "dns": [_a("s2", "127.0.100.2")]},
    {"id": "step-3.1", "about": ".well-known names an IP literal with a port",
     "server_name": n("s31"),
     "expect": _ok("well-known/ip-literal", "127.0.100.3:8448", "127.0.100.3:8448", "127.0.100.3"),
     "basis": _SPEC, "web": {_wk("s31"): _m("127.0.100.3:8448")}},
    {"id": "step-3.2", "about": ".well-known names a host with a port", "server_name": n("s32"),
     "expect": _ok("well-known/explicit-port", "127.0.100.4:8443", n("m.s32") + ":8443",
                   n("m.s32")),
     "basis": _SPEC, "web": {_wk("s32"): _m(n("m.s32") + ":8443")},
     "dns": [_a("m.s32", "127.0.100.4")]},
    {"id": "step-3.3", "about": ".well-known, then _matrix-fed SRV of the delegated name",
     "server_name": n("s33"), "expect": _ok("well-known/srv", "127.0.100.5:8449", n("m.s33")),
     "basis": _SPEC, "web": {_wk("s33"): _m(n("m.s33"))},
     "dns": [_srv(n("m.s33"), f"10 5 8449 {n('t33')}."), _a("t33", "127.0.100.5")]},
    {"id": "step-3.4", "about": ".well-known, then only the deprecated _matrix SRV",
     "server_name": n("s34"),
     "expect": _ok("well-known/srv-legacy", "127.0.100.6:8450", n("m.s34")), "basis": _SPEC,
     "web": {_wk("s34"): _m(n("m.s34"))},
     "dns": [_srv(n("m.s34"), f"10 5 8450 {n('t34')}.", "_matrix"), _a("t34", "127.0.100.6")]},
    {"id": "step-3.5", "about": ".well-known, no SRV: the delegated name on 8448",
     "server_name": n("s35"),
     "expect": _ok("well-known/default-port", "127.0.100.7:8448", n("m.s35")), "basis": _SPEC,
     "web": {_wk("s35"): _m(n("m.s35"))}, "dns": [_a("m.s35", "127.0.100.7")]},
    {"id": "step-4", "about": "no .well-known host at all, then _matrix-fed SRV",
     "server_name": n("s4"), "expect": _ok("srv", "127.0.100.8:8451", n("s4")), "basis": _SPEC,
     "dns": [_srv(n("s4"), f"10 5 8451 {n('t4')}."), _a("t4", "127.0.100.8")]},
    {"id": "step-5", "about": "only the deprecated _matrix SRV", "server_name": n("s5"),
     "expect": _ok("srv-legacy", "127.0.100.9:8452", n("s5")), "basis": _SPEC,
     "dns": [_srv(n("s5"), f"10 5 8452 {n('t5')}.", "_matrix"), _a("t5", "127.0.100.9")]},
    {"id": "step-6", "about": "nothing published: the name itself on 8448",
     "server_name": n("s6"), "expect": _ok("default-port", "127.0.100.10:8448", n("s6")),
     "basis": _SPEC, "dns": [_a("s6", "127.0.100.10")]},
    {"id": "redirect-308", "about": ".well-known answers 308 to another host",
     "server_name": n("r308"), "expect": _ok("well-known/srv", "127.0.100.11:8453", n("m.r308")),
     "basis": _SPEC,
     "web": {_wk("r308"): {"status": 308, "redirect": f"https://{n('files.r308')}/d.json"},
             f"https://{n('files.r308')}/d.json": _m(n("m.r308"))},
     "dns": [_srv(n("m.r308"), f"10 5 8453 {n('t308')}."), _a("t308", "127.0.100.11")]},
    {"id": "redirect-http", "about": ".well-known redirects to plain http",
     "server_name": n("rhttp"), "expect": _ok("srv", "127.0.100.12:8454", n("rhttp")),
     "basis": "spec: .well-known is fetched over HTTPS with X.509 validation",
     "web": {_wk("rhttp"): {"status": 302, "redirect": f"http://{n('plain.rhttp')}/d.json"},
             f"http://{n('plain.rhttp')}/d.json": _m(n("evil.rhttp") + ":8448")},
     "dns": [_srv(n("rhttp"), f"10 5 8454 {n('trhttp')}."), _a("trhttp", "127.0.100.12"),
             _a("evil.rhttp", "127.0.100.99")]},
    {"id": "redirect-loop", "about": ".well-known redirects to itself",
     "server_name": n("loop"), "expect": _ok("srv", "127.0.100.13:8455", n("loop")),
     "basis": _SPEC, "web": {_wk("loop"): {"status": 302, "redirect": _wk("loop")}},
     "dns": [_srv(n("loop"), f"10 5 8455 {n('tloop')}."), _a("tloop", "127.0.100.13")]},
    {"id": "m-server-scheme", "about": "m.server is a URL (has a scheme): invalid",
     "server_name": n("badm"), "expect": _ok("srv", "127.0.100.14:8456", n("badm")),
     "basis": "spec: invalid data is an invalid response (step 4)",
     "web": {_wk("badm"): _m("https://" + n("m.badm") + "/")},
     "dns": [_srv(n("badm"), f"10 5 8456 {n('tbadm')}."), _a("tbadm", "127.0.100.14"),
             _a("m.badm", "127.0.100.98")]},
    {"id": "bad-json", "about": ".well-known body is not JSON", "server_name": n("bj"),
     "expect": _ok("srv", "127.0.100.15:8457", n("bj")), "basis": _SPEC,
     "web": {_wk("bj"): {"body": '{"m.server": m.bj}'}},
     "dns": [_srv(n("bj"), f"10 5 8457 {n('tbj')}."), _a("tbj", "127.0.100.15")]},
    {"id": "wk-404", "about": ".well-known answers 404", "server_name": n("w404"),
     "expect": _ok("srv", "127.0.100.16:8458", n("w404")), "basis": _SPEC,
     "web": {_wk("w404"): {"status": 404, "json": {"errcode": "M_NOT_FOUND"}}},
     "dns": [_srv(n("w404"), f"10 5 8458 {n('t404')}."), _a("t404", "127.0.100.16")]},
    {"id": "wk-500", "about": ".well-known answers 500", "server_name": n("w500"),
     "expect": _ok("srv", "127.0.100.17:8459", n("w500")), "basis": _SPEC,
     "web": {_wk("w500"): {"status": 500, "body": "oops"}},
     "dns": [_srv(n("w500"), f"10 5 8459 {n('t500')}."), _a("t500", "127.0.100.17")]},
    {"id": "wk-wrong-cert", "about": ".well-known certificate is for another name",
     "server_name": n("wcert"), "expect": _ok("srv", "127.0.100.18:8460", n("wcert")),
     "basis": _SPEC, "web": {_wk("wcert"): _m(n("evil.wcert") + ":8448")},
     "certificate_for": ["other.test"],
     "dns": [_srv(n("wcert"), f"10 5 8460 {n('twcert')}."), _a("twcert", "127.0.100.18"),
             _a("evil.wcert", "127.0.100.97")]},
    {"id": "srv-cname-target", "about": "the SRV target is a CNAME (RFC 2782 forbids it)",
     "server_name": n("cn"), "expect": _ok("srv", "127.0.100.19:8461", n("cn")),
     "basis": "spec silent on what to do: Synapse follows the alias",
     "dns": [_srv(n("cn"), f"10 5 8461 {n('alias.cn')}."), [n("alias.cn"), "CNAME", n("real.cn")],
             _a("real.cn", "127.0.100.19")]},
    {"id": "srv-servfail", "about": "the DNS server fails the SRV query, nothing cached",
     "server_name": n("sf"), "expect": {"error": "dns-error"}, "basis": _SILENT,
     "fail": [[f"_matrix-fed._tcp.{n('sf')}", "SRV", "SERVFAIL"]],
     "dns": [_a("sf", "127.0.100.96")]},
    {"id": "srv-servfail-cached", "about": "SRV resolved, then SERVFAIL after its TTL",
     "server_name": n("sfc"), "expect": _ok("srv", "127.0.100.20:8462", n("sfc")),
     "basis": _SILENT + " (expired answer kept)",
     "dns": [_srv(n("sfc"), f"10 5 8462 {n('tsfc')}.", ttl=60), _a("tsfc", "127.0.100.20")],
     "between": {"fail": [[f"_matrix-fed._tcp.{n('sfc')}", "SRV", "SERVFAIL"]], "advance": 61}},
    {"id": "srv-zero-weight", "about": "two SRV records of one priority, one of weight 0",
     "server_name": n("zw"), "expect": _ok("srv", "127.0.100.21:8463", n("zw")),
     "basis": "RFC 2782 as Synapse applies it: weight 0 after every weighted record",
     "dns": [_srv(n("zw"), f"10 0 8464 {n('z-zero.zw')}."),
             _srv(n("zw"), f"10 100 8463 {n('a-weighted.zw')}."),
             _a("z-zero.zw", "127.0.100.22"), _a("a-weighted.zw", "127.0.100.21")]},
    {"id": "srv-priority", "about": "two SRV priorities: the lower one first",
     "server_name": n("pr"), "expect": _ok("srv", "127.0.100.23:8465", n("pr")),
     "basis": "RFC 2782 (the spec cites it)",
     "dns": [_srv(n("pr"), f"20 100 8466 {n('z-backup.pr')}."),
             _srv(n("pr"), f"10 1 8465 {n('a-primary.pr')}."),
             _a("z-backup.pr", "127.0.100.24"), _a("a-primary.pr", "127.0.100.23")]},
    {"id": "srv-ipv6-only", "about": "the SRV target has only an AAAA record (::1)",
     "server_name": n("v6"), "expect": _ok("srv", "[::1]:8467", n("v6")), "basis": _SPEC,
     "dns": [_srv(n("v6"), f"10 5 8467 {n('t6')}."), [n("t6"), "AAAA", "::1"]]},
    {"id": "srv-target-dot", "about": 'the sole SRV target is "."', "server_name": n("dot"),
     "expect": {"error": "service-unavailable"},
     "basis": "spec silent; RFC 2782 and Synapse: no service, no fallback",
     "dns": [_srv(n("dot"), "0 0 0 ."), _a("dot", "127.0.100.95")]},
]  # fmt: skip

#: Quick, deterministic scenarios for CI (no two-phase ones, no timeouts).
SMOKE = ("step-1", "step-2", "step-3.2", "step-3.3", "step-4", "step-6", "redirect-308", "wk-404")


FANOUT_DOMAIN = "bench.test"
FANOUT_TARGETS = 50  # distinct SRV targets shared by the names, as in real federations
_HOUR = 3600

#: step-3.3 at scale, for the speed runs: ``n{i}`` is delegated by ``.well-known`` to
#: ``m{i}``, whose ``_matrix-fed`` SRV record names the shared target ``fed{t}``
#: (``t = i % FANOUT_TARGETS``) at ``127.0.2.{a}`` (``a = t + 1``). Records live an hour,
#: so that a warm run is answered from caches.
FANOUT: Scenario = {
    "id": "fanout-{i}", "about": "step-3.3 at scale", "server_name": "n{i}.bench.test",
    "expect": _ok("well-known/srv", "127.0.2.{a}:8448", "m{i}.bench.test"), "basis": _SPEC,
    "web": {"https://n{i}.bench.test" + WELL_KNOWN: _m("m{i}.bench.test")},
    "dns": [_srv("m{i}.bench.test", "10 5 8448 fed{t}.bench.test.", ttl=_HOUR),
            ["fed{t}.bench.test", "A", "127.0.2.{a}", _HOUR]],
}  # fmt: skip


def fanout(count: int) -> list[Scenario]:
    """``count`` copies of :data:`FANOUT`, for the indexes 0 to ``count - 1``."""
    found = []
    for index in range(count):
        target = index % FANOUT_TARGETS
        found.append(_stamp(FANOUT, {"i": index, "t": target, "a": target + 1}))
    return found


def _stamp(value: Any, fields: dict[str, int]) -> Any:
    """``value`` with every ``{field}`` in its strings (keys too) filled in."""
    if isinstance(value, str):
        return value.format(**fields)
    if isinstance(value, list):
        return [_stamp(item, fields) for item in value]
    if isinstance(value, dict):
        return {_stamp(key, fields): _stamp(item, fields) for key, item in value.items()}
    return value


def load(path: str | pathlib.Path) -> list[Scenario]:
    """Scenarios from a YAML (or JSON) file holding a list of them."""
    data = yaml.safe_load(pathlib.Path(path).read_text())
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of scenarios")
    return data


def _reply(spec: dict[str, Any]) -> Reply:
    headers = dict(spec.get("headers", {}))
    if "redirect" in spec:
        headers["Location"] = spec["redirect"]
    if "json" in spec:
        return Reply.json(spec["json"], status=spec.get("status", 200), headers=headers)
    return Reply(status=spec.get("status", 200), body=spec.get("body", ""), headers=headers)


async def _serve(sandbox: Sandbox, scenario: Scenario, plain: list[WebHost]) -> None:
    """Start the scenario's web hosts: one HTTPS on :443, one plain HTTP on :80."""
    files = scenario.get("web", {})
    for scheme in ("https", "http"):
        mine = {url: reply for url, reply in files.items() if urlsplit(url).scheme == scheme}
        names = sorted({urlsplit(url).hostname or "" for url in mine})
        if not names:
            continue
        if scheme == "https":
            host = await sandbox.https_host(names, certificate_for=scenario.get("certificate_for"))
        else:
            host = WebHost(sandbox.address(80), 80, None)
            await host.start()
            plain.append(host)
            for name in names:
                sandbox.zone.add(name, "A", host.host)
        for url, reply in mine.items():
            parts = urlsplit(url)
            host.set(parts.hostname or "", parts.path, _reply(reply))


async def install(sandbox: Sandbox, scenarios: Iterable[Scenario]) -> list[WebHost]:
    """Publish scenarios into a started sandbox.

    Returns:
        The plain-HTTP hosts started (the sandbox does not know them: stop them).
    """
    plain: list[WebHost] = []
    for scenario in scenarios:
        _records(sandbox, scenario)
        await _serve(sandbox, scenario, plain)
    return plain


def install_shared(sandbox: Sandbox, host: WebHost, scenarios: Iterable[Scenario]) -> None:
    """Publish many scenarios behind one HTTPS host (its certificate covers them all).

    Each name in an HTTPS URL gets an A record (an hour long) for ``host``; records that
    several scenarios share (a common SRV target) form one RRset, as in :func:`install`.
    """
    for scenario in scenarios:
        _records(sandbox, scenario)
        for url, reply in scenario.get("web", {}).items():
            parts = urlsplit(url)
            sandbox.zone.add(parts.hostname or "", "A", host.host, ttl=_HOUR)
            host.set(parts.hostname or "", parts.path, _reply(reply))


def _records(sandbox: Sandbox, scenario: Scenario) -> None:
    for record in scenario.get("dns", []):
        name, rdtype, value, *ttl = record
        sandbox.zone.add(name, rdtype, value, *ttl)
    for name, rdtype, rcode in scenario.get("fail", []):
        sandbox.zone.fail(name, rdtype, rcode)


def apply_between(sandbox: Sandbox, scenario: Scenario) -> None:
    """Make the change that comes between the two resolutions of a scenario."""
    for name, rdtype, rcode in scenario.get("between", {}).get("fail", []):
        sandbox.zone.fail(name, rdtype, rcode)


def reset(sandbox: Sandbox, scenarios: Sequence[Scenario]) -> None:
    """Undo every :func:`apply_between`, so the next implementation starts afresh."""
    for scenario in scenarios:
        for name, rdtype, _ in scenario.get("between", {}).get("fail", []):
            sandbox.zone.heal(name, rdtype)
