"""Pages staff can rely on: acknowledgement, escalation, and nothing lost across restarts.

The service runs against a real Mosquitto and a real SQLite store file; the restart tests run
``sensorhub serve`` as a process of its own and kill it with SIGKILL, as a crash would.
"""

from __future__ import annotations

import json
import queue
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from sensorhub import cli
from sensorhub.codec.payload import decode_mqtt
from sensorhub.commands.serve import Service, ServiceOptions
from sensorhub.contract import ACK_TOPIC, Event
from sensorhub.core.types import Opened
from sensorhub.io.inbox import InboundMessage
from sensorhub.io.mqtt import MqttConnection, MqttSettings
from sensorhub.rules import load_policy
from sensorhub.store import open_store
from sensorhub.testing.broker import PrivateBroker
from tests.conftest import WAIT, Names, Received, RunningService, TestClient
from tests.integration.conftest import ServeProcess

from .test_equivalence import RULES as EQUIVALENCE_RULES
from .test_equivalence import _recording
from .test_serve import NIGHT, _connect, event, is_page

Serve = Callable[..., RunningService]
MakeClient = Callable[..., TestClient]

#: Unanswered calls and falls: re-sent after 60 s, to the whole night team after 2 minutes.
RULES = """\
version: 1
sites:
  {site}:
    recipients: {{care: night-east, technical: tech}}
    staff:
      pagers:
        east-1: {{address: "3101"}}
        east-2: {{address: "3102"}}
        west-1: {{address: "3201"}}
        tech-1: {{address: "3900"}}
      groups:
        night-east: [east-1, east-2]
        night: [night-east, west-1]
        tech: [tech-1]
    escalation:
      critical:
        - {{after: {first}, to: same}}
        - {{after: {second}, to: night}}
      high:
        - {{after: {first}, to: same}}
        - {{after: {second}, to: night}}
"""


def rules_file(folder: Path, site: str, first: str = "60s", second: str = "2m") -> Path:
    path = folder / "rules.yaml"
    path.write_text(RULES.format(site=site, first=first, second=second), encoding="utf-8")
    return path


def page_of(escalation: int, room: str | None = None) -> Callable[[Received], bool]:
    match_room = is_page(room=room)

    def match(message: Received) -> bool:
        return match_room(message) and message.json()["escalation"] == escalation

    return match


def advance(client: TestClient, names: Names, t: float) -> None:
    """Event time moves on (the event clock): a heartbeat from a room nobody watches."""
    client.publish(names.topic("99", "motion"), event(t, "heartbeat"))


def first_pages(client: TestClient) -> Counter[str]:
    """Escalation-0 pages per incident, by distinct page id."""
    seen = {(m.json()["incident"], m.json()["page_id"]) for m in client.matching(page_of(0))}
    return Counter(incident for incident, _ in seen)


# -- acknowledgement and escalation (in-process service, event clock) --------------------------


@pytest.mark.mqtt
def test_an_unanswered_call_is_resent_then_escalated_to_the_night_team_on_time(
    serve: Serve, mqtt_client: MakeClient, names: Names, tmp_path: Path
) -> None:
    serve(rules=rules_file(tmp_path, names.site))
    client = mqtt_client([names.pages])
    client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    (first,) = client.wait_for(page_of(0, "12"))
    assert first.topic == f"sensorhub/pages/{names.site}/night-east"

    advance(client, names, 59)
    advance(client, names, 61)
    (again,) = client.wait_for(page_of(1, "12"))
    assert again.json()["ts"] == NIGHT + 60
    assert again.json()["incident"] == first.json()["incident"]
    assert again.topic == first.topic  # re-sent to the same recipients
    assert not client.matching(page_of(2))  # due at 120 s, not yet

    advance(client, names, 125)
    (wider,) = client.wait_for(page_of(2, "12"))
    assert wider.topic == f"sensorhub/pages/{names.site}/night"
    assert wider.json()["ts"] == NIGHT + 120


@pytest.mark.mqtt
def test_an_acknowledgement_over_mqtt_stops_the_escalation_and_is_kept(
    serve: Serve, mqtt_client: MakeClient, names: Names, tmp_path: Path
) -> None:
    running = serve(rules=rules_file(tmp_path, names.site))
    client = mqtt_client([names.pages])
    client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    (first,) = client.wait_for(page_of(0, "12"))
    incident = first.json()["incident"]

    client.publish(f"{ACK_TOPIC}/{names.site}", {"incident": incident, "by": "east-1"})
    advance(client, names, 30)
    advance(client, names, 200)
    client.publish(names.topic("13", "call"), event(201, "pressed", id="c2"))
    client.wait_for(page_of(0, "13"))  # everything before it has been decided
    assert not client.matching(page_of(1, "12"))
    assert not client.matching(page_of(2, "12"))
    acks = running.service.store.acks(incident)
    assert [ack.by for ack in acks] == ["east-1"]


