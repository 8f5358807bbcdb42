"""The demo's server names: one per route of the spec, and a few broken ones.

Each :class:`Scenario` says what the spec requires for its name (a route or
an error code); :func:`install` publishes the DNS records and ``.well-known``
files that make it so. Federation targets only need addresses: resolving a
name never connects to its endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

from signedjson.types import SigningKey

from .._core.site import Contact, Domain, Site
from ..checker.notary_model import ThirdParty
from .homeserver import DAY_MS, key_response, publish_homeserver
from .notary import publish_notary
from .web import Reply
from .world import Sandbox

__all__ = ["DOMAIN", "SHOWCASE", "CheckScenario", "Scenario", "install", "install_homeservers"]

DOMAIN = "sandbox.test"
WELL_KNOWN = "/.well-known/matrix/server"


@dataclass(frozen=True, slots=True)
class Scenario:
    """A server name and what discovering it must give."""

    server_name: str
    expected: str  # a route ("well-known/srv") or an error code ("dns-error")
    about: str


def _n(label: str) -> str:
    return f"{label}.{DOMAIN}"


#: The domain whose three files the demo shows.
SHOWCASE = _n("wk-srv")


def _delegations(target: str) -> Site:
    """The well-formed delegations, published by the well-known service itself."""
    showcase = Domain(
        SHOWCASE,
        _n("matrix.wk-srv"),
        {"m.homeserver": {"base_url": f"https://{_n('matrix.wk-srv')}"}},
        (Contact("m.role.admin", f"@admin:{SHOWCASE}", f"admin@{SHOWCASE}"),),
        f"https://{SHOWCASE}/support",
    )
    return Site(
        (
            showcase,
            Domain(_n("wk-ip"), f"{target}:8448"),
            Domain(_n("wk-port"), f"{_n('matrix.wk-port')}:443"),
            Domain(_n("wk-legacy"), _n("matrix.wk-legacy")),
            Domain(_n("wk-default"), _n("matrix.wk-default")),
        )
    )


async def install(sandbox: Sandbox) -> list[Scenario]:
    """Publish every scenario into a started sandbox and return them in order."""
    zone = sandbox.zone
    target = sandbox.address(8448)  # where federation would go; nothing needs to listen
    await sandbox.serve_site(_delegations(target))  # the real `serve`
    # Broken and unusual answers come from a scripted host: `serve` cannot misbehave.
    files = {
        _n("redirected"): Reply.redirect(f"https://{_n('files')}/delegation.json", 308),
        _n("redirect-loop"): Reply.redirect(f"https://{_n('redirect-loop')}{WELL_KNOWN}", 302),
        _n("bad-json"): Reply(body=b'{"m.server": matrix.bad-json}'),
        _n("bad-m-server"): Reply.json({"m.server": "https://matrix.example.test/"}),
        _n("srv"): Reply.json({"errcode": "M_NOT_FOUND"}, status=404),
    }
    host = await sandbox.https_host([*files, _n("files")])
    for name, reply in files.items():
        host.set(name, WELL_KNOWN, reply)
    host.set(_n("files"), "/delegation.json", Reply.json({"m.server": _n("matrix.wk-srv")}))
    # A host whose certificate names another domain: its .well-known cannot be trusted.
    wrong = await sandbox.https_host([_n("wrong-cert")], certificate_for=["other.test"])
    wrong.set(_n("wrong-cert"), WELL_KNOWN, Reply.json({"m.server": _n("evil")}))

    for name in (
        "explicit",
        "matrix.wk-port",
        "matrix.wk-default",
        "fed",
        "legacy-fed",
        "plain",
        "wrong-cert-fed",
    ):
        zone.add(_n(name), "A", target)
    zone.add(_n("plain"), "AAAA", "::1")
    for name in ("wk-srv", "srv", "redirected"):
        srv_owner = _n(f"matrix.{name}") if name != "srv" else _n("srv")
        zone.add(f"_matrix-fed._tcp.{srv_owner}", "SRV", f"10 5 8448 {_n('fed')}.")
    zone.add(f"_matrix._tcp.{_n('matrix.wk-legacy')}", "SRV", f"10 5 8448 {_n('legacy-fed')}.")
    zone.add(f"_matrix._tcp.{_n('srv-legacy')}", "SRV", f"10 5 8448 {_n('legacy-fed')}.")
    zone.add(f"_matrix-fed._tcp.{_n('wrong-cert')}", "SRV", f"10 5 8448 {_n('wrong-cert-fed')}.")
    zone.add(f"_matrix-fed._tcp.{_n('unavailable')}", "SRV", "0 0 0 .")
    zone.fail(f"_matrix-fed._tcp.{_n('servfail')}", "SRV", "SERVFAIL")
    zone.add(_n("private"), "A", "10.0.0.1")
    zone.add(_n("alias"), "CNAME", f"{_n('fed')}.")
    zone.add(f"_matrix-fed._tcp.{_n('cname-target')}", "SRV", f"10 5 8448 {_n('alias')}.")

    return [
        Scenario(target, "ip-literal", "step 1: an IP literal"),
        Scenario(f"{_n('explicit')}:8448", "explicit-port", "step 2: an explicit port"),
        Scenario(_n("wk-ip"), "well-known/ip-literal", "step 3.1: .well-known names an IP"),
        Scenario(_n("wk-port"), "well-known/explicit-port", "step 3.2: .well-known with a port"),
        Scenario(_n("wk-srv"), "well-known/srv", "step 3.3: .well-known, then _matrix-fed SRV"),
        Scenario(
            _n("wk-legacy"), "well-known/srv-legacy", "step 3.4: .well-known, then _matrix SRV"
        ),
        Scenario(_n("wk-default"), "well-known/default-port", "step 3.5: .well-known, no SRV"),
        Scenario(_n("srv"), "srv", "step 4: a 404 .well-known, then _matrix-fed SRV"),
        Scenario(_n("srv-legacy"), "srv-legacy", "step 5: only the deprecated _matrix SRV"),
        Scenario(_n("plain"), "default-port", "step 6: nothing published: port 8448"),
        Scenario(_n("redirected"), "well-known/srv", "a 308 redirect to another host"),
        Scenario(_n("redirect-loop"), "default-port", "broken: a redirect loop (ignored)"),
        Scenario(_n("bad-json"), "default-port", "broken: .well-known is not JSON (ignored)"),
        Scenario(_n("bad-m-server"), "default-port", "broken: m.server is a URL (ignored)"),
        Scenario(_n("wrong-cert"), "srv", "broken: .well-known certificate for another name"),
        Scenario(_n("cname-target"), "srv", "warning: the SRV target is a CNAME"),
        Scenario(_n("servfail"), "dns-error", "broken: the DNS server fails (SERVFAIL)"),
        Scenario(_n("unavailable"), "service-unavailable", 'broken: SRV target "."'),
        Scenario(_n("private"), "blocked-address", "unsafe: resolves to a private address"),
        Scenario(_n("nowhere"), "no-address", "broken: the name does not exist"),
    ]


@dataclass(frozen=True, slots=True)
class CheckScenario:
    """A server name for the checker, whether federation should work, and why not."""

    server_name: str
    federation_ok: bool
    about: str
    expected_code: str | None = None
    third_party: ThirdParty | None = None  # check --outbound / --notary


async def install_homeservers(sandbox: Sandbox) -> list[CheckScenario]:
    """Stand-in homeservers on their own 127.0.0.X:8448: one healthy, several broken,
    and two asked whether they can fetch the healthy one's keys (``check --outbound``)."""
    healthy, wrong, old, srv = (_n(n) for n in ("hs", "hs-wrong-cert", "hs-old-keys", "hs-srv"))
    healthy_key = await _homeserver(sandbox, healthy, [healthy])
    await _homeserver(sandbox, wrong, [wrong], certificate_for=["somewhere-else.test"])
    await _homeserver(sandbox, old, [old], valid_for_ms=-3_600_000)
    target = _n("hs-srv-target")
    await _homeserver(sandbox, srv, [target], certificate_for=[target])
    sandbox.zone.add(f"_matrix-fed._tcp.{srv}", "SRV", f"10 5 8448 {target}.")
    split = await _first_srv_dead(sandbox)
    return [
        CheckScenario(healthy, True, "a healthy homeserver on port 8448"),
        CheckScenario(wrong, False, "a certificate for another name", "tls-cert-wrong-name"),
        CheckScenario(old, False, "server keys that expired an hour ago", "keys-expired"),
        CheckScenario(
            srv, False, "SRV delegation, certificate for the target", "tls-cert-for-srv-target"
        ),
        CheckScenario(
            split,
            False,
            "two SRV records, the first one dead: peers disagree",
            "peer-disagreement",
        ),
        *await _outbound(sandbox, healthy, healthy_key),
    ]


