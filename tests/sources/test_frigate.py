"""The Frigate preset: a camera's tracked persons passing through its bed and door zones become
optical events at the frame's time, Frigate's own count of persons becomes no_person and
multiple_persons, its availability is every camera's, and what cannot be read is
dead-lettered naming the source and the camera."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sensorhub.rules.sources import SourceRules
from sensorhub.sources import Mapped, SourceMap

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "frigate.json").read_text())
T = 1795212000.0
DEVICES = {
    "kamer1": {"room": "kamer1", "kind": "optical", "zones": FIXTURES["zones"]},
    "kamer2": {"room": "kamer2", "kind": "optical", "device": "kamer2-cam"},
}


def source_map(**rules: Any) -> SourceMap:
    source = SourceRules.model_validate({"preset": "frigate", "devices": DEVICES} | rules)
    return SourceMap([source.spec("nvr", "zonnehof", ("kamer1", "kamer2"))])


def publish(
    sources: SourceMap, topic: str, payload: Any, at: float = T + 5000, *, retained: bool = False
) -> Mapped:
    data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    mapped = sources.map(topic, data, at, retained)
    assert mapped is not None
    return mapped


def names(mapped: Mapped) -> list[str]:
    return [event.event for event in mapped.events]


def test_a_documented_night_becomes_its_events() -> None:
    """Each step of the fixture, in order, with the state the ones before it left."""
    sources = source_map()
    for step in FIXTURES["steps"]:
        mapped = publish(sources, step["topic"], step["payload"])
        assert not mapped.dead_letters, step["what"]
        assert names(mapped) == step["events"], step["what"]
        for event in mapped.events:
            assert (event.room, event.kind, event.device) == ("kamer1", "optical", "kamer1")
            assert set(event.raw) == {"ts", "event", "id", "site", "room", "kind", "device"}
            if step["topic"] == "frigate/events":  # the frame's time
                assert event.ts == step["payload"]["after"]["frame_time"]
            else:  # a count carries no time: when it was received
                assert event.ts == T + 5000


def event(kind: str, camera: str, now: list[str], was: list[str], **after: Any) -> dict[str, Any]:
    tracked = {"id": "1.0-x", "camera": camera, "label": "person", "frame_time": T}
    return {
        "type": kind,
        "before": tracked | {"current_zones": was},
        "after": tracked | {"current_zones": now, "entered_zones": now} | after,
    }


def test_each_passage_through_the_door_is_an_event() -> None:
    """Two people leaving one after the other are two left_room (a state would drop one)."""
    sources = source_map()
    first = publish(sources, "frigate/events", event("end", "kamer1", ["kamer1_deur"], []))
    second = publish(
        sources, "frigate/events", event("end", "kamer1", ["kamer1_deur"], [], frame_time=T + 9)
    )
    assert names(first) == names(second) == ["left_room"]
    assert first.events[0].id != second.events[0].id


def test_zones_not_in_the_cameras_map_and_false_positives_make_nothing() -> None:
    sources = source_map()
    assert names(publish(sources, "frigate/events", event("new", "kamer2", ["bed"], []))) == []
    false = event("new", "kamer1", ["kamer1_bed"], [], false_positive=True)
    assert names(publish(sources, "frigate/events", false)) == []


def test_available_is_the_availability_of_every_camera() -> None:
    sources = source_map()
    offline = publish(sources, "frigate/available", "offline", retained=True)
    assert [(e.device, e.event) for e in offline.events] == [
        ("kamer1", "fault"),
        ("kamer2-cam", "fault"),
    ]
    assert names(publish(sources, "frigate/available", "offline")) == []  # a repeat
    assert names(publish(sources, "frigate/available", "online")) == ["heartbeat", "heartbeat"]
    [letter] = publish(sources, "frigate/available", "maybe").dead_letters
    assert "availability is not 'online' or 'offline'" in letter.error


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("frigate/events", "{", "topic 'events': not JSON"),
        ("frigate/events", {"type": "begin", "after": {}}, "type is 'begin', not 'new'"),
        ("frigate/events", {"type": "new", "after": {"id": "x"}}, "after is not an object with"),
        (
            "frigate/events",
            event("new", "kamer9", [], []),
            "device 'kamer9': not in sources.nvr.devices",
        ),
        (
            "frigate/events",
            event("new", "kamer1", [], [], frame_time="now"),
            "device 'kamer1': field 'frame_time' is 'now', not a number (unix)",
        ),
        (
            "frigate/kamer1/person",
            "two",
            "device 'kamer1': the count of persons is 'two', not a whole number",
        ),
    ],
    ids=["not-json", "type", "no-camera", "unknown-camera", "bad-time", "bad-count"],
)
def test_what_cannot_be_read_is_dead_lettered(topic: str, payload: Any, reason: str) -> None:
    mapped = publish(source_map(), topic, payload)
    assert not mapped.events
    [letter] = mapped.dead_letters
    assert letter.source == "nvr"
    assert "source 'nvr' (Frigate), " in letter.error
    assert reason in letter.error


def test_a_retained_count_is_not_taken() -> None:
    mapped = publish(source_map(), "frigate/kamer1/person", "2", retained=True)
    assert mapped.retained
    assert not mapped.events


def test_two_sites_on_one_frigate_each_get_their_cameras_availability() -> None:
    sources = SourceMap(
        [
            SourceRules.model_validate(
                {"preset": "frigate", "devices": {camera: {"room": "kamer1", "kind": "optical"}}}
            ).spec(name, site, ("kamer1",))
            for name, site, camera in (("nvr-a", "zon", "cam-a"), ("nvr-b", "hof", "cam-b"))
        ]
    )
    offline = publish(sources, "frigate/available", "offline")
    assert sorted((e.site, e.device, e.event) for e in offline.events) == [
        ("hof", "cam-b", "fault"),
        ("zon", "cam-a", "fault"),
    ]
    assert {change[0] for change in offline.changes} == {"nvr-a", "nvr-b"}
