"""The checker's web page: a form, then the report with the verdict first.

:func:`render_page` returns a complete HTML5 document made with the standard
library only. Every value that comes from the request or from a remote server
is escaped (see :mod:`.page_parts`); the page has no script and no inline
style, so it works under ``Content-Security-Policy: default-src 'none';
style-src 'self'``, without JavaScript, on a phone and with a screen reader.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from urllib.parse import urlencode

from .._io.probe import HttpResult, TlsInfo
from ..checker.check import EndpointReport, Report
from ..checker.keys import KeyReport
from .page_outside import outside_section
from .page_parts import (
    SEVERITY,
    Html,
    client_file,
    discovery_steps,
    el,
    flag,
    icon,
    join,
    route_diagram,
    rows,
    section,
    severity,
    status,
    support_file,
)
from .page_peers import peers_section

__all__ = ["CONTENT_SECURITY_POLICY", "document", "render_page"]

#: The policy the page is written for (also sent as a ``<meta>``; the app may send a stricter one).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'"
)
_INPUT_HINTS: dict[str, str] = {
    "maxlength": "255", "autocomplete": "off", "autocapitalize": "none", "spellcheck": "false",
    "inputmode": "url", "placeholder": "example.org", "aria_describedby": "server-name-hint",
}  # fmt: skip
_NOUNS = {"error": "error", "warning": "warning", "info": "note"}
_TAGLINE = "Can other Matrix servers reach yours? Discovery, TLS, keys and client files."
_COLOPHON = (
    "Discovery follows the Matrix server-server specification. This page needs no JavaScript;"
    " the same report is available as JSON."
)


def _count(number: int, noun: str) -> str:
    """``1 error``, ``3 warnings``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def render_page(report: Report | None, *, server_name: str | None, error: str | None) -> str:
    """The whole page: the empty form, an error banner, or a report."""
    if report is not None:
        verdict = "Federation OK" if report.federation_ok else "Federation fails"
        title = f"{report.server_name}: {verdict} · Matrix federation checker"
    else:
        title = "Matrix federation checker"
    main = el(
        "main",
        el("div", error, class_="banner", role="alert") if error else "",
        _form(server_name if server_name is not None else getattr(report, "server_name", "")),
        _report(report) if report is not None else "",
        id="main",
    )
    return document(title, main)


def document(title: str, main: Html) -> str:
    """A whole page of the site around ``main``: head, header and footer."""
    head = el(
        "head",
        el("meta", charset="utf-8"),
        el("meta", name="viewport", content="width=device-width, initial-scale=1"),
        el("meta", http_equiv="Content-Security-Policy", content=CONTENT_SECURITY_POLICY),
        el("meta", name="referrer", content="no-referrer"),
        el("title", title),
        el("link", rel="stylesheet", href="/static/style.css"),
        el("link", rel="icon", href="/static/favicon.svg", type="image/svg+xml"),
    )
    body = el("body", _header(), main, _footer())
    return "<!DOCTYPE html>\n" + el("html", head, body, lang="en") + "\n"


def _header() -> Html:
    title = el("h1", el("a", "Matrix federation checker", href="/"))
    return el("header", title, el("p", _TAGLINE), class_="site")


def _footer() -> Html:
    return el("footer", el("p", _COLOPHON), class_="site")


def _form(value: str) -> Html:
    field = el(
        "input", type="text", id="server_name", name="server_name", value=value, required=True,
        **_INPUT_HINTS,
    )  # fmt: skip
    hint = "A Matrix server name, e.g. matrix.org or example.com:8448."
    return el(
        "form",
        el("label", "Server name", for_="server_name"),
        el("div", field, el("button", "Check", type="submit"), class_="field"),
        el("p", hint, id="server-name-hint", class_="hint"),
        method="get", action="/", role="search", class_="check",
    )  # fmt: skip


def _report(report: Report) -> Html:
    query = urlencode({"server_name": report.server_name})
    links = el(
        "p",
        "This report as JSON: ",
        el("a", "native", href=f"/api/v1/check?{query}"),
        ", ",
        el("a", "federation-tester format", href=f"/api/report?{query}"),
        ".",
        class_="links",
    )
    return el(
        "article",
        _verdict(report),
        peers_section(report),
        _problems(report),
        section(
            "route",
            "Discovery path",
            route_diagram(report),
            _fallback(report),
            discovery_steps(report),
        ),
        section("endpoints", "Endpoints", *_endpoints(report)),
        outside_section(report),
        section(
            "files",
            "Client and support files",
            client_file(report.client),
            support_file(report.support),
        ),
        links,
        id="report",
        aria_label=f"Report for {report.server_name}",
    )


def _verdict(report: Report) -> Html:
    ok = report.federation_ok
    counts = Counter[str](found.severity for found in report.problems)
    tally = ", ".join(_count(counts[s], _NOUNS[s]) for s in SEVERITY if counts[s]) or "no problems"
    return el(
        "section",
        el(
            "div",
            icon("✓" if ok else "✗"),
            el("h2", "Federation OK" if ok else "Federation fails", id="verdict"),
            class_="verdict-head",
        ),
        el("p", "for ", el("strong", report.server_name), " · ", tally),
        class_="verdict " + ("verdict-ok" if ok else "verdict-fails"),
        aria_labelledby="verdict",
    )


