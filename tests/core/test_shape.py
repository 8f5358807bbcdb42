"""The package's shape: a pure core, and a public API that says what it exports."""

from __future__ import annotations

import ast
import pathlib

import matrix_delegation

CORE = pathlib.Path(matrix_delegation.__file__).parent / "_core"
IO_MODULES = {"asyncio", "socket", "ssl", "dns", "aiohttp", "time", "selectors", "http"}


def imported_modules(path: pathlib.Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_core_does_no_io() -> None:
    for path in sorted(CORE.glob("*.py")):
        assert not imported_modules(path) & IO_MODULES, path.name


def test_all_lists_exactly_the_public_names() -> None:
    # dir(), not vars(): the package imports its public names on first use (PEP 562).
    public = {
        name
        for name in dir(matrix_delegation)
        if not name.startswith("_") and not isinstance(getattr(matrix_delegation, name), type(ast))
    }
    assert set(matrix_delegation.__all__) - {"__version__"} == public


def test_every_public_name_is_documented() -> None:
    for name in matrix_delegation.__all__:
        value = getattr(matrix_delegation, name)
        if callable(value):
            assert value.__doc__, name
