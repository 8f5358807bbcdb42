"""Scenarios where implementations depart from the spec (docs/peers.md), in the catalog's form.

They are not part of the conformance table (the spec's view of them is plain):
the test of the ``synapse`` policy runs them, with :data:`scenarios.SCENARIOS`,
through the real Synapse and through our resolver with that policy.
"""

from __future__ import annotations

from scenarios import Scenario, _a, _m, _ok, _srv, _wk, n

__all__ = ["PEER_SCENARIOS"]

PEER_SCENARIOS: list[Scenario] = [
    {"id": "srv-first-dead", "about": "two SRV priorities; peers that use one record use the first",
     "server_name": n("fd"), "expect": _ok("srv", "127.0.100.30:8470", n("fd")),
     "basis": "RFC 2782 (the spec cites it)",
     "dns": [_srv(n("fd"), f"10 5 8470 {n('dead.fd')}."),
             _srv(n("fd"), f"20 5 8471 {n('live.fd')}."),
             _a("dead.fd", "127.0.100.30"), _a("live.fd", "127.0.100.31")]},
    {"id": "m-server-path", "about": "m.server has a port and a path: invalid, an SRV record works",
     "server_name": n("mp"), "expect": _ok("srv", "127.0.100.32:8472", n("mp")),
     "basis": "spec: invalid data is an invalid response (step 4)",
     "web": {_wk("mp"): _m(n("m.mp") + ":8448/matrix")},
     "dns": [_srv(n("mp"), f"10 5 8472 {n('tmp')}."), _a("tmp", "127.0.100.32"),
             _a("m.mp", "127.0.100.33")]},
    {"id": "fed-and-legacy", "about": "_matrix-fed and _matrix name different targets",
     "server_name": n("fl"), "expect": _ok("srv", "127.0.100.34:8473", n("fl")), "basis": "spec",
     "dns": [_srv(n("fl"), f"10 5 8473 {n('new.fl')}."),
             _srv(n("fl"), f"10 5 8474 {n('old.fl')}.", "_matrix"),
             _a("new.fl", "127.0.100.34"), _a("old.fl", "127.0.100.35")]},
]  # fmt: skip
