"""The ward simulator and the recording publisher: reproducible, valid recordings that the
reference policy reads as the simulator meant them."""

from __future__ import annotations

import gzip
import itertools
import json
import threading
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from simulators.publish import (
    MAX_INFLIGHT,
    PublishError,
    _settings,
    event_time,
    find_recording,
    publish_recording,
    topic_of,
)
from simulators.publish import main as publish_main
from simulators.site import simulate_site, write_site
from simulators.ward import (
    Ward,
    demo_rule_file,
    generate_night,
    read_recording,
    simulate_night,
    to_line,
    write_recording,
)

from sensorhub.codec.payload import decode_line
from sensorhub.commands.replay import replay
from sensorhub.contract import MAX_LATENESS, DeadLetter, Event
from sensorhub.rules import load_policy
from sensorhub.testing.broker import PrivateBroker

WAIT = 15.0


@pytest.fixture(scope="module")
def ward() -> Ward:
    return Ward.typical(8, day=date(2026, 11, 20))


@pytest.fixture(scope="module")
def messy(ward: Ward) -> list[dict[str, Any] | str]:
    """A night with late events and malformed lines."""
    return generate_night(ward, 5, late_fraction=0.05, malformed_fraction=0.01)


def lines(entries: list[dict[str, Any] | str]) -> list[str]:
    return [to_line(entry) for entry in entries]


def test_same_seed_gives_the_same_night(ward: Ward) -> None:
    first = generate_night(ward, 3, late_fraction=0.02, malformed_fraction=0.01)
    again = generate_night(ward, 3, late_fraction=0.02, malformed_fraction=0.01)
    assert lines(first) == lines(again)


def test_another_seed_gives_another_night(ward: Ward) -> None:
    assert lines(generate_night(ward, 3)) != lines(generate_night(ward, 4))


def test_every_event_is_valid_and_every_malformed_line_is_a_dead_letter(
    messy: list[dict[str, Any] | str],
) -> None:
    malformed = 0
    for number, entry in enumerate(messy, start=1):
        decoded = decode_line(to_line(entry).encode("utf-8"), 0.0, f"night:{number}")
        if isinstance(entry, str):
            malformed += 1
            assert isinstance(decoded, DeadLetter), entry
        else:
            assert isinstance(decoded, Event), decoded
            assert decoded.topic_suffix == "/".join(
                entry[key] for key in ("site", "room", "kind", "device")
            )
    assert malformed > 0


def test_ids_are_unique_per_device(messy: list[dict[str, Any] | str]) -> None:
    ids: dict[str, set[str]] = defaultdict(set)
    for entry in messy:
        if isinstance(entry, dict):
            assert entry["id"] not in ids[entry["device"]]
            ids[entry["device"]].add(entry["id"])


def test_without_late_events_the_night_is_in_event_time_order(ward: Ward) -> None:
    times = [e["ts"] for e in generate_night(ward, 6) if isinstance(e, dict)]
    assert times == sorted(times)


def test_late_events_are_at_most_ten_seconds_late(messy: list[dict[str, Any] | str]) -> None:
    latest = float("-inf")
    late = []
    for entry in messy:
        if isinstance(entry, dict):
            if entry["ts"] < latest:
                late.append(latest - entry["ts"])
            latest = max(latest, entry["ts"])
    assert late, "a late fraction of 5 % gives late events"
    assert max(late) <= MAX_LATENESS


def test_the_night_stays_within_its_bounds_and_every_device_sends_heartbeats(ward: Ward) -> None:
    night = simulate_night(ward, 7)
    start, end = ward.recording_bounds()
    assert all(start <= e["ts"] <= end for e in night.events)
    devices = {ward.rooms[0].device(kind) for kind in ward.rooms[0].kinds()}
    beating = {e["device"] for e in night.events if e["event"] == "heartbeat"}
    assert devices <= beating
    assert len(beating) == sum(len(room.kinds()) for room in ward.rooms)


def test_a_night_over_the_change_to_winter_time_is_ten_hours() -> None:
    """Night 22:00-07:00 local on 2026-10-24/25 spans the clocks going back: 10 h of real time."""
    start, end = Ward.typical(2, day=date(2026, 10, 24)).night_bounds()
    assert end - start == 10 * 3600
    start, end = Ward.typical(2, day=date(2026, 11, 20)).night_bounds()
    assert end - start == 9 * 3600


