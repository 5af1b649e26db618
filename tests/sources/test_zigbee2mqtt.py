"""The Zigbee2MQTT preset: each field a device exposes becomes the contract event it means, an
unchanged state repeated is no event, what cannot be mapped is dead-lettered naming the source,
the device and the field, and the ids are the same in every process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sensorhub.rules.sources import SourceRules, TsRules
from sensorhub.sources import Mapped, SourceMap, SourceSpec

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "zigbee2mqtt.json").read_text())
#: 2026-11-20 23:00 Europe/Amsterdam
T = 1795212000.0
DEVICES = {
    "kamer1-deur": {"room": "kamer1", "kind": "door"},
    "kamer1-pir": {"room": "kamer1", "kind": "motion"},
    "kamer1/bed": {"room": "kamer1", "kind": "bed", "device": "kamer1-bed"},
    "kamer1-knop": {"room": "kamer1", "kind": "call"},
}
KIND_DEVICE = {
    "door": "kamer1-deur",
    "motion": "kamer1-pir",
    "bed": "kamer1/bed",
    "call": "kamer1-knop",
}


def source_map(**rules: Any) -> SourceMap:
    source = SourceRules.model_validate({"preset": "zigbee2mqtt", "devices": DEVICES} | rules)
    return SourceMap([source.spec("z2m", "zonnehof")])


def publish(
    sources: SourceMap, name: str, payload: Any, at: float = T, *, retained: bool = False
) -> Mapped:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    mapped = sources.map(f"zigbee2mqtt/{name}", data, at, retained)
    assert mapped is not None
    return mapped


def names(mapped: Mapped) -> list[str]:
    return [event.event for event in mapped.events]


@pytest.mark.parametrize(
    "case", FIXTURES["cases"], ids=[f"{c['kind']}-{i}" for i, c in enumerate(FIXTURES["cases"])]
)
def test_documented_payloads_become_their_events(case: dict[str, Any]) -> None:
    """Each payload written from Zigbee2MQTT's documentation becomes the events it means, with
    only the contract's fields, at the time of receipt, for the device of the table."""
    mapped = publish(source_map(), KIND_DEVICE[case["kind"]], case["payload"])
    assert not mapped.dead_letters, case["document"]
    assert names(mapped) == case["events"], case["document"]
    for event in mapped.events:
        assert (event.site, event.room, event.kind) == ("zonnehof", "kamer1", case["kind"])
        assert event.ts == T
        assert set(event.raw) == {"ts", "event", "id", "site", "room", "kind", "device"}
        assert event.raw["event"] == event.event
        assert event.raw["id"] == event.id


def test_contact_false_is_open_and_true_is_closed() -> None:
    sources = source_map()
    assert names(publish(sources, "kamer1-deur", {"contact": False})) == ["open"]
    assert names(publish(sources, "kamer1-deur", {"contact": True})) == ["closed"]


def test_a_repeat_of_an_unchanged_state_is_no_event() -> None:
    """Zigbee2MQTT publishes the whole state again when only the link quality changed."""
    sources = source_map()
    assert names(publish(sources, "kamer1-deur", {"contact": False, "linkquality": 90})) == ["open"]
    for quality in (80, 70, 60):
        repeat = publish(sources, "kamer1-deur", {"contact": False, "linkquality": quality})
        assert names(repeat) == []
        assert not repeat.changes
        assert not repeat.dead_letters
    assert names(publish(sources, "kamer1-deur", {"contact": True})) == ["closed"]
    assert names(publish(sources, "kamer1-deur", {"contact": False})) == ["open"]


def test_each_button_press_is_an_event_even_if_the_payload_is_the_same() -> None:
    sources = source_map()
    first = publish(sources, "kamer1-knop", {"action": "single"}, T)
    second = publish(sources, "kamer1-knop", {"action": "single"}, T + 5)
    assert names(first) == names(second) == ["pressed"]
    assert first.events[0].id != second.events[0].id


