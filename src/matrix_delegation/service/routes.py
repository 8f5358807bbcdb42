"""The service's routing table: every answer it can give, as bytes, built once.

Pure: from a :class:`~.._core.site.Site` it builds, for each (hostname, path),
the complete HTTP/1.1 responses to GET, HEAD, OPTIONS and a matching
``If-None-Match``, so that serving a request is a dictionary lookup and one
write. Only the ``Date`` header is added per request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus

from .._core.site import CORS_HEADERS, Response, Site, canonical_json, not_found, render_site

__all__ = ["Answer", "RouteTable", "build_table", "plain_answer"]

SERVER_HEADER = ("Server", "matrix-delegation")
ALLOW = "GET, HEAD, OPTIONS"


@dataclass(frozen=True, slots=True)
class Answer:
    """One response in wire form, split around the ``Date`` header.

    Attributes:
        head: The status line.
        tail: Every header after ``Date``, ending with the blank line.
        body: The body (empty for HEAD, 204 and 304).
        status: The status code, for logs and metrics.
    """

    head: bytes
    tail: bytes
    body: bytes
    status: int


@dataclass(frozen=True, slots=True)
class Route:
    """The answers for one (hostname, path)."""

    get: Answer
    head: Answer
    not_modified: Answer | None
    etag: str | None
    domain: str
    file: str


MAX_SEEN = 10_000


@dataclass(frozen=True, slots=True)
class RouteTable:
    """Routes by hostname and path, and the shared answers (OPTIONS, errors).

    ``seen`` remembers the route of each raw (Host header, URL) pair already
    parsed: clients repeat the same few requests, and a hit skips decoding
    both. It is bounded and belongs to this table, so a reload starts afresh.
    """

    routes: dict[tuple[str, str], Route]
    hosts: frozenset[str]
    options: Answer
    unknown_host: Route
    unknown_path: Route
    seen: dict[tuple[bytes, bytes], Route] = field(default_factory=dict)

    def route(self, hostname: str, path: str) -> Route:
        """The route for a parsed hostname and path; a JSON 404 when there is none."""
        found = self.routes.get((hostname, path))
        if found is not None:
            return found
        return self.unknown_path if hostname in self.hosts else self.unknown_host

    def remember(self, host: bytes, url: bytes, route: Route) -> None:
        """Keep a parsed request's route, while there is room."""
        if len(self.seen) < MAX_SEEN:
            self.seen[(host, url)] = route


def plain_answer(
    status: int,
    headers: tuple[tuple[str, str], ...],
    body: bytes,
    *,
    head_only: bool = False,
) -> Answer:
    """Wire form of a response: Content-Length is added, the body dropped for HEAD."""
    reason = HTTPStatus(status).phrase
    lines = [f"{name}: {value}\r\n" for name, value in (SERVER_HEADER, *headers)]
    if status not in (204, 304):
        lines.append(f"Content-Length: {len(body)}\r\n")
    tail = ("".join(lines) + "\r\n").encode("latin-1")
    sent = b"" if head_only or status in (204, 304) else body
    return Answer(f"HTTP/1.1 {status} {reason}\r\n".encode("ascii"), tail, sent, status)


def _route(response: Response, domain: str, file: str) -> Route:
    get = plain_answer(response.status, response.headers, response.body)
    head = plain_answer(response.status, response.headers, response.body, head_only=True)
    etag = response.header("ETag")
    not_modified = None
    if etag is not None:
        # RFC 9110 15.4.5: a 304 repeats ETag, Cache-Control and what a cache needs.
        kept = tuple((name, value) for name, value in response.headers if name != "Content-Type")
        not_modified = plain_answer(304, kept, b"")
    return Route(get, head, not_modified, etag, domain, file)


def build_table(site: Site) -> RouteTable:
    """Every answer for the site."""
    routes = {}
    for hostname, responses in render_site(site).items():
        for path, response in responses.items():
            routes[(hostname, path)] = _route(response, hostname, path.rsplit("/", 1)[-1])
    options = plain_answer(204, (*CORS_HEADERS, ("Allow", ALLOW)), b"")
    unknown_host = _route(not_found("no such domain here"), "-", "-")
    unknown_path = _route(not_found("no such file"), "-", "-")
    hosts = frozenset(hostname for hostname, _ in routes)
    return RouteTable(routes, hosts, options, unknown_host, unknown_path)


def error_answer(status: int, message: str, *, allow: bool = False) -> Answer:
    """A JSON error for bad requests (400, 405, 413, 414, 431); the connection closes."""
    body = canonical_json({"errcode": "M_UNRECOGNIZED", "error": message})
    headers: tuple[tuple[str, str], ...] = (
        ("Content-Type", "application/json"),
        *CORS_HEADERS,
        ("Connection", "close"),
    )
    if allow:
        headers += (("Allow", ALLOW),)
    return plain_answer(status, headers, body)


def etag_matches(if_none_match: bytes, etag: str) -> bool:
    """RFC 9110 13.1.2: ``*``, or any listed tag equal to ours (weak comparison)."""
    wanted = etag.encode("ascii")
    for candidate in if_none_match.split(b","):
        tag = candidate.strip()
        if tag == b"*" or tag.removeprefix(b"W/") == wanted:
            return True
    return False
