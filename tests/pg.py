"""A throwaway PostgreSQL cluster for the tests: ``initdb`` in a temp dir, one server on loopback.

One cluster per test session (per xdist worker): ``conftest.postgres`` hands each test a fresh
database owned by the unprivileged role ``cockpit`` (the role and grants docs/team.md prescribes: it
owns its database and nothing else). A test that must stop the server (an outage) makes a cluster of
its own with :class:`PgCluster` and stops and starts it with :meth:`PgCluster.stop`/:meth:`start`.

The server refuses to run as root, so as root the data directory is given to the ``postgres`` user
and every server tool runs as that user; otherwise as the current user. Stopped by ``pg_ctl stop``
(which signals the postmaster's own pid from its pid file); the directory is removed at the end.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from services import need

ADMIN = "cockpit_admin"  # the cluster's superuser: makes databases, never used by the cockpit
ROLE = "cockpit"  # the cockpit's own role: owns its database, nothing more (docs/team.md)


def bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        need("postgresql", "not installed (apt-get install -y postgresql)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """``url(db)`` names a database as the cockpit's role; ``admin(sql)`` runs SQL as the superuser."""

    def __init__(self, fsync: bool = False) -> None:
        self.fsync = fsync  # off for tests (throwaway data); on to measure durable commits (bench/pg_intent.py)
        self.bin = bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="cockpit-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = _free_port()
        self._user: str | None = None
        self._n = itertools.count(1)
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                need("postgresql", "running as root needs the 'postgres' user to own the cluster")
            self._user = "postgres"
            shutil.chown(self.dir, "postgres")
        self.dir.chmod(0o755)

    def _tool(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True, text=True,
                              timeout=timeout, user=self._user, cwd=self.dir)

    def start(self) -> PgCluster:
        if not self.data.exists():
            done = self._tool("initdb", "-D", str(self.data), "-A", "trust", "-U", ADMIN, "--no-sync")
            if done.returncode != 0:
                need("postgresql", f"initdb failed: {done.stderr[-400:]}")
        opts = f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync={'on' if self.fsync else 'off'}"
        done = self._tool("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.log), "-w", "-t", "30", "start")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr[-400:]} {self.log_tail()}")
        if not self._admin_ok():
            self.admin(f"CREATE ROLE {ROLE} LOGIN")
        return self

    def _admin_ok(self) -> bool:
        rows = self.admin(f"SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}'")
        return bool(rows)

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop`` (it signals the postmaster by the pid in its pid file); bounded."""
        if (self.data / "postmaster.pid").exists():
            self._tool("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-600:]
        except OSError:
            return ""

    def admin(self, sql: str, db: str = "postgres") -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=ADMIN, dbname=db, autocommit=True,
                             connect_timeout=5) as conn:
            cur = conn.execute(sql)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def new_database(self) -> str:
        """A fresh database owned by the cockpit's role; returns its URL."""
        name = f"t{os.getpid()}_{next(self._n)}"
        self.admin(f"CREATE DATABASE {name} OWNER {ROLE}")
        return self.url(name)

    def url(self, db: str, user: str = ROLE) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}"

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._tool("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), timeout=10).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres not ready in {timeout}s: {self.log_tail()}")
