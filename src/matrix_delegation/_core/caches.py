"""What a resolver remembers: four caches, and how to forget about one name.

``.well-known`` results by :class:`~.cache.WellKnownCache`, SRV and address
answers by their TTL, and whole resolutions until the first of their parts
needs refreshing. Kept apart from the driver so that it stays a loop over
questions and answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .cache import TtlCache, WellKnownCache
from .model import HostAddresses, Resolution, SrvLookup
from .names import ServerName

__all__ = ["DEFAULT_MAX_CACHE_ENTRIES", "ResolverCaches"]

DEFAULT_MAX_CACHE_ENTRIES = 100_000
_SRV_SERVICES = ("_matrix-fed._tcp", "_matrix._tcp")


@dataclass(slots=True)
class ResolverCaches:
    """The four caches of a resolver, each bounded to ``max_entries``."""

    max_entries: int = DEFAULT_MAX_CACHE_ENTRIES
    well_known: WellKnownCache = field(init=False)
    srv: TtlCache[str, SrvLookup] = field(init=False)
    addresses: TtlCache[str, HostAddresses] = field(init=False)
    resolutions: TtlCache[str, Resolution] = field(init=False)

    def __post_init__(self) -> None:
        self.well_known = WellKnownCache(self.max_entries)
        self.srv = TtlCache(self.max_entries)
        self.addresses = TtlCache(self.max_entries)
        self.resolutions = TtlCache(self.max_entries)

    @staticmethod
    def resolution_key(server_name: str, *, well_known: bool = True) -> str:
        """The key of a resolution; the variant without ``.well-known`` is kept apart."""
        return server_name if well_known else "\0" + server_name

    def flush(self, server_name: str | None = None) -> None:
        """Forget everything, or only what concerns one server name.

        Raises:
            InvalidServerName: ``server_name`` is not a server name.
        """
        if server_name is None:
            for cache in (self.well_known, self.srv, self.addresses, self.resolutions):
                cache.clear()
            return
        host = ServerName.parse(server_name).lookup_name
        stale = self.resolutions.get_stale(server_name)
        self.resolutions.pop(server_name)
        self.resolutions.pop(self.resolution_key(server_name, well_known=False))
        self.well_known.pop(host)
        hosts = {host}
        if stale is not None:
            resolution = stale[0]
            hosts |= {lookup.name.split(".", 2)[2] for lookup in resolution.srv}
            hosts |= {endpoint.target for endpoint in resolution.endpoints}
        for name in hosts:
            self.addresses.pop(name)
            for service in _SRV_SERVICES:
                self.srv.pop(f"{service}.{name}")
