"""A throwaway PostgreSQL server for tests and benchmarks: ``initdb`` + ``pg_ctl`` in a temp dir.

The server listens on a Unix socket only (``listen_addresses=''``) in a private directory, trusts
local connections, runs with durability switched off (it is thrown away), and is stopped and
deleted on :meth:`PostgresServer.stop`. PostgreSQL refuses to run as root, so when this process is
root the server runs as an unprivileged system user (``postgres`` if present, else ``nobody``)
that owns the temp dir.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "REQUIRE_POSTGRES_ENV",
    "PostgresServer",
    "PostgresUnavailableError",
    "find_postgres_bin",
    "postgres_required",
]

#: Set to ``1`` (``.ci/run`` does) to make a missing PostgreSQL a failure instead of a skip.
REQUIRE_POSTGRES_ENV = "CREDENCIAL_REQUIRE_POSTGRES"
#: The superuser ``initdb`` creates; every connection uses it (trust authentication).
SUPERUSER = "credencial"
#: The sessions' time zone: not UTC, so that a naive or misconverted timestamp shows up in tests.
SERVER_TIMEZONE = "America/Mexico_City"
#: Unprivileged accounts the server may run as when we are root, in order of preference.
_UNPRIVILEGED_USERS = ("postgres", "nobody")
_SEARCH_DIRS = "/usr/lib/postgresql/*/bin"


class PostgresUnavailableError(RuntimeError):
    """PostgreSQL cannot be run here (no server binaries, no driver, or no unprivileged user)."""


def postgres_required() -> bool:
    """Whether the environment demands the PostgreSQL tests (``CREDENCIAL_REQUIRE_POSTGRES=1``)."""
    return os.environ.get(REQUIRE_POSTGRES_ENV, "") not in ("", "0")


def _version_key(directory: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", directory))


def find_postgres_bin() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``: PATH first, then Debian's."""
    on_path = shutil.which("initdb")
    candidates = [str(Path(on_path).resolve().parent)] if on_path else []
    candidates += sorted(glob.glob(_SEARCH_DIRS), key=_version_key, reverse=True)
    for directory in candidates:
        if all(os.access(Path(directory, tool), os.X_OK) for tool in ("initdb", "pg_ctl")):
            return Path(directory)
    raise PostgresUnavailableError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in "
        f"{_SEARCH_DIRS}; install them (Debian: apt-get install postgresql) to run the "
        "PostgreSQL tests"
    )


def _free_port() -> int:
    # Only names the socket file (the server listens on no TCP address); kept unique anyway.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in _UNPRIVILEGED_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailableError(
        "running as root and no unprivileged user "
        f"({', '.join(_UNPRIVILEGED_USERS)}) to run PostgreSQL as (it refuses to run as root)"
    )


@dataclass
class PostgresServer:
    """One throwaway server; use as a context manager, or call :meth:`start` and :meth:`stop`."""

    bin_dir: Path = field(default_factory=find_postgres_bin)
    port: int = field(default_factory=_free_port)
    root: Path = field(init=False)
    user: str = field(init=False, default="")
    _account: pwd.struct_passwd | None = field(init=False, default=None)

    @property
    def socket_dir(self) -> Path:
        """Where the server's Unix socket lives (also the temp dir that holds everything)."""
        return self.root

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        """The server log (shown when start-up fails)."""
        return self.root / "server.log"

    def _run(self, *argv: str) -> None:
        options: dict[str, Any] = {}
        if self._account is not None:
            options = {
                "user": self._account.pw_uid,
                "group": self._account.pw_gid,
                "extra_groups": [],
            }
        with (self.root / "commands.log").open("ab") as output:
            result = subprocess.run(
                [str(self.bin_dir / argv[0]), *argv[1:]],
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "LC_ALL": "C", "TZ": "UTC"},
                timeout=120,
                check=False,
                **options,
            )
        if result.returncode != 0:
            raise RuntimeError(
                f"{argv[0]} failed with exit status {result.returncode}:\n{self._logs()}"
            )

    def _logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")
            for path in (self.root / "commands.log", self.log_file)
            if path.exists()
        )

    def start(self) -> PostgresServer:
        """``initdb`` a fresh cluster in a new temp dir and start it; returns once it accepts."""
        try:
            import psycopg  # noqa: F401  (the driver every connection needs)
        except ImportError as exc:
            raise PostgresUnavailableError(f"the psycopg driver is not installed: {exc}") from exc
        self._account = _run_as()
        self.user = self._account.pw_name if self._account else pwd.getpwuid(os.getuid()).pw_name
        # Directly under the system temp dir: short (a socket path has ~100 bytes) and reachable
        # by the unprivileged account (pytest's own temp root is private to the current user).
        self.root = Path(tempfile.mkdtemp(prefix="credencial-pg-"))
        if self._account is not None:
            os.chown(self.root, self._account.pw_uid, self._account.pw_gid)
        try:
            self._run(
                "initdb", "-D", str(self.data_dir), "--auth=trust", f"--username={SUPERUSER}",
                "--encoding=UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip
            options = (
                f"-k {self.socket_dir} -p {self.port} -c listen_addresses='' -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100 "
                f"-c timezone={SERVER_TIMEZONE}"
            )
            self._run(
                "pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_file),
                "-w", "-t", "60", "-o", options,
            )  # fmt: skip
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.conninfo("postgres"), connect_timeout=5) as connection:
                    connection.execute("SELECT 1")
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not come up:\n{self._logs()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server (immediately: nothing in it is worth keeping) and delete its files."""
        if not hasattr(self, "root"):
            return
        if (self.data_dir / "postmaster.pid").exists():
            # If it is already gone, the files go anyway.
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- databases ------------------------------------------------------------------------------

    def conninfo(self, dbname: str) -> str:
        """A libpq connection string for ``dbname`` (for psycopg directly)."""
        return f"host={self.socket_dir} port={self.port} user={SUPERUSER} dbname={dbname}"

    def url(self, dbname: str) -> str:
        """The SQLAlchemy URL of ``dbname`` (psycopg 3 over the Unix socket)."""
        return f"postgresql+psycopg://{SUPERUSER}@/{dbname}?host={self.socket_dir}&port={self.port}"

    def create_database(self, prefix: str = "t") -> str:
        """Create a new, empty database with a unique name; returns the name."""
        import psycopg
        from psycopg import sql

        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, closing any connection still open to it."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