def test_battery_at_or_below_the_threshold_is_battery_low_once_until_it_recovers() -> None:
    sources = source_map(battery_low=25)
    assert names(publish(sources, "kamer1-pir", {"battery": 26})) == []
    assert names(publish(sources, "kamer1-pir", {"battery": 25})) == ["battery_low"]
    assert names(publish(sources, "kamer1-pir", {"battery": 24})) == []  # still low
    assert names(publish(sources, "kamer1-pir", {"battery": 100})) == []  # new battery
    assert names(publish(sources, "kamer1-pir", {"battery": 10})) == ["battery_low"]


@pytest.mark.parametrize(
    ("offline", "online"),
    [(b"offline", b"online"), (b'{"state":"offline"}', b'{"state": "online"}')],
    ids=["plain", "json"],
)
def test_availability_offline_is_a_fault_and_online_a_heartbeat(
    offline: bytes, online: bytes
) -> None:
    """Plain (legacy) and JSON availability; retained too (the broker keeps it current)."""
    sources = source_map()
    assert names(publish(sources, "kamer1-pir/availability", offline, retained=True)) == ["fault"]
    assert names(publish(sources, "kamer1-pir/availability", offline)) == []  # a repeat
    assert names(publish(sources, "kamer1-pir/availability", online)) == ["heartbeat"]
    event = publish(sources, "kamer1-pir/availability", offline).events[0]
    assert (event.kind, event.device, event.event) == ("motion", "kamer1-pir", "fault")


def test_a_retained_state_is_not_taken() -> None:
    """A state the broker kept (retain: true in Zigbee2MQTT's device options) may be old."""
    mapped = publish(source_map(), "kamer1-deur", {"contact": False}, retained=True)
    assert mapped.retained
    assert not mapped.events
    assert not mapped.changes


@pytest.mark.parametrize(
    ("name", "payload", "reason"),
    [
        (
            "kamer1-deur",
            {"contact": "open"},
            "source 'z2m' (Zigbee2MQTT), device 'kamer1-deur': field 'contact' is 'open', "
            "not true or false",
        ),
        (
            "kamer1-pir",
            {"battery": "low"},
            "device 'kamer1-pir': field 'battery' is 'low', not a number (battery %)",
        ),
        ("kamer1-knop", b"single", "device 'kamer1-knop': not JSON"),
        ("kamer1-knop", [1], "device 'kamer1-knop': payload is a JSON array, not a JSON object"),
        (
            "kamer1-pir/availability",
            b"gone",
            "device 'kamer1-pir': availability is not 'online' or 'offline'",
        ),
        (
            "kamer9-deur",
            {"contact": True},
            "source 'z2m' (Zigbee2MQTT), device 'kamer9-deur': not in sources.z2m.devices",
        ),
    ],
)
def test_what_cannot_be_mapped_is_dead_lettered_naming_source_and_field(
    name: str, payload: Any, reason: str
) -> None:
    mapped = publish(source_map(), name, payload)
    assert not mapped.events
    [letter] = mapped.dead_letters
    assert reason in letter.error
    assert letter.topic == f"zigbee2mqtt/{name}"
    assert letter.model_dump().get("source", "z2m") == "z2m"


def test_the_fields_that_can_be_mapped_are_taken_beside_a_dead_letter() -> None:
    mapped = publish(source_map(), "kamer1-deur", {"contact": False, "battery": None})
    assert names(mapped) == ["open"]
    assert "field 'battery' is null" in mapped.dead_letters[0].error


def test_bridge_topics_commands_and_ignored_devices_make_nothing() -> None:
    sources = source_map(unknown_devices="ignore")
    for name, payload in [
        ("bridge/state", b'{"state":"online"}'),
        ("kamer1-deur/set", b'{"state":"ON"}'),
        ("woonkamer-lamp", b'{"state":"ON","brightness":200}'),
    ]:
        mapped = publish(sources, name, payload)
        assert not mapped.events, name
        assert not mapped.dead_letters, name
    assert sources.map("care/zonnehof/kamer1/door/d", b"{}", T, False) is None


