"""The systemd units in contrib/systemd: valid for systemd, hardened, and runnable commands.

``systemd-analyze verify`` needs the ``ExecStart`` binary to exist: each unit is
checked as a copy whose ``/usr/local/bin/matrix-delegation`` is the script
installed with this package. It prints what it does not like (an unknown key,
a misspelled value) and still exits 0, so its output must be empty.
"""

from __future__ import annotations

import pathlib
import shlex
import shutil
import subprocess
import sys

import pytest

from matrix_delegation._cli import _build_parser, _chosen

UNITS = pathlib.Path(__file__).parents[2] / "contrib" / "systemd"
NAMES = ("serve", "web", "watch")
INSTALLED_AS = "/usr/local/bin/matrix-delegation"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is missing (Debian package systemd)"
)
HARDENING = {
    "DynamicUser": "yes",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "SystemCallArchitectures": "native",
}


def unit_path(name: str) -> pathlib.Path:
    return UNITS / f"matrix-delegation-{name}.service"


def settings(name: str) -> dict[str, list[str]]:
    """Each key of the unit with its values in order (a key may be given again)."""
    found: dict[str, list[str]] = {}
    for line in unit_path(name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def installed_script() -> str:
    beside = pathlib.Path(sys.executable).parent / "matrix-delegation"
    found = str(beside) if beside.exists() else shutil.which("matrix-delegation")
    if found is None:
        pytest.skip("the matrix-delegation script is not installed (pip install -e .)")
    return found


def copy_for_verify(name: str, directory: pathlib.Path, text: str | None = None) -> pathlib.Path:
    copy = directory / unit_path(name).name
    original = unit_path(name).read_text() if text is None else text
    copy.write_text(original.replace(INSTALLED_AS, installed_script()))
    return copy


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60, check=False)


@needs_analyze
@pytest.mark.parametrize("name", NAMES)
def test_systemd_accepts_the_unit(name: str, tmp_path: pathlib.Path) -> None:
    done = analyze("verify", "--man=no", str(copy_for_verify(name, tmp_path)))
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "" and done.stdout.strip() == ""


@needs_analyze
def test_verify_reports_a_misspelled_option(tmp_path: pathlib.Path) -> None:
    """The negative twin: the check above would see a broken hardening line."""
    broken = unit_path("watch").read_text().replace("ProtectSystem=strict", "ProtectSystem=strik")
    done = analyze("verify", "--man=no", str(copy_for_verify("watch", tmp_path, broken)))
    assert "ProtectSystem" in done.stderr or "protect system" in done.stderr.lower()


@needs_analyze
@pytest.mark.parametrize("name", NAMES)
def test_systemd_rates_the_unit_well_protected(name: str, tmp_path: pathlib.Path) -> None:
    done = analyze("security", "--offline=true", str(copy_for_verify(name, tmp_path)))
    if "--offline" in done.stderr:
        pytest.skip("this systemd-analyze has no offline security report")
    overall = done.stdout.strip().splitlines()[-1]
    assert "Overall exposure level" in overall and " OK " in overall, overall


@pytest.mark.parametrize("name", NAMES)
def test_unit_is_hardened(name: str) -> None:
    found = settings(name)
    for key, value in HARDENING.items():
        assert found.get(key) == [value], key
    assert found["StateDirectory"] == [f"matrix-delegation-{name}"]
    assert found["SystemCallFilter"][0] == "@system-service"
    assert found["CapabilityBoundingSet"] == (["CAP_NET_BIND_SERVICE"] if name == "serve" else [""])


@pytest.mark.parametrize("name", NAMES)
def test_reload_is_sighup_where_the_command_rereads(name: str) -> None:
    reload = settings(name).get("ExecReload")
    if name == "web":
        assert reload is None  # web has nothing to read again
    else:
        assert reload == ["/bin/kill -HUP $MAINPID"]


@pytest.mark.parametrize("name", NAMES)
def test_exec_start_is_a_valid_command_line(name: str) -> None:
    """The options of ExecStart are the command's own (an unset $VAR expands to nothing)."""
    [line] = settings(name)["ExecStart"]
    words = [w for w in shlex.split(line) if not w.startswith("$")]
    assert words[0] == INSTALLED_AS and words[1] == name
    args = _build_parser(_chosen(words[1:])).parse_args(words[1:])
    assert args.command == name
