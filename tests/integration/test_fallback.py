"""``sensorhub fallback``: silent while sensorhub is online, every conventional alarm unfiltered
while it is down (after the grace period), silent again the moment it is back.

The decisions (``Fallback``) are tested on a clock of the test's own; the relay is tested on a
private broker of each test's own, since ``sensorhub/status`` is one topic per broker.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sensorhub import cli
from sensorhub.commands.fallback import (
    ALARM_KINDS,
    DEFAULT_GRACE,
    FALLBACK_STATUS_TOPIC,
    HELD_MAX_AGE,
    TEXTS,
    Fallback,
    Relay,
)
from sensorhub.contract import Event, Page
from sensorhub.core.care import CONVENTIONAL_ALARMS
from sensorhub.io.mqtt import STATUS_TOPIC, MqttSettings
from sensorhub.rules import load_policy
from sensorhub.rules.policy import Policy
from sensorhub.testing.broker import PrivateBroker
from tests.conftest import WAIT, Names, Received, RunningService, TestClient

Serve = Callable[..., RunningService]
MakeClient = Callable[..., TestClient]

#: 23:00 local on an ordinary November night.
NIGHT = datetime(2026, 11, 20, 23, 0, tzinfo=ZoneInfo("Europe/Amsterdam")).timestamp()
#: The grace period of the relays in the broker tests (s).
GRACE = 0.5

RULES = """\
version: 1
sites:
  home:
    language: nl
    recipients: {care: nachtdienst, technical: techniek}
    rooms:
      "12": {resident: {wanders: true}}
      "14": {acoustic_threshold: 72}
"""


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    return load_policy(path)


def ev(
    kind: str, name: str, t: float = 0.0, *, room: str = "12", site: str = "home", **extra: Any
) -> Event:
    """An event ``t`` seconds after NIGHT, from the room's one device of ``kind``."""
    return Event(NIGHT + t, site, room, kind, f"{room}-{kind}", name, **extra)


def online(since: float = NIGHT) -> bytes:
    return json.dumps({"state": "online", "since": since}).encode()


OFFLINE = b'{"state":"offline"}'


# -- the decisions, on the test's clock ------------------------------------------------------


def test_every_conventional_alarm_has_a_page_kind_and_a_text_in_each_language() -> None:
    alarms = {(kind, name) for kind, names in CONVENTIONAL_ALARMS.items() for name in names}
    assert set(ALARM_KINDS) == alarms
    for language, texts in TEXTS.items():
        assert set(texts) == alarms, language


def test_down_only_after_the_grace_period_and_back_on_standby_at_once(policy: Policy) -> None:
    fb = Fallback(policy, grace=30, started=0)
    assert not fb.status(online(), 0.1, NIGHT).switched
    assert not fb.tick(100, NIGHT).switched
    fb.status(OFFLINE, 200, NIGHT)
    assert not fb.tick(229.9, NIGHT).switched
    assert fb.state == "standby"
    assert fb.tick(230, NIGHT).switched
    assert fb.state == "active"
    assert not fb.tick(231, NIGHT).switched
    back = fb.status(online(), 232, NIGHT)
    assert back.switched
    assert fb.state == "standby"


def test_no_status_at_all_counts_as_down_after_the_grace_period_from_the_start(
    policy: Policy,
) -> None:
    fb = Fallback(policy, grace=30, started=1000)
    assert not fb.tick(1029.9, NIGHT).switched
    assert fb.tick(1030, NIGHT).switched
    assert fb.state == "active"


@pytest.mark.parametrize("payload", [b"", b"not json", b'{"state": 1}', b'{"state":"starting"}'])
def test_an_empty_or_unreadable_status_counts_as_down(policy: Policy, payload: bytes) -> None:
    fb = Fallback(policy, grace=5, started=0)
    fb.status(online(), 0, NIGHT)
    fb.status(payload, 10, NIGHT)
    assert fb.tick(15, NIGHT).switched


def test_repeated_offline_statuses_do_not_extend_the_grace_period(policy: Policy) -> None:
    fb = Fallback(policy, grace=30, started=0)
    fb.status(online(), 0, NIGHT)
    fb.status(OFFLINE, 10, NIGHT)
    fb.status(OFFLINE, 35, NIGHT)  # e.g. the retained will again after the relay's reconnect
    assert fb.tick(40, NIGHT).switched