def _problems(report: Report) -> Html:
    ordered = sorted(report.problems, key=lambda p: SEVERITY.get(p.severity, (3, ""))[0])
    items = [
        el(
            "li",
            el("p", severity(found.severity), " ", el("code", found.code), class_="problem-head"),
            el("p", found.message, class_="message"),
            el("p", el("strong", "Fix: "), found.fix, class_="fix"),
            class_=f"problem sev-{found.severity}",
            data_code=found.code,
        )
        for found in ordered
    ]
    if not items:
        return section("problems", "Problems and fixes", el("p", "No problems found."))
    return section("problems", "Problems and fixes", el("ul", *items, class_="problems"))


def _fallback(report: Report) -> Html:
    if report.fallback is None:
        return Html("")
    route = report.fallback.resolution.route
    return el(
        "p",
        "Without .well-known, peers would use ",
        el("strong", route or "no route"),
        ": ",
        status(report.fallback.ok),
        class_="fallback",
    )


def _endpoints(report: Report) -> list[Html]:
    if not report.endpoints:
        return [el("p", "Discovery found no address to check.", class_="none")]
    return [_endpoint(index, found) for index, found in enumerate(report.endpoints, 1)]


def _endpoint(index: int, found: EndpointReport) -> Html:
    probe = found.probe
    where = f"[{probe.ip}]:{probe.port}" if ":" in probe.ip else f"{probe.ip}:{probe.port}"
    heading = join([status(found.ok), " ", where, " ", el("span", probe.target, class_="target")])
    connected = f"{probe.connect_ms} ms" if probe.connect_ms is not None else probe.error
    tables = [rows([("Connection", connected), *_tls_rows(probe.tls)], label="Connection and TLS")]
    if probe.tls is not None and probe.tls.certificate is not None:
        tables.append(rows(_certificate_rows(probe.tls), label="Certificate"))
    tables.append(rows(_server_rows(found), label="Server"))
    tables.append(rows(_key_rows(found.keys, probe.keys), label="Keys"))
    return section(f"endpoint-{index}", heading, el("div", *tables, class_="tables"), level="h3")


def _tls_rows(tls: TlsInfo | None) -> list[tuple[str, object]]:
    if tls is None:
        return [("TLS", "no TLS session")]
    verified = flag(tls.verified, "yes", f"no: {tls.verify_error}")
    return [
        ("TLS version", tls.version or "none"),
        ("Cipher", tls.cipher or "none"),
        ("SNI sent", tls.sni or "none (an IP address)"),
        ("Certificate verified", verified),
    ]


def _certificate_rows(tls: TlsInfo) -> list[tuple[str, object]]:
    cert = tls.certificate
    assert cert is not None
    return [
        ("Subject", cert.subject),
        ("Issuer", cert.issuer + (" (self-issued)" if cert.self_issued else "")),
        ("Names (SAN)", ", ".join(cert.dns_names + cert.ip_addresses) or "none"),
        ("Valid from", cert.not_before),
        ("Expires", cert.not_after),
        ("SHA-256", el("code", cert.sha256, class_="fingerprint")),
    ]


def _server_rows(found: EndpointReport) -> list[tuple[str, object]]:
    if found.server is None:
        return [("Version", flag(False, "", f"no valid answer ({_seen(found.probe.version)})"))]
    return [("Software", found.server.get("name", "?")), ("Version", found.server.get("version"))]


def _key_rows(keys: KeyReport | None, answer: HttpResult | None) -> list[tuple[str, object]]:
    if keys is None:
        return [("Keys", flag(False, "", f"no valid answer ({_seen(answer)})"))]
    found: list[tuple[str, object]] = [
        ("Verdict", status(keys.ok)),
        (
            "server_name",
            flag(
                keys.matching_server_name,
                f"{keys.server_name} (matches)",
                f"{keys.server_name} (does not match)",
            ),
        ),
        (
            "valid_until_ts",
            flag(
                keys.future_valid_until_ts,
                _when(keys.valid_until_ts),
                f"{_when(keys.valid_until_ts)} (not in the future)",
            ),
        ),
        ("Ed25519 key", flag(keys.has_ed25519_key, "present", "none")),
    ]
    for check in keys.ed25519_checks:
        words = (
            ("valid key" if check.valid_key else "invalid key")
            + ", signature "
            + ("verifies" if check.matching_signature else "missing or wrong")
        )
        good = check.valid_key and check.matching_signature
        found.append((check.key_id, flag(good, words, words)))
    found += [(problem.code, flag(False, "", problem.message)) for problem in keys.problems]
    return found


def _when(milliseconds: int | None) -> str:
    if milliseconds is None:
        return "missing"
    try:
        moment = dt.datetime.fromtimestamp(milliseconds / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return str(milliseconds)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _seen(result: HttpResult | None) -> str:
    if result is None:
        return "no request"
    if result.error:
        return result.error
    return f"HTTP {result.status}"
