"""What every generator shares: the responses to publish, names, listen lines.

The generators never compute a body or a header themselves: they take the
:class:`~matrix_delegation._core.site.Response` objects of
:func:`~matrix_delegation._core.site.render_domain`, so that every web server
sends what ``serve`` sends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from .._core.names import ServerName
from .._core.site import CORS_HEADERS, WELL_KNOWN_FILES, Domain, Response, render_domain
from .._exceptions import ConfigurationError

__all__ = [
    "CORS_HEADERS",
    "PREFIX",
    "Entry",
    "ProxyTarget",
    "comment_block",
    "entries",
    "host_label",
    "identifier",
    "parse_listen",
    "parse_proxy_to",
]

#: Where the three files live.
PREFIX = "/.well-known/matrix/"


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of one domain: where it is and the exact response to send."""

    domain: Domain
    name: str
    response: Response

    @property
    def path(self) -> str:
        """The URL path, e.g. ``/.well-known/matrix/server``."""
        return PREFIX + self.name

    @property
    def body_text(self) -> str:
        """The body as text; bodies are canonical JSON, hence UTF-8."""
        return self.response.body.decode("utf-8")

    def headers_except(self, *names: str) -> tuple[tuple[str, str], ...]:
        """The response headers in order, without those named (case-insensitive)."""
        skip = {name.lower() for name in names}
        return tuple((k, v) for k, v in self.response.headers if k.lower() not in skip)


def entries(domain: Domain) -> Iterator[Entry]:
    """All three files of a domain, published (200) or not (the JSON 404)."""
    responses = render_domain(domain)
    for name in WELL_KNOWN_FILES:
        yield Entry(domain, name, responses[PREFIX + name])


def host_label(domain: Domain) -> str:
    """The hostname as a ``Host`` header carries it: lower case, IPv6 in brackets."""
    parsed = ServerName.parse(domain.server_name)
    if parsed.ip is not None and parsed.ip.version == 6:
        return f"[{parsed.ip}]"
    return parsed.lookup_name


def identifier(text: str) -> str:
    """A config-safe identifier (letters, digits, underscore) derived from ``text``."""
    return re.sub(r"[^A-Za-z0-9]", "_", text)


def comment_block(lines: list[str], marker: str = "#") -> str:
    """Prefix each line with the comment marker (blank lines get the bare marker)."""
    return "\n".join(f"{marker} {line}".rstrip() for line in lines) + "\n"


def parse_listen(listen: str) -> tuple[str, int]:
    """Split ``ADDRESS:PORT`` (IPv6 in brackets) into its parts."""
    address, colon, port = listen.rpartition(":")
    if not colon or not address or not port.isdigit():
        raise ConfigurationError(f"listen address {listen!r} must be ADDRESS:PORT")
    return address, int(port)


@dataclass(frozen=True, slots=True)
class ProxyTarget:
    """Where ``--proxy-to`` sends requests: a running ``serve``."""

    scheme: str
    host: str
    port: int

    @property
    def url(self) -> str:
        """The origin, without a path: ``http://127.0.0.1:8080``."""
        return f"{self.scheme}://{self.authority}"

    @property
    def authority(self) -> str:
        """``host:port``, IPv6 in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_proxy_to(url: str) -> ProxyTarget:
    """Validate ``--proxy-to``: an http(s) origin, as ``serve`` listens on one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"--proxy-to {url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"--proxy-to {url!r} must be an http:// or https:// URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ConfigurationError(
            f"--proxy-to {url!r} must be an origin only (serve answers at /.well-known/matrix/)"
        )
    default = 443 if parts.scheme == "https" else 80
    return ProxyTarget(parts.scheme, parts.hostname, port or default)
