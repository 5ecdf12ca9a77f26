"""A disposable PostgreSQL server for the sink tests and bench/sink.py.

``PostgresServer`` runs Debian's ``initdb`` and ``pg_ctl`` (package ``postgresql``, which
tests/run.sh installs when it is missing) on a fresh data directory under the system temp
directory, listening on 127.0.0.1 and a free port with trust authentication, and removes
everything on ``stop()``. PostgreSQL refuses to run as root, so when we are root the server
runs as the ``postgres`` user, and the data directory lives outside /root and pytest's
private temp tree, which that user cannot enter.

    with PostgresServer() as pg:
        url = pg.create_database("t1")      # postgres://kabar@127.0.0.1:PORT/t1
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

START_TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, or the server would not start."""


def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: Debian keeps them in /usr/lib/postgresql/<major>/bin."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(os.path.realpath(on_path)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parent.parent.name))
    return Path(versions[-1]).parent if versions else None


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster with superuser ``kabar``, stopped and deleted on exit."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.bin_dir = postgres_bin_dir()
        self.root: Path | None = None
        self._user: str | None = None

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://kabar@{self.host}:{self.port}/{dbname}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert self.bin_dir is not None
        try:
            return subprocess.run([str(self.bin_dir / args[0]), *args[1:]], user=self._user,
                                  capture_output=True, text=True, check=True,
                                  timeout=START_TIMEOUT_S)
        except subprocess.CalledProcessError as exc:
            raise PostgresUnavailable(
                f"{args[0]} failed ({exc.returncode}): {exc.stderr.strip() or exc.stdout}"
            ) from exc

    def start(self) -> PostgresServer:
        if self.bin_dir is None:
            raise PostgresUnavailable(
                "PostgreSQL server binaries not found (apt-get install postgresql)")
        self._user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="kabar-pg-", dir="/tmp"))
        if self._user:
            owner = pwd.getpwnam(self._user)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data_dir), "-U", "kabar", "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        self.port = _free_port(self.host)
        # fsync off: a test cluster never survives a machine crash, and it is 2x faster
        options = (f"-c listen_addresses={self.host} -c port={self.port} "
                   f"-c unix_socket_directories={self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", str(START_TIMEOUT_S), "start")
        atexit.register(self.stop)
        return self

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.data_dir / "postmaster.pid").exists():
            # already gone or not: the directory goes anyway
            with contextlib.suppress(PostgresUnavailable):
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
