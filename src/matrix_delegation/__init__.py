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
"""

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
    InvalidWellKnown,
    NoAddress,
    ServiceUnavailable,
)
from ._io.network import Network, NetworkConfig
from ._version import __version__
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
    "InvalidWellKnown",
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
