"""Fixtures of the integration tests: ``sensorhub serve`` as a process of its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sensorhub.testing.broker import PrivateBroker
from tests.conftest import WAIT, Names


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
