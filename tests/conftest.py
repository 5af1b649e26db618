"""Shared fixtures: a private Mosquitto, unique topics, a running service, an MQTT test client.

Broker tests are marked ``@pytest.mark.mqtt`` (run them apart with ``-m mqtt``, or leave them
out with ``-m "not mqtt"``). Nothing is skipped: without mosquitto the broker tests fail with
the error that says how to install it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sensorhub.io.mqtt import MqttSettings
from sensorhub.testing.broker import PrivateBroker
from tests.pg import PostgresMissingError, PrivatePostgres

if TYPE_CHECKING:
    from sensorhub.commands.serve import Service
    from sensorhub.store import Store

#: How long a test waits for something that should happen within a second or two.
WAIT = 15.0


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Wait until ``predicate()`` holds; fail the test, saying ``what`` it waited for, after
    ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g} s for {what}")
        time.sleep(0.01)


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[PrivateBroker]:
    """One private Mosquitto for the whole session, on a free loopback port."""
    with PrivateBroker() as broker:
        yield broker


@pytest.fixture
def own_broker() -> Iterator[PrivateBroker]:
    """A private Mosquitto for one test, for tests that stop and restart it."""
    with PrivateBroker() as broker:
        yield broker


@dataclass(frozen=True)
class Names:
    """Topic prefix, site and client id that no other test uses."""

    prefix: str
    site: str
    client_id: str

    def topic(self, room: str, kind: str, device: str | None = None) -> str:
        return f"{self.prefix}/{self.site}/{room}/{kind}/{device or f'{room}-{kind}'}"

    @property
    def pages(self) -> str:
        return f"sensorhub/pages/{self.site}/#"


@pytest.fixture
def names() -> Names:
    hex_ = uuid.uuid4().hex[:12]
    return Names(prefix=f"t{hex_}", site=f"s{hex_}", client_id=f"sensorhub-test-{hex_}")


# -- an MQTT client for the test's side ------------------------------------------------------


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class TestClient:
    """Publishes like a sensor and collects what sensorhub publishes."""

    __test__ = False  # not a test class

    broker: PrivateBroker
    topics: list[str]
    messages: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:12]}"
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect(self.broker.host, self.broker.port)
        self._client.loop_start()
        if not self.topics:
            self._subscribed.set()
        assert self._subscribed.wait(WAIT), "the test client could not subscribe"

    def _on_connect(self, client: paho.Client, *_: Any) -> None:
        if self.topics:
            client.subscribe([(topic, 1) for topic in self.topics])

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._changed:
            self.messages.append(
                Received(message.topic, bytes(message.payload), message.qos, bool(message.retain))
            )
            self._changed.notify_all()

    def publish(
        self,
        topic: str,
        payload: bytes | str | dict[str, Any],
        qos: int = 1,
        *,
        retain: bool = False,
    ) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        self._client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(WAIT)

    def wait_for(
        self, predicate: Callable[[Received], bool], count: int = 1, timeout: float = WAIT
    ) -> list[Received]:
        """The first ``count`` messages that match ``predicate``; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [m for m in self.messages if predicate(m)]
                if len(found) >= count:
                    return found[:count]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(
                        f"waited {timeout:g} s for {count} matching messages, got "
                        f"{len(found)}; all received: {self.messages}"
                    )
                self._changed.wait(remaining)

    def matching(self, predicate: Callable[[Received], bool]) -> list[Received]:
        with self._changed:
            return [m for m in self.messages if predicate(m)]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def mqtt_client(mosquitto: PrivateBroker) -> Iterator[Callable[..., TestClient]]:
    """``mqtt_client(topics, broker=mosquitto)``: a connected, subscribed test client."""
    clients: list[TestClient] = []

    def make(topics: list[str], broker: PrivateBroker | None = None) -> TestClient:
        client = TestClient(broker or mosquitto, topics)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# -- sensorhub serve in a thread -------------------------------------------------------------


@dataclass
class RunningService:
    service: Service
    thread: threading.Thread
    stop_event: threading.Event

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the service did not stop within its time"


@pytest.fixture
def serve(
    mosquitto: PrivateBroker, names: Names, tmp_path: Path
) -> Iterator[Callable[..., RunningService]]:
    """``serve(broker=mosquitto, rules=None, store=None, **ServiceOptions)``: a Service in a
    thread, connected (on ``store`` if given, which the test then closes).

    Defaults to the test's unique prefix and client id, the event clock, and a store file of
    the test's own (the same for every service the test starts, as after a restart).
    """
    # imported here, so that a module still being written breaks only the tests that use it
    from sensorhub.commands.serve import Service, ServiceOptions  # noqa: PLC0415
    from sensorhub.rules import load_policy  # noqa: PLC0415

    running: list[RunningService] = []

    def start(
        broker: PrivateBroker | None = None,
        *,
        client_id: str | None = None,
        rules: Path | None = None,
        store: Store | None = None,
        **options: Any,
    ) -> RunningService:
        settings = MqttSettings.from_url(
            (broker or mosquitto).url, client_id=client_id or names.client_id
        )
        options.setdefault("prefix", names.prefix)
        options.setdefault("clock", "event")
        options.setdefault("store_url", f"sqlite:///{tmp_path / 'sensorhub.db'}")
        service = Service(load_policy(rules), settings, ServiceOptions(**options), store=store)
        stop_event = threading.Event()
        thread = threading.Thread(
            target=service.run_forever, args=(stop_event,), name="sensorhub-serve", daemon=True
        )
        handle = RunningService(service, thread, stop_event)
        running.append(handle)
        thread.start()
        assert service.connection.wait_connected(WAIT), "the service did not connect"
        return handle

    yield start
    for handle in running:
        handle.stop()


# -- stores of both backends -------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[PrivatePostgres]:
    """One private PostgreSQL cluster for the session; fails (not skips) without the binaries."""
    try:
        server = PrivatePostgres()
        server.start()
    except PostgresMissingError as error:
        pytest.fail(str(error))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a new, empty store of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sensorhub.db'}"
    server: PrivatePostgres = request.getfixturevalue("postgres")
    return server.create_database()