def test_a_restart_of_serve_within_the_grace_period_pages_nothing(policy: Policy) -> None:
    """The alarms of those seconds are serve's: its session keeps them for it."""
    fb = Fallback(policy, grace=30, started=0)
    fb.status(online(), 0, NIGHT)
    fb.status(OFFLINE, 10, NIGHT + 10)
    assert fb.event(ev("optical", "fall", 11), 11, NIGHT + 11).pages == []
    assert not fb.status(online(), 15, NIGHT + 15).switched
    assert fb.tick(100, NIGHT + 100).pages == []
    assert fb.event(ev("call", "pressed", 101), 101, NIGHT + 101).pages == []


def test_alarms_of_the_grace_period_are_paged_when_the_relay_turns_active(
    policy: Policy,
) -> None:
    """A fall seconds after sensorhub died is not lost between the two."""
    fb = Fallback(policy, grace=30, started=0)
    fb.status(OFFLINE, 0, NIGHT)
    assert fb.event(ev("optical", "fall", 5), 5, NIGHT + 5).pages == []
    stale = ev("call", "pressed", -30 - HELD_MAX_AGE - 60, room="13")  # the relay's own backlog
    assert fb.event(stale, 6, NIGHT + 6).pages == []
    active = fb.tick(30, NIGHT + 30)
    assert active.switched
    assert [page.kind for page in active.pages] == ["fall"]
    assert active.dropped == 1


def test_while_active_each_conventional_alarm_is_paged_unfiltered(policy: Policy) -> None:
    fb = Fallback(policy, grace=0, started=0)
    fb.tick(0, NIGHT)
    cases = [
        (ev("optical", "fall"), "fall", "critical", "ONGEFILTERD Kamer 12: VAL"),
        (ev("optical", "on_floor"), "fall", "critical", "ONGEFILTERD Kamer 12: VAL (op de grond)"),
        (ev("call", "pressed"), "call", "high", "ONGEFILTERD Kamer 12: oproep bewoner"),
        (ev("optical", "out_of_bed"), "bed_exit", "high", "ONGEFILTERD Kamer 12: uit bed"),
        (ev("bed", "vacated"), "bed_exit", "high", "ONGEFILTERD Kamer 12: uit bed (bedmat)"),
        (ev("optical", "left_room"), "wandering", "high", "ONGEFILTERD Kamer 12: kamer verlaten"),
        (ev("door", "open"), "wandering", "high", "ONGEFILTERD Kamer 12: deur open"),
        (ev("motion", "motion"), "wandering", "high", "ONGEFILTERD Kamer 12: beweging"),
        (
            ev("acoustic", "sound", room="14", value=72.4),
            "acoustic",
            "normal",
            "ONGEFILTERD Kamer 14: geluid 72 dB",
        ),
    ]
    for event, kind, priority, text in cases:
        (page,) = fb.event(event, 1, NIGHT).pages
        assert (page.kind, page.priority, page.text) == (kind, priority, text)
        assert page.audience == "care"
        assert page.escalation == 0
        assert page.recipient == "nachtdienst"
        assert page.topic == "sensorhub/pages/home/nachtdienst"
        assert page.incident.startswith("fallback/home/")
        assert page.page_id == f"{page.incident}/0"
        assert page.ts == event.ts
        assert page.events == [event.ref]
        assert page.is_reaction


def test_the_english_text_says_unfiltered(policy: Policy) -> None:
    fb = Fallback(policy, grace=0, started=0)
    fb.tick(0, NIGHT)
    (page,) = fb.event(ev("optical", "fall", site="elsewhere"), 1, NIGHT).pages
    assert page.text == "UNFILTERED Room 12: FALL"
    assert page.recipient == "night-team"


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (ev("door", "open", room="13"), "a door only where the resident wanders"),
        (ev("motion", "motion", room="13"), "motion only where the resident wanders"),
        (ev("acoustic", "sound", room="14", value=71.9), "below the room's threshold"),
        (ev("acoustic", "sound", room="14"), "a sound without a level"),
        (ev("optical", "heartbeat"), "device health is not an alarm"),
        (ev("optical", "battery_low"), "device faults are not paged by the fallback"),
        (ev("call", "fault"), "device faults are not paged by the fallback"),
        (ev("optical", "obstructed"), "device faults are not paged by the fallback"),
        (ev("optical", "in_bed"), "not an alarm"),
        (ev("call", "cancelled"), "not an alarm"),
        (ev("presence", "staff_in"), "not an alarm"),
        (ev("door", "closed"), "not an alarm"),
    ],
)
def test_what_a_conventional_system_does_not_sound_is_not_paged(
    policy: Policy, event: Event, why: str
) -> None:
    fb = Fallback(policy, grace=0, started=0)
    fb.tick(0, NIGHT)
    assert fb.event(event, 1, NIGHT).pages == [], why