def test_most_conventional_alarms_need_nobody_but_some_do(ward: Ward, tmp_path: Path) -> None:
    recording = tmp_path / "night.jsonl"
    write_recording(generate_night(ward, 1), recording)
    rules = tmp_path / "rules.yaml"
    rules.write_text(demo_rule_file(ward), encoding="utf-8")
    summary = replay(recording, load_policy(rules), tmp_path / "pages.jsonl")
    assert summary.reactions > 0
    assert summary.reactions < summary.raw_alarms / 2


@pytest.mark.parametrize(
    ("rooms", "seed", "late", "radars"),
    [(8, 1, 0.0, False), (8, 2, 0.02, False), (16, 3, 0.02, False), (16, 4, 0.02, True)],
)
def test_the_reference_policy_pages_what_the_episodes_expect(
    rooms: int, seed: int, late: float, radars: bool, tmp_path: Path
) -> None:
    """Each episode names the incidents it should cause; replay pages exactly those (in rooms
    with a care radar instead of a camera too)."""
    ward = Ward.typical(rooms, radars=radars)
    night = simulate_night(ward, seed, late_fraction=late)
    recording = tmp_path / "night.jsonl"
    write_recording(night.recording, recording)
    rules = tmp_path / "rules.yaml"
    rules.write_text(demo_rule_file(ward), encoding="utf-8")
    pages_path = tmp_path / "pages.jsonl"
    replay(recording, load_policy(rules), pages_path)
    pages = [json.loads(line) for line in pages_path.read_text().splitlines()]
    paged = Counter((p["room"], p["kind"]) for p in pages if p["escalation"] == 0)
    expected = Counter((e.room, kind) for e in night.episodes for kind in e.expect)
    assert paged == expected
    # and each one in time: from its first evidence to its deadline
    for episode in night.episodes:
        for incident in episode.incidents:
            assert any(
                (p["room"], p["kind"]) == (episode.room, incident.kind)
                and p["escalation"] == 0
                and incident.start - 1 <= p["ts"] <= incident.deadline
                for p in pages
            ), (episode, incident)


