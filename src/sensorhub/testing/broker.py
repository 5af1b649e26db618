"""A private Mosquitto broker on a free loopback port, for the demo and the tests.

``PrivateBroker`` starts the ``mosquitto`` binary with a configuration of its own in a private
temporary directory: it listens on 127.0.0.1 only, lets anyone in (nobody else can reach it),
keeps QoS 1 sessions on disk so that a restart (``stop()`` then ``start()``, on the same port)
delivers what was queued while it was down, and logs to a file whose tail is shown when it does
not come up. It never leaves a process behind: ``stop()`` terminates, waits, and kills if need be,
and a finalizer does the same should the object be dropped without being stopped.

    with PrivateBroker() as broker:
        print(broker.url)  # mqtt://127.0.0.1:PORT
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Self

logger = logging.getLogger(__name__)

HOST: Final = "127.0.0.1"
FALLBACK_BINARY: Final = "/usr/sbin/mosquitto"
#: How long ``start()`` waits for the broker to accept connections.
START_TIMEOUT: Final = 10.0
#: How long ``stop()`` waits after SIGTERM before it kills the broker.
STOP_TIMEOUT: Final = 5.0
LOG_TAIL_LINES: Final = 20


class BrokerError(RuntimeError):
    """The private broker could not be found or started."""


def find_mosquitto() -> str:
    """The path of the ``mosquitto`` binary, or a ``BrokerError`` that says how to install it."""
    found = shutil.which("mosquitto")
    if found:
        return found
    if os.access(FALLBACK_BINARY, os.X_OK):
        return FALLBACK_BINARY
    raise BrokerError(
        "mosquitto is not installed (not on PATH, not at /usr/sbin/mosquitto); sensorhub starts "
        "a private broker when no --broker is given, and the tests need one too. Run "
        "scripts/setup, or `apt-get install mosquitto` (Debian/Ubuntu) / `brew install mosquitto` "
        "(macOS), or pass --broker mqtt://HOST:PORT to use a broker you already run."
    )


def free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


#: MQTT 3.1.1 CONNECT (clean session, keepalive 60 s, empty client id) and its CONNACK.
_CONNECT: Final = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"
_CONNACK_ACCEPTED: Final = b"\x20\x02\x00\x00"
_DISCONNECT: Final = b"\xe0\x00"


def _speaks_mqtt(host: str, port: int) -> bool:
    """Whether an MQTT broker answers on ``host:port`` (not merely some process listening)."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(_CONNECT)
            answer = b""
            while len(answer) < len(_CONNACK_ACCEPTED):
                chunk = sock.recv(len(_CONNACK_ACCEPTED) - len(answer))
                if not chunk:
                    return False
                answer += chunk
            sock.sendall(_DISCONNECT)
            return answer == _CONNACK_ACCEPTED
    except OSError:
        return False


def _kill(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """Terminate ``process``, wait for it, and kill it if it does not go."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        logger.warning(
            "mosquitto (pid %d) ignored SIGTERM for %.0f s; killing it", process.pid, timeout
        )
        process.kill()
        process.wait()


class PrivateBroker:
    """A Mosquitto of our own on 127.0.0.1, started by ``start()`` or ``with``."""

    def __init__(self, *, binary: str | None = None, port: int | None = None) -> None:
        self._binary = binary
        self._port = port
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes]], PrivateBroker] | None = None

    # -- where it is ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        if self._port is None:
            raise BrokerError("the private broker has not been started yet")
        return self._port

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def directory(self) -> Path:
        """The private directory with the configuration, the log and the persistence file."""
        if self._dir is None:
            raise BrokerError("the private broker has not been started yet")
        return Path(self._dir.name)

    @property
    def log_path(self) -> Path:
        return self.directory / "mosquitto.log"

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the broker; after a ``stop()``, start it again on the same port and state."""
        if self.running:
            return
        binary = self._binary or find_mosquitto()
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="sensorhub-mosquitto-")
        if self._port is None:
            self._port = free_port()
        config = self.directory / "mosquitto.conf"
        config.write_text(self._config(), encoding="utf-8")
        if self._output is None:
            self._output = (self.directory / "mosquitto.out").open("ab")
        self._process = subprocess.Popen(
            [binary, "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            # its own session: a Ctrl-C in the terminal reaches us, and we stop the broker
            # after the service has said goodbye, not at the same moment
            start_new_session=True,
        )
        self._finalizer = weakref.finalize(self, _kill, self._process)
        try:
            self._wait_until_listening()
        except BaseException:
            self.stop()
            raise
        logger.debug("private mosquitto (pid %d) listens on %s", self._process.pid, self.url)

    def stop(self) -> None:
        """Stop the broker (it saves its sessions); ``start()`` brings it back on the same port."""
        if self._finalizer is not None:
            self._finalizer()  # runs _kill once
            self._finalizer = None
        self._process = None

    def close(self) -> None:
        """Stop the broker and remove its private directory."""
        self.stop()
        if self._output is not None:
            self._output.close()
            self._output = None
        if self._dir is not None:
            self._dir.cleanup()
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

    # -- inside --------------------------------------------------------------------------------

    def _config(self) -> str:
        lines = [
            "# written by sensorhub.testing.broker.PrivateBroker",
            f"listener {self.port} {HOST}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.directory}/",
            "persistence_file mosquitto.db",
            "autosave_interval 1",
            # Mosquitto queues only 1000 QoS 1 messages for a client that is away or behind,
            # and drops the rest: sensorhub must lose no event, so the queue is unbounded.
            "max_queued_messages 0",
            # sensorhub acknowledges an event only once it is written to its store (a round of
            # up to 2000 messages): Mosquitto's default of 20 unacknowledged messages in flight
            # per client would hold the stream to 20 per round, and even 1000 stops the broker
            # while a round is written at 20,000 messages/s (the next round waits at the broker).
            "max_inflight_messages 10000",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp true",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # As root, mosquitto would drop to the "mosquitto" user, which cannot write to our
            # private (0700) directory; it only listens on loopback, so it may stay root.
            lines.append("user root")
        return "\n".join(lines) + "\n"

    def _wait_until_listening(self) -> None:
        assert self._process is not None  # noqa: S101 - start() set it
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerError(
                    f"mosquitto exited with status {self._process.returncode} right after "
                    f"starting on {self.url}.\n{self._log_tail()}"
                )
            if _speaks_mqtt(HOST, self.port):
                return
            time.sleep(0.05)
        raise BrokerError(
            f"mosquitto did not answer MQTT on {self.url} within {START_TIMEOUT:g} s.\n"
            f"{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        parts = []
        for name in ("mosquitto.log", "mosquitto.out"):
            path = self.directory / name
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            tail = text.splitlines()[-LOG_TAIL_LINES:]
            if tail:
                parts.append(f"last lines of {path}:\n" + "\n".join(tail))
        return "\n".join(parts) or "(mosquitto wrote no log)"
