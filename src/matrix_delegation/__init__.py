"""Matrix server discovery and delegation, exactly as the spec says.

The resolver follows the Server-Server API's "Resolving server names"
(steps 1-6 with 3.1-3.5) with the caching and IP-safety rules Synapse applies::

    from matrix_delegation import Resolver

    async with Resolver() as resolver:
        resolution = await resolver.resolve("example.org")
        print(resolution.route, resolution.host_header, resolution.endpoints)

The options can also travel as one typed value, and a :class:`Network` (the
session, DNS, IP policy, TLS context and limits) can be shared with other
code that must obey the same rules::

    config = ResolverConfig(nameservers=("192.0.2.53",), timeout=5.0)
    async with Resolver.from_config(config) as resolver:
        ...

The public names are imported on first use (PEP 562), so that importing the
package, or running ``matrix-delegation --help``, does not pay for aiohttp and
the DNS libraries that only the resolver needs (docs/benchmarks.md, "Start-up").
"""

# Helpers under private names: every public name here is in __all__.
import importlib as _importlib
import typing as _typing

from ._version import __version__

if _typing.TYPE_CHECKING:  # the same names, for type checkers and IDEs
    from ._core.ipfilter import DEFAULT_IP_BLOCKLIST, IpPolicy
    from ._core.model import (
        Endpoint,
        Failure,
        FailureCode,
        HostAddresses,
        Resolution,
        Route,
        SrvLookup,
        SrvRecord,
        TraceEntry,
        WellKnownResult,
    )
    from ._core.names import ServerName, is_valid_server_name
    from ._core.overrides import ConnectTo
    from ._core.srv import order_srv
    from ._exceptions import (
        BlockedAddress,
        ConfigurationError,
        DelegationError,
        DiscoveryError,
        DnsLookupError,
        InvalidServerName,
        NoAddress,
        ServiceUnavailable,
    )
    from ._io.network import Network, NetworkConfig
    from .resolver import Resolver, ResolverConfig, resolve_server_name

__all__ = [
    "DEFAULT_IP_BLOCKLIST",
    "BlockedAddress",
    "ConfigurationError",
    "ConnectTo",
    "DelegationError",
    "DiscoveryError",
    "DnsLookupError",
    "Endpoint",
    "Failure",
    "FailureCode",
    "HostAddresses",
    "InvalidServerName",
    "IpPolicy",
    "Network",
    "NetworkConfig",
    "NoAddress",
    "Resolution",
    "Resolver",
    "ResolverConfig",
    "Route",
    "ServerName",
    "ServiceUnavailable",
    "SrvLookup",
    "SrvRecord",
    "TraceEntry",
    "WellKnownResult",
    "__version__",
    "is_valid_server_name",
    "order_srv",
    "resolve_server_name",
]

#: Where each public name lives (a module relative to this package).
_HOMES: dict[str, str] = {
    **dict.fromkeys(("DEFAULT_IP_BLOCKLIST", "IpPolicy"), "._core.ipfilter"),
    **dict.fromkeys(
        (
            "Endpoint",
            "Failure",
            "FailureCode",
            "HostAddresses",
            "Resolution",
            "Route",
            "SrvLookup",
            "SrvRecord",
            "TraceEntry",
            "WellKnownResult",
        ),
        "._core.model",
    ),
    **dict.fromkeys(("ServerName", "is_valid_server_name"), "._core.names"),
    "ConnectTo": "._core.overrides",
    "order_srv": "._core.srv",
    **dict.fromkeys(
        (
            "BlockedAddress",
            "ConfigurationError",
            "DelegationError",
            "DiscoveryError",
            "DnsLookupError",
            "InvalidServerName",
            "NoAddress",
            "ServiceUnavailable",
        ),
        "._exceptions",
    ),
    **dict.fromkeys(("Network", "NetworkConfig"), "._io.network"),
    **dict.fromkeys(("Resolver", "ResolverConfig", "resolve_server_name"), ".resolver"),
}


def __getattr__(name: str) -> _typing.Any:
    """Import a public name from its module on first use, then keep it here."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(home, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