@pytest.mark.mqtt
def test_staff_arriving_in_the_room_stops_the_escalation(
    serve: Serve, mqtt_client: MakeClient, names: Names, tmp_path: Path
) -> None:
    serve(rules=rules_file(tmp_path, names.site))
    client = mqtt_client([names.pages])
    client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    client.wait_for(page_of(0, "12"))
    client.publish(names.topic("12", "presence"), event(40, "staff_in"))
    advance(client, names, 200)
    client.publish(names.topic("13", "call"), event(201, "pressed", id="c2"))
    client.wait_for(page_of(0, "13"))
    assert not client.matching(page_of(1, "12"))


@pytest.mark.mqtt
def test_a_bad_acknowledgement_is_dead_lettered_with_what_is_wrong(
    serve: Serve, mqtt_client: MakeClient, names: Names, tmp_path: Path
) -> None:
    serve(rules=rules_file(tmp_path, names.site))
    client = mqtt_client(["sensorhub/deadletter"])
    client.publish(f"{ACK_TOPIC}/{names.site}", b'{"by": "east-1"}')
    (letter,) = client.wait_for(lambda m: m.json()["topic"] == f"{ACK_TOPIC}/{names.site}")
    assert "incident" in letter.json()["error"]


# -- restarts: sensorhub serve as a process (tests/integration/conftest.py), killed ---------


@pytest.mark.mqtt
def test_kill_9_mid_burst_loses_no_page_and_sends_no_second_first_page(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
) -> None:
    service = serve_process(rules_file(tmp_path, names.site))
    service.start()
    client = mqtt_client([names.pages])
    rooms = [str(room) for room in range(101, 121)]
    burst = [(names.topic("99", "motion"), event(i / 100, "heartbeat")) for i in range(4000)]
    for index, room in enumerate(rooms):  # a call every 200 events
        burst.insert(index * 201 + 1, (names.topic(room, "call"), event(index, "pressed")))
    publisher = threading.Thread(target=lambda: [client.publish(*item) for item in burst])
    publisher.start()
    client.wait_for(page_of(0), count=2, timeout=30)
    service.kill()  # in the middle of the burst: some of it decided, some received, some not
    before = first_pages(client)
    publisher.join(60)

    service.start()
    client.wait_for(page_of(0), count=20, timeout=60)
    time.sleep(2.5)  # the idle flush, and any page that would come twice
    after = first_pages(client)
    assert len(after) == 20, after
    assert all(count == 1 for count in after.values()), after
    assert 2 <= len(before) < 20, before
    with open_store(service.store_url) as store:
        assert store.pending("mqtt") == []  # every page confirmed by the broker


@pytest.mark.mqtt
def test_kill_9_then_restart_resumes_a_pending_escalation_without_a_second_first_page(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
    store_url: str,
) -> None:
    """On both store backends: SQLite (the default) and PostgreSQL."""
    service = serve_process(rules_file(tmp_path, names.site), store_url=store_url)
    service.start()
    client = mqtt_client([names.pages])
    client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    (first,) = client.wait_for(page_of(0, "12"))
    service.kill()

    advance(client, names, 61)  # while it is away: the re-send comes due
    service.start()
    (again,) = client.wait_for(page_of(1, "12"))
    assert again.json()["incident"] == first.json()["incident"]
    assert again.json()["ts"] == NIGHT + 60
    advance(client, names, 125)
    (wider,) = client.wait_for(page_of(2, "12"))
    assert wider.topic.endswith("/night")
    assert first_pages(client) == Counter({first.json()["incident"]: 1})