async def _outbound(sandbox: Sandbox, via: str, via_key: SigningKey) -> list[CheckScenario]:
    """A stand-in notary that holds ``via``'s keys, and one that cannot fetch them.

    The stand-in answers from what it is given (:mod:`.notary`); a real
    homeserver would fetch the keys from ``via`` at that moment.
    """
    asked = ThirdParty(outbound=(via,))
    reaches, cut_off = _n("hs-outbound"), _n("hs-no-egress")
    host = await sandbox.https_host([reaches], port=8448)
    publish_notary(host, "*", reaches, [key_response(via, via_key)])
    host = await sandbox.https_host([cut_off], port=8448)
    publish_notary(host, "*", cut_off, [])  # it holds nothing: server_keys is empty
    return [
        CheckScenario(reaches, True, f"outbound: fetches the keys of {via}", None, asked),
        CheckScenario(
            cut_off, True, f"outbound: cannot fetch the keys of {via}", "outbound-failed", asked
        ),
    ]


async def _first_srv_dead(sandbox: Sandbox) -> str:
    """Two SRV records; nothing listens at the first (docs/peers.md: implementations split)."""
    name, dead, live = _n("hs-split"), _n("hs-split-dead"), _n("hs-split-live")
    await _homeserver(sandbox, name, [live], certificate_for=[name])
    sandbox.zone.add(dead, "A", sandbox.address(8448))  # connections there are refused
    for service in ("_matrix-fed._tcp", "_matrix._tcp"):
        sandbox.zone.add(f"{service}.{name}", "SRV", f"10 5 8448 {dead}.")
        sandbox.zone.add(f"{service}.{name}", "SRV", f"20 5 8448 {live}.")
    return name


async def _homeserver(
    sandbox: Sandbox,
    server_name: str,
    names: list[str],
    *,
    certificate_for: list[str] | None = None,
    valid_for_ms: int = DAY_MS,
) -> SigningKey:
    host = await sandbox.https_host(names, port=8448, certificate_for=certificate_for or names)
    return publish_homeserver(host, "*", server_name, valid_for_ms=valid_for_ms)
