"""``sensorhub serve`` through a real Mosquitto: events in, pages and dead letters out.

Each test has its own topic prefix, site and client id (the ``names`` fixture), so tests that
share the session broker never see each other's messages. The service runs on the event clock
unless a test says otherwise, so what it decides depends only on the events' own times.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import logging
import queue
import socket
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sensorhub import cli
from sensorhub.codec.columns import EventColumns
from sensorhub.commands import serve_cli
from sensorhub.contract import DEADLETTER_TOPIC, Event, Page
from sensorhub.io.mqtt import (
    STATUS_TOPIC,
    InboundMessage,
    MqttConnection,
    MqttSettings,
    MqttSettingsError,
    TlsSettings,
)
from sensorhub.testing.broker import PrivateBroker, free_port
from tests.conftest import WAIT, Names, Received, RunningService, TestClient, wait_until

Serve = Callable[..., RunningService]
MakeClient = Callable[..., TestClient]

#: 23:00 local on an ordinary November night.
NIGHT = datetime(2026, 11, 20, 23, 0, tzinfo=ZoneInfo("Europe/Amsterdam")).timestamp()


def event(t: float, name: str, **extra: Any) -> dict[str, Any]:
    """A payload ``t`` seconds after NIGHT."""
    return {"ts": NIGHT + t, "event": name, **extra}


def is_page(kind: str | None = None, room: str | None = None) -> Callable[[Received], bool]:
    def match(message: Received) -> bool:
        if not message.topic.startswith("sensorhub/pages/"):
            return False
        page = message.json()
        return (kind is None or page["kind"] == kind) and (room is None or page["room"] == room)

    return match


def is_dead_letter_of(names: Names) -> Callable[[Received], bool]:
    def match(message: Received) -> bool:
        if message.topic != DEADLETTER_TOPIC:
            return False
        topic: str = message.json()["topic"]
        return topic.startswith(names.prefix + "/")

    return match


@pytest.mark.mqtt
def test_resident_call_is_paged_to_the_night_team_at_qos1(
    serve: Serve, mqtt_client: MakeClient, names: Names
) -> None:
    serve()
    client = mqtt_client([names.pages])
    client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    (message,) = client.wait_for(is_page("call"))
    assert message.topic == f"sensorhub/pages/{names.site}/night-team"
    assert message.qos == 1
    page = Page.model_validate_json(message.payload)
    assert (page.site, page.room, page.kind) == (names.site, "12", "call")
    assert page.escalation == 0
    assert page.audience == "care"
    assert page.events == ["c1"]
    assert page.ts == NIGHT


@pytest.mark.mqtt
def test_fall_not_contradicted_is_paged_once_later_events_pass_its_window(
    serve: Serve, mqtt_client: MakeClient, names: Names
) -> None:
    serve(idle_flush=600)  # only the events' own time moves the clock here
    client = mqtt_client([names.pages])
    client.publish(names.topic("12", "optical"), event(0, "fall", id="f1"))
    client.publish(names.topic("14", "optical"), event(25, "in_bed", id="b1"))
    (message,) = client.wait_for(is_page("fall"))
    page = message.json()
    assert page["room"] == "12"
    assert page["priority"] == "critical"
    assert page["escalation"] == 0
    assert "f1" in page["events"]


@pytest.mark.mqtt
def test_fall_contradicted_in_its_window_is_not_paged(
    serve: Serve, mqtt_client: MakeClient, names: Names
) -> None:
    serve(idle_flush=600)
    client = mqtt_client([names.pages])
    client.publish(names.topic("12", "optical"), event(0, "fall", id="f1"))
    client.publish(names.topic("12", "optical"), event(4, "in_bathroom", id="u1"))
    client.publish(names.topic("14", "optical"), event(40, "in_bed", id="b1"))
    client.publish(names.topic("14", "call"), event(41, "pressed", id="c1"))
    client.wait_for(is_page("call"))
    time.sleep(0.5)  # the fall would have been decided before the later events
    assert client.matching(is_page("fall")) == []


@pytest.mark.mqtt
def test_idle_flush_decides_what_is_buffered_when_no_message_comes(
    serve: Serve, mqtt_client: MakeClient, names: Names, tmp_path: Path
) -> None:
    """With no later event, the idle flush decides the buffer as replay does at end of file."""
    audit = tmp_path / "audit.jsonl"
    serve(idle_flush=0.5, audit_path=audit)
    client = mqtt_client([names.pages])
    client.publish(names.topic("12", "optical"), event(0, "fall", id="f1"))
    # 12 s later in event time: within the lateness, so only the idle flush decides these
    client.publish(names.topic("14", "optical"), event(12, "in_bed", id="b1"))
    (message,) = client.wait_for(is_page("fall"))
    assert message.json()["ts"] == NIGHT + 10  # the confirmation timer's time

    def records() -> list[dict[str, Any]]:  # written once the round's pages are out
        return [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]

    wait_until(lambda: {r.get("event", {}).get("id") for r in records()} >= {"f1", "b1"}, "audit")
    assert any(r["decision"] == "paged" and r.get("timer") for r in records())


@pytest.mark.mqtt
def test_bad_messages_go_to_the_dead_letter_topic_and_good_ones_are_still_classified(
    serve: Serve, mqtt_client: MakeClient, names: Names
) -> None:
    running = serve()
    client = mqtt_client([names.pages, DEADLETTER_TOPIC])
    bad: list[tuple[str, bytes]] = [
        (names.topic("12", "call"), b"the button was pressed"),
        (names.topic("12", "call"), json.dumps(event(1, "exploded")).encode()),
        (names.topic("12", "call"), json.dumps(event(2, "pressed", room="99")).encode()),
        (names.topic("12", "call"), b"\xff\xfe{\x00garbage"),
        (f"{names.prefix}/{names.site}/12", json.dumps(event(3, "pressed")).encode()),
        (names.topic("12", "call"), b"[1, 2, 3]"),
    ]
    for room, (topic, payload) in enumerate(bad, start=1):
        client.publish(names.topic(f"r{room}", "call"), event(room, "pressed", id=f"c{room}"))
        client.publish(topic, payload)
    client.publish(names.topic("r99", "call"), event(50, "pressed", id="c99"))

    letters = [m.json() for m in client.wait_for(is_dead_letter_of(names), count=len(bad))]
    for (topic, payload), letter in zip(bad, letters, strict=True):
        assert letter["topic"] == topic
        assert letter["error"]
        assert isinstance(letter["received_at"], float)
        raw = (
            base64.b64decode(letter["payload"])
            if letter["encoding"] == "base64"
            else letter["payload"].encode("utf-8")
        )
        assert raw == payload
    assert letters[3]["encoding"] == "base64"
    assert "pressed" in letters[1]["error"] or "exploded" in letters[1]["error"]
    assert "room" in letters[2]["error"]

    pages = client.wait_for(is_page("call"), count=len(bad) + 1)
    rooms = sorted(m.json()["room"] for m in pages)
    assert rooms == sorted([f"r{n}" for n in range(1, len(bad) + 1)] + ["r99"])
    metrics = running.service.registry
    assert metrics.get_sample_value("sensorhub_deadletters_total") == len(bad)
    assert metrics.get_sample_value("sensorhub_events_total", {"kind": "call"}) == len(bad) + 1


@pytest.mark.mqtt
def test_an_event_the_classifier_fails_on_is_dead_lettered_and_serve_goes_on(
    serve: Serve, mqtt_client: MakeClient, names: Names, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round's events are decided in one batch; when the classifier fails on the batch they
    are decided one by one, and only the event it fails on is lost (dead-lettered)."""
    running = serve()
    classifier = running.service.engine.classifier
    push, push_batch = classifier.push, classifier.push_batch
    rooms = classifier.registry.device_keys

    def failing_push(item: Event) -> Any:
        if item.room == "13":
            raise ZeroDivisionError("a bug")
        return push(item)

    def failing_batch(columns: EventColumns) -> Any:
        if any(rooms[d][1] == "13" for d in columns.device.tolist()):
            raise ZeroDivisionError("a bug")
        return push_batch(columns)

    monkeypatch.setattr(classifier, "push", failing_push)
    monkeypatch.setattr(classifier, "push_batch", failing_batch)
    client = mqtt_client([names.pages, DEADLETTER_TOPIC])
    client.publish(names.topic("13", "call"), event(0, "pressed", id="c13"))
    client.publish(names.topic("14", "call"), event(1, "pressed", id="c14"))
    (letter,) = client.wait_for(is_dead_letter_of(names))
    assert letter.json()["error"].startswith(
        "internal error while classifying: ZeroDivisionError: a bug"
    )
    (page,) = client.wait_for(is_page("call"))
    assert page.json()["room"] == "14"
    assert running.thread.is_alive()