def test_one_page_per_device_and_alarm_per_30_s(policy: Policy) -> None:
    fb = Fallback(policy, grace=0, started=0)
    fb.tick(0, NIGHT)

    def paged(event: Event) -> list[str]:
        return [page.kind for page in fb.event(event, 1, NIGHT).pages]

    assert paged(ev("optical", "out_of_bed", 0)) == ["bed_exit"]
    assert paged(ev("optical", "out_of_bed", 10)) == []
    assert paged(ev("optical", "fall", 11)) == ["fall"]  # another alarm of the same camera
    assert paged(ev("optical", "out_of_bed", 29.9)) == []
    assert paged(ev("optical", "out_of_bed", 30)) == ["bed_exit"]
    assert paged(ev("call", "pressed", 0)) == ["call"]
    assert paged(ev("call", "pressed", 0)) == []  # a redelivery
    assert paged(ev("call", "pressed", 0, room="13")) == ["call"]  # another device


def test_grace_takes_seconds_or_a_duration() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["fallback", "--broker", "mqtt://broker.local"])
    assert args.grace == DEFAULT_GRACE
    assert args.client_id.startswith("sensorhub-fallback-")
    for text, seconds in [("0.5", 0.5), ("30s", 30.0), ("2m", 120.0), ("1m30s", 90.0)]:
        args = parser.parse_args(["fallback", "--broker", "mqtt://b", "--grace", text])
        assert args.grace == seconds


@pytest.mark.parametrize(
    ("one", "other"), [("1d", "24h"), ("1h30m", "90m"), ("1h 30m", "5400"), ("0", "0s")]
)
def test_grace_takes_every_spelling_of_a_duration_alike(one: str, other: str) -> None:
    """--grace reads the one duration grammar (rules/README.md, Durations), days included."""
    parser = cli.build_parser()
    one_grace, other_grace = (
        parser.parse_args(["fallback", "--broker", "mqtt://b", "--grace", text]).grace
        for text in (one, other)
    )
    assert one_grace == other_grace


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--broker", "mqtt://b", "--grace", "soon"],
        ["--broker", "mqtt://b", "--grace", "inf"],
        ["--broker", "mqtt://b", "--grace=-5"],
    ],
)
def test_the_command_line_is_checked(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["fallback", *argv])
    error = capsys.readouterr().err
    assert "sensorhub fallback" in error
    if "--grace" in " ".join(argv):
        assert "is not a duration: write e.g. 90s, 15m, 2h, 1d or 1h30m" in error


# -- the relay on a broker -------------------------------------------------------------------


@dataclass
class RunningRelay:
    relay: Relay
    thread: threading.Thread
    stop_event: threading.Event

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the relay did not stop within its time"

    def wait_events(self, count: int) -> None:
        """Until the relay has taken ``count`` valid sensor events in all."""
        deadline = time.monotonic() + WAIT
        while self.relay.events < count:
            assert time.monotonic() < deadline, f"the relay took {self.relay.events} events"
            time.sleep(0.02)


@pytest.fixture
def relay(names: Names) -> Iterator[Callable[..., RunningRelay]]:
    """``relay(broker, grace=GRACE)``: a Relay in a thread, connected, on the test's prefix."""
    running: list[RunningRelay] = []

    def start(broker: PrivateBroker, *, grace: float = GRACE) -> RunningRelay:
        settings = MqttSettings.from_url(broker.url, client_id=f"{names.client_id}-fallback")
        handle = RunningRelay(
            Relay(load_policy(), settings, prefix=names.prefix, grace=grace),
            threading.Thread(),
            threading.Event(),
        )
        handle.thread = threading.Thread(
            target=handle.relay.run_forever,
            args=(handle.stop_event,),
            name="sensorhub-fallback",
            daemon=True,
        )
        running.append(handle)
        handle.thread.start()
        assert handle.relay.connection.wait_connected(WAIT), "the relay did not connect"
        return handle

    yield start
    for handle in running:
        if handle.thread.is_alive():
            handle.stop()


