"""A private PostgreSQL server for a test: Debian's binaries (`make postgres`), initdb and pg_ctl into a
temporary folder, a unix socket only (no TCP port at all), stopped and removed at the end.

PostgreSQL refuses to run as root: as root the server runs as Debian's ``postgres`` user, in a
folder that user owns; as anyone else, as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.helpers.processes import Service


def bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def problem() -> str | None:
    if bindir() is None:
        return "PostgreSQL is not installed (make postgres)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "no postgres user to run the server as (make postgres)"
    return None


class Server(Service):
    """``with Server() as pg: pg.url("gradebook")``."""

    def __init__(self) -> None:
        self.bin = bindir()
        # Short and traversable by the server's user: a unix socket path is limited to ~107 bytes.
        self.base = Path(tempfile.mkdtemp(prefix="crew-pg-", dir="/tmp"))
        self.data = self.base / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.base, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
        done = subprocess.run([*self.as_user, *argv], capture_output=True, text=True, timeout=timeout,
                              cwd=str(self.base))
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")
        return done

    def start(self) -> "Server":
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "grader", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        # No TCP listener (listen_addresses ''), the socket in our folder, fsync off: a throwaway server.
        options = f"-c listen_addresses='' -k {self.base} -F -c max_connections=50"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.base / "server.log"),
                  "-w", "-t", "60", "start")
        return self

    def create(self, database: str) -> str:
        self._run(str(self.bin / "createdb"), "-h", str(self.base), "-U", "grader", database)
        return self.url(database)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://grader@/{database}?host={self.base}"

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.base, ignore_errors=True)
