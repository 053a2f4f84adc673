"""A throwaway PostgreSQL server: initdb + pg_ctl into a directory, on a free loopback port.

Used by `fireline demo`, the lab and the test suite. As root, PostgreSQL refuses to run, so the server runs
as the `postgres` system user through `runuser`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from runner.errors import FirelineError


class PostgresUnavailable(FirelineError):
    """PostgreSQL server binaries are missing or the server did not start."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_pg_bin() -> Path:
    """Directory holding initdb/pg_ctl: PATH first, then Debian's versioned layout."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(os.path.realpath(on_path)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (hint: apt-get install postgresql, or run .ci/setup)"
    )


class ThrowawayPostgres:
    """A PostgreSQL cluster in `base_dir`, listening on 127.0.0.1 only; stopped and removed by `stop()`."""

    def __init__(self, base_dir: Path, port: int | None = None, superuser: str = "fireline") -> None:
        self.base_dir = Path(base_dir)
        self._as_root = os.geteuid() == 0
        # As root the server runs as `postgres`, which cannot enter a root-only (0700) temp dir such as
        # pytest's tmp_path or ~root: its files then live in a postgres-owned temp dir of their own.
        self.data_dir = self.base_dir / "pgdata"
        self._own_dir: Path | None = None
        self.port = port or _free_port()
        self.host = "127.0.0.1"
        self.superuser = superuser
        self._bin = find_pg_bin()

    # -- lifecycle ---------------------------------------------------------------------------------
    def __enter__(self) -> ThrowawayPostgres:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _cmd(self, *argv: str) -> list[str]:
        cmd = [str(self._bin / argv[0]), *argv[1:]]
        return ["runuser", "-u", "postgres", "--", *cmd] if self._as_root else cmd

    def start(self, max_connections: int = 100) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self._as_root and self._own_dir is None:
            self._own_dir = Path(tempfile.mkdtemp(prefix="fireline-pg-"))
            pw = pwd.getpwnam("postgres")
            os.chown(self._own_dir, pw.pw_uid, pw.pw_gid)
            self.data_dir = self._own_dir / "pgdata"
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                self.superuser,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
                "--locale=C",
            )
        options = (
            f"-c listen_addresses={self.host} -c port={self.port} -c unix_socket_directories='' "
            f"-c max_connections={max_connections} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c shared_buffers=32MB"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 0.5):
                return
            time.sleep(0.05)
        raise PostgresUnavailable(f"PostgreSQL did not accept connections on port {self.port}")

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            subprocess.run(
                self._cmd("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"),
                capture_output=True,
                check=False,
            )
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    def _run(self, *argv: str) -> None:
        proc = subprocess.run(self._cmd(*argv), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            log = self.log_path
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(f"{argv[0]} failed: {proc.stderr.strip()}\n{tail}".strip())

    # -- access ------------------------------------------------------------------------------------
    def dsn(self, dbname: str = "postgres", user: str | None = None) -> str:
        return f"postgresql://{user or self.superuser}@{self.host}:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL through the psql client; returns unaligned tuples-only output."""
        proc = subprocess.run(
            [str(self._bin / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", self.dsn(dbname), "-c", sql],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise PostgresUnavailable(f"psql failed: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.dsn(name)
