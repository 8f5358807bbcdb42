"""Safe HTML building blocks of the checker page, and its discovery diagram.

Markup is only ever made by :func:`el` and :func:`join`: anything that is not
already :class:`Html` (a server name, a certificate subject, a version string,
a message) is escaped on the way in, so remote text can never become markup.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable

from .._core.explain import asked, summary, told
from .._core.model import HostAddresses, Resolution, SrvLookup, TraceEntry, WellKnownResult
from ..checker.check import EndpointReport, Report
from ..checker.client import ClientReport, SupportReport
from ..checker.codes import Problem

__all__ = [
    "SEVERITY",
    "Html",
    "client_file",
    "discovery_steps",
    "el",
    "esc",
    "flag",
    "icon",
    "join",
    "route_diagram",
    "rows",
    "section",
    "severity",
    "status",
    "support_file",
]

#: Severity: its sort order and its icon.
SEVERITY = {"error": (0, "✗"), "warning": (1, "!"), "info": (2, "i")}
_VOID = frozenset({"meta", "link", "input", "br"})


class Html(str):
    """Markup that is safe to send: made by :func:`el` or :func:`join`, never by hand."""

    __slots__ = ()


def esc(value: object) -> Html:
    """``value`` as text in HTML (attribute or content); markup passes unchanged."""
    return value if isinstance(value, Html) else Html(html.escape(str(value), quote=True))


def join(parts: Iterable[object]) -> Html:
    """Concatenate, escaping every part that is not markup already."""
    return Html("".join(esc(part) for part in parts))


def el(tag: str, *children: object, **attrs: str | bool | None) -> Html:
    """One element: ``class_`` becomes ``class``, ``aria_label`` becomes ``aria-label``."""
    rendered = "".join(_attribute(name, value) for name, value in attrs.items())
    if tag in _VOID:
        return Html(f"<{tag}{rendered}>")
    return Html(f"<{tag}{rendered}>{join(children)}</{tag}>")


def _attribute(name: str, value: str | bool | None) -> str:
    if value is None or value is False:
        return ""
    name = name.rstrip("_").replace("_", "-")
    if value is True:
        return f" {name}"
    return f' {name}="{html.escape(value, quote=True)}"'


def icon(symbol: str) -> Html:
    """A decorative symbol: screen readers skip it, the words next to it carry the meaning."""
    return el("span", symbol, class_="icon", aria_hidden="true")


def status(ok: bool) -> Html:
    """``OK`` or ``FAILS`` with an icon, never colour alone."""
    if ok:
        return el("span", icon("✓"), " OK", class_="status status-ok")
    return el("span", icon("✗"), " FAILS", class_="status status-fails")


def rows(pairs: Iterable[tuple[str, object]], *, label: str | None = None) -> Html:
    """A two-column table of facts, each row headed by a ``<th scope="row">``."""
    body = (el("tr", el("th", name, scope="row"), el("td", value)) for name, value in pairs)
    caption = el("caption", label) if label else ""
    return el("div", el("table", caption, el("tbody", *body)), class_="table-wrap")


def severity(severity: str) -> Html:
    """A severity badge: icon and word."""
    symbol = SEVERITY.get(severity, (3, "?"))[1]
    return el("span", icon(symbol), " ", severity, class_=f"badge sev-{severity}")


def flag(ok: bool, yes: object, no: object) -> Html:
    """A fact with an icon and a word, so that it does not rest on colour."""
    if ok:
        return el("span", icon("✓"), " ", yes, class_="yes")
    return el("span", icon("✗"), " ", no, class_="no")


def section(key: str, heading: str, *content: object, level: str = "h2") -> Html:
    """A landmark region named by its heading."""
    title = el(level, heading, id=f"{key}-title")
    return el("section", title, *content, id=key, aria_labelledby=f"{key}-title")


# --- the client and support files ----------------------------------------------------------

_OUTCOMES = {
    "PROMPT": "clients find the homeserver from a user ID",
    "IGNORE": "no file: clients ask the user for the homeserver",
    "FAIL_PROMPT": "the file is invalid: clients show an error and ask the user",
    "FAIL_ERROR": "the homeserver it names cannot be used: clients stop with an error",
}


def client_file(client: ClientReport | None) -> Html:
    """``/.well-known/matrix/client``: what a client makes of it."""
    if client is None:
        return Html("")
    hops = "; ".join(
        f"{hop.url} → {hop.status or 'no answer'}{' (CORS)' if hop.cors else ''}"
        for hop in client.hops
    )
    facts: list[tuple[str, object]] = [
        ("URL", client.url),
        ("Outcome", join([el("strong", client.outcome), f": {_OUTCOMES.get(client.outcome, '')}"])),
        ("Requests", hops or "none"),
        ("Homeserver base URL", client.homeserver or "none"),
        ("Client-server versions", ", ".join(client.versions) or "none"),
        ("Identity server", client.identity_server or "none"),
    ]
    return _file("client", "Client file", facts, client.findings, client.document)


def support_file(support: SupportReport | None) -> Html:
    """``/.well-known/matrix/support``: served or not, valid or not."""
    if support is None:
        return Html("")
    facts: list[tuple[str, object]] = [
        ("URL", support.url),
        ("Status", f"HTTP {support.status}" if support.status else "no answer"),
        ("Valid", flag(support.valid, "yes", "no" if support.present else "not served (optional)")),
    ]
    return _file("support", "Support file", facts, support.findings, support.document)


def _file(key: str, heading: str, facts: list[tuple[str, object]], findings: tuple[Problem, ...],
          document: dict[str, object] | None) -> Html:  # fmt: skip
    """A file's facts, its findings and, folded away, the file itself."""
    items = (
        el("li", severity(f.severity), " ", el("code", f.code), ": ", f.message) for f in findings
    )
    listed = el("ul", *items, class_="findings") if findings else el("p", "No findings.")
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    served = el("details", el("summary", "The file as served"), el("pre", text)) if document else ""
    return section(key, heading, rows(facts), listed, served, level="h3")


