"""What a report keeps of the bodies it judged: parsed values and short excerpts.

Reports are cached and served again, so each keeps only what its verdict and
its outputs (``check --json``, the web page, ``/api/report``) show: the raw
bodies, up to 512 KiB each and several per endpoint, are dropped once judged.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Final

from .._core.jsondoc import read_json
from .._core.wellknown import parse_server_body
from .._io.probe import EndpointProbe, HttpResult

__all__ = ["bounded_server", "kept_probe", "keys_document", "served_m_server"]

#: A key response is kept as served (the tester's ``Keys``) up to this size; real ones
#: are well under 1 KiB.
KEYS_DOCUMENT_KEPT: Final = 8 * 1024
#: A version answer's ``server`` object is kept as served up to this size (as JSON).
SERVER_KEPT: Final = 1024


def kept_probe(probe: EndpointProbe) -> EndpointProbe:
    """``probe`` with only an excerpt of each body."""
    return dataclasses.replace(
        probe,
        version=_excerpt(probe.version),
        keys=_excerpt(probe.keys),
        well_known=_excerpt(probe.well_known),
    )


def _excerpt(result: HttpResult | None) -> HttpResult | None:
    return None if result is None else result.excerpt()


def keys_document(probe: EndpointProbe) -> Any:
    """The key response as served, parsed, when it is a 200 JSON body of a sane size."""
    result = probe.keys
    if result is None or result.status != 200 or len(result.body) > KEYS_DOCUMENT_KEPT:
        return None
    return read_json(result.body, max_bytes=KEYS_DOCUMENT_KEPT, any_top_level=True).value


def bounded_server(server: dict[str, Any]) -> dict[str, Any]:
    """The version answer's ``server`` object, or only its name and version if it is large."""
    if len(json.dumps(server, default=str)) <= SERVER_KEPT:
        return server
    return {field: _clip(server.get(field)) for field in ("name", "version")}


def _clip(value: object) -> str | None:
    return value[: SERVER_KEPT // 4] if isinstance(value, str) else None


def served_m_server(result: HttpResult | None) -> str | None:
    """The ``m.server`` a ``.well-known`` answer serves, when it serves a valid one."""
    if result is None or result.status != 200:
        return None
    server = parse_server_body(result.body)[1]
    return None if server is None else str(server)
