"""The Milesight VS373 preset: the vendor's documented trigger reports (both spellings of their
keys) become optical events in the radar's local time, a repeated alarm is no new event, and a
report that cannot be read is dead-lettered naming the source, the device and what is wrong."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sensorhub.rules import load_policy
from sensorhub.rules.sources import SourceRules
from sensorhub.sources import Mapped, SourceMap

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "vs373.json").read_text())
ZONE = "Europe/Amsterdam"
#: when the reports below were received (their own time is what counts)
T = 1795212000.0


def source_map(**rules: Any) -> SourceMap:
    source = SourceRules.model_validate(
        {"preset": "vs373", "devices": {"kamer1-radar": {"room": "kamer1", "kind": "optical"}}}
        | rules
    )
    return SourceMap([source.spec("radar", "zonnehof", ("kamer1",), ZONE)])


def report(event: int, status: int, time: str = "2026-11-20 23:00:00") -> dict[str, Any]:
    return {
        "device_info": {"device_model": "VS373-868M", "time": time},
        "trigger_data": {"type": 0, "event": event, "status": status},
    }


def publish(sources: SourceMap, payload: Any, name: str = "kamer1-radar") -> Mapped:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    mapped = sources.map(f"vs373/{name}", data, T, False)
    assert mapped is not None
    return mapped


def names(mapped: Mapped) -> list[str]:
    return [event.event for event in mapped.events]


@pytest.mark.parametrize(
    "case", FIXTURES["cases"], ids=[case["example"] for case in FIXTURES["cases"]]
)
def test_documented_trigger_reports_become_their_events(case: dict[str, Any]) -> None:
    """Each report of Milesight's page, as printed, in the radar's local time."""
    mapped = publish(source_map(), case["payload"])
    assert not mapped.dead_letters, FIXTURES["document"]
    assert names(mapped) == case["events"], case["example"]
    for event in mapped.events:
        assert (event.site, event.room, event.kind, event.device) == (
            "zonnehof",
            "kamer1",
            "optical",
            "kamer1-radar",
        )
        assert event.ts == datetime.fromisoformat(case["ts"]).timestamp()
        assert set(event.raw) == {"ts", "event", "id", "site", "room", "kind", "device"}
        assert event.id.startswith("radar:")


def test_a_repeated_alarm_is_no_new_event_until_it_was_resolved() -> None:
    sources = source_map()
    assert names(publish(sources, report(0, 1, "2026-11-20 23:00:00"))) == ["fall"]
    assert names(publish(sources, report(0, 1, "2026-11-20 23:00:05"))) == []  # the same fall
    assert names(publish(sources, report(0, 2, "2026-11-20 23:03:00"))) == []  # resolve: none
    assert names(publish(sources, report(0, 1, "2026-11-20 23:30:00"))) == ["fall"]


def test_out_of_bed_resolved_is_back_in_bed() -> None:
    sources = source_map()
    assert names(publish(sources, report(3, 1))) == ["out_of_bed"]
    assert names(publish(sources, report(3, 2))) == ["in_bed"]
    assert names(publish(sources, report(3, 4))) == []  # a status report is no event


def test_occupancy_and_vacant_are_one_state() -> None:
    sources = source_map()
    assert names(publish(sources, report(4, 1))) == ["entered_room"]
    assert names(publish(sources, report(5, 1))) == ["no_person"]
    assert names(publish(sources, report(5, 1))) == []
    assert names(publish(sources, report(4, 1))) == ["entered_room"]


@pytest.mark.parametrize("event", [1, 2, 6, 7])
def test_events_outside_the_contract_are_no_event(event: int) -> None:
    """Motionless, dwell, bradycardia, tachypnea: read (no dead letter), no event."""
    mapped = publish(source_map(), report(event, 1))
    assert names(mapped) == []
    assert not mapped.dead_letters
    assert mapped.changes  # a state all the same


def test_winter_time_is_read_in_the_site_time_zone_and_ts_received_overrides_it() -> None:
    local = "2026-12-01 03:00:00"
    [event] = publish(source_map(), report(8, 1, local)).events
    assert event.ts == datetime.fromisoformat("2026-12-01T03:00:00+01:00").timestamp()
    [event] = publish(source_map(ts="received"), report(8, 1, local)).events
    assert event.ts == T


def test_the_site_time_zone_comes_from_the_rule_file(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            sites:
              lisboa:
                timezone: Europe/Lisbon
                rooms: {quarto1: {}}
                sources:
                  radar:
                    preset: vs373
                    devices: {quarto1-radar: {room: quarto1, kind: optical}}
            """
        ),
        encoding="utf-8",
    )
    [spec] = load_policy(path).sources
    assert (spec.ts.field, spec.ts.format, spec.ts.timezone) == ("time", "rfc3339", "Europe/Lisbon")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"fall!", "not JSON"),
        ({"device_info": {"time": "2026-11-20 23:00:00"}}, "no trigger_data object"),
        (report(9, 1), "trigger_data.event is 9, not one of 0 fall, 1 motionless"),
        (report(0, 7), "trigger_data.status is 7, not one of 1 alarm, 2 resolve"),
        (
            {"device_info": {}, "trigger_data": {"event": "0", "status": 1}},
            "trigger_data.event is '0', not one of",
        ),
        ({"trigger_data": {"event": 0, "status": 1}}, "field 'time' (the events' time) is missing"),
        (report(0, 1, "yesterday"), "field 'time' is 'yesterday', not an RFC 3339 time"),
    ],
    ids=["not-json", "no-trigger", "event", "status", "event-text", "no-time", "bad-time"],
)
def test_a_report_that_cannot_be_read_is_dead_lettered(payload: Any, reason: str) -> None:
    mapped = publish(source_map(), payload)
    assert not mapped.events
    [letter] = mapped.dead_letters
    assert letter.source == "radar"
    assert "source 'radar' (Milesight VS373), device 'kamer1-radar': " in letter.error
    assert reason in letter.error