# --- the discovery diagram -----------------------------------------------------------------

# A box's state: its CSS class suffix, its icon and the word shown.
_STATES = {
    "start": ("•", "start"),
    "taken": ("✓", "taken"),
    "failed": ("✗", "failed"),
    "skipped": ("-", "not used"),
}


def _box(
    state: str, title: object, *lines: object, word: str | None = None, failed: bool = False
) -> Html:
    symbol, default = _STATES["failed" if failed else state]
    label = el("span", icon(symbol), " ", word or default, class_="state")
    details = (el("span", line, class_="detail") for line in lines if line)
    classes = f"box {state}" + (" failed" if failed and state != "failed" else "")
    return el("li", el("span", title, class_="box-title"), *details, label, class_=classes)


def _stage(name: str, boxes: list[Html], empty: str) -> Html:
    """One column of the diagram: a heading and its boxes (or why there are none)."""
    listed = el("ol", *(boxes or [_box("skipped", empty, word="not asked")]), class_="boxes")
    return el("li", el("span", name, class_="stage-name"), listed, class_="stage")


def _well_known_box(entry: TraceEntry, result: WellKnownResult) -> Html:
    if result.valid:
        state = "taken"
    elif result.status == 404:
        return _box("skipped", asked(entry), told(entry), entry.rule, word="not found")
    else:
        state = "failed"
    return _box(state, asked(entry), told(entry), entry.rule)


def _srv_box(entry: TraceEntry, lookup: SrvLookup, chosen: bool) -> Html:
    if entry.level == "error" or (lookup.error and not lookup.stale):
        return _box("failed", asked(entry), told(entry), entry.rule)
    if chosen:
        return _box("taken", asked(entry), told(entry), entry.rule)
    word = "no records" if not lookup.records else None
    return _box("skipped", asked(entry), told(entry), entry.rule, word=word)


def _address_boxes(report: Report, resolution: Resolution) -> list[Html]:
    by_address = {(e.probe.ip, e.probe.port): e for e in report.endpoints}
    targets = {endpoint.target for endpoint in resolution.endpoints}
    boxes = []
    for entry in resolution.trace:
        answer = entry.answer
        if not isinstance(answer, HostAddresses):
            continue
        failed = entry.level == "error" or answer.error or not answer.addresses
        if failed or answer.host not in targets:
            state = "failed" if failed else "skipped"
            boxes.append(_box(state, asked(entry), told(entry), entry.rule))
    for endpoint in resolution.endpoints:
        checked = by_address.get((endpoint.ip, endpoint.port))
        boxes.append(_endpoint_box(endpoint.target, endpoint.ip, endpoint.port, checked))
    if not boxes and resolution.error is not None:
        boxes.append(_box("failed", "no address", resolution.error.message))
    return boxes


def _endpoint_box(target: str, ip: str, port: int, checked: EndpointReport | None) -> Html:
    where = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    failed = checked is not None and not checked.ok
    word = "taken" if checked is None else f"taken, checks {'failed' if failed else 'OK'}"
    return _box("taken", f"{target}:{port}", f"address {where}", word=word, failed=failed)


def route_diagram(report: Report) -> Html:
    """Server name → .well-known → SRV → host:port, the route taken and failures marked."""
    resolution = report.resolution
    if resolution is None:
        return el("p", "Discovery did not run: the name is not a server name.", class_="none")
    via_srv = resolution.route is not None and resolution.route.via_srv
    chosen = _chosen_srv(resolution) if via_srv else None
    well_known = [
        _well_known_box(entry, entry.answer)
        for entry in resolution.trace
        if isinstance(entry.answer, WellKnownResult)
    ]
    srv = [
        _srv_box(entry, entry.answer, entry.answer == chosen)
        for entry in resolution.trace
        if isinstance(entry.answer, SrvLookup)
    ]
    stages = [
        _stage("Server name", [_box("start", report.server_name)], ""),
        _stage(".well-known", well_known, "no .well-known for this name"),
        _stage("SRV", srv, "no SRV lookup on this route"),
        _stage("host:port", _address_boxes(report, resolution), "not reached"),
    ]
    return join([_route_line(resolution), el("ol", *stages, class_="diagram")])


def _chosen_srv(resolution: Resolution) -> SrvLookup | None:
    """The lookup whose records gave the endpoints: the first with usable records."""
    for lookup in resolution.srv:
        if lookup.records and (lookup.error is None or lookup.stale):
            return lookup
    return None


def _route_line(resolution: Resolution) -> Html:
    route = resolution.route
    if route is None:
        return el("p", "No route: ", summary(resolution), ".", class_="route-line")
    taken = join([el("strong", route.value), f" (spec step {route.spec_step})"])
    return el("p", "Route taken: ", taken, ": ", summary(resolution), ".", class_="route-line")


def discovery_steps(report: Report) -> Html:
    """Every step of discovery as text, folded away: the diagram has the gist."""
    if report.resolution is None:
        return Html("")
    resolution = report.resolution
    items = (
        el(
            "li",
            el("span", f"step {entry.step}", class_="step-no"),
            " ",
            el("code", asked(entry)) if asked(entry) else "",
            " ",
            told(entry),
            el("span", f" ({entry.rule})", class_="rule"),
            class_=f"level-{entry.level}",
        )
        for entry in resolution.trace
    )
    return el("details", el("summary", "Every step of discovery"), el("ol", *items, class_="steps"))
