"""``matrix-delegation generate``: configuration that publishes the same files.

Every generator is a pure function of the :class:`~matrix_delegation._core.site.Site`
and reuses the responses of :func:`~matrix_delegation._core.site.render_site`, so a
web server configured by it answers like ``serve``: same status, body and headers.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._core.site import Site
from .._exceptions import ConfigurationError
from . import apache, caddy, dns, haproxy, nginx, static, synapse, traefik
from ._common import parse_proxy_to

__all__ = ["TARGETS", "Generated", "format_for_stdout", "generate"]

#: What ``--for`` accepts.
TARGETS = ("nginx", "apache", "haproxy", "caddy", "traefik", "static", "dns", "synapse")

# The single file of each one-file target; unusual names so that
# "--out /etc/nginx" cannot overwrite a main configuration.
_FILE_NAMES = {
    "nginx": "matrix-delegation.nginx.conf",
    "haproxy": "matrix-delegation.haproxy.cfg",
    "caddy": "matrix-delegation.caddy",
    "traefik": "matrix-delegation.traefik.yml",
    "dns": "matrix-delegation.zone",
    "synapse": "homeserver.matrix-delegation.yaml",
}


@dataclass(frozen=True, slots=True)
class Generated:
    """What a generator produced.

    Attributes:
        files: Text of each file, by path relative to the output directory.
        warnings: What the target cannot reproduce, one line each.
    """

    files: dict[str, str]
    warnings: tuple[str, ...] = ()


def generate(
    site: Site,
    target: str,
    *,
    proxy_to: str | None = None,
    legacy_srv: bool = False,
    listen: str | None = None,
    files_root: str | None = None,
) -> Generated:
    """Generate the configuration of ``target`` for ``site``; no I/O.

    Args:
        site: What to publish.
        target: One of :data:`TARGETS`.
        proxy_to: URL of a running ``serve``: web servers forward
            ``/.well-known/matrix/`` to it instead of answering themselves
            (required for traefik).
        legacy_srv: dns: also the deprecated ``_matrix._tcp`` records.
        listen: Web servers: ``ADDRESS:PORT`` to listen on with plain HTTP
            instead of the HTTPS placeholders (for tests, or behind TLS offload).
        files_root: apache: the absolute directory the response files will be in.

    Raises:
        ConfigurationError: Unknown target, bad ``proxy_to``, or traefik without it.
    """
    if target not in TARGETS:
        raise ConfigurationError(f"unknown target {target!r} (one of {', '.join(TARGETS)})")
    proxy = None if proxy_to is None else parse_proxy_to(proxy_to)
    warnings = _ignored_options(target, proxy_to, legacy_srv)
    if target == "nginx":
        files = {_FILE_NAMES[target]: nginx.render(site, proxy_to=proxy, listen=listen)}
    elif target == "haproxy":
        files = {_FILE_NAMES[target]: haproxy.render(site, proxy_to=proxy, listen=listen)}
    elif target == "caddy":
        files = {_FILE_NAMES[target]: caddy.render(site, proxy_to=proxy, listen=listen)}
    elif target == "apache":
        root = files_root or apache.DEFAULT_ROOT
        files = apache.render(site, proxy_to=proxy, listen=listen, files_root=root)
    elif target == "traefik":
        if proxy is None:
            raise ConfigurationError(
                "--for traefik needs --proxy-to URL (a running 'matrix-delegation serve'): "
                "Traefik cannot answer with a literal body"
            )
        files = {_FILE_NAMES[target]: traefik.render(site, proxy_to=proxy)}
    elif target == "static":
        files, warnings = static.render(site), warnings + static.LIMITATIONS
    elif target == "dns":
        files = {_FILE_NAMES[target]: dns.render(site, legacy_srv=legacy_srv)}
    else:
        text, found = synapse.render(site)
        files, warnings = {_FILE_NAMES[target]: text}, warnings + found
    return Generated(files, warnings)


def _ignored_options(target: str, proxy_to: str | None, legacy_srv: bool) -> tuple[str, ...]:
    ignored = []
    if proxy_to is not None and target in ("static", "dns", "synapse"):
        ignored.append(f"--proxy-to is ignored for --for {target}")
    if legacy_srv and target != "dns":
        ignored.append(f"--legacy-srv is ignored for --for {target}")
    return tuple(ignored)


def format_for_stdout(files: dict[str, str]) -> str:
    """One file as it is; several, each after a separator comment naming it."""
    if len(files) == 1:
        return next(iter(files.values()))
    parts = []
    for path, text in files.items():
        ending = "" if text.endswith("\n") else "\n"
        parts.append(f"# ===== file: {path} =====\n{text}{ending}")
    return "".join(parts)