def payload(t: float, name: str, **extra: Any) -> dict[str, Any]:
    """A payload ``t`` seconds after NIGHT."""
    return {"ts": NIGHT + t, "event": name, **extra}


def is_state(state: str) -> Callable[[Received], bool]:
    return lambda m: m.topic == FALLBACK_STATUS_TOPIC and m.json()["state"] == state


def is_fallback_page(message: Received) -> bool:
    return message.topic.startswith("sensorhub/pages/") and message.json()["incident"].startswith(
        "fallback/"
    )


def is_serve_page(message: Received) -> bool:
    return message.topic.startswith("sensorhub/pages/") and not is_fallback_page(message)


@pytest.mark.mqtt
def test_on_standby_while_serve_is_online_only_serve_pages(
    own_broker: PrivateBroker,
    serve: Serve,
    relay: Callable[..., RunningRelay],
    mqtt_client: MakeClient,
    names: Names,
) -> None:
    serve(broker=own_broker, idle_flush=0.5)
    running = relay(own_broker)
    client = mqtt_client([names.pages, FALLBACK_STATUS_TOPIC], broker=own_broker)
    client.wait_for(is_state("standby"))
    client.publish(names.topic("12", "optical"), payload(0, "fall", id="f1"))
    client.publish(names.topic("13", "call"), payload(1, "pressed", id="c1"))
    pages = client.wait_for(is_serve_page, count=2)
    assert {page.json()["kind"] for page in pages} == {"fall", "call"}
    running.wait_events(2)
    time.sleep(GRACE * 2)
    assert client.matching(is_fallback_page) == []
    assert running.relay.state == "standby"


@pytest.mark.mqtt
def test_after_serve_stops_every_alarm_is_paged_unfiltered_until_serve_is_back(  # noqa: PLR0917 - fixtures
    own_broker: PrivateBroker,
    serve: Serve,
    relay: Callable[..., RunningRelay],
    mqtt_client: MakeClient,
    names: Names,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="sensorhub.commands.fallback")
    service = serve(broker=own_broker, idle_flush=0.5)
    running = relay(own_broker)
    client = mqtt_client([names.pages, FALLBACK_STATUS_TOPIC], broker=own_broker)
    client.wait_for(is_state("standby"))
    service.stop()  # a clean stop: serve says offline
    (active,) = client.wait_for(is_state("active"))
    assert active.json()["since"] > NIGHT
    later = mqtt_client([FALLBACK_STATUS_TOPIC], broker=own_broker)
    (kept,) = later.wait_for(is_state("active"))
    assert kept.retain  # what monitoring that subscribes later is told
    assert any("fallback ACTIVE at" in r.getMessage() for r in caplog.records)

    client.publish(names.topic("15", "optical"), payload(0, "heartbeat", id="h1"))
    client.publish(names.topic("12", "optical"), payload(1, "fall", id="f1"))
    client.publish(names.topic("14", "optical"), payload(2, "out_of_bed", id="o1"))
    client.publish(names.topic("13", "call"), payload(3, "pressed", id="c1"))
    pages = client.wait_for(is_fallback_page, count=3)
    running.wait_events(4)
    assert len(client.matching(is_fallback_page)) == 3  # not the heartbeat
    assert client.matching(is_serve_page) == []
    by_room = {page.json()["room"]: page for page in pages}
    assert {room: page.json()["kind"] for room, page in by_room.items()} == {
        "12": "fall",
        "14": "bed_exit",
        "13": "call",
    }
    assert by_room["12"].json()["text"] == "UNFILTERED Room 12: FALL"
    for message in pages:
        page = Page.model_validate(message.json())
        assert message.topic == f"sensorhub/pages/{names.site}/night-team" == page.topic
        assert message.qos == 1
        assert not message.retain
        assert page.text.startswith("UNFILTERED Room ")
        assert page.escalation == 0
        assert page.incident.startswith(f"fallback/{names.site}/")
    assert len({message.json()["page_id"] for message in pages}) == 3

    serve(broker=own_broker, idle_flush=0.5)  # back: it takes its backlog from its session
    client.wait_for(is_state("standby"), count=2)
    assert running.relay.state == "standby"
    assert any("fallback on STANDBY at" in r.getMessage() for r in caplog.records)
    client.publish(names.topic("16", "call"), payload(10, "pressed", id="c2"))
    client.wait_for(lambda m: is_serve_page(m) and m.json()["room"] == "16")
    running.wait_events(5)
    assert len(client.matching(is_fallback_page)) == 3


