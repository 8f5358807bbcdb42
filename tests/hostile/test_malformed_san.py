"""A certificate whose subjectAltName is not valid DER, served over real TLS."""

from __future__ import annotations

import json

from test_check_command import flags, run
from test_problem_codes import NAME, homeserver

from matrix_delegation import Resolver
from matrix_delegation.checker.check import check_server
from matrix_delegation.sandbox.world import Sandbox
from web.conftest import MakeClient

UNREADABLE = "nothing readable: its extensions (subjectAltName among them) are malformed"


async def test_check_reports_the_certificate(sandbox: Sandbox) -> None:
    await homeserver(sandbox, malformed_san=True)
    async with Resolver(**sandbox.resolver_options(timeout=3.0)) as resolver:
        report = await check_server(resolver, NAME, timeout=3.0)
    assert not report.federation_ok
    certificate = report.endpoints[0].probe.tls.certificate  # type: ignore[union-attr]
    assert certificate is not None and certificate.defect is not None
    assert certificate.dns_names == () and certificate.subject == f"CN={NAME}"
    assert any(UNREADABLE in p.message for p in report.problems if p.code.startswith("tls-"))


async def test_a_well_formed_self_signed_certificate_has_no_defect(sandbox: Sandbox) -> None:
    await homeserver(sandbox, self_signed=True)
    async with Resolver(**sandbox.resolver_options(timeout=3.0)) as resolver:
        report = await check_server(resolver, NAME, timeout=3.0)
    certificate = report.endpoints[0].probe.tls.certificate  # type: ignore[union-attr]
    assert certificate is not None and certificate.defect is None
    assert certificate.dns_names == (NAME,)


async def test_check_command_json(sandbox: Sandbox, tmp_path, capsys) -> None:
    await homeserver(sandbox, malformed_san=True)
    status = await run("check", NAME, "--json", *flags(sandbox, tmp_path))
    captured = capsys.readouterr()
    assert status == 1 and "Traceback" not in captured.err
    endpoint = json.loads(captured.out)["endpoints"][0]
    assert endpoint["tls"]["certificate"]["defect"].startswith("its extensions")


async def test_web_answers_200(sandbox: Sandbox, web_client: MakeClient) -> None:
    await homeserver(sandbox, malformed_san=True)
    client = await web_client()
    for path in ("/api/v1/check", "/api/report"):
        response = await client.get(path, params={"server_name": NAME})
        assert response.status == 200
        assert UNREADABLE in await response.text()
