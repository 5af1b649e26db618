"""The Home Assistant statestream preset: a binary sensor's plain on/off on
``<base>/binary_sensor/<object_id>/state`` becomes the event of the kind the rule file gives
it, an entity's other topics are not read, a repeat is no event, and what cannot be read is
dead-lettered naming the source and the entity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sensorhub.rules.sources import SourceRules
from sensorhub.sources import Mapped, SourceMap

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "homeassistant.json").read_text())
T = 1795212000.0
DEVICES = {
    "binary_sensor.kamer1_deur": {"room": "kamer1", "kind": "door"},
    "binary_sensor.kamer1_beweging": {"room": "kamer1", "kind": "motion"},
    "binary_sensor.kamer1_bed": {"room": "kamer1", "kind": "bed", "device": "kamer1-bed"},
}


def source_map(**rules: Any) -> SourceMap:
    source = SourceRules.model_validate({"preset": "homeassistant", "devices": DEVICES} | rules)
    return SourceMap([source.spec("ha", "zonnehof", ("kamer1",))])


def publish(sources: SourceMap, topic: str, payload: bytes | str, at: float = T) -> Mapped:
    data = payload.encode() if isinstance(payload, str) else payload
    mapped = sources.map(topic, data, at, False)
    assert mapped is not None
    return mapped


def names(mapped: Mapped) -> list[str]:
    return [event.event for event in mapped.events]


@pytest.mark.parametrize(
    "case",
    FIXTURES["cases"],
    ids=[f"{c['topic'].split('/', 2)[2]}={c['payload']}" for c in FIXTURES["cases"]],
)
def test_documented_statestream_messages_become_their_events(case: dict[str, Any]) -> None:
    mapped = publish(source_map(), case["topic"], case["payload"])
    assert not mapped.dead_letters, FIXTURES["document"]
    assert names(mapped) == case["events"], case["topic"]
    for event in mapped.events:
        assert (event.site, event.room, event.kind) == ("zonnehof", "kamer1", case["kind"])
        assert event.ts == T
        assert set(event.raw) == {"ts", "event", "id", "site", "room", "kind", "device"}


def test_the_entity_id_is_the_device_and_a_repeat_is_no_event() -> None:
    sources = source_map()
    topic = "homeassistant/binary_sensor/kamer1_deur/state"
    [event] = publish(sources, topic, "on").events
    assert event.device == "binary_sensor.kamer1_deur"
    assert names(publish(sources, topic, "on", T + 1)) == []
    assert names(publish(sources, topic, "off", T + 2)) == ["closed"]
    assert names(publish(sources, topic, "unavailable", T + 3)) == ["fault"]
    assert names(publish(sources, topic, "off", T + 4)) == ["closed"]  # heard again
    [bed] = publish(sources, "homeassistant/binary_sensor/kamer1_bed/state", "on").events
    assert bed.device == "kamer1-bed"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (
            "homeassistant/binary_sensor/kamer1_deur/state",
            "open",
            "device 'binary_sensor.kamer1_deur': field 'state' is 'open', not 'on', 'off'",
        ),
        (
            "homeassistant/binary_sensor/kamer1_deur/state",
            b"\xff\xfe",
            "not UTF-8 text",
        ),
        (
            "homeassistant/binary_sensor/kamer9_deur/state",
            "on",
            "device 'binary_sensor.kamer9_deur': not in sources.ha.devices",
        ),
    ],
    ids=["not-on-or-off", "not-text", "unknown-entity"],
)
def test_what_cannot_be_read_is_dead_lettered(
    topic: str, payload: str | bytes, reason: str
) -> None:
    mapped = publish(source_map(), topic, payload)
    assert not mapped.events
    [letter] = mapped.dead_letters
    assert letter.source == "ha"
    assert "source 'ha' (Home Assistant statestream), " in letter.error
    assert reason in letter.error


def test_other_domains_and_topics_of_the_base_are_not_read() -> None:
    """Discovery configs share the base homeassistant; a light's state is no entity of ours
    but is a state topic: it is an unknown device unless ignored."""
    sources = source_map(unknown_devices="ignore")
    for topic in (
        "homeassistant/binary_sensor/kamer1_deur/config",
        "homeassistant/status",
        "homeassistant/light/gang/state",
    ):
        mapped = publish(sources, topic, "on")
        assert (mapped.events, mapped.dead_letters) == ([], []), topic


def test_a_retained_state_is_not_taken() -> None:
    """Statestream publishes retained: on (re)subscribing the broker's copy is no event."""
    mapped = source_map().map("homeassistant/binary_sensor/kamer1_deur/state", b"on", T, True)
    assert mapped is not None
    assert mapped.retained
    assert not mapped.events


def test_a_site_maps_a_door_sensor_mounted_the_other_way() -> None:
    values = {"on": "closed", "off": "open", "unavailable": "fault", "unknown": "none"}
    sources = source_map(fields={"state": {"kind": "door", "values": values}})
    topic = "homeassistant/binary_sensor/kamer1_deur/state"
    assert names(publish(sources, topic, "on")) == ["closed"]
    assert names(publish(sources, "homeassistant/binary_sensor/kamer1_beweging/state", "on")) == [
        "motion"
    ]