def test_a_restart_gives_the_journal_again_in_batches_and_the_classifier_decides_as_before(
    names: Names, tmp_path: Path
) -> None:
    """Rounds of 1-80 messages (events up to 10 s late, malformed lines) and idle flushes
    journalled as serve journals them; a service started on that store (no snapshot, all
    journal) then decides the rest of the night exactly as the one that never stopped."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(EQUIVALENCE_RULES.format(site=names.site), encoding="utf-8")
    lines = [
        (names.topic(payload["room"], payload["kind"], payload["device"]), line)
        for payload, line in _recording(names.site)
        if payload is not None
    ]
    options = ServiceOptions(
        prefix=names.prefix, clock="event", store_url=f"sqlite:///{tmp_path / 's.db'}"
    )

    def service() -> Service:
        started = Service(load_policy(rules), MqttSettings("127.0.0.1", 1, "t"), options)
        started._resume()
        return started

    def rounds(target: Service, lines: list[tuple[str, bytes]], seed: int) -> None:
        rng = random.Random(seed)
        while lines:
            size = rng.randint(1, 80)
            messages = [InboundMessage(topic, payload, NIGHT) for topic, payload in lines[:size]]
            lines = lines[size:]
            # what came late after an idle flush is decided as late
            work = target.engine.round(messages, drain=rng.random() < 0.1)
            target._commit(work)

    half = len(lines) // 2
    first = service()
    rounds(first, lines[:half], 1)
    assert len(first.store.journal()) > half - 20
    again = service()
    counts = [
        (c.buffered, c.late_events, c.duplicates, c.raw_alarms)
        for c in (first.engine.classifier, again.engine.classifier)
    ]
    assert counts[0] == counts[1]
    assert counts[0][0] > 0  # buffered
    assert counts[0][1] > 0  # late after an idle flush

    rest = [decode_mqtt(topic, payload, NIGHT, names.prefix) for topic, payload in lines[half:]]
    decided = []
    for target in (first, again):
        classifier = target.engine.classifier
        steps = [classifier.push(event) for event in rest if isinstance(event, Event)]
        steps.append(classifier.drain())
        decided.append([change for step in steps for change in step.incidents])
    first.store.close()
    again.store.close()
    assert decided[0] == decided[1]
    assert sum(1 for change in decided[0] if isinstance(change, Opened)) > 5


def test_ticks_that_decide_nothing_are_journalled_with_the_next_round_that_writes(
    names: Names, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(EQUIVALENCE_RULES.format(site=names.site), encoding="utf-8")
    options = ServiceOptions(
        prefix=names.prefix, clock="wall", store_url=f"sqlite:///{tmp_path / 's.db'}"
    )
    service = Service(load_policy(rules), MqttSettings("127.0.0.1", 1, "t"), options)
    service._resume()
    for _ in range(3):  # an idle service: no transaction for its ticks
        work = service.engine.round([], tick=time.time())
        assert service._commit(work) == []
    assert service.store.journal() == []
    topic = names.topic("normal", "door")
    message = InboundMessage(topic, b'{"ts": 1795000000, "event": "open"}', 0.0)
    service._commit(service.engine.round([message], tick=time.time()))
    journal = service.store.journal()
    service.store.close()
    assert [entry.payload for entry in journal] == ["tick", journal[1].payload, "tick"]
    assert journal[0].at < journal[2].at  # the last of the idle ticks, then the round's


@pytest.mark.mqtt
def test_on_the_wall_clock_a_killed_service_resends_at_the_due_time_after_restart(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
) -> None:
    service = serve_process(rules_file(tmp_path, names.site, "10s", "12h"), clock="wall")
    service.start()
    client = mqtt_client([names.pages])
    pressed = time.time()
    client.publish(names.topic("12", "call"), {"ts": pressed, "event": "pressed", "id": "c1"})
    (first,) = client.wait_for(page_of(0, "12"))
    service.kill()
    time.sleep(1)
    service.start()
    (again,) = client.wait_for(page_of(1, "12"), timeout=20)
    arrived = time.time()
    assert again.json()["ts"] == pytest.approx(first.json()["ts"] + 10)
    assert pressed + 10 <= arrived <= pressed + 10 + 3
    assert first_pages(client) == Counter({first.json()["incident"]: 1})


@pytest.mark.mqtt
def test_a_broker_outage_queues_pages_and_delivers_them_in_order_when_it_is_back(
    own_broker: PrivateBroker,
    serve: Serve,
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
) -> None:
    running = serve(own_broker, rules=rules_file(tmp_path, names.site), idle_flush=0.5)
    client = mqtt_client([], broker=own_broker)
    # a pager gateway with a session of its own, which the broker keeps across its restart
    inbox: queue.Queue[InboundMessage] = queue.Queue()
    gateway = _connect(
        own_broker, f"{names.client_id}-gateway", [names.pages], inbox, announce=False
    )
    # two falls, decided by their 10 s confirmation timer only when the burst ends (idle flush)
    client.publish(names.topic("12", "optical"), event(0, "fall"))
    client.publish(names.topic("14", "optical"), event(1, "fall"))
    own_broker.stop()  # before the idle flush decides them
    deadline = time.monotonic() + WAIT
    while running.service.connection.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2)  # decided meanwhile: queued in the outbox
    with open_store(f"sqlite:///{tmp_path / 'sensorhub.db'}") as store:
        queued = [page.room for _, page in store.pending("mqtt")]
    assert queued == ["12", "14"]
    own_broker.start()
    rooms = [json.loads(inbox.get(timeout=45).payload)["room"] for _ in range(2)]
    assert rooms == ["12", "14"]
    gateway.stop()
    deadline = time.monotonic() + WAIT
    while running.service.store.pending("mqtt") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running.service.store.pending("mqtt") == []


@pytest.mark.mqtt
@pytest.mark.parametrize(("manual_ack", "again"), [(True, 1), (False, 0)])
def test_a_message_not_yet_acknowledged_is_delivered_again_after_a_crash(
    own_broker: PrivateBroker, mqtt_client: MakeClient, names: Names, manual_ack: bool, again: int
) -> None:
    """What the service has received but not yet written down is the broker's to send again."""
    topic = names.topic("12", "call")
    first: queue.Queue[InboundMessage] = queue.Queue()
    service = _listen(own_broker, names.client_id, topic, first, manual_ack=manual_ack)
    mqtt_client([], broker=own_broker).publish(topic, event(0, "pressed"))
    first.get(timeout=WAIT)
    own_broker.stop()  # the connection breaks before the service acknowledged: as in a crash
    service.stop()
    own_broker.start()
    second: queue.Queue[InboundMessage] = queue.Queue()
    resumed = _listen(own_broker, names.client_id, topic, second, manual_ack=manual_ack)
    time.sleep(1)
    assert second.qsize() == again
    resumed.stop()