@pytest.mark.mqtt
def test_serve_reconnects_after_the_broker_restarts_and_still_pages(
    own_broker: PrivateBroker, serve: Serve, mqtt_client: MakeClient, names: Names
) -> None:
    running = serve(own_broker)
    before = mqtt_client([names.pages], broker=own_broker)
    before.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    before.wait_for(is_page("call", "12"))
    before.close()

    own_broker.stop()
    deadline = time.monotonic() + WAIT
    while running.service.connection.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running.service.connection.connected, "the service did not notice the broker left"
    own_broker.start()

    assert running.service.connection.wait_connected(45), "the service did not reconnect"
    after = mqtt_client([names.pages, STATUS_TOPIC], broker=own_broker)
    after.publish(names.topic("14", "call"), event(30, "pressed", id="c2"))
    (page,) = after.wait_for(is_page("call", "14"))
    assert page.json()["events"] == ["c2"]
    (status,) = after.wait_for(lambda m: m.topic == STATUS_TOPIC)
    assert status.retain
    assert status.json()["state"] == "online"


@pytest.mark.mqtt
def test_events_sent_while_serve_is_away_are_delivered_when_it_is_back(
    serve: Serve, mqtt_client: MakeClient, names: Names
) -> None:
    """A fixed client id and a persistent session: the broker keeps QoS 1 events meanwhile."""
    first = serve()
    first.stop()
    client = mqtt_client([names.pages, STATUS_TOPIC])
    (status,) = client.wait_for(lambda m: m.topic == STATUS_TOPIC)
    assert status.json()["state"] == "offline"
    client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    serve()
    (page,) = client.wait_for(is_page("call", "12"))
    assert page.json()["events"] == ["c1"]


