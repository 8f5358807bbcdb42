"""The web checker: the page, the federation-tester API, our JSON, health and metrics.

``create_app(settings)`` builds the aiohttp application; ``docs/web-api.md``
describes every route. Checks go through :class:`~.limits.ReportSource`
(cache, coalescing, bounds on the checks running at once per client and in
all) and a per-client token bucket, each under a deadline; the client is
told apart by :mod:`.clients`. How connections are accepted and kept is
:mod:`.server`'s business. The resolver keeps the default IP blocklist
(plus whatever ``resolver_options`` allows), enforced on every connection.
Responses never carry exception text: anything unexpected is logged and
answered with a plain 500.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .._core.names import ServerName
from .._exceptions import InvalidServerName
from ..checker.check import Report, check_server
from ..checker.codes import problem
from ..checker.output import report_json
from ..resolver import Resolver
from .clients import client_address, client_key
from .history import add_history
from .limits import Busy, ClientBusy, RateLimited, ReportCache, ReportSource, TokenBuckets
from .metrics import Metrics
from .page import render_page
from .settings import WebSettings
from .tester_compat import tester_report, unchecked_report

__all__ = ["SERVER_HEADER", "SETTINGS", "WebSettings", "create_app", "normalised", "timed_out"]

_log = logging.getLogger("matrix_delegation.web")

MAX_SERVER_NAME = 255
STATIC_DIR = Path(__file__).parent / "static"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: The ``Server`` header of every answer: not aiohttp's, which names its and Python's versions.
SERVER_HEADER = "matrix-delegation"
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Server": SERVER_HEADER,
}
_CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "Origin, X-Requested-With, Content-Type, Accept",
}
_BUSY_RETRY_SECONDS = 5


@dataclass(slots=True)
class _State:
    settings: WebSettings
    resolver: Resolver
    metrics: Metrics
    buckets: TokenBuckets
    source: ReportSource = field(init=False)


SETTINGS = web.AppKey("settings", WebSettings)
_STATE = web.AppKey("state", _State)


def create_app(settings: WebSettings) -> web.Application:
    """The web checker as an aiohttp application."""
    app = web.Application(middlewares=[_errors], client_max_size=16 * 1024)
    metrics = Metrics()
    state = _State(
        settings,
        Resolver.from_config(settings.resolver_options),
        metrics,
        TokenBuckets(settings.rate_per_minute, settings.burst, max_clients=settings.max_clients),
    )
    cache = ReportCache(
        settings.cache_ttl, settings.cache_size, settings.cache_bytes, size=_report_size
    )
    state.source = ReportSource(
        lambda name: _run_check(state, name),
        cache,
        max_running=settings.max_running,
        max_running_per_client=settings.max_running_per_client,
    )
    metrics.running.set_function(lambda: state.source.running)
    app[SETTINGS] = settings
    app[_STATE] = state
    app.on_response_prepare.append(_add_headers)
    app.on_cleanup.append(_close)
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name:[A-Za-z0-9][A-Za-z0-9_.-]*}", _static)
    app.router.add_get("/api/report", _api_report)
    app.router.add_get("/api/federation-ok", _api_federation_ok)
    app.router.add_get("/api/v1/check", _api_check)
    app.router.add_route("OPTIONS", "/api/{tail:.*}", _preflight)
    app.router.add_get("/health", _health)
    app.router.add_get("/metrics", _metrics)
    if settings.database is not None:
        add_history(app, settings.database)
    return app


async def _close(app: web.Application) -> None:
    state = app[_STATE]
    await state.source.close()
    await state.resolver.close()


# --- checking -----------------------------------------------------------------------------


def _report_size(report: Report) -> int:
    """What a report costs the cache: the length of its JSON (ASCII, so characters are bytes).

    The Python objects behind it take a small multiple of that; the budget
    is in these units so that it is the same on every Python version.
    """
    return len(json.dumps(report_json(report), separators=(",", ":")))


def timed_out(server_name: str, deadline: float) -> Report:
    """The report of a check stopped at its deadline."""
    message = f"the check of {server_name} did not finish within {deadline:g} s"
    found = problem("check-timeout", message)
    return Report(server_name, False, None, (), None, None, (found,))


async def _run_check(state: _State, name: str) -> Report:
    """One check under the deadline; counted and timed."""
    settings = state.settings
    started = time.perf_counter()
    deadline = asyncio.timeout(settings.deadline)
    try:
        async with deadline:
            report = await check_server(
                state.resolver,
                name,
                timeout=settings.check_timeout,
                third_party=settings.third_party,
            )
        verdict = "ok" if report.federation_ok else "fail"
    except TimeoutError:
        if not deadline.expired():
            raise
        report, verdict = timed_out(name, settings.deadline), "timeout"
    state.metrics.duration.observe(time.perf_counter() - started)
    state.metrics.checks.labels(verdict).inc()
    return report


class _ApiError(Exception):
    """A refusal with a status, a Matrix-style errcode and a message safe to show.

    ``invalid_name`` marks a name that is there but not a server name: the
    tester's ``/api/report`` answers that with a 200 report, not a refusal.
    """

    def __init__(
        self,
        status: int,
        errcode: str,
        message: str,
        retry_after: float | None = None,
        *,
        invalid_name: bool = False,
    ) -> None:
        super().__init__(message)
        self.status, self.errcode, self.message = status, errcode, message
        self.retry_after = retry_after
        self.invalid_name = invalid_name

    def body(self) -> dict[str, Any]:
        return {"errcode": self.errcode, "error": self.message, **self._retry()}

    def tester_body(self) -> dict[str, Any]:
        """The refusal as a federation-tester report: ``Error`` says why (docs/web-api.md)."""
        if self.invalid_name:  # the tester's words, then ours (never the name itself)
            return unchecked_report(f"Invalid server name: {self.message}")
        return {**unchecked_report(self.message), "errcode": self.errcode, **self._retry()}

    def _retry(self) -> dict[str, int]:
        if self.retry_after is None:
            return {}
        return {"retry_after_ms": int(self.retry_after * 1000)}

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


def _server_name(request: web.Request) -> str:
    """The ``server_name`` parameter, validated; raises :class:`_ApiError` (400)."""
    values = request.query.getall("server_name", [])
    name = values[0].strip() if len(values) == 1 else ""
    if len(values) > 1:
        raise _ApiError(400, "M_INVALID_PARAM", "give server_name once")
    if not name:
        raise _ApiError(400, "M_INVALID_PARAM", "server_name is required")
    if len(name) > MAX_SERVER_NAME:
        message = "server_name is longer than 255 characters"
        raise _ApiError(400, "M_INVALID_PARAM", message, invalid_name=True)
    try:
        parsed = ServerName.parse(name)
    except InvalidServerName:
        message = "server_name is not a Matrix server name (hostname[:port])"
        raise _ApiError(400, "M_INVALID_PARAM", message, invalid_name=True) from None
    return normalised(parsed)


def normalised(name: ServerName) -> str:
    """One spelling per server: lower-case host, compressed IPv6, port without zeros.

    DNS and certificate names compare case-insensitively (and so does the
    ``Host`` header), so ``Example.ORG`` and ``example.org`` are the same
    server: they get one check and one cache entry.
    """
    host = name.lookup_name
    if isinstance(name.ip, ipaddress.IPv6Address):
        host = f"[{host}]"
    return host if name.port is None else f"{host}:{name.port}"


def _client(request: web.Request) -> str:
    """The limits' key for the client behind ``request`` (see :mod:`.clients`)."""
    trusted = request.app[_STATE].settings.trusted_proxies
    forwarded = request.headers.getall("X-Forwarded-For", [])
    return client_key(client_address(request.remote, forwarded, trusted))


