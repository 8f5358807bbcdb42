"""The prose of the conformance report: how to read it, and who is right where they differ."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PREAMBLE", "sentences"]

PREAMBLE = [
    "Each implementation resolved every name against the same loopback sandbox (DNS server,",
    "CA, HTTPS hosts on their own 127.0.0.X:443) in a child process of its own, with fresh",
    "caches per scenario. A cell says ✅ when the implementation did exactly what the",
    "*Spec requires* column says (route, first endpoint, Host header, TLS name, or the",
    "error), and otherwise what it did instead. Synapse and resolvematrix do not name the",
    "spec step they took; their route is read off what they did (delegated or not, which",
    "SRV service answered). Where the spec is silent the expectation is Synapse's",
    "behaviour, and the *basis* says so. Synapse's real agent is run up to the point of",
    "connecting (well-known fetch, Host rewrite, SRV lookups, its IP-filtering A/AAAA lookup)",
    "and stopped there: nothing listens on the federation endpoints, and none is needed.",
    "The two-phase scenario resolves once, makes the DNS server fail, moves each",
    "resolver's SRV clock past the record's TTL, and resolves again with the same caches.",
]

#: Why an implementation is wrong (or right) where it differs, by (scenario, implementation).
WHY: dict[tuple[str, str], str] = {
    ("step-3.1", "resolvematrix"): (
        "resolvematrix drops the port from the Host header when `m.server` is an IP literal "
        "with a port; step 3.1 says the Host is the IP address plus the port if one was "
        "given, so the spec (which we and Synapse follow) is right"
    ),
    ("redirect-http", "synapse"): (
        "Synapse's redirect agent follows an https→http redirect and trusts the `m.server` "
        "read over plain HTTP, so anyone on the path could redirect the name's federation; "
        "the spec makes `.well-known` an HTTPS request with normal X.509 validation, which a "
        "plain-http hop cannot satisfy, so we treat it as an invalid response and go on to "
        "step 4: here we follow the spec, not Synapse"
    ),
    ("redirect-http", "resolvematrix"): (
        "httpx, as resolvematrix configures it, follows the same https→http redirect; as for "
        "Synapse, the spec's HTTPS-with-X.509 requirement makes that response invalid, so "
        "the spec (and we) go on to step 4"
    ),
    ("m-server-scheme", "synapse"): (
        "Synapse does not check `m.server` against the server-name grammar (docs/design.md §5.2): "
        "it pastes `https://m.badm.conf.test/` into the request URI, ends up with the host "
        "`https` and cannot resolve it, so the name becomes unreachable; the spec counts "
        "invalid data as an invalid response and moves on to step 4, which finds the SRV "
        "record. We follow the spec"
    ),
    ("srv-servfail", "resolvematrix"): (
        "resolvematrix swallows every DNS exception of the SRV query, so a SERVFAIL reads "
        'as "no record" and it falls back to the name\'s own address on 8448; the spec '
        "only falls back when no SRV record *was found*, and is silent on failed lookups, so "
        "we follow Synapse, which stops with the DNS error instead of guessing an endpoint"
    ),
    ("srv-servfail-cached", "resolvematrix"): (
        "resolvematrix keeps no SRV cache (and `resolve()` never reads its destination "
        "cache), so after the SERVFAIL it falls back to the name's A/AAAA records, which do "
        "not exist; Synapse answers from the expired SRV record when the DNS server fails "
        "(docs/design.md §5.4), the spec is silent, so we follow Synapse"
    ),
    ("srv-zero-weight", "resolvematrix"): (
        "resolvematrix sorts SRV records by target name and port, ignoring priority and "
        "weight, so it took the weight-0 record; RFC 2782, which the spec cites for SRV, "
        "picks records in proportion to their weight, so a weight-0 record comes after a "
        "weight-100 one (always in Synapse's reading, 100 times in 101 in the RFC's own "
        "draw). The RFC and Synapse are right; we do the same"
    ),
    ("srv-priority", "resolvematrix"): (
        "the same ordering: resolvematrix took the priority-20 backup before the "
        "priority-10 record; RFC 2782 tries the lowest priority first, as Synapse and we do"
    ),
    ("srv-target-dot", "resolvematrix"): (
        "resolvematrix ignores the `.` target and falls back to the name's own address on "
        "8448; RFC 2782 says a sole `.` target means the service is decidedly not available "
        "there, and Synapse stops too (the spec is silent), so we stop"
    ),
    ("srv-target-dot", "synapse"): (
        "Synapse also fails without any fallback, which is the required outcome, but not "
        'for the reason its code intends: it compares the target with `Name(b".")`, while '
        'Twisted decodes the root name off the wire as `Name(b"")`, so that check never '
        "fires and the agent then fails to look up an empty hostname (a DNS lookup error, "
        'not "service unavailable"). Same result, different reason: we keep ours'
    ),
}


def sentences(document: Mapping[str, Any]) -> list[str]:
    """One sentence per (scenario, implementation) that differs from the expectation."""
    out = []
    for row in document["scenarios"]:
        for name, result in row["results"].items():
            if result["verdict"] != "differs":
                continue
            why = WHY.get((row["id"], name)) or _fallback(row["basis"])
            out.append(f"**{row['id']}**, {name}: {why}.")
    return out


def _fallback(basis: str) -> str:
    """For a disagreement nobody has explained yet: what the expectation rests on."""
    if basis == "spec" or basis.startswith("spec:"):
        return "it departs from what the spec requires here, and we follow the spec"
    return f"it departs from the expectation, which rests on {basis}; we keep it"
