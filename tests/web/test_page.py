"""The checker page as HTML: content, order, escaping and a strict-CSP-friendly shape.

Reports come from the real checker run against sandbox worlds (a healthy
server, a broken one, one found through SRV); the page is parsed back with the
standard library's HTML parser, which also proves that every element closes.
The scenario helpers and the parser are shared with ``test_browser.py``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import signedjson.key

from matrix_delegation import Resolver
from matrix_delegation._core.site import Contact, Domain, Site
from matrix_delegation.checker.check import Report, check_server
from matrix_delegation.checker.codes import problem
from matrix_delegation.sandbox import Reply, WebHost
from matrix_delegation.sandbox.homeserver import KEYS_PATH, VERSION_PATH, key_response
from matrix_delegation.sandbox.world import Sandbox
from matrix_delegation.web.page import render_page

NAME = "example.test"
MATRIX = "matrix.example.test"
HOSTILE_VERSION = "<script>alert(1)</script>"
KEY = signedjson.key.generate_signing_key("one")
World = Callable[[Sandbox], Awaitable[str]]
STATIC = Path(__file__).parents[2] / "src" / "matrix_delegation" / "web" / "static"

# --- sandbox worlds (after tests/checker/test_problem_codes.py) ----------------------------


async def homeserver(
    sandbox: Sandbox, names: list[str], *, certificate_for: list[str], software: str = "Sandbox"
) -> WebHost:
    """A stand-in homeserver on its own 127.0.0.X:8448 with signed keys for NAME."""
    host = await sandbox.https_host(names, port=8448, certificate_for=certificate_for)
    host.set("*", VERSION_PATH, Reply.json({"server": {"name": software, "version": "1.2.3"}}))
    host.set("*", KEYS_PATH, Reply.json(key_response(NAME, KEY)))
    return host


async def healthy(sandbox: Sandbox) -> str:
    """Delegated by .well-known (our own `serve`) to matrix.example.test:8448; all files pass."""
    client = {"m.homeserver": {"base_url": f"https://{MATRIX}:8448"}}
    admin = (Contact("m.role.admin", f"@admin:{NAME}"),)
    await sandbox.serve_site(Site((Domain(NAME, f"{MATRIX}:8448", client, admin),)))
    host = await homeserver(sandbox, [MATRIX], certificate_for=[MATRIX])
    versions = Reply.json({"versions": ["v1.11"]}, headers={"Access-Control-Allow-Origin": "*"})
    host.set("*", "/_matrix/client/versions", versions)
    return NAME


async def broken(sandbox: Sandbox) -> str:
    """No .well-known (nothing on 443), and port 8448 has a certificate for another name.

    The server also calls itself ``<script>alert(1)</script>``: the page must show it as text.
    """
    await homeserver(sandbox, [NAME], certificate_for=["other.test"], software=HOSTILE_VERSION)
    return NAME


async def srv_only(sandbox: Sandbox) -> str:
    """No .well-known; _matrix-fed._tcp SRV points at fed.example.test:8448."""
    await homeserver(sandbox, ["fed.example.test"], certificate_for=[NAME])
    sandbox.zone.add(f"_matrix-fed._tcp.{NAME}", "SRV", "0 0 8448 fed.example.test.")
    return NAME


async def run_check(sandbox: Sandbox, name: str) -> Report:
    async with Resolver(**sandbox.resolver_options(timeout=3.0)) as resolver:
        return await check_server(resolver, name, timeout=3.0)


# --- a small DOM, enough to ask questions of the page --------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        """The text content, blanks collapsed (block elements are not separated)."""
        return re.sub(r"\s+", " ", self._raw()).strip()

    def _raw(self) -> str:
        return "".join(c if isinstance(c, str) else c._raw() for c in self.children)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        """Elements by tag and attributes; ``class_`` matches one of the classes."""
        wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [
            node
            for node in self.walk()
            if (tag is None or node.tag == tag)
            and all(_matches(node, name, value) for name, value in wanted.items())
        ]

    def one(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


def _matches(node: Node, name: str, value: str) -> bool:
    if name == "class":
        return value in node.classes()
    return node.attrs.get(name) == value


class _Builder(HTMLParser):
    def __init__(self, strict: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.strict = strict

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        if self.strict:
            assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        while len(self.stack) > 1 and self.stack.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(document: str, *, strict: bool = True) -> Node:
    """The document as a tree; ``strict`` asserts that every element closes where it should."""
    builder = _Builder(strict)
    builder.feed(document)
    builder.close()
    if strict:
        assert [n.tag for n in builder.stack] == ["#document"], "unclosed elements"
    return builder.root


def diagram_boxes(page: Node, stage: str) -> list[Node]:
    """The boxes of one stage of the discovery diagram ("SRV", "host:port", ...)."""
    diagram = page.one("ol", class_="diagram")
    for column in diagram.all("li", class_="stage"):
        if column.one("span", class_="stage-name").text() == stage:
            return column.all("li", class_="box")
    raise AssertionError(f"no stage {stage!r}")


# --- checks every rendered page must pass ------------------------------------------------


def assert_safe_and_accessible(document: str) -> Node:
    """No inline style or script, only local assets, landmarks named by headings."""
    assert document.startswith("<!DOCTYPE html>")
    assert not re.search(r"\sstyle\s*=", document, re.I)
    assert "<script" not in document.lower()
    page = parse(document)
    ids = [node.attrs["id"] for node in page.walk() if "id" in node.attrs]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for node in page.walk():
        assert node.tag not in {"script", "style", "iframe", "object", "embed"}
        assert not any(name.startswith("on") for name in node.attrs), node
        for name in ("href", "src", "action"):
            if name in node.attrs:
                assert node.attrs[name].startswith("/"), f"{name}={node.attrs[name]}"
    assert page.one("html").attrs["lang"] == "en"
    assert page.one("meta", name="viewport")
    assert page.one("link", rel="stylesheet").attrs["href"] == "/static/style.css"
    assert len(page.all("main")) == 1 and len(page.all("h1")) == 1
    for region in page.all("section"):
        heading = page.one(id=region.attrs["aria-labelledby"])
        assert heading.tag in {"h2", "h3"} and heading.text()
    assert all(th.attrs.get("scope") in {"row", "col"} for th in page.all("th"))
    form = page.one("form")
    assert (form.attrs["method"], form.attrs["action"]) == ("get", "/")
    assert form.one("input", name="server_name").attrs["id"] == "server_name"
    assert form.one("label").attrs["for"] == "server_name"
    return page


def order_of(document: str, *ids: str) -> list[int]:
    return [document.index(f'id="{key}"') for key in ids]


# --- the tests -----------------------------------------------------------------------------


def test_empty_form() -> None:
    document = render_page(None, server_name=None, error=None)
    page = assert_safe_and_accessible(document)
    assert not page.all(id="verdict") and not page.all(role="alert")
    assert page.one("input", name="server_name").attrs["value"] == ""
    for asset in ("style.css", "favicon.svg"):
        assert (STATIC / asset).is_file()
    assert "url(http" not in (STATIC / "style.css").read_text()


def test_error_banner_escapes_the_name_and_the_message() -> None:
    name = '"><script>alert(1)</script>'
    document = render_page(None, server_name=name, error=f"not a server name: {name}")
    page = assert_safe_and_accessible(document)
    assert page.one(role="alert").text() == f"not a server name: {name}"
    assert page.one("input", name="server_name").attrs["value"] == name


async def test_healthy_report(sandbox: Sandbox) -> None:
    report = await run_check(sandbox, await healthy(sandbox))
    assert report.federation_ok
    document = render_page(report, server_name=NAME, error=None)
    page = assert_safe_and_accessible(document)
    assert page.one(id="verdict").text() == "Federation OK"
    assert order_of(document, "verdict", "problems", "route", "endpoints", "files") == sorted(
        order_of(document, "verdict", "problems", "route", "endpoints", "files")
    )
    assert "error" not in {li.attrs["class"].split()[-1] for li in page.all("li", class_="problem")}
    # The diagram: .well-known taken, SRV not asked, the delegated host:port taken and OK.
    [well_known] = diagram_boxes(page, ".well-known")
    assert "taken" in well_known.classes() and "taken" in well_known.text()
    assert f"m.server '{MATRIX}:8448'" in well_known.text()
    assert "not asked" in diagram_boxes(page, "SRV")[0].text()
    [endpoint] = diagram_boxes(page, "host:port")
    assert endpoint.classes() == {"box", "taken"} and f"{MATRIX}:8448" in endpoint.text()
    assert "taken, checks OK" in endpoint.text()
    assert "well-known/explicit-port" in page.one("p", class_="route-line").text()
    # The endpoint's tables: TLS, certificate, version, keys.
    tables = page.one(id="endpoint-1").text()
    for expected in ("OK", "TLSv1.3", "Sandbox", "1.2.3", "ed25519:one", "signature verifies"):
        assert expected in tables
    certificate = report.endpoints[0].probe.tls.certificate  # type: ignore[union-attr]
    assert certificate is not None and certificate.sha256 in tables and MATRIX in tables
    files = page.one(id="files").text()
    assert "PROMPT" in files and f"https://{MATRIX}:8448" in files and "v1.11" in files


async def test_broken_report(sandbox: Sandbox) -> None:
    report = await run_check(sandbox, await broken(sandbox))
    assert not report.federation_ok
    document = render_page(report, server_name=NAME, error=None)
    page = assert_safe_and_accessible(document)
    assert page.one(id="verdict").text() == "Federation fails"
    codes = [li.attrs["data-code"] for li in page.one(id="problems").all("li")]
    assert codes[0] == "tls-cert-wrong-name" and "well-known-unreachable" in codes
    wrong_name = page.one("li", data_code="tls-cert-wrong-name").text()
    assert "error" in wrong_name and "other.test" in wrong_name
    assert "Fix: Get a certificate whose subjectAltName includes that name." in wrong_name
    # The diagram: .well-known failed, SRV empty, the fallback host:port taken but failing.
    [well_known] = diagram_boxes(page, ".well-known")
    assert "failed" in well_known.classes() and "failed" in well_known.text()
    assert {box.one(class_="state").text() for box in diagram_boxes(page, "SRV")} == {
        "- no records"
    }
    [endpoint] = diagram_boxes(page, "host:port")
    assert endpoint.classes() == {"box", "taken", "failed"}
    assert "taken, checks failed" in endpoint.text()
    # The endpoint: FAILS, why the certificate was refused, the hostile name as text.
    tables = page.one(id="endpoint-1")
    assert "FAILS" in tables.one("h3").text()
    assert "no: Hostname mismatch" in tables.text() and "other.test" in tables.text()
    assert HOSTILE_VERSION in tables.text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document


async def test_srv_route_is_drawn_taken(sandbox: Sandbox) -> None:
    report = await run_check(sandbox, await srv_only(sandbox))
    page = assert_safe_and_accessible(render_page(report, server_name=NAME, error=None))
    [fed] = diagram_boxes(page, "SRV")  # found: the legacy name is not asked
    assert "taken" in fed.classes() and "_matrix-fed._tcp.example.test" in fed.text()
    assert "0 0 8448 fed.example.test" in fed.text()
    [endpoint] = diagram_boxes(page, "host:port")
    assert "fed.example.test:8448" in endpoint.text() and "taken" in endpoint.classes()


def test_invalid_name_has_no_route() -> None:
    found = problem("invalid-server-name", "not a server name: 'a b'")
    report = Report("a b", False, None, (), None, None, (found,))
    page = assert_safe_and_accessible(render_page(report, server_name="a b", error=None))
    assert page.one(id="verdict").text() == "Federation fails"
    assert page.one("li", data_code="invalid-server-name")
    assert "Discovery did not run" in page.one(id="route").text()


# Every string in a report replaced by markup: none of it may become an element or attribute.
EVIL = '<evil data-evil="1">"\'&'


def poison(value: Any) -> Any:
    if isinstance(value, str) and type(value) is str:
        return EVIL + value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: poison(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple | list):
        return type(value)(poison(item) for item in value)
    if isinstance(value, dict | MappingProxyType):
        return {poison(k): poison(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("world", [healthy, broken])
async def test_every_remote_string_is_escaped(sandbox: Sandbox, world: World) -> None:
    report = poison(await run_check(sandbox, await world(sandbox)))
    document = render_page(report, server_name=report.server_name, error=EVIL)
    page = assert_safe_and_accessible(document)
    assert "<evil" not in document and "&lt;evil data-evil=&quot;1&quot;&gt;" in document
    assert not page.all("evil") and not page.all(data_evil="1")
    assert EVIL + NAME in page.one("title").text()
