"""The names to watch: from the command line, a file, or a ``serve`` site config."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .._core.names import ServerName
from .._exceptions import InvalidServerName

__all__ = ["NameList"]


class NameList:
    """Reads the names again at each :meth:`load` (SIGHUP); an invalid one is reported
    once, however often it is read, and skipped."""

    def __init__(
        self,
        sources: Callable[[], Iterable[tuple[str, str]]],
        warn: Callable[[str], None],
    ) -> None:
        self._sources, self._warn = sources, warn
        self._reported: set[str] = set()

    def load(self) -> list[str]:
        """Every valid name, each once, in the order first given."""
        found: dict[str, None] = {}
        for name, where in self._sources():
            try:
                ServerName.parse(name)
            except InvalidServerName as exc:
                if name not in self._reported:
                    self._reported.add(name)
                    self._warn(f"{where}: skipped: {exc}")
                continue
            found[name] = None
        return list(found)
