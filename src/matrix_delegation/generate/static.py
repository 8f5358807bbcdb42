"""Static hosting: the body files, plus a ``_headers`` file per domain.

``_headers`` is the format of Netlify and Cloudflare Pages: a path on its
own line, then its headers indented, one ``Name: value`` a line. Files a
domain does not publish are left out: the host answers them with its own 404.
"""

from __future__ import annotations

from .._core.site import Site
from ._common import entries, host_label

__all__ = ["LIMITATIONS", "render"]

#: What a static host does differently from serve, for the warnings.
LIMITATIONS = (
    "static: files a domain does not publish get the host's own 404, not the JSON one",
    "static: the host decides how to answer OPTIONS and may replace ETag and "
    "Cache-Control; _headers asks for ours (Netlify and Cloudflare Pages read it)",
)


def render(site: Site) -> dict[str, str]:
    """``<hostname>/.well-known/matrix/<file>`` and ``<hostname>/_headers``, by path."""
    files: dict[str, str] = {}
    for domain in site.domains:
        host = host_label(domain)
        rules: list[str] = []
        for entry in entries(domain):
            if entry.response.status != 200:
                continue
            files[f"{host}{entry.path}"] = entry.body_text
            rules.append(entry.path)
            rules += [f"  {name}: {value}" for name, value in entry.response.headers]
        if rules:
            files[f"{host}/_headers"] = "\n".join(rules) + "\n"
    return files