def test_the_rule_file_tells_who_is_at_risk_and_who_wanders(ward: Ward, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(demo_rule_file(ward), encoding="utf-8")
    policy = load_policy(rules)
    for room in ward.rooms:
        resolved = policy.room(ward.site, room.name)
        assert resolved.fall_risk == room.fall_risk
        assert resolved.wanders == room.wanders
        assert resolved.timezone == ward.timezone


@pytest.mark.parametrize("name", ["night.jsonl", "night.jsonl.gz"])
def test_a_recording_reads_back_as_it_was_written(
    messy: list[dict[str, Any] | str], tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    assert write_recording(messy, path) == len(messy)
    assert lines(read_recording(path)) == lines(messy)


def test_a_gzipped_recording_holds_the_same_lines_and_the_same_bytes_every_time(
    messy: list[dict[str, Any] | str], tmp_path: Path
) -> None:
    write_recording(messy, tmp_path / "a.jsonl")
    write_recording(messy, tmp_path / "a.jsonl.gz")
    write_recording(messy, tmp_path / "b.jsonl.gz")
    assert (
        gzip.decompress((tmp_path / "a.jsonl.gz").read_bytes())
        == (tmp_path / "a.jsonl").read_bytes()
    )
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()


# -- publishing ------------------------------------------------------------------------------


def test_the_publisher_finds_a_recording_by_its_stem(tmp_path: Path) -> None:
    """``out/week`` means ``out/week.jsonl.gz`` (what simulators.site writes) or .jsonl."""
    assert find_recording(tmp_path / "week") is None
    (tmp_path / "week.jsonl").write_text("")
    assert find_recording(tmp_path / "week") == tmp_path / "week.jsonl"
    (tmp_path / "week.jsonl.gz").write_bytes(gzip.compress(b""))
    assert find_recording(tmp_path / "week") == tmp_path / "week.jsonl.gz"
    assert find_recording(tmp_path / "week.jsonl") == tmp_path / "week.jsonl"


def test_the_publisher_reads_ts_and_place_as_the_codec_does() -> None:
    """Times the codec refuses (no offset, out of range, not a time) are malformed lines."""
    assert event_time(1_800_000_000) == 1_800_000_000.0
    assert event_time("2026-10-25T02:30:00+01:00") == 1_792_891_800.0
    assert event_time("2026-10-25T02:30:00") is None
    assert event_time(12) is None  # before 2000: the codec dead-letters it
    assert event_time(True) is None
    assert event_time(None) is None
    assert event_time(10**400) is None
    event = {"site": "s", "room": "1", "kind": "call", "device": "b"}
    assert topic_of(event, "x") == "x/s/1/call/b"
    assert topic_of({**event, "room": "a/b"}, "x") is None
    assert topic_of("not json", "x") is None


def test_the_publisher_connects_as_a_quiet_throwaway_client() -> None:
    """No status announcements, no session, a wider in-flight window; mqtts and user kept."""
    settings = _settings("mqtts://tech@broker.local", "pub")
    assert (settings.host, settings.port, settings.username) == ("broker.local", 8883, "tech")
    assert settings.tls is not None
    assert not settings.announce
    assert settings.clean_session
    assert settings.max_inflight == MAX_INFLIGHT
    assert _settings("127.0.0.1:1999", "").client_id.startswith("sensorhub-publish-")


def test_publishing_to_a_bad_address_or_an_absent_broker_says_so() -> None:
    with pytest.raises(ValueError, match="mqtt://"):
        publish_recording([], "http://127.0.0.1:1")
    started = time.monotonic()
    with pytest.raises(PublishError, match="cannot connect"):
        publish_recording([], "mqtt://127.0.0.1:1")
    assert time.monotonic() - started < 5  # refused at once, not after the connect timeout


class Collector:
    """Subscribes to a topic filter and keeps every message."""

    def __init__(self, broker: PrivateBroker, topic: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert subscribed.wait(WAIT)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def wait_for(self, count: int) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        pytest.fail(f"received {len(self.messages)} of {count} messages")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.mqtt
def test_publishing_sends_every_line_to_its_topic_and_bad_lines_to_a_valid_room(
    mosquitto: PrivateBroker,
) -> None:
    entries = generate_night(Ward.typical(2, site="pubtest"), 1, malformed_fraction=0.01)
    entries = [entry for entry in entries if isinstance(entry, str) or entry["room"] == "101"]
    entries = [*entries[:300], "not json"]
    collector = Collector(mosquitto, "pubtest-care/#")
    try:
        progress = publish_recording(entries, mosquitto.url, prefix="pubtest-care")
        received = collector.wait_for(len(entries))
    finally:
        collector.close()
    assert progress.sent == progress.acknowledged == len(entries)
    assert progress.malformed == sum(1 for e in entries if isinstance(e, str))
    assert len(received) == len(entries)
    for (topic, payload), entry in zip(received, entries, strict=True):
        if isinstance(entry, str):
            assert payload == entry.encode("utf-8")
            assert topic.startswith("pubtest-care/pubtest/101/")
        else:
            assert json.loads(payload) == entry
            assert topic == f"pubtest-care/pubtest/101/{entry['kind']}/{entry['device']}"


@pytest.mark.mqtt
def test_publishing_at_a_speed_paces_event_time_and_can_shift_it_to_now(
    mosquitto: PrivateBroker,
) -> None:
    events: list[dict[str, Any] | str] = [
        {
            "ts": 1_800_000_000.0 + 10 * i,
            "site": "pace",
            "room": "1",
            "kind": "call",
            "device": "b",
            "event": "pressed",
        }
        for i in range(5)
    ]
    collector = Collector(mosquitto, "pacetest/#")
    try:
        started = time.time()
        progress = publish_recording(
            events, mosquitto.url, prefix="pacetest", speed=100.0, shift_to_now=True
        )
        took = time.time() - started
        received = collector.wait_for(len(events))
    finally:
        collector.close()
    assert progress.sent == 5
    assert took >= 0.35  # 40 s of event time at 100x
    stamps = [json.loads(payload)["ts"] for _, payload in received]
    assert abs(stamps[0] - started) < 5
    assert [round(b - a, 3) for a, b in itertools.pairwise(stamps)] == [10.0] * 4


@pytest.mark.mqtt
def test_publishing_a_site_recording_by_its_stem_sends_every_line(
    mosquitto: PrivateBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = simulate_site(1, 1, date(2026, 11, 20), 4, 0.05, 0.01, site="pubsite")
    stem = tmp_path / "site"
    write_site(run, stem)
    collector = Collector(mosquitto, "pubsite-care/#")
    try:
        code = publish_main([str(stem), "--broker", mosquitto.url, "--prefix", "pubsite-care"])
        received = collector.wait_for(len(run.recording))
    finally:
        collector.close()
    assert code == 0
    assert f"publishing {stem}.jsonl.gz" in capsys.readouterr().out
    assert len(received) == len(run.recording)
