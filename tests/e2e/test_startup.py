"""Start-up stays light: the package and the command line import only what a run needs.

Each case runs in a fresh interpreter and reads its ``sys.modules`` at exit, so
whatever imported a heavy library (directly or through another module) is seen.
Timings are in benchmarks/startup.py, never asserted here.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

import matrix_delegation
from matrix_delegation._core.explain import resolution_json
from matrix_delegation._io import dns_choice
from matrix_delegation.cli import common
from matrix_delegation.resolver import DEFAULT_TIMEOUT, Resolver

SRC = pathlib.Path(matrix_delegation.__file__).parents[1]
HEAVY = {"aiohttp", "dns", "pycares", "cryptography", "signedjson"}
# Runs the command line as `python -m matrix_delegation` does, then writes the names of
# the imported top-level packages to the file named by the first argument.
RUN_CLI = """
import json, runpy, sys
out, sys.argv = sys.argv[1], ["matrix-delegation", *sys.argv[2:]]
try:
    runpy.run_module("matrix_delegation", run_name="__main__", alter_sys=True)
except SystemExit as done:
    code = done.code
with open(out, "w") as f:
    json.dump({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}, f)
"""


def python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def cli(tmp_path: pathlib.Path, *argv: str) -> tuple[int, set[str], str]:
    """Exit status, top-level packages imported, and stdout of ``matrix-delegation argv``."""
    report = tmp_path / "modules.json"
    done = python(RUN_CLI, str(report), *argv)
    assert report.exists(), done.stderr[-2000:]
    found = json.loads(report.read_text())
    return found["code"], set(found["modules"]), done.stdout


def test_importing_the_package_imports_no_aiohttp() -> None:
    code = "import json, sys, matrix_delegation; print(json.dumps(sorted(sys.modules)))"
    done = python(code)
    assert done.returncode == 0, done.stderr
    modules = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert not modules & HEAVY


def test_a_public_name_is_imported_on_first_use() -> None:
    code = (
        "import sys, matrix_delegation as m; r = m.Resolver; "
        "print(r.__module__, 'httptools' in sys.modules, 'Resolver' in vars(m))"
    )
    done = python(code)
    assert done.stdout.split() == ["matrix_delegation.resolver", "True", "True"], done.stderr


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        matrix_delegation.nothing_here  # noqa: B018
    assert set(matrix_delegation.__all__) <= set(dir(matrix_delegation))


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"], ["resolve", "--help"]])
def test_help_imports_no_network_library(tmp_path: pathlib.Path, argv: list[str]) -> None:
    code, modules, stdout = cli(tmp_path, *argv)
    assert code == 0 and stdout.startswith("usage: matrix-delegation")
    assert not modules & HEAVY, modules & HEAVY
    assert "uvloop" not in modules  # only a run needs an event loop
    if argv[0] != "check":  # check's own module uses asyncio
        assert "asyncio" not in modules


def test_resolving_an_ip_literal_imports_no_network_library(tmp_path: pathlib.Path) -> None:
    code, modules, stdout = cli(tmp_path, "resolve", "--json", "1.2.3.4")
    assert code == 0 and json.loads(stdout)["route"] == "ip-literal"
    assert not modules & HEAVY, modules & HEAVY


def test_a_name_that_needs_the_network_takes_the_resolver(tmp_path: pathlib.Path) -> None:
    # --dns-server makes the run use the resolver (which checks the option), even for an
    # IP literal; the server is never asked: step 1 needs no DNS.
    code, modules, stdout = cli(
        tmp_path, "resolve", "--json", "--dns-server", "127.0.0.1:9", "1.2.3.4"
    )
    # The resolver's HTTP client is httptools on asyncio: aiohttp is the web server's only.
    assert code == 0 and "httptools" in modules and "aiohttp" not in modules
    fast_code, _, fast_stdout = cli(tmp_path, "resolve", "--json", "1.2.3.4")
    assert (fast_code, fast_stdout) == (code, stdout)


@pytest.mark.parametrize("name", ["1.2.3.4", "[2001:db8::1]:8000", "127.0.0.1"])
async def test_ip_literal_output_is_the_resolvers(tmp_path: pathlib.Path, name: str) -> None:
    async with Resolver(nameservers=["127.0.0.1:9"]) as resolver:
        resolution = await resolver.resolution(name)
    expected = json.dumps(resolution_json(resolution), indent=2) + "\n"
    code, _, stdout = cli(tmp_path, "resolve", "--json", name)
    assert stdout == expected
    assert code == (0 if resolution.ok else 1)


def test_restated_defaults_match_the_resolvers() -> None:
    assert common.DEFAULT_TIMEOUT == DEFAULT_TIMEOUT
    assert common.DNS_BACKENDS == dns_choice.DNS_BACKENDS
