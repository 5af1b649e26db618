"""A private PostgreSQL cluster for the tests: initdb in a temporary directory, a free port.

``PrivatePostgres`` runs the server binaries of the newest ``/usr/lib/postgresql/*/bin`` (or
those of ``pg_config --bindir`` / PATH) on 127.0.0.1 and a Unix socket in its own directory,
with trust authentication (nobody else can reach it), and removes it all on ``close()``. As
root it runs the server as the ``postgres`` user (or ``nobody``), since initdb refuses root, and
gives that user its directory. Without the binaries it fails with the way to install them.

    with PrivatePostgres() as pg:
        url = pg.create_database()  # postgresql://postgres@127.0.0.1:PORT/test_...
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg

from sensorhub.testing.broker import HOST, free_port

START_TIMEOUT = 30.0
SUPERUSER = "postgres"


class PostgresMissingError(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def find_bindir() -> Path:
    """The directory of initdb, pg_ctl and postgres; else PostgresMissingError, saying how."""
    candidates = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda p: _version(p.parent.name),
        reverse=True,
    )
    for name in ("initdb", "pg_ctl"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found).parent)
    for bindir in candidates:
        if all(os.access(bindir / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise PostgresMissingError(
        "the PostgreSQL server binaries (initdb, pg_ctl, postgres) are not installed: not under "
        "/usr/lib/postgresql/*/bin nor on PATH. The store tests start a private PostgreSQL; run "
        "scripts/setup (it installs the `postgresql` package), or `apt-get install postgresql` "
        "(Debian/Ubuntu) / `brew install postgresql` (macOS)."
    )


def _version(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return (0,)


def _server_user() -> pwd.struct_passwd | None:
    """As root: the unprivileged user to run the server as. Otherwise None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresMissingError(
        "running as root, and there is neither a `postgres` nor a `nobody` user to run the "
        "private PostgreSQL as (initdb refuses root); run the tests as another user, or create "
        "one: useradd --system postgres"
    )


def _traversable_tmp() -> str:
    """A temporary directory that the server user can reach (not a root-only 0700 parent)."""
    base = tempfile.gettempdir()
    path = Path(base).resolve()
    for part in (path, *path.parents):
        if not part.stat().st_mode & 0o001:
            return "/tmp"  # noqa: S108 - world-traversable by definition; our own subdirectory
    return base


class PrivatePostgres:
    """A PostgreSQL server of our own, started by ``start()`` or ``with``."""

    def __init__(self) -> None:
        self._bindir: Path | None = None
        self._dir: Path | None = None
        self._user = _server_user()
        self.port = 0
        self._running = False

    @property
    def directory(self) -> Path:
        if self._dir is None:
            raise RuntimeError("the private PostgreSQL has not been started")
        return self._dir

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{database}"

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        try:
            self._bindir = find_bindir()
            self._dir = Path(tempfile.mkdtemp(prefix="sensorhub-pg-", dir=_traversable_tmp()))
            if self._user is not None:
                os.chown(self._dir, self._user.pw_uid, self._user.pw_gid)
            self._run(
                "initdb",
                "-D",
                str(self._dir / "data"),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            )
            self._run(
                "mkdir", str(self._dir / "run"), binary=Path(shutil.which("mkdir") or "/bin/mkdir")
            )
            self.port = free_port()
            self._start_server()
        except BaseException:
            self.close()
            raise

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                psycopg.connect(self.admin_url, connect_timeout=2).close()
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
            else:
                return

    def restart(self) -> None:
        """Stop the server and start it again on the same port and data (clients are cut off)."""
        self.stop()
        self._start_server()

    def start_again(self) -> None:
        """Start the server ``stop()`` stopped, on the same port and data."""
        self._start_server()

    def _start_server(self) -> None:
        data, sockets = self.directory / "data", self.directory / "run"
        options = f"-p {self.port} -k {sockets} -c listen_addresses={HOST} -c fsync=on"
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(data),
            "-l",
            str(self.directory / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            str(int(START_TIMEOUT)),
        )
        self._running = True
        self._wait_until_ready()

    def stop(self) -> None:
        if self._running and self._dir is not None:
            self._running = False
            self._run("pg_ctl", "stop", "-D", str(self._dir / "data"), "-m", "fast", "-w")

    def close(self) -> None:
        try:
            self.stop()
        finally:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- databases -----------------------------------------------------------------------------

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")  # name is ours: hex digits
        return self.url(name)

    # -- inside --------------------------------------------------------------------------------

    def _run(self, program: str, *args: str, binary: Path | None = None) -> None:
        assert self._bindir is not None
        command = [str(binary or self._bindir / program), *args]
        extra: dict[str, Any] = {}
        env = dict(os.environ, LC_ALL="C", LANG="C")
        if self._user is not None:
            extra = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
            env["HOME"] = str(self.directory)
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=env,
            cwd=self.directory,
            check=False,
            timeout=START_TIMEOUT * 2,
            **extra,
        )
        if result.returncode != 0:
            log = self.directory / "server.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(
                f"{program} {' '.join(args)} failed with status {result.returncode}:\n"
                f"{result.stdout}{result.stderr}{tail}"
            )
