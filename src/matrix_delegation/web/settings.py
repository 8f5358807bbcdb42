"""The web checker's settings: every limit in one place, with its default.

Kept apart from the app so that the command line can read the defaults
without importing aiohttp.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._io.config import ResolverConfig
from ..checker.notary_model import ThirdParty
from .clients import TrustedProxies

__all__ = ["WebSettings"]


@dataclass(frozen=True, slots=True)
class WebSettings:
    """How the web checker runs.

    Attributes:
        resolver_options: The :class:`~matrix_delegation.Resolver` configuration
            (DNS servers, CA file, allowed IP ranges, ``connect_to``, timeout).
        check_timeout: The bound on each network operation of a check, in seconds.
        deadline: The bound on a whole check; past it the report says so.
        rate_per_minute: New checks a client may start per minute.
        burst: New checks a client may start at once.
        max_running: Checks running at once, over all clients.
        max_running_per_client: Checks one client may have running at once.
        cache_ttl: How long a report is served again, in seconds (0: never).
        cache_size: How many reports are kept at most.
        cache_bytes: The bound on the reports kept, as the length of their JSON.
        max_clients: How many clients' rate-limit state is kept at most.
        trusted_proxies: Reverse proxies whose ``X-Forwarded-For`` names the client.
        keepalive: How long an idle connection stays open, in seconds (used by
            :mod:`.server`, not by the app).
        max_connections: Connections open at once (used by :mod:`.server`).
        third_party: ``--outbound`` and ``--notary`` for every check (None: off,
            the default; they contact third-party servers and tell them the name).
        database: The `watch` database whose history ``/history/NAME`` shows
            (None: no history pages).
    """

    resolver_options: ResolverConfig = field(default_factory=ResolverConfig)
    check_timeout: float = 10.0
    deadline: float = 30.0
    rate_per_minute: float = 10.0
    burst: int = 5
    max_running: int = 20
    cache_ttl: float = 60.0
    max_running_per_client: int = 2
    cache_size: int = 1000
    # JSON bytes; the Python objects behind them take about 3 times that, so the default
    # keeps a web process under 300 MB (benchmarks/web_memory.py).
    cache_bytes: int = 32 * 1024 * 1024
    max_clients: int = 100_000
    trusted_proxies: TrustedProxies = ()
    keepalive: float = 30.0
    max_connections: int = 1024
    third_party: ThirdParty | None = None
    database: str | None = None
