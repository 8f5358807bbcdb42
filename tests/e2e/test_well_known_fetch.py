"""The .well-known fetch over real TLS: size caps, timeouts, redirects, certificates."""

from __future__ import annotations

import json

import pytest

from matrix_delegation import BlockedAddress, Resolver, Route
from matrix_delegation.sandbox import Reply
from matrix_delegation.sandbox.world import Sandbox

PATH = "/.well-known/matrix/server"
NAME = "example.test"
DELEGATION = Reply.json({"m.server": "matrix.example.test:443"})


async def serve(sandbox: Sandbox, reply: Reply, **host_options: object):
    host = await sandbox.https_host([NAME], **host_options)  # type: ignore[arg-type]
    host.set(NAME, PATH, reply)
    sandbox.zone.add("matrix.example.test", "A", "127.0.0.1")
    return host


async def resolve(sandbox: Sandbox, **options: object):
    async with Resolver(**sandbox.resolver_options(**options)) as resolver:
        return await resolver.resolve(NAME)


async def test_valid_file_delegates(sandbox: Sandbox) -> None:
    host = await serve(sandbox, DELEGATION)
    resolution = await resolve(sandbox)
    assert resolution.route is Route.WELL_KNOWN_EXPLICIT_PORT
    assert host.requests == [("GET", NAME, PATH)]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "streamed"])
async def test_body_over_50_kib_is_refused(sandbox: Sandbox, chunked: bool) -> None:
    padding = " " * (50 * 1024)
    body = json.dumps({"m.server": "matrix.example.test:443", "pad": padding})
    await serve(sandbox, Reply(body=body, chunked=chunked))
    resolution = await resolve(sandbox)
    assert resolution.well_known is not None
    assert "larger than 51200 bytes" in (resolution.well_known.error or "")
    assert resolution.route is Route.DEFAULT_PORT


async def test_body_just_under_the_cap_is_accepted(sandbox: Sandbox) -> None:
    """The twin of the oversized test: the same file, 51200 bytes exactly."""
    head = json.dumps({"m.server": "matrix.example.test:443", "pad": ""})
    body = head[:-2] + " " * (50 * 1024 - len(head)) + head[-2:]
    assert len(body) == 50 * 1024
    await serve(sandbox, Reply(body=body, chunked=True))
    resolution = await resolve(sandbox)
    assert resolution.route is Route.WELL_KNOWN_EXPLICIT_PORT


async def test_slow_server_times_out_and_discovery_goes_on(sandbox: Sandbox) -> None:
    await serve(sandbox, Reply(body=b"{}", delay=3.0))
    resolution = await resolve(sandbox, timeout=0.5)
    assert resolution.well_known is not None
    assert resolution.well_known.error == "timed out after 0.5 s"
    assert resolution.well_known.temporary
    assert resolution.route is Route.DEFAULT_PORT


async def test_wrong_certificate_is_not_trusted(sandbox: Sandbox) -> None:
    host = await serve(sandbox, DELEGATION, certificate_for=["somewhere-else.test"])
    resolution = await resolve(sandbox)
    assert resolution.well_known is not None
    assert "certificate" in (resolution.well_known.error or "")
    assert "example.test" in (resolution.well_known.error or "")
    assert resolution.route is Route.DEFAULT_PORT
    assert host.requests == [], "no request is sent over an unauthenticated connection"


@pytest.mark.parametrize("kind", ["expired", "self_signed", "untrusted"])
async def test_untrusted_certificates_are_refused(sandbox: Sandbox, kind: str) -> None:
    await serve(sandbox, DELEGATION, **{kind: True})
    resolution = await resolve(sandbox)
    assert resolution.well_known is not None and not resolution.well_known.valid
    assert "certificate" in (resolution.well_known.error or "")


async def test_redirect_to_plain_http_is_not_followed(sandbox: Sandbox) -> None:
    await serve(sandbox, Reply.redirect("http://example.test/elsewhere", 301))
    resolution = await resolve(sandbox)
    assert resolution.well_known is not None
    assert resolution.well_known.error == "redirect to http://example.test/elsewhere is not https"
    assert not resolution.well_known.temporary


async def test_more_than_10_redirects_are_refused_and_10_are_followed(sandbox: Sandbox) -> None:
    host = await serve(sandbox, Reply.redirect("/hop/1", 302))
    for hop in range(1, 12):
        host.set(NAME, f"/hop/{hop}", Reply.redirect(f"/hop/{hop + 1}", 307))
    host.set(NAME, "/hop/10", DELEGATION)  # reached after exactly 10 redirects
    assert (await resolve(sandbox)).route is Route.WELL_KNOWN_EXPLICIT_PORT
    host.set(NAME, "/hop/10", Reply.redirect("/hop/11", 303))
    host.set(NAME, "/hop/11", DELEGATION)  # now 11 redirects away
    resolution = await resolve(sandbox)
    assert resolution.well_known is not None
    assert resolution.well_known.error == "more than 10 redirects"


async def test_5xx_is_temporary_and_retried_for_a_domain_that_had_a_file(sandbox: Sandbox) -> None:
    ten_minutes = Reply.json(
        {"m.server": "matrix.example.test:443"}, headers={"Cache-Control": "max-age=600"}
    )
    host = await serve(sandbox, ten_minutes)
    clock = [1_000_000.0]
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    options = sandbox.resolver_options(clock=lambda: clock[0], sleep=sleep)
    async with Resolver(**options) as resolver:
        first = await resolver.resolve(NAME)
        host.set(NAME, PATH, Reply(status=503))
        clock[0] += 700  # expired, but the domain "recently had" a valid file
        second = await resolver.resolve(NAME)
    assert first.route is Route.WELL_KNOWN_EXPLICIT_PORT
    assert second.well_known is not None and second.well_known.status == 503
    assert len(host.requests) == 1 + 3
    assert pauses == [0.5, 0.5]


async def test_well_known_host_on_a_blocked_address_is_never_contacted(sandbox: Sandbox) -> None:
    host = await serve(sandbox, DELEGATION)
    with pytest.raises(BlockedAddress) as caught:
        await resolve(sandbox, allow_ip_ranges=())
    assert host.requests == []
    resolution = caught.value.resolution
    assert resolution is not None and resolution.well_known is not None
    assert "blocked range 127.0.0.0/8" in (resolution.well_known.error or "")


async def test_redirect_to_a_blocked_address_is_not_followed(sandbox: Sandbox) -> None:
    """Every hop goes through the IP policy: a redirect cannot reach the inside."""
    inside = "https://inside.example.test/.well-known/matrix/server"
    host = await serve(sandbox, Reply.redirect(inside, 302))
    sandbox.zone.add("inside.example.test", "A", "10.0.0.1")
    resolution = await resolve(sandbox)
    assert resolution.well_known is not None
    assert resolution.well_known.redirects == (inside,)
    assert "10.0.0.1, in the blocked range 10.0.0.0/8" in (resolution.well_known.error or "")
    assert resolution.route is Route.DEFAULT_PORT
    assert len(host.requests) == 1
