"""The ward simulator's Zigbee2MQTT form: the door contacts, motion sensors, call buttons and bed
mats publish as Zigbee2MQTT does, and the generated ``sources:`` section maps every state change
back to the native event at its very time (no broker: the service's own mapper)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from simulators.publish import main as publish_main
from simulators.ward import (
    Ward,
    demo_rule_file,
    iter_recording,
    simulate_night,
    valid_events,
    write_recording,
)
from simulators.ward.model import RADAR_EVENTS
from simulators.ward.radar import RadarWard
from simulators.ward.zigbee import (
    ZIGBEE_KINDS,
    ForeignMessage,
    last_seen,
    rule_file,
    zigbee_entries,
)

from sensorhub.codec.payload import event_time
from sensorhub.rules import load_policy
from sensorhub.sources.mapper import SourceMap
from sensorhub.testing.broker import PrivateBroker

from .test_simulator import Collector

#: The native events whose Zigbee2MQTT state is the same field (a repeat of it is no event).
_STATE_OF = {
    "open": "contact",
    "closed": "contact",
    "motion": "occupancy",
    "no_motion": "occupancy",
    "occupied": "occupancy",
    "vacated": "occupancy",
}


@pytest.mark.parametrize(("seed", "late"), [(1, 0.01), (7, 0.1)])  # the demo's; more late
def test_every_state_change_of_a_zigbee_device_maps_back_to_its_native_event_and_time(
    tmp_path: Path, seed: int, late: float
) -> None:
    ward = Ward.typical(8)
    night = simulate_night(ward, seed, late_fraction=late, malformed_fraction=0.002)
    rules = tmp_path / "rules.yaml"
    rules.write_text(rule_file(ward, "zigbee"), encoding="utf-8")
    sources = SourceMap(load_policy(rules).sources)

    native: list[tuple[float, str, str]] = []  # what each message stands for, as sent
    mapped: list[tuple[float, str, str]] = []
    for entry, sent in zip(night.recording, zigbee_entries(night.recording), strict=True):
        if not isinstance(sent, ForeignMessage):
            assert sent is entry  # cameras, sound, presence buttons, bad lines: as they were
            assert not isinstance(entry, dict) or entry["kind"] not in ZIGBEE_KINDS
            continue
        assert isinstance(entry, dict)
        assert entry["kind"] in ZIGBEE_KINDS
        device = sent.topic.removeprefix("zigbee2mqtt/")
        native.append((sent.ts, device, sent.event))
        out = sources.map(sent.topic, sent.payload, 0.0, retained=False)
        assert out is not None
        assert out.dead_letters == []
        # each report says its device is alive, at the event's time (not the time received)
        assert [(e.ts, e.event) for e in out.events if e.event == "heartbeat"] == [
            (sent.ts, "heartbeat")
        ]
        assert {(e.site, e.device) for e in out.events} == {(ward.site, device)}
        mapped += [(e.ts, e.device, e.event) for e in out.events if e.event != "heartbeat"]
    # every event of a Zigbee2MQTT device is sent once, and one device's never out of order
    # (MQTT keeps a client's messages in order: a late one is late behind other devices')
    events = valid_events(night.recording)
    assert sorted(native) == sorted(
        (e["ts"], e["device"], e["event"]) for e in events if e["kind"] in ZIGBEE_KINDS
    )
    for device in {device for _, device, _ in native}:
        times = [ts for ts, name, _ in native if name == device]
        assert times == sorted(times), device
    assert len(native) > 1000
    native = [event for event in native if event[2] != "heartbeat"]

    # nothing is made up, and each time is the native one to the bit
    assert set(mapped) <= set(native)
    assert len(mapped) == len(set(mapped))
    # what is not mapped is a repeat of an unchanged state: a PIR firing again, a door
    # reported open twice, another battery_low of a battery already low
    taken = set(mapped)
    last: dict[tuple[str, str], str] = {}
    for ts, device, name in native:
        field = _STATE_OF.get(name, name)
        if (ts, device, name) not in taken:
            assert name in _STATE_OF or name == "battery_low", (ts, device, name)
            assert last.get((device, field)) == name, (ts, device, name)
        last[(device, field)] = name
    kinds = {name for _, _, name in mapped}
    assert {"open", "closed", "motion", "vacated", "occupied", "pressed"} <= kinds


def test_a_radar_room_reports_what_a_vs373_can_say_and_each_report_maps_back(
    tmp_path: Path,
) -> None:
    ward = Ward.typical(8, radars=True)
    assert [room.name for room in ward.rooms if room.radar] == ["101", "103", "106"]
    night = simulate_night(ward, 1, late_fraction=0.1)  # a fall in 101
    optical = [e for e in valid_events(night.recording) if e["kind"] == "optical"]
    assert {e["device"] for e in optical} == {
        "radar-101",
        "radar-103",
        "radar-106",
        "cam-102",
        "cam-108",
    }
    radar = [e for e in optical if e["device"].startswith("radar-")]
    assert {e["event"] for e in radar} <= {*RADAR_EVENTS, "heartbeat"}
    assert all(e["ts"] == int(e["ts"]) for e in radar)  # the radar's clock: whole seconds
    rules = tmp_path / "rules.yaml"
    rules.write_text(rule_file(ward, "zigbee"), encoding="utf-8")
    sources = SourceMap(load_policy(rules).sources)

    mapped: list[tuple[float, str, str]] = []
    reports = [
        m
        for m in zigbee_entries(night.recording, timezone=ward.timezone)
        if isinstance(m, ForeignMessage) and m.topic.startswith("vs373/")
    ]
    for report in reports:
        body = json.loads(report.payload)
        assert set(body) == {"device_info", "trigger_data"}  # Milesight's own example's form
        out = sources.map(report.topic, report.payload, 0.0, retained=False)
        assert out is not None
        assert out.dead_letters == []
        # each report says the radar is alive, at the radar's time (not the time received)
        assert [(e.ts, e.event) for e in out.events if e.event == "heartbeat"] == [
            (report.ts, "heartbeat")
        ]
        mapped += [(e.ts, e.device, e.event) for e in out.events if e.event != "heartbeat"]
    native = {(e["ts"], e["device"], e["event"]) for e in radar if e["event"] != "heartbeat"}
    # nothing made up, each at its native time; what is not mapped is a repeat of the radar's
    # state (out of bed again, in bed again, still lying on the floor)
    assert set(mapped) <= native
    assert {name for _, device, name in native - set(mapped)} <= {
        "out_of_bed",
        "in_bed",
        "on_floor",
    }
    assert {name for _, _, name in mapped} == RADAR_EVENTS


def test_a_fall_alarm_stands_until_the_resident_is_back_in_bed_so_the_next_fall_is_new() -> None:
    radars = RadarWard("Europe/Amsterdam")

    def sent(ts: float, name: str) -> list[tuple[int, int]]:
        event = {"ts": ts, "kind": "optical", "device": "radar-101", "event": name}
        return [
            (body["trigger_data"]["event"], body["trigger_data"]["status"])
            for body in (json.loads(payload) for _, payload in radars.reports(event))
        ]

    assert sent(1795207514.0, "fall") == [(0, 1)]
    assert sent(1795207516.0, "on_floor") == [(8, 1)]
    assert sent(1795207600.0, "in_bed") == [(0, 2), (8, 2), (3, 2)]  # staff handled it
    assert sent(1795207700.0, "in_bed") == [(3, 2)]
    assert sent(1795207800.0, "heartbeat") == [(4, 4)]  # a status report of occupancy
    (topic, payload), *_ = radars.reports(
        {"ts": 1795207514.0, "kind": "optical", "device": "radar-101", "event": "fall"}
    )
    assert topic == "vs373/radar-101"
    # the radar's clock: local time (winter: UTC+1), whole seconds, no offset
    assert json.loads(payload)["device_info"]["time"] == "2026-11-20 21:45:14"


def test_last_seen_reads_back_as_the_event_time_to_the_bit() -> None:
    for ts in (1795207514.277, 1795210007.497, 1763672400.0, 1763672400.001, 1795227938.999):
        text = last_seen(ts)
        assert text.endswith("Z")
        assert event_time(text, []) == ts, text


def test_the_native_rule_file_is_unchanged_and_the_zigbee_one_lists_each_zigbee_device(
    tmp_path: Path,
) -> None:
    ward = Ward.typical(8)
    assert rule_file(ward) == demo_rule_file(ward)
    rules = tmp_path / "rules.yaml"
    rules.write_text(rule_file(ward, "zigbee"), encoding="utf-8")
    (source,) = load_policy(rules).sources
    expected = {
        room.device(kind): (room.name, kind)
        for room in ward.rooms
        for kind in room.kinds()
        if kind in ZIGBEE_KINDS
    }
    assert {name: (d.room, d.kind) for name, d in source.devices.items()} == expected
    assert source.ts.field == "last_seen"


def test_publish_refuses_to_shift_zigbee_payloads_to_now(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ward = Ward.typical(1)
    recording = tmp_path / "night.jsonl"
    write_recording(simulate_night(ward, 1).recording, recording)
    with pytest.raises(SystemExit) as exit_:
        publish_main([str(recording), "--sensors", "zigbee", "--now"])
    assert exit_.value.code == 2
    assert "--now cannot shift Zigbee2MQTT payloads" in capsys.readouterr().err


@pytest.mark.mqtt
def test_publish_sends_zigbee_devices_under_zigbee2mqtt_and_the_rest_natively(
    tmp_path: Path, mosquitto: PrivateBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    ward = Ward.typical(2, site="zpubtest")
    recording = tmp_path / "night.jsonl"
    write_recording(simulate_night(ward, 1, malformed_fraction=0.01).recording, recording)
    expected = list(zigbee_entries(iter_recording(recording)))
    foreign = [(e.topic, e.payload) for e in expected if isinstance(e, ForeignMessage)]
    native = [e for e in expected if not isinstance(e, ForeignMessage)]
    zigbee, care = Collector(mosquitto, "zigbee2mqtt/#"), Collector(mosquitto, "zpub-care/#")
    try:
        argv = [str(recording), "--sensors", "zigbee", "--prefix", "zpub-care"]
        assert publish_main([*argv, "--broker", mosquitto.url]) == 0
        got_foreign, got_native = zigbee.wait_for(len(foreign)), care.wait_for(len(native))
    finally:
        zigbee.close()
        care.close()
    assert got_foreign == foreign  # as they are, in their order
    assert len(got_native) == len(native)
    assert {topic.split("/")[3] for topic, _ in got_native} >= {"optical", "presence"}
    assert f"done: {len(expected):,} messages" in capsys.readouterr().out
