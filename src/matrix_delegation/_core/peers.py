"""How each homeserver implementation finds a server: data for the one discovery core.

The spec's procedure (:func:`~._core.plan.plan`) takes a :class:`PeerPolicy`;
:data:`SPEC` is the spec as we read it (the default, what ``resolve`` and
``check`` do). The other policies describe where a real implementation departs
from it: how it fetches ``.well-known``, what it does with an invalid
``m.server``, which SRV services it asks and how many records it tries, what a
DNS error does, whether an SRV target may be an alias. They are data, not
branches on a name: the core asks the policy, never which implementation it is.
Each implementation's policy, and the source it was read from, is described in
docs/peers.md; the functions below say which version each follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from .._base_errors import InvalidServerName
from .names import ServerName

__all__ = [
    "PEERS",
    "SPEC",
    "DnsErrorMode",
    "MServerMode",
    "PeerPolicy",
    "peer_policy",
    "read_m_server_as_url",
]

#: What an invalid ``m.server`` does: ``spec`` go on to SRV (step 4), ``as-is`` use
#: the host and port a URL parser reads off it, ``fail`` end discovery there.
MServerMode = Literal["spec", "as-is", "fail"]
#: What an SRV lookup that fails (not "no record") does: ``fail`` end discovery
#: (an expired cached answer stands in when there is one), ``default-port`` go
#: straight to the hostname on 8448, ``no-record`` read it as "no record".
DnsErrorMode = Literal["fail", "default-port", "no-record"]
#: How SRV records are put in order: RFC 2782 (priority, then weight), or as answered.
SrvOrder = Literal["rfc2782", "answer"]

_BOTH = ("_matrix-fed._tcp", "_matrix._tcp")
#: Bodies beyond this are refused whatever a policy says: an implementation with no
#: cap is emulated with this one (our own bound on what the network may send).
PEER_BODY_LIMIT = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PeerPolicy:
    """One implementation's discovery, as data.

    Attributes:
        name: The implementation (``synapse``, ...), or ``spec``.
        basis: The source and version the policy follows, in one line.
        follow_http_redirects: Whether a redirect to plain ``http`` is followed.
        max_redirects: How many redirects are followed at most.
        any_status: Whether a non-200 ``.well-known`` answer with ``m.server`` is used.
        body_cap: The ``.well-known`` body limit in bytes (None: no limit of its own).
        m_server: What an invalid ``m.server`` does (:data:`MServerMode`).
        srv_services: The SRV services asked, in order.
        srv_records: How many SRV records are tried (None: all of them).
        srv_order: The order records are tried in (:data:`SrvOrder`).
        dns_error: What a failed SRV lookup does (:data:`DnsErrorMode`).
        dns_timeout_fails: A timed-out SRV lookup ends discovery whatever ``dns_error`` says.
        cname_targets: Whether an SRV target that is an alias (CNAME) is used.
        every_address: Whether every endpoint must work for the verdict (the
            tester's rule); otherwise the first endpoint that accepts a
            connection decides, as a connecting peer tries them in order.
        user_agent: The ``User-Agent`` it sends on ``.well-known`` requests.
        user_agent_source: Where that string is made, in its source.
    """

    name: str
    basis: str
    follow_http_redirects: bool = False
    max_redirects: int = 10
    any_status: bool = False
    body_cap: int | None = 50 * 1024
    m_server: MServerMode = "spec"
    srv_services: tuple[str, ...] = _BOTH
    srv_records: int | None = None
    srv_order: SrvOrder = "rfc2782"
    dns_error: DnsErrorMode = "fail"
    dns_timeout_fails: bool = False
    cname_targets: bool = True
    every_address: bool = True
    user_agent: str = ""
    user_agent_source: str = ""

    @property
    def fetch_cap(self) -> int:
        """The body cap applied when fetching as this implementation (always bounded)."""
        return min(self.body_cap or PEER_BODY_LIMIT, PEER_BODY_LIMIT)


def _spec() -> PeerPolicy:
    """The Server-Server API v1.8+ "Resolving server names", as docs/design.md reads it.

    Where the spec is silent we follow Synapse (a failed SRV lookup ends
    discovery, an expired answer stands in); the verdict needs every endpoint.
    """
    return PeerPolicy("spec", "Matrix Server-Server API v1.8+, Resolving server names")


def _synapse() -> PeerPolicy:
    """Synapse 1.163.2 (element-hq/synapse ``synapse/http/federation/``).

    ``well_known_resolver.py``: redirects followed by Twisted's redirect agent,
    https→http included (seen with the running 1.163.2), a 50 KiB body, only a
    200 used, and ``m.server`` used as it is (no grammar check: the agent pastes
    it into a URI). ``srv_resolver.py``: ``_matrix-fed`` then ``_matrix``, every
    record in RFC 2782 order; a failed lookup serves the expired answer or fails.
    ``matrix_federation_agent.py``: the targets are tried in order until one connects.
    """
    return PeerPolicy(
        "synapse",
        "element-hq/synapse 1.163.2: synapse/http/federation/ (well_known_resolver.py, "
        "srv_resolver.py, matrix_federation_agent.py)",
        follow_http_redirects=True,
        m_server="as-is",
        every_address=False,
        user_agent="Synapse/1.163.2",
        user_agent_source="synapse/http/federation/matrix_federation_agent.py: "
        "the homeserver's version string, also sent on .well-known",
    )


def _dendrite() -> PeerPolicy:
    """Dendrite through matrix-org/gomatrixserverlib (GMSL, main of 2024).

    ``fclient/well_known.go``: Go's client follows up to 10 redirects of any
    scheme, only a 200 is read, 50 KB; an ``m.server`` that does not parse makes
    the lookup fail and ``fclient/resolve.go`` gives up. ``resolve.go``:
    ``_matrix-fed`` (since 2023-08) then ``_matrix``, every record in Go's
    ``net.LookupSRV`` order (RFC 2782); an SRV error other than "no record"
    skips the legacy service and falls back to the hostname on 8448.
    """
    return PeerPolicy(
        "dendrite",
        "matrix-org/gomatrixserverlib main (2024): fclient/resolve.go, fclient/well_known.go",
        follow_http_redirects=True,
        body_cap=50_000,
        m_server="fail",
        dns_error="default-port",
        every_address=False,
        user_agent="Go-http-client/1.1",
        user_agent_source="Go net/http default (fclient/client.go sets none for .well-known)",
    )


def _conduit() -> PeerPolicy:
    """Conduit 0.9/0.10 (timokoesters/conduit ``src/api/server_server.rs``).

    ``find_actual_destination``: the status of the ``.well-known`` response is
    not checked (any body with ``m.server`` is used), no body cap, ``m.server``
    used as it is; ``_matrix-fed`` then ``_matrix``, but only the first record of
    the answer is used (whatever its priority: which one comes first depends on the DNS
    servers, many rotate the records, so the emulation takes the record a peer
    following RFC 2782 would try first); a DNS error reads as "no record". Redirects as reqwest's
    default (10, any scheme). conduwuit (girlbossceo/conduwuit) behaves the same
    on these points, except that it has a 256 KiB cap as continuwuity does.
    """
    return PeerPolicy(
        "conduit",
        "timokoesters/conduit 0.9/0.10: src/api/server_server.rs (find_actual_destination)",
        follow_http_redirects=True,
        any_status=True,
        body_cap=None,
        m_server="as-is",
        srv_records=1,
        dns_error="no-record",
        every_address=False,
        user_agent="Conduit/0.10",
        user_agent_source="src/service/globals/mod.rs: reqwest client built with "
        '"Conduit/" and the crate version',
    )


def _continuwuity() -> PeerPolicy:
    """continuwuity 0.5 (continuwuity/continuwuity and its crate continuwuity/resolvematrix).

    ``src/server.rs`` of resolvematrix: at most 4 redirects (https only), a
    256 KiB body, only a 200; ``m.server`` not checked against the grammar (the
    host and port are read off it); ``_matrix-fed`` then ``_matrix``, only the
    first answer used (emulated as Conduit's is); a DNS error reads as "no record".
    conduwuit (legacy,
    ``src/service/resolver/actual.rs``) behaves the same on these points.
    """
    return PeerPolicy(
        "continuwuity",
        "continuwuity/continuwuity 0.5 with continuwuity/resolvematrix 1.0: src/server.rs",
        max_redirects=4,
        body_cap=256 * 1024,
        m_server="as-is",
        srv_records=1,
        dns_error="no-record",
        every_address=False,
        user_agent="continuwuity/0.5",
        user_agent_source="src/service/client/mod.rs: conduwuit::version::user_agent()",
    )


def _federation_tester() -> PeerPolicy:
    """The official tester (matrix-org/matrix-federation-tester ``main.go``, main of 2024).

    ``.well-known`` through GMSL (so as Dendrite fetches it), but an invalid
    ``m.server`` aborts the report; its own DNS asks only ``_matrix._tcp``,
    rejects an SRV target that is a CNAME, gives up on a timeout and falls back
    to 8448 on other errors; every address must pass for the report to be good.
    """
    return PeerPolicy(
        "federation-tester",
        "matrix-org/matrix-federation-tester main (2024): main.go, with GMSL for .well-known",
        follow_http_redirects=True,
        body_cap=50_000,
        m_server="fail",
        srv_services=("_matrix._tcp",),
        dns_error="default-port",
        dns_timeout_fails=True,
        cname_targets=False,
        every_address=True,
        user_agent="Go-http-client/1.1",
        user_agent_source="Go net/http default, through GMSL",
    )


SPEC = _spec()
#: The implementations, in the order reports list them.
PEERS: tuple[PeerPolicy, ...] = (
    _synapse(),
    _dendrite(),
    _conduit(),
    _continuwuity(),
    _federation_tester(),
)


def peer_policy(name: str) -> PeerPolicy:
    """The policy of an implementation (or ``spec``) by name.

    Raises:
        KeyError: no such implementation.
    """
    for policy in (SPEC, *PEERS):
        if policy.name == name:
            return policy
    raise KeyError(name)


def read_m_server_as_url(m_server: str) -> ServerName | None:
    """The server an implementation that does not check ``m.server`` ends up with.

    Synapse pastes ``m.server`` into a ``matrix-federation://`` URI and reads the
    host and port off it with a URL parser; for ``https://host/`` that host is
    ``https`` (docs/conformance.md shows the running Synapse do it). None when no
    host can be read.
    """
    try:
        parts = urlsplit(f"matrix-federation://{m_server}/")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    text = f"[{host}]" if ":" in host else host
    try:
        return ServerName.parse(f"{text}:{port}" if port else text)
    except InvalidServerName:
        return None