def test_the_action_and_command_subtopics_of_a_listed_device_are_not_dead_lettered() -> None:
    """With its Home Assistant integration on, Zigbee2MQTT also publishes each press plain on
    ``<name>/action`` (the state message carries it too: one press, not two), and commands go to
    ``<name>/set/<attribute>`` (guide/usage/mqtt_topics_and_messages.md, "Without JSON")."""
    sources = source_map()
    press = publish(sources, "kamer1-knop", {"action": "single", "linkquality": 80})
    assert names(press) == ["pressed"]
    for name, payload in [
        ("kamer1-knop/action", b"single"),
        ("kamer1-knop/action", b""),
        ("kamer1-deur/set/state", b"ON"),
        ("kamer1-deur/get/state", b""),
    ]:
        mapped = publish(sources, name, payload)
        assert not mapped.events, name
        assert not mapped.dead_letters, (name, mapped.dead_letters)


@pytest.mark.parametrize(
    ("ts", "payload", "expected"),
    [
        ({"field": "last_seen", "format": "unix_ms"}, {"last_seen": 1795212000500}, T + 0.5),
        ({"field": "time", "format": "unix"}, {"time": T}, T),
        ({"field": "last_seen", "format": "rfc3339"}, {"last_seen": "2026-11-20T22:00:00Z"}, T),
        (
            {"field": "last_seen", "format": "rfc3339", "timezone": "Europe/Amsterdam"},
            {"last_seen": "2026-11-20T23:00:00"},
            T,
        ),
    ],
)
def test_ts_from_a_payload_field(
    ts: dict[str, Any], payload: dict[str, Any], expected: float
) -> None:
    sources = source_map(ts=ts)
    mapped = publish(sources, "kamer1-deur", {"contact": False, **payload}, at=T + 100)
    assert [event.ts for event in mapped.events] == [expected]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"contact": False}, "field 'last_seen' (the events' time) is missing"),
        ({"contact": False, "last_seen": "soon"}, "field 'last_seen' is 'soon', not a number"),
        (
            {"contact": False, "last_seen": 1000},
            "field 'last_seen': 1.0 (1970-01-01T00:00:01Z) is before",
        ),
    ],
)
def test_a_bad_ts_field_is_dead_lettered(payload: dict[str, Any], reason: str) -> None:
    sources = source_map(ts=TsRules(field="last_seen", format="unix_ms"))
    mapped = publish(sources, "kamer1-deur", payload)
    assert not mapped.events
    assert reason in mapped.dead_letters[0].error


def test_a_redelivery_has_the_same_id() -> None:
    """The same message (topic, payload, ts) mapped twice, as after a restart, has one id."""
    ts = {"field": "last_seen", "format": "unix_ms"}
    payload = {"action": "single", "last_seen": 1795212000500}
    first = publish(source_map(ts=ts), "kamer1-knop", payload, T)
    again = publish(source_map(ts=ts), "kamer1-knop", payload, T + 3)
    assert first.events[0].id == again.events[0].id


_IDS = """
import json, sys
from tests.sources.test_zigbee2mqtt import FIXTURES, KIND_DEVICE, publish, source_map
sources = source_map()
ids = [
    e.id
    for c in FIXTURES["cases"]
    for e in publish(sources, KIND_DEVICE[c["kind"]], c["payload"]).events
]
print(json.dumps([ids, sources.state_rows()]))
"""


def test_ids_and_the_table_of_last_states_are_the_same_in_every_process() -> None:
    runs = [
        subprocess.run(
            [sys.executable, "-c", _IDS],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "977")
    ]
    assert runs[0] == runs[1]
    ids, rows = json.loads(runs[0])
    assert len(ids) == len(set(ids)) > 5
    assert rows == sorted(rows)


