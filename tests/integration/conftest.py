"""Fixtures of the integration tests: ``sensorhub serve`` as a process of its own, and a store
taken away (``outage``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest

from sensorhub.testing.broker import PrivateBroker
from tests.conftest import WAIT, Names
from tests.pg import PrivatePostgres


class ServeProcess:
    """``sensorhub serve`` in a process of its own, on the test's broker, store and rules."""

    def __init__(
        self,
        broker: PrivateBroker,
        names: Names,
        rules: Path,
        folder: Path,
        *,
        clock: str,
        store_url: str,
    ) -> None:
        self.command = [
            sys.executable,
            "-m",
            "sensorhub",
            "serve",
            "--broker",
            broker.url,
            "--client-id",
            names.client_id,
            "--prefix",
            names.prefix,
            "--rules",
            str(rules),
            "--store",
            store_url,
            "--clock",
            clock,
            "--lateness",
            "1",
            "--idle-flush",
            "1",
        ]
        self.store_url = store_url
        self.log = folder / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, seed: int | None = None, idle_flush: float = 1.0) -> None:
        """Start it (``PYTHONHASHSEED`` ``seed``, if given) and wait until *this* start listens
        and is connected (the log is shared by all starts)."""
        command = list(self.command)
        command[command.index("--idle-flush") + 1] = f"{idle_flush:g}"
        listening, connected = self._count("listening on"), self._count("connected to MQTT")
        env = {**os.environ} if seed is None else {**os.environ, "PYTHONHASHSEED": str(seed)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while (
            self._count("listening on") <= listening
            or self._count("connected to MQTT") <= connected
        ):
            assert self.process.poll() is None, self.text()
            assert time.monotonic() < deadline, "serve did not start within 60 s"
            time.sleep(0.05)
        time.sleep(0.3)  # it subscribes right after it connects

    @property
    def rules(self) -> Path:
        return Path(self.command[self.command.index("--rules") + 1])

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(WAIT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(WAIT)

    def stop_by(self, how: str) -> None:
        """Stop it with SIGTERM (it must exit cleanly) or SIGKILL (``kill-9``)."""
        assert self.process is not None
        if how == "kill-9":
            self.kill()
            return
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(WAIT) == 0, self.text()

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def _count(self, line: str) -> int:
        return self.text().count(line) if self.log.exists() else 0


@pytest.fixture
def serve_process(
    mosquitto: PrivateBroker, names: Names, tmp_path: Path
) -> Iterator[Callable[..., ServeProcess]]:
    made: list[ServeProcess] = []

    def make(
        rules: Path,
        clock: str = "event",
        broker: PrivateBroker | None = None,
        store_url: str | None = None,
    ) -> ServeProcess:
        store_url = store_url or f"sqlite:///{tmp_path / 'sensorhub.db'}"
        process = ServeProcess(
            broker or mosquitto, names, rules, tmp_path, clock=clock, store_url=store_url
        )
        made.append(process)
        return process

    yield make
    for process in made:
        process.stop()
        print(f"--- {process.log}:\n{process.text()}")  # shown if the test failed


# -- a store taken away and given back (issue 13) ----------------------------------------------


class Outage(Protocol):
    url: str

    def take_away(self) -> None: ...

    def give_back(self) -> None: ...


class FullDisk:
    """The SQLite store on a 2 MiB tmpfs of its own, filled up and freed again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], check=True)
        self.url = f"sqlite:///{folder / 'sensorhub.db'}"
        self.ballast = folder / "ballast"

    def take_away(self) -> None:
        with self.ballast.open("wb") as stream:
            free = os.statvfs(self.folder)
            os.posix_fallocate(stream.fileno(), 0, free.f_bavail * free.f_frsize)
        assert os.statvfs(self.folder).f_bavail == 0

    def give_back(self) -> None:
        self.ballast.unlink()

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.folder)], check=False)


class StoppedPostgres:
    """A database of the private PostgreSQL, whose server is stopped and started again."""

    def __init__(self, server: PrivatePostgres) -> None:
        self.server = server
        self.url = server.create_database()

    def take_away(self) -> None:
        self.server.stop()

    def give_back(self) -> None:
        self.server.start_again()

    def close(self) -> None:
        if not self.server._running:  # a test failed while it was stopped
            self.server.start_again()


@pytest.fixture(params=["full-disk", "postgresql-stopped"])
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    made: FullDisk | StoppedPostgres
    if request.param == "full-disk":
        made = FullDisk(tmp_path / "disk")
    else:
        made = StoppedPostgres(request.getfixturevalue("postgres"))
    try:
        yield made
    finally:
        made.close()