def _listen(
    broker: PrivateBroker,
    client_id: str,
    topic: str,
    inbox: queue.Queue[InboundMessage],
    *,
    manual_ack: bool,
) -> MqttConnection:
    settings = MqttSettings(broker.host, broker.port, client_id, announce=False)
    connection = MqttConnection(settings, [topic], inbox, manual_ack=manual_ack)
    connection.start()
    assert connection.wait_connected(WAIT)
    return connection


# -- silences set from the command line while the service runs (wall clock) ------------------


@pytest.mark.mqtt
def test_a_muted_room_holds_its_care_pages_until_the_silence_ends_but_never_a_call(
    serve: Serve, mqtt_client: MakeClient, names: Names, tmp_path: Path
) -> None:
    path = rules_file(tmp_path, names.site)
    path.write_text(path.read_text() + "    fall_confirm: 2s\n", encoding="utf-8")
    running = serve(rules=path, clock="wall", lateness=0.5)
    client = mqtt_client([names.pages])
    store = f"sqlite:///{tmp_path / 'sensorhub.db'}"
    muted = cli.main(
        ["mute", "--site", names.site, "--room", "12", "--for", "6s", "--reason", "new bed mat",
         "--by", "tech-1", "--store", store]
    )  # fmt: skip
    assert muted == 0
    deadline = time.monotonic() + WAIT
    while not running.service.engine.silences.active(time.time()) and time.monotonic() < deadline:
        time.sleep(0.05)  # the service looks at the store every second
    muted_at = time.time()
    client.publish(names.topic("12", "optical"), {"ts": muted_at, "event": "fall"})
    client.publish(names.topic("12", "call"), {"ts": muted_at, "event": "pressed", "id": "c1"})
    client.wait_for(is_page("call", "12"))  # a resident call is never silenced
    time.sleep(max(0.0, muted_at + 6.5 - time.time()))  # the silence has ended
    assert not client.matching(is_page("fall", "12"))  # held, and not sent later

    client.publish(names.topic("12", "optical"), {"ts": time.time(), "event": "fall"})
    client.wait_for(is_page("fall", "12"))
    with open_store(store) as opened:
        decisions = [
            entry.get("decision") or entry.get("action") for entry in opened.audit_since(0)
        ]
    assert {"held", "silence_added", "silence_expired"} <= set(decisions), decisions


@pytest.mark.mqtt
def test_sigterm_stops_an_idle_serve_at_once(
    serve_process: Callable[..., ServeProcess], names: Names, tmp_path: Path
) -> None:
    """serve waits for messages in the main thread, where SIGTERM's handler runs: the wait ends
    with it, and serve stops cleanly."""
    service = serve_process(rules_file(tmp_path, names.site))
    service.start()
    time.sleep(0.5)  # idle, waiting for a message
    assert service.process is not None
    service.process.send_signal(signal.SIGTERM)
    assert service.process.wait(10) == 0
