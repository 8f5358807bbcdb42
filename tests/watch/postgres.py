"""A real PostgreSQL for the tests: Debian's ``postgresql`` package, started in a temporary
directory as an unprivileged user (``nobody`` when the tests run as root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

__all__ = ["Postgres", "find_program"]

USER = "watch"
START_LIMIT = 60  # seconds for pg_ctl to see the server accept connections


def find_program(name: str) -> str | None:
    """A PostgreSQL program on PATH, or in Debian's versioned directory."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Postgres:
    """One server on 127.0.0.1, trusting local connections, its data in a temporary directory."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="watch-pg-"))
        self.data = self.directory / "data"
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            nobody = pwd.getpwnam("nobody")
            os.chown(self.directory, nobody.pw_uid, nobody.pw_gid)
            self._as = ["runuser", "-u", "nobody", "--"]

    def _run(self, *argv: str) -> None:
        subprocess.run([*self._as, *argv], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        initdb, pg_ctl = find_program("initdb"), find_program("pg_ctl")
        assert initdb and pg_ctl
        if not self.data.exists():
            self._run(initdb, "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.directory} -c fsync=off"
        log = str(self.directory / "server.log")
        self._run(pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w",
                  "-t", str(START_LIMIT), "start")  # fmt: skip

    def pause(self) -> None:
        """Stop the server, keeping its data (``start`` brings it back on the same port)."""
        pg_ctl = find_program("pg_ctl")
        if pg_ctl and self.data.exists():
            self._run(pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        self.pause()
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    async def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import asyncpg

        name = "t" + uuid.uuid4().hex[:12]
        connection = await asyncpg.connect(self.url())
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.url(name)
