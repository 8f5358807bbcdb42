"""The page's per-implementation table: how each homeserver implementation sees the server.

One row per implementation (docs/peers.md): a tick or a cross, the route and
endpoints it uses, and why its view differs from the spec's, when it does.
Every value is escaped by :func:`~.page_parts.el`.
"""

from __future__ import annotations

from ..checker.check import Report
from ..checker.report import PeerVerdict
from .page_parts import Html, el, flag, section

__all__ = ["peers_section"]


def peers_section(report: Report) -> Html:
    """The table, or nothing when the check gathered no per-implementation view."""
    if not report.peers:
        return Html("")
    head = el(
        "tr",
        *(el("th", name, scope="col") for name in ("Implementation", "Reaches", "Route", "Why")),
    )
    body = el("tbody", *(_row(verdict) for verdict in report.peers))
    caption = el("caption", "As each homeserver implementation would see this server")
    table = el(
        "div", el("table", caption, el("thead", head), body, class_="peers"), class_="table-wrap"
    )
    return section("peers", "Real peers", table)


def _row(verdict: PeerVerdict) -> Html:
    resolution = verdict.resolution
    route = resolution.route.value if resolution.route else "no route"
    why = "; ".join(verdict.differs) or "same as the spec's view"
    return el(
        "tr",
        el("th", verdict.policy.name, scope="row", title=verdict.policy.basis),
        el("td", flag(verdict.federation_ok, "reaches it", "cannot reach it")),
        el("td", el("code", route)),
        el("td", why),
        data_implementation=verdict.policy.name,
    )
