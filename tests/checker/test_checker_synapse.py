"""``check`` against a real Synapse serving TLS itself, reached by every delegation route.

Three Synapse processes run for the whole module, each with a TLS federation
listener on its own ``127.0.0.X`` (port 8448 when free). Two have the
``server_name`` ``example.test``:

- ``good`` has a certificate naming ``example.test`` and ``matrix.example.test``,
  so it is correct for every route below (with SRV the certificate must cover
  the name being resolved, not the SRV target);
- ``wrong`` has a certificate naming only the SRV target ``fed.example.test``,
  the classic SRV mistake;

and ``explicit`` is ``example.test:8448`` (a server name with a port is another
server, with its own keys), for the explicit-port route.

Each test publishes DNS records in the sandbox (and ``.well-known`` files with
our own service on 443), then runs the checker as a user would. The sandbox
CA signs the ``.well-known`` hosts, a module CA the Synapse certificates; the
checker trusts both. Everything stays on 127.0.0.0/8.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest
import trustme

from helpers.synapse import (
    FEDERATION_PORT,
    SynapseProcess,
    generate_base_config,
    issue_certificate,
    start_synapses,
)
from matrix_delegation import Resolver, Route
from matrix_delegation._core.site import Domain, Site
from matrix_delegation.checker.check import Report, check_server
from matrix_delegation.sandbox.world import Sandbox

pytest.importorskip("synapse", reason="needs matrix-synapse (the [test] extra)")

SERVER_NAME = "example.test"
DELEGATED = "matrix.example.test"
SRV_TARGET = "fed.example.test"  # the host an SRV record points at
WITH_PORT = f"{SERVER_NAME}:{FEDERATION_PORT}"
#: Problems of the client and support files, which these tests do not publish.
_NOT_FEDERATION = ("client-", "support-")


@pytest.fixture(scope="module")
def synapse_ca() -> trustme.CA:
    """The CA of the Synapse certificates (the sandbox has its own, per test)."""
    return trustme.CA(key_type=trustme.KeyType.ECDSA)


@pytest.fixture(scope="module")
def synapses(
    tmp_path_factory: pytest.TempPathFactory, synapse_ca: trustme.CA
) -> Iterator[dict[str, SynapseProcess]]:
    """``good``, ``wrong`` and ``explicit`` (see the module docstring), started in parallel."""
    root = tmp_path_factory.mktemp("synapse-tls")
    base = generate_base_config(root / "base", SERVER_NAME)
    certificates = {
        "good": issue_certificate(synapse_ca, [SERVER_NAME, DELEGATED], root / "certs-good"),
        "wrong": issue_certificate(synapse_ca, [SRV_TARGET], root / "certs-wrong"),
        "explicit": issue_certificate(synapse_ca, [SERVER_NAME], root / "certs-explicit"),
    }
    server_names = {"good": SERVER_NAME, "wrong": SERVER_NAME, "explicit": WITH_PORT}
    started = start_synapses(
        base,
        [
            (
                root / name,
                [{"server_name": server_name}],
                {"tls": certificates[name], "port": FEDERATION_PORT},
            )
            for name, server_name in server_names.items()
        ],
        timeout=60,
    )
    running = dict(zip(server_names, started, strict=True))
    try:
        yield running
    finally:
        for synapse in started:
            synapse.stop()


@pytest.fixture
def good(synapses: dict[str, SynapseProcess]) -> SynapseProcess:
    return synapses["good"]


@pytest.fixture
def explicit(synapses: dict[str, SynapseProcess]) -> SynapseProcess:
    synapse = synapses["explicit"]
    if synapse.port != FEDERATION_PORT:
        pytest.skip(f"port {FEDERATION_PORT} was taken on every address tried")
    return synapse


@pytest.fixture
def wrong(synapses: dict[str, SynapseProcess]) -> SynapseProcess:
    return synapses["wrong"]


async def check(sandbox: Sandbox, synapse_ca: trustme.CA, name: str = SERVER_NAME) -> Report:
    """Run the checker for ``name`` through the sandbox, trusting both CAs."""
    context = sandbox.ca.client_context()
    context.load_verify_locations(cadata=synapse_ca.cert_pem.bytes().decode())
    async with Resolver(**sandbox.resolver_options(ssl_context=context)) as resolver:
        return await check_server(resolver, name, timeout=5)


def errors(report: Report) -> list[str]:
    """Error-severity problems, except those of the (unpublished) client and support files."""
    return [
        f"{p.code}: {p.message}"
        for p in report.problems
        if p.severity == "error" and not p.code.startswith(_NOT_FEDERATION)
    ]


def codes(report: Report) -> set[str]:
    return {p.code for p in report.problems}


def assert_real_synapse(
    report: Report, synapse: SynapseProcess, server_name: str = SERVER_NAME
) -> None:
    """Federation is OK, through exactly the one Synapse, with its real signed keys."""
    assert errors(report) == []
    assert report.federation_ok, report.problems
    assert len(report.endpoints) == 1
    endpoint = report.endpoints[0]
    assert (endpoint.probe.ip, endpoint.probe.port) == (synapse.address, synapse.port)
    assert endpoint.ok
    assert endpoint.probe.tls is not None and endpoint.probe.tls.verified
    assert endpoint.server is not None and endpoint.server["name"] == "Synapse"
    assert endpoint.keys is not None and endpoint.keys.ok
    assert endpoint.keys.server_name == server_name
    assert any(key.startswith("ed25519:") for key in endpoint.keys.verify_keys)


def srv(sandbox: Sandbox, owner: str, target: str, port: int) -> None:
    sandbox.zone.add(f"_matrix-fed._tcp.{owner}", "SRV", f"10 5 {port} {target}.")


async def delegate(sandbox: Sandbox, m_server: str) -> None:
    """Serve ``{"m.server": m_server}`` for example.test with our service on 443."""
    await sandbox.serve_site(Site((Domain(SERVER_NAME, m_server),)))


# --- every route to a correctly configured Synapse -------------------------------------


async def test_explicit_port(
    sandbox: Sandbox, synapse_ca: trustme.CA, explicit: SynapseProcess
) -> None:
    sandbox.zone.add(SERVER_NAME, "A", explicit.address)

    report = await check(sandbox, synapse_ca, WITH_PORT)

    assert report.resolution is not None and report.resolution.route is Route.EXPLICIT_PORT
    assert report.resolution.tls_server_name == SERVER_NAME
    assert_real_synapse(report, explicit, WITH_PORT)


async def test_default_port(sandbox: Sandbox, synapse_ca: trustme.CA, good: SynapseProcess) -> None:
    if good.port != FEDERATION_PORT:
        pytest.skip(f"port {FEDERATION_PORT} was taken on {good.address}")
    sandbox.zone.add(SERVER_NAME, "A", good.address)  # nothing on 443 there: no .well-known

    report = await check(sandbox, synapse_ca)

    assert report.resolution is not None and report.resolution.route is Route.DEFAULT_PORT
    assert_real_synapse(report, good)


async def test_well_known_explicit_port(
    sandbox: Sandbox, synapse_ca: trustme.CA, good: SynapseProcess
) -> None:
    await delegate(sandbox, f"{DELEGATED}:{good.port}")
    sandbox.zone.add(DELEGATED, "A", good.address)

    report = await check(sandbox, synapse_ca)

    assert report.resolution is not None
    assert report.resolution.route is Route.WELL_KNOWN_EXPLICIT_PORT
    assert_real_synapse(report, good)


async def test_well_known_srv(
    sandbox: Sandbox, synapse_ca: trustme.CA, good: SynapseProcess
) -> None:
    await delegate(sandbox, DELEGATED)
    srv(sandbox, DELEGATED, SRV_TARGET, good.port)
    sandbox.zone.add(SRV_TARGET, "A", good.address)

    report = await check(sandbox, synapse_ca)

    assert report.resolution is not None and report.resolution.route is Route.WELL_KNOWN_SRV
    assert report.resolution.tls_server_name == DELEGATED
    assert_real_synapse(report, good)


async def test_srv(sandbox: Sandbox, synapse_ca: trustme.CA, good: SynapseProcess) -> None:
    srv(sandbox, SERVER_NAME, SRV_TARGET, good.port)
    sandbox.zone.add(SRV_TARGET, "A", good.address)  # example.test itself has no address

    report = await check(sandbox, synapse_ca)

    assert report.resolution is not None and report.resolution.route is Route.SRV
    assert report.resolution.tls_server_name == SERVER_NAME
    assert_real_synapse(report, good)


# --- the same Synapse, wrongly published -----------------------------------------------


async def test_certificate_for_the_srv_target_only(
    sandbox: Sandbox, synapse_ca: trustme.CA, wrong: SynapseProcess
) -> None:
    srv(sandbox, SERVER_NAME, SRV_TARGET, wrong.port)
    sandbox.zone.add(SRV_TARGET, "A", wrong.address)

    report = await check(sandbox, synapse_ca)

    assert not report.federation_ok
    assert "tls-cert-for-srv-target" in codes(report), report.problems
    assert "tls-cert-wrong-name" not in codes(report)
    [endpoint] = report.endpoints
    assert endpoint.probe.tls is not None and not endpoint.probe.tls.verified
    assert endpoint.probe.tls.certificate is not None
    assert endpoint.probe.tls.certificate.covers(SRV_TARGET)
    assert not endpoint.ok


async def test_m_server_port_where_nothing_listens(
    sandbox: Sandbox, synapse_ca: trustme.CA, good: SynapseProcess
) -> None:
    closed = _closed_port(good.address)
    await delegate(sandbox, f"{DELEGATED}:{closed}")
    sandbox.zone.add(DELEGATED, "A", good.address)

    report = await check(sandbox, synapse_ca)

    assert not report.federation_ok
    assert "address-unreachable" in codes(report), report.problems
    [endpoint] = report.endpoints
    assert (endpoint.probe.ip, endpoint.probe.port) == (good.address, closed)
    assert endpoint.probe.tls is None and not endpoint.ok


async def test_srv_target_is_a_cname(
    sandbox: Sandbox, synapse_ca: trustme.CA, good: SynapseProcess
) -> None:
    alias = "alias.example.test"
    srv(sandbox, SERVER_NAME, alias, good.port)
    sandbox.zone.add(alias, "CNAME", f"{SRV_TARGET}.")
    sandbox.zone.add(SRV_TARGET, "A", good.address)

    report = await check(sandbox, synapse_ca)

    [cname] = [p for p in report.problems if p.code == "srv-target-cname"]
    assert cname.severity == "warning"
    assert alias in cname.message
    # A warning only: the certificate covers example.test, so federation works.
    assert_real_synapse(report, good)


def _closed_port(address: str) -> int:
    """A port on ``address`` where nothing listens (bound, then released)."""
    with socket.socket() as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
    return port


def test_each_listener_serves_its_own_certificate(synapses: dict[str, SynapseProcess]) -> None:
    """Sanity for the helper: TLS on the listener, with the certificate it was given."""
    for synapse in synapses.values():
        assert synapse.base_url == f"https://{synapse.address}:{synapse.port}"
        served = ssl.get_server_certificate((synapse.address, synapse.port), timeout=5)
        chain = (synapse.directory.parent / f"certs-{synapse.directory.name}").glob("*.chain.pem")
        issued = ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(next(chain).read_text()))
        assert served == issued
