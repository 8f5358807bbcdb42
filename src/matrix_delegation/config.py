"""Reading site configuration files: our YAML format, or Synapse's homeserver.yaml.

The decisions live in :mod:`._core.site_config`; this module only reads
files and reports YAML syntax errors with their line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from ._core.site import Site
from ._core.site_config import SiteConfigError, site_from_config, site_from_synapse

__all__ = ["SiteConfigError", "load_site"]


def load_site(
    config: str | None = None, synapse_configs: Sequence[str] = ()
) -> tuple[Site, list[str]]:
    """Load a site from ``config`` or from one or more homeserver.yaml files.

    Several Synapse files merge as Synapse merges them: top-level keys of a
    later file replace those of an earlier one.

    Returns:
        The site and its warnings (one line each).

    Raises:
        SiteConfigError: A file cannot be read or the configuration is invalid.
    """
    if (config is None) == (not synapse_configs):
        raise SiteConfigError(["give either a config file or Synapse config files, not both"])
    if config is not None:
        return site_from_config(_read_yaml(config), config)
    merged: dict[str, Any] = {}
    for path in synapse_configs:
        document = _read_yaml(path)
        if document is None:
            continue
        if not isinstance(document, dict):
            raise SiteConfigError([f"{path}: a Synapse config must be a mapping"])
        merged.update(document)
    return site_from_synapse(merged, " + ".join(synapse_configs))


def _read_yaml(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except OSError as exc:
        raise SiteConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise SiteConfigError([f"{path}: not UTF-8 text"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SiteConfigError([f"{path}: {where}invalid YAML: {problem}"]) from None