@pytest.mark.mqtt
def test_a_killed_serve_turns_the_relay_active_by_its_last_will(
    own_broker: PrivateBroker,
    relay: Callable[..., RunningRelay],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
) -> None:
    client = mqtt_client([names.pages, FALLBACK_STATUS_TOPIC, STATUS_TOPIC], broker=own_broker)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sensorhub",
            "serve",
            "--broker",
            own_broker.url,
            "--client-id",
            names.client_id,
            "--prefix",
            names.prefix,
            "--store",
            f"sqlite:///{tmp_path / 's.db'}",
            "--clock",
            "event",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        client.wait_for(
            lambda m: m.topic == STATUS_TOPIC and m.json()["state"] == "online", timeout=WAIT * 2
        )
        running = relay(own_broker)
        client.wait_for(is_state("standby"))
        process.send_signal(signal.SIGKILL)
        process.wait(WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
        log.close()
    (will,) = client.wait_for(lambda m: m.topic == STATUS_TOPIC and m.json()["state"] == "offline")
    assert will.json() == {"state": "offline"}  # the last will, no goodbye
    client.wait_for(is_state("active"))
    client.publish(names.topic("12", "optical"), payload(0, "fall", id="f1"))
    (page,) = client.wait_for(is_fallback_page)
    assert page.json()["kind"] == "fall"
    running.wait_events(1)
    assert running.relay.state == "active"


def _relay_command(broker: PrivateBroker, names: Names) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sensorhub",
        "fallback",
        "--broker",
        broker.url,
        "--client-id",
        f"{names.client_id}-fallback",
        "--prefix",
        names.prefix,
        "--grace",
        str(GRACE),
    ]


@pytest.mark.mqtt
def test_the_command_keeps_its_own_status_with_a_last_will_and_never_sensorhubs(
    mqtt_client: MakeClient, names: Names, own_broker: PrivateBroker, tmp_path: Path
) -> None:
    """No sensorhub at all: active after the grace period; offline on SIGTERM and on a kill."""
    client = mqtt_client([names.pages, FALLBACK_STATUS_TOPIC, STATUS_TOPIC], broker=own_broker)
    env = {k: v for k, v in os.environ.items() if k != "SENSORHUB_MQTT_PASSWORD"}
    with (tmp_path / "fallback.log").open("wb") as log:
        process = subprocess.Popen(
            _relay_command(own_broker, names), stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            client.wait_for(is_state("active"), timeout=WAIT * 2)
            client.publish(names.topic("13", "call"), payload(0, "pressed", id="c1"))
            (page,) = client.wait_for(is_fallback_page)
            assert page.json()["text"] == "UNFILTERED Room 13: resident call"
            process.send_signal(signal.SIGTERM)
            assert process.wait(WAIT) == 0
            (goodbye,) = client.wait_for(is_state("offline"))
            assert set(goodbye.json()) == {"state", "since"}

            process = subprocess.Popen(
                _relay_command(own_broker, names), stdout=log, stderr=subprocess.STDOUT, env=env
            )
            client.wait_for(is_state("active"), count=2, timeout=WAIT * 2)
            process.send_signal(signal.SIGKILL)
            process.wait(WAIT)
            offline = client.wait_for(is_state("offline"), count=2)
            assert offline[1].json() == {"state": "offline"}  # the last will
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(WAIT)
    assert client.matching(lambda m: m.topic == STATUS_TOPIC) == []
    assert "fallback ACTIVE at" in (tmp_path / "fallback.log").read_text(encoding="utf-8")


def test_the_command_refuses_a_rule_file_with_mistakes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "bad.yaml"
    rules.write_text("version: 1\nsites: {home: {wanderz: true}}\n", encoding="utf-8")
    status = cli.main(["fallback", "--broker", "mqtt://127.0.0.1:1", "--rules", str(rules)])
    assert status == 2
    assert "the rule file has mistakes" in capsys.readouterr().err


def test_the_command_refuses_a_password_in_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["fallback", "--broker", "mqtt://u:secret@127.0.0.1"])
    assert status == 2
    assert "password" in capsys.readouterr().err