async def _report(request: web.Request, name: str) -> Report:
    """The report for ``name``: cached, joined, or checked now if the client may."""
    state = request.app[_STATE]
    client = _client(request)

    def admit() -> None:
        try:
            state.buckets.take(client)
        except RateLimited as exc:
            state.metrics.rate_limited.inc()
            message = "too many checks from your address; try again later"
            raise _ApiError(429, "M_LIMIT_EXCEEDED", message, exc.retry_after) from None

    try:
        report, source = await state.source.report(name, client, admit)
    except ClientBusy:
        state.metrics.client_busy.inc()
        message = "your address has too many checks running; try again when they finish"
        raise _ApiError(429, "M_LIMIT_EXCEEDED", message, _BUSY_RETRY_SECONDS) from None
    except Busy:
        state.metrics.busy.inc()
        message = "too many checks are running; try again shortly"
        raise _ApiError(503, "M_UNKNOWN", message, _BUSY_RETRY_SECONDS) from None
    state.metrics.reports.labels(source).inc()
    return report


# --- handlers -----------------------------------------------------------------------------


async def _api_report(request: web.Request) -> web.Response:
    """The tester's ``/api/report``: every answer is a report, refusals included.

    Its page and scripts read any body as a report, so an invalid name is a 200
    report whose ``Error`` says so (as the tester answers), and a refusal keeps
    its status and ``Retry-After`` with a report-shaped body.
    """
    try:
        report = await _report(request, _server_name(request))
    except _ApiError as exc:
        status = 200 if exc.invalid_name else exc.status
        return web.json_response(exc.tester_body(), status=status, headers=exc.headers())
    return web.json_response(tester_report(report))


async def _api_federation_ok(request: web.Request) -> web.Response:
    report = await _report(request, _server_name(request))
    return web.Response(text="GOOD" if report.federation_ok else "BAD")


async def _api_check(request: web.Request) -> web.Response:
    report = await _report(request, _server_name(request))
    return web.json_response(report_json(report))


async def _preflight(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[_STATE].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _index(request: web.Request) -> web.Response:
    if not request.query.get("server_name", "").strip():
        return _html(render_page(None, server_name=None, error=None))
    try:
        name = _server_name(request)
        report = await _report(request, name)
    except _ApiError as exc:
        page = render_page(None, server_name=None, error=exc.message)
        return _html(page, status=exc.status, headers=exc.headers())
    return _html(render_page(report, server_name=name, error=None))


async def _static(request: web.Request) -> web.FileResponse:
    path = STATIC_DIR / request.match_info["name"]
    if path.is_symlink() or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


# --- responses ----------------------------------------------------------------------------


def _html(
    text: str, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=text, status=status, headers=headers, content_type="text/html", charset="utf-8"
    )


def _json_error(error: _ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.status, headers=error.headers())


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refusals become JSON; anything unexpected becomes a bare 500 and a log line."""
    try:
        return await handler(request)
    except _ApiError as error:
        return _json_error(error)
    except web.HTTPException:
        raise
    except Exception:
        _log.exception("internal error answering %s %s", request.method, request.path)
        failure = _ApiError(500, "M_UNKNOWN", "internal error")
        if request.path == "/api/report":
            return web.json_response(failure.tester_body(), status=500)
        return _json_error(failure)


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(_SECURITY_HEADERS)
    if request.path.startswith("/api/"):
        response.headers.update(_CORS_HEADERS)
