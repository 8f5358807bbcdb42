"""The page's section on the tests through third parties, when the operator enabled them.

``web --outbound VIA`` and ``web --notary NAME`` (both off by default) run
``check --outbound`` and ``--notary`` for every check; this section shows
what they found. No section when neither is enabled.
"""

from __future__ import annotations

from ..checker.report import Report
from .page_parts import Html, el, flag, rows, section, status

__all__ = ["outside_section"]


def outside_section(report: Report) -> Html:
    """Outbound federation and what key notaries see, or nothing when not enabled."""
    if report.outbound is None and report.notary is None:
        return Html("")
    parts: list[Html] = []
    for tried in report.outbound or ():
        facts = [
            ("Result", status(tried.ok)),
            ("Asked through", tried.endpoint or "no endpoint"),
            ("Took", f"{tried.elapsed_ms} ms" if tried.elapsed_ms is not None else "—"),
        ]
        if tried.error:
            facts.append(("Why", tried.error))
        parts.append(rows(facts, label=f"Can it fetch the keys of {tried.via}?"))
    for asked in report.notary or ():
        facts = [("Returned the keys", flag(asked.ok, "yes, validly signed", "no"))]
        if asked.keys_match is not None:
            facts.append(("Same keys as here", flag(asked.keys_match, "yes", "no")))
        if asked.error:
            facts.append(("Why", asked.error))
        parts.append(rows(facts, label=f"What the key notary {asked.notary} sees"))
    note = el(
        "p",
        "These tests ask other servers, which learn the checked name.",
        class_="hint",
    )
    return section("outside", "Outbound federation and the outside view", note, *parts)
