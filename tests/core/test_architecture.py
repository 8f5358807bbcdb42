"""The architecture, guarded: no import circles, one JSON reader, one network edge, small modules.

Read with :mod:`ast`, so imports under ``TYPE_CHECKING`` and inside functions count too,
and a name in a comment or a docstring does not.
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Mapping

import matrix_delegation

PACKAGE = pathlib.Path(matrix_delegation.__file__).parent
NAME = "matrix_delegation"
MAX_LINES = 400
JSON_READER = "_core/jsondoc.py"
JSON_DECODERS = {"loads", "load", "JSONDecoder"}
# Listening servers accept connections; only clients must go through _io/.
NETWORK_EDGE = {"_io", "service", "web", "sandbox"}
CONNECTING_CALLS = {
    "ClientSession",
    "TCPConnector",
    "open_connection",
    "create_connection",
    "start_tls",
}
DNS_QUERIES = ("dns.asyncquery", "dns.asyncresolver")


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
TREES = {module: ast.parse(path.read_text()) for module, path in MODULES.items()}


def _relative(module: str) -> str:
    return MODULES[module].relative_to(PACKAGE).as_posix()


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The package modules a ``from ... import ...`` names (a module or its attributes)."""
    if node.level:
        base = module.split(".")
        if MODULES[module].name != "__init__.py":
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, *([node.module] if node.module else [])])
    else:
        target = node.module or ""
    if not target.startswith(NAME):
        return []
    found = []
    for alias in node.names:
        candidate = f"{target}.{alias.name}"
        found.append(candidate if candidate in MODULES else target)
    return found


def imports(module: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(NAME)}
        elif isinstance(node, ast.ImportFrom):
            found |= set(_resolve(module, node))
    # A parent package's __init__ runs first too, but it is not a dependency
    # the importing module chose: only what is named counts.
    return {t for t in found if t in MODULES and t != module}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # recursion depth is bounded by the module count
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = stack[stack.index(node) :]
            del stack[stack.index(node) :]
            if len(component) > 1:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def decodes_json(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            on_json = isinstance(node.value, ast.Name) and node.value.id == "json"
            if node.attr == "raw_decode" or (on_json and node.attr in JSON_DECODERS):
                return True
        elif isinstance(node, ast.Name) and node.id == "JSONDecoder":
            return True
        elif isinstance(node, ast.ImportFrom) and node.module == "json":
            imported = {alias.name for alias in node.names}
            if imported & JSON_DECODERS:
                return True
    return False


def connects(tree: ast.AST) -> set[str]:
    """The connecting calls and DNS query modules ``tree`` uses."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            found |= {name} & CONNECTING_CALLS
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(DNS_QUERIES)}
        elif isinstance(node, ast.ImportFrom):
            names = {f"{node.module}.{a.name}" for a in node.names} | {str(node.module)}
            found |= {name for name in names if name.startswith(DNS_QUERIES)}
        elif isinstance(node, ast.Attribute) and ast.unparse(node).startswith(DNS_QUERIES):
            found.add(ast.unparse(node))
    return found


def test_the_checks_see_what_they_look_for() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert decodes_json(ast.parse("import json\nvalue = json.loads(text)"))
    assert decodes_json(ast.parse("from json import JSONDecoder"))
    assert decodes_json(ast.parse("decoder.raw_decode(text)"))
    assert not decodes_json(ast.parse('"""json.loads(x)"""  # json.loads(x)\njson.dumps(x)'))
    assert connects(ast.parse("aiohttp.ClientSession()")) == {"ClientSession"}
    assert connects(ast.parse("await asyncio.open_connection(host, port)")) == {"open_connection"}
    assert connects(ast.parse("from dns import asyncresolver")) == {"dns.asyncresolver"}
    assert connects(ast.parse("dns.asyncquery.udp(q, where)")) >= {"dns.asyncquery"}
    assert not connects(ast.parse('"""ClientSession()"""  # start_tls(\nsession.get(url)'))


def test_the_import_graph_is_read() -> None:
    assert "matrix_delegation._version" in imports("matrix_delegation._io.network")
    assert "matrix_delegation._base_errors" in imports("matrix_delegation._core.names")


def test_no_import_circles() -> None:
    assert cycles({module: imports(module) for module in MODULES}) == []


def test_one_module_decodes_json() -> None:
    readers = [_relative(module) for module, tree in TREES.items() if decodes_json(tree)]
    assert readers == [JSON_READER]


def test_outgoing_connections_only_under_io() -> None:
    outside = {
        _relative(module): sorted(found)
        for module, tree in TREES.items()
        if _relative(module).split("/")[0] not in NETWORK_EDGE and (found := connects(tree))
    }
    assert outside == {}


def test_no_module_is_over_400_lines() -> None:
    sizes = {_relative(m): len(path.read_text().splitlines()) for m, path in MODULES.items()}
    assert {path: size for path, size in sizes.items() if size > MAX_LINES} == {}