def test_fields_of_the_rule_file_map_beside_and_instead_of_the_preset() -> None:
    """A field the preset does not know, a contact mounted the other way round, and a kind the
    preset has no rules for: each written as a field map in the rule file."""
    sources = source_map(
        devices={
            **DEVICES,
            "kamer1-badge": {"room": "kamer1", "kind": "presence"},
        },
        fields={
            "water_leak": {"when_true": "fault", "when_false": "none"},
            "contact": {"kind": "door", "when_true": "open", "when_false": "closed"},
            "badge": {"kind": "presence", "values": {"in": "staff_in", "out": "staff_out"}},
        },
    )
    assert names(publish(sources, "kamer1-deur", {"contact": True, "water_leak": False})) == [
        "open"
    ]
    assert names(publish(sources, "kamer1-pir", {"water_leak": True})) == ["fault"]
    assert names(publish(sources, "kamer1-badge", {"badge": "in", "battery": 90})) == ["staff_in"]
    refused = publish(sources, "kamer1-badge", {"badge": "maybe"})
    assert "field 'badge' is 'maybe', not 'in', 'out'" in refused.dead_letters[0].error


def test_device_names_that_say_where_the_device_is() -> None:
    """Friendly names ``<room>/<device>`` need no table: the room is one of the site's, the
    kind the device's word in ``kinds``; availability and the table still work beside it."""
    source = SourceRules.model_validate(
        {
            "preset": "zigbee2mqtt",
            "devices": {"kamer1-deur": {"room": "kamer1", "kind": "door"}},
            "names": {"pattern": "{room}/{device}", "kinds": {"deur": "door", "knop": "call"}},
        }
    )
    sources = SourceMap([source.spec("z2m", "zonnehof", ["kamer1", "kamer2"])])
    [event] = publish(sources, "kamer2/deur", {"contact": False}).events
    assert (event.room, event.kind, event.device, event.event) == (
        "kamer2",
        "door",
        "deur",
        "open",
    )
    assert names(publish(sources, "kamer2/deur", {"contact": False})) == []  # a repeat
    assert names(publish(sources, "kamer2/knop/availability", b"offline")) == ["fault"]
    assert names(publish(sources, "kamer1-deur", {"contact": False})) == ["open"]
    for unknown in ("kamer9/deur", "kamer2/lamp", "kamer2/deur/extra", "kamer2"):
        [letter] = publish(sources, unknown, {"contact": True}).dead_letters
        assert "nor a name of names.pattern" in letter.error, unknown


def test_a_kind_in_the_name() -> None:
    source = SourceRules.model_validate(
        {"preset": "zigbee2mqtt", "names": {"pattern": "zorg-{room}-{kind}-{device}"}}
    )
    sources = SourceMap([source.spec("z2m", "zonnehof", ["k1"])])
    [event] = publish(sources, "zorg-k1-call-a", {"action": "single"}).events
    assert (event.room, event.kind, event.device) == ("k1", "call", "a")
    assert publish(sources, "zorg-k1-optical-a", {"action": "single"}).dead_letters


def test_two_sites_on_one_zigbee2mqtt_each_get_their_own_devices() -> None:
    """Sources of one base topic (one Zigbee2MQTT for two sites) share it: each device goes to
    the source that lists it, and a device neither lists is dead-lettered once; a source on a
    longer base topic is not shadowed by a shorter one."""

    def source(site: str, name: str, base: str, device: str) -> SourceSpec:
        rules = SourceRules.model_validate(
            {"preset": "zigbee2mqtt", "base": base, "devices": {device: DEVICES[device]}}
        )
        return rules.spec(name, site)

    sources = SourceMap(
        [
            source("oost", "z2m-oost", "zigbee2mqtt", "kamer1-deur"),
            source("west", "z2m-west", "zigbee2mqtt", "kamer1-pir"),
            source("noord", "z2m-noord", "zigbee2mqtt/noord", "kamer1-knop"),
        ]
    )
    [door] = publish(sources, "kamer1-deur", {"contact": False}).events
    [pir] = publish(sources, "kamer1-pir/availability", b"offline").events
    [button] = publish(sources, "noord/kamer1-knop", {"action": "single"}).events
    assert (door.site, pir.site, button.site) == ("oost", "west", "noord")
    unknown = publish(sources, "kamer9-deur", {"contact": False})
    assert unknown.source == "z2m-oost"
    assert len(unknown.dead_letters) == 1