@pytest.mark.mqtt
def test_more_than_a_thousand_events_sent_while_serve_is_away_are_all_delivered(
    serve: Serve, mqtt_client: MakeClient, names: Names
) -> None:
    """Mosquitto keeps only 1000 queued messages by default; the private broker keeps all."""
    serve().stop()
    client = mqtt_client([names.pages])
    for n in range(1200):
        client.publish(names.topic("12", "bed"), event(n, "heartbeat", id=f"h{n}"))
    client.publish(names.topic("12", "call"), event(1300, "pressed", id="last"))
    serve()
    (page,) = client.wait_for(is_page("call", "12"), timeout=60)
    assert page.json()["events"] == ["last"]


@pytest.mark.mqtt
def test_wall_clock_pages_a_timer_decided_fall_after_lateness(
    serve: Serve, mqtt_client: MakeClient, names: Names, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\ndefaults:\n  fall_confirm: 1s\n", encoding="utf-8")
    serve(rules=rules, clock="wall", lateness=0.5)
    client = mqtt_client([names.pages])
    now = time.time()
    client.publish(names.topic("12", "optical"), {"ts": now, "event": "fall", "id": "f1"})
    (message,) = client.wait_for(is_page("fall"))
    page = message.json()
    assert page["ts"] == pytest.approx(now + 1)
    assert time.time() >= now + 1.5  # the watermark (wall clock - lateness) passed the timer


@pytest.mark.mqtt
def test_metrics_endpoint_serves_counts_latency_and_the_reduction_ratio(
    serve: Serve, mqtt_client: MakeClient, names: Names
) -> None:
    running = serve(idle_flush=0.3, metrics_port=free_port())
    client = mqtt_client([names.pages, DEADLETTER_TOPIC])
    client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    client.publish(names.topic("14", "bed"), event(1, "vacated", id="v1"))  # a raw alarm only
    client.publish(names.topic("14", "bed"), b"{")
    client.wait_for(is_page("call"))
    client.wait_for(is_dead_letter_of(names))

    url = f"http://127.0.0.1:{running.service.metrics_port}/metrics"
    deadline = time.monotonic() + WAIT
    while True:
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
            text = response.read().decode("utf-8")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        if samples.get(("sensorhub_raw_alarms_total", ())) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert samples[("sensorhub_events_total", (("kind", "call"),))] == 1
    assert samples[("sensorhub_events_total", (("kind", "bed"),))] == 1
    assert samples[("sensorhub_deadletters_total", ())] == 1
    assert samples[("sensorhub_pages_total", (("audience", "care"), ("kind", "call")))] == 1
    assert samples[("sensorhub_reactions_total", (("kind", "call"),))] == 1
    assert samples[("sensorhub_decision_latency_seconds_count", ())] == 1
    assert samples[("sensorhub_raw_alarms_total", ())] == 2
    assert samples[("sensorhub_reduction_ratio", ())] == pytest.approx(0.5)


def test_serve_help_exits_0_and_shows_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--broker" in out
    assert "--password-file" in out
    assert "sensorhub serve --broker mqtts://" in out


def test_serve_with_a_bad_rule_file_prints_the_mistakes_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "site.yaml"
    rules.write_text("version: 1\ndefaults:\n  fall_confirm: soon\n", encoding="utf-8")
    assert cli.main(["serve", "--rules", str(rules), "--broker", "mqtt://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "site.yaml:3" in err
    assert "fall_confirm" in err


# -- the MQTT adapter ----------------------------------------------------------------------


def _connect(
    broker: PrivateBroker,
    client_id: str,
    subscriptions: list[str],
    inbox: queue.Queue[InboundMessage] | None = None,
    **settings: Any,
) -> MqttConnection:
    connection = MqttConnection(
        MqttSettings(broker.host, broker.port, client_id, **settings),
        subscriptions,
        inbox if inbox is not None else queue.Queue(),
    )
    connection.start()
    assert connection.wait_connected(WAIT), f"{client_id} could not connect and subscribe"
    return connection


def test_the_in_flight_window_is_a_setting_and_the_service_keeps_100() -> None:
    default = MqttSettings.from_url("mqtt://127.0.0.1", client_id="x")
    assert default.max_inflight == 100
    wide = MqttConnection(dataclasses.replace(default, max_inflight=200), [], queue.Queue())
    assert wide._client._max_inflight_messages == 200
    assert MqttConnection(default, [], queue.Queue())._client._max_inflight_messages == 100


def _drop_and_reconnect(connection: MqttConnection) -> None:
    """Cut the TCP connection without a DISCONNECT, as a crash would; wait for the reconnect."""
    sock = connection._client.socket()
    assert sock is not None
    sock.shutdown(socket.SHUT_RDWR)  # the broker sends the last will, if there is one
    deadline = time.monotonic() + WAIT
    while connection.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not connection.connected, "the connection did not notice it was cut"
    assert connection.wait_connected(WAIT), "the connection did not come back"


def _is_status(message: Received) -> bool:
    return message.topic == STATUS_TOPIC


@pytest.mark.mqtt
def test_a_connection_that_does_not_announce_leaves_the_service_status_alone(
    own_broker: PrivateBroker, mqtt_client: MakeClient, names: Names
) -> None:
    """announce=False (a listener): no online, no offline and no last will on sensorhub/status."""
    service = _connect(own_broker, names.client_id, [])
    watcher = mqtt_client([STATUS_TOPIC], broker=own_broker)
    watcher.wait_for(_is_status)  # the service's retained "online"
    listener = _connect(own_broker, f"{names.client_id}-listener", [names.pages], announce=False)
    _drop_and_reconnect(listener)
    listener.stop()
    # the control: the service's own last will does go out, then it says online again
    _drop_and_reconnect(service)
    states = [m.json()["state"] for m in watcher.wait_for(_is_status, count=3)]
    service.stop()
    assert states == ["online", "offline", "online"]


@pytest.mark.mqtt
@pytest.mark.parametrize(("clean_session", "first"), [(True, "new"), (False, "old")])
def test_only_a_persistent_session_gets_what_was_sent_while_it_was_away(
    mosquitto: PrivateBroker,
    mqtt_client: MakeClient,
    names: Names,
    clean_session: bool,
    first: str,
) -> None:
    """clean_session=True (a throwaway listener): the broker queues nothing for a later run."""
    inbox: queue.Queue[InboundMessage] = queue.Queue()
    settings = {"announce": False, "clean_session": clean_session}
    subscriptions = [f"{names.prefix}/#"]
    _connect(mosquitto, names.client_id, subscriptions, inbox, **settings).stop()
    sender = mqtt_client([])
    sender.publish(f"{names.prefix}/old", b"sent while away")
    again = _connect(mosquitto, names.client_id, subscriptions, inbox, **settings)
    sender.publish(f"{names.prefix}/new", b"sent after the reconnect")
    message = inbox.get(timeout=WAIT)  # a queued message comes before anything new
    again.stop()
    assert message.topic == f"{names.prefix}/{first}"


@pytest.mark.mqtt
def test_a_clean_stop_logs_nothing_at_error_even_with_the_paho_trace_on(
    mosquitto: PrivateBroker, names: Names, caplog: pytest.LogCaptureFixture
) -> None:
    """stop() ends paho's loop as its DISCONNECT goes out, not one round later on a closed socket.

    That round logged "Client is not connected" at ERROR, now and then: so stop many times.
    """
    caplog.set_level(logging.DEBUG, logger="sensorhub.io.mqtt")
    for attempt in range(100):
        _connect(mosquitto, f"{names.client_id}-{attempt}", [f"{names.prefix}/#"]).stop()
    assert any(record.name == "sensorhub.io.mqtt.paho" for record in caplog.records)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


# -- broker settings (no broker needed) ------------------------------------------------------


def test_broker_url_gives_host_port_and_tls() -> None:
    plain = MqttSettings.from_url("mqtt://broker.local", client_id="x")
    assert (plain.host, plain.port, plain.tls) == ("broker.local", 1883, None)
    secure = MqttSettings.from_url("mqtts://user@broker.local", client_id="x")
    assert (secure.port, secure.username, secure.tls) == (8883, "user", TlsSettings())
    forced = MqttSettings.from_url(
        "mqtt://broker.local", client_id="x", tls=TlsSettings(cafile="ca.pem")
    )
    assert forced.port == 8883
    assert forced.url == "mqtts://broker.local:8883"


@pytest.mark.parametrize(
    ("url", "kwargs", "message"),
    [
        ("http://broker.local", {}, "mqtt:// or mqtts://"),
        ("mqtt://user:secret@broker.local", {}, "SENSORHUB_MQTT_PASSWORD"),
        ("mqtt://broker.local", {"password": "secret"}, "--username"),
        ("mqtt://:1883", {}, "names no host"),
        ("mqtt://broker.local/care", {}, "only mqtt"),
    ],
)
def test_unusable_broker_settings_say_what_to_change(
    url: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(MqttSettingsError, match=message):
        MqttSettings.from_url(url, client_id="x", **kwargs)


def _args(**overrides: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    serve_cli.add_arguments(parser)
    args = parser.parse_args([])
    for name, value in overrides.items():
        setattr(args, name, value)
    return args


def test_password_comes_from_the_file_or_the_environment_and_is_not_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENSORHUB_MQTT_PASSWORD", "from-env")
    settings = serve_cli.mqtt_settings(_args(username="hub"), "mqtt://broker.local")
    assert settings.password == "from-env"  # noqa: S105 - a test value, not a secret
    secret = tmp_path / "password"
    secret.write_text("from-file\n", encoding="utf-8")
    settings = serve_cli.mqtt_settings(
        _args(username="hub", password_file=secret), "mqtt://broker.local"
    )
    assert settings.password == "from-file"  # noqa: S105 - a test value, not a secret
    assert "from-file" not in repr(settings)
    with pytest.raises(MqttSettingsError, match="cannot read the password file"):
        serve_cli.mqtt_settings(
            _args(username="hub", password_file=tmp_path / "missing"), "mqtt://broker.local"
        )