def test_an_unknown_radar_is_dead_lettered() -> None:
    [letter] = publish(source_map(), report(0, 1), name="kamer9-radar").dead_letters
    assert "device 'kamer9-radar': not in sources.radar.devices" in letter.error


def test_a_site_maps_motionless_to_on_floor_under_fields() -> None:
    values = {"alarm": "on_floor", "resolve": "none"}
    sources = source_map(fields={"motionless": {"kind": "optical", "values": values}})
    assert names(publish(sources, report(1, 1))) == ["on_floor"]
    assert names(publish(sources, report(1, 2))) == []
    assert names(publish(sources, report(0, 1))) == ["fall"]  # the preset's rules stay


def test_radars_sharing_one_topic_are_told_apart_by_their_serial_number(tmp_path: Path) -> None:
    """Every report names its radar (``device_info.device_sn``, or ``device sn``): a table keyed
    by serial number maps radars that publish on one topic, each to its own room."""
    path = tmp_path / "site.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            sites:
              zonnehof:
                rooms: {kamer1: {}, kamer2: {}}
                sources:
                  radar:
                    preset: vs373
                    devices:
                      "6806E51510750004": {room: kamer1, kind: optical, device: kamer1-radar}
                      "6806E41970333123": {room: kamer2, kind: optical, device: kamer2-radar}
            """
        ),
        encoding="utf-8",
    )
    sources = SourceMap(load_policy(path).sources)
    by_case = {case["example"]: case["payload"] for case in FIXTURES["cases"]}
    shared = "vs373/afdeling-oost"  # the one topic the ward's radars are set to
    reports = [by_case["Fall Alarm"], by_case["Out-of-Bed Alarm"], by_case["Lying Alarm"]]
    mapped = [sources.map(shared, json.dumps(r).encode(), T, False) for r in reports]
    assert all(m is not None and not m.dead_letters for m in mapped)
    assert [(e.room, e.device, e.event) for m in mapped if m for e in m.events] == [
        ("kamer1", "kamer1-radar", "fall"),
        ("kamer2", "kamer2-radar", "out_of_bed"),
        ("kamer1", "kamer1-radar", "on_floor"),
    ]
    # the same report again is a repeat of that radar's state, not of the topic's
    again = sources.map(shared, json.dumps(reports[0]).encode(), T + 1, False)
    assert again is not None
    assert not again.events
    # a radar the table does not list is dead-lettered by its serial number
    unknown = report(0, 1) | {"device_info": {"device_sn": "6806E50000000000", "time": "x"}}
    letter_of = sources.map(shared, json.dumps(unknown).encode(), T, False)
    assert letter_of is not None
    [letter] = letter_of.dead_letters
    assert "device '6806E50000000000': not in sources.radar.devices" in letter.error
