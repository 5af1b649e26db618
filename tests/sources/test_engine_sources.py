"""The engine takes a source's messages like native ones: mapped events classified and
journalled with the contract's fields only, the last states kept in its snapshot."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sensorhub import cli
from sensorhub.engine import Engine
from sensorhub.rules import load_policy
from sensorhub.rules.policy import Policy
from sensorhub.sources.mapper import STATE_TOPIC
from tests.test_engine import Message

#: 2026-11-20 23:00 Europe/Amsterdam: night
T = 1795212000.0
RULES = """\
version: 1
sites:
  hof:
    rooms: {kamer1: {resident: {wanders: true}}}
    sources:
      z2m:
        preset: zigbee2mqtt
        devices: {kamer1-deur: {room: kamer1, kind: door}}
"""


def policy(tmp_path: Path, text: str = RULES) -> Policy:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


def door(contact: bool, at: float) -> Message:
    payload = {"contact": contact, "linkquality": int(at) % 200, "voltage": 3000}
    return Message("zigbee2mqtt/kamer1-deur", json.dumps(payload).encode(), at)


def test_a_mapped_event_is_paged_and_journalled_with_contract_fields_only(
    tmp_path: Path,
) -> None:
    engine = Engine(policy(tmp_path))
    out = engine.round([door(False, T)], drain=True)
    assert [(page.kind, page.room) for page in out.pages] == [("wandering", "kamer1")]
    [entry] = [e for e in out.journal if e.topic.startswith("care/")]
    assert entry.topic == "care/hof/kamer1/door/kamer1-deur"
    assert set(json.loads(entry.payload)) == {"ts", "event", "id", "site", "room", "kind", "device"}
    assert "linkquality" not in "".join(e.payload for e in out.journal)
    assert [json.loads(e.payload) for e in out.journal if e.topic == STATE_TOPIC] == [
        ["z2m", "kamer1-deur", "contact", "open"]
    ]


def test_a_retained_message_is_not_taken_and_says_what_to_do_by_where_it_came_from(
    tmp_path: Path,
) -> None:
    """serve warns once per topic with these words: a Zigbee2MQTT device set to retain is
    Zigbee2MQTT's setting to change, not a sensor that breaks the contract."""
    engine = Engine(policy(tmp_path))
    retained_door = dataclasses.replace(door(False, T), retained=True)
    native = Message("care/hof/kamer1/door/d1", b'{"ts": 1795212000, "event": "open"}', T, True)
    out = engine.round([retained_door, native], drain=True)
    assert not out.pages
    assert out.retained == [("zigbee2mqtt/kamer1-deur", "z2m"), ("care/hof/kamer1/door/d1", None)]
    z2m, care = (engine.sources.retained_note(source) for _, source in out.retained)
    assert "source 'z2m' (Zigbee2MQTT)" in z2m
    assert "set retain: false for it under devices: in Zigbee2MQTT's configuration.yaml" in z2m
    assert "sensors must publish events without the retain flag" not in z2m
    assert "sensors must publish events without the retain flag" in care


def test_the_last_states_come_back_from_a_snapshot(tmp_path: Path) -> None:
    """A restart from a snapshot alone (its journal empty) still knows the door is open."""
    first = Engine(policy(tmp_path))
    assert first.round([door(False, T)]).events["door"] == 1
    snapshot = json.loads(json.dumps(first.snapshot()))  # as the store keeps it
    assert snapshot["sources"] == [["z2m", "kamer1-deur", "contact", "open"]]
    second = Engine(policy(tmp_path))
    second.resume(snapshot, [], [])
    assert second.round([door(False, T + 5)]).events["door"] == 0  # a repeat
    assert second.round([door(True, T + 6)]).events["door"] == 1


def test_a_source_under_the_native_prefix_is_refused(tmp_path: Path) -> None:
    rules = policy(
        tmp_path,
        RULES.replace("preset: zigbee2mqtt", "preset: zigbee2mqtt\n        base: care/z2m"),
    )
    with pytest.raises(ValueError, match="overlaps the prefix of native events 'care'"):
        Engine(rules)
    assert Engine(rules, prefix="zorg").sources.filters == ["care/z2m/#"]


def test_a_reload_takes_new_devices_and_keeps_the_last_states(tmp_path: Path) -> None:
    engine = Engine(policy(tmp_path))
    assert engine.round([door(False, T)]).events["door"] == 1
    more = RULES.replace("kind: door}}", "kind: door}, kamer1-pir: {room: kamer1, kind: motion}}")
    engine.reload(policy(tmp_path, more))
    pir = Message("zigbee2mqtt/kamer1-pir", b'{"occupancy": true}', T + 1)
    out = engine.round([door(False, T + 2), pir])
    assert out.events == {"motion": 1}  # the door's state is a repeat still


def test_a_reload_onto_the_native_prefix_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    engine = Engine(policy(tmp_path))
    clash = RULES.replace("preset: zigbee2mqtt", "preset: zigbee2mqtt\n        base: care")
    with pytest.raises(ValueError, match="overlaps the prefix"):
        engine.reload(policy(tmp_path, clash))
    assert engine.sources.filters == ["zigbee2mqtt/#"]
    assert engine.round([door(False, T)]).events["door"] == 1


def test_serve_refuses_a_source_on_its_prefix_with_a_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No traceback: serve says which source and prefix overlap, and exits 2 (the broker's
    port is never dialled: it fails before it connects)."""
    path = tmp_path / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    argv = ["serve", "--rules", str(path), "--prefix", "zigbee2mqtt"]
    argv += ["--broker", "mqtt://127.0.0.1:9", "--store", f"sqlite:///{tmp_path}/s.db"]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (
        "sensorhub serve: source 'z2m' has the base topic 'zigbee2mqtt', which overlaps the "
        "prefix of native events 'zigbee2mqtt': give one of them another topic\n"
    )


RADAR_RULES = (
    RULES
    + """\
      radar:
        preset: vs373
        devices: {kamer1-radar: {room: kamer1, kind: optical}}
"""
)


def radar(event: int, status: int, at: float) -> Message:
    local = datetime.fromtimestamp(at, ZoneInfo("Europe/Amsterdam"))
    report = {
        "device_info": {"device_sn": "6806E51510750004", "time": f"{local:%Y-%m-%d %H:%M:%S}"},
        "trigger_data": {"type": 0, "event": event, "status": status},
    }
    return Message("vs373/kamer1-radar", json.dumps(report).encode(), at)


@pytest.mark.parametrize(("vacant_after", "paged"), [(12, True), (25, False)])
def test_in_a_radar_room_a_wanderer_leaving_is_paged_only_if_the_radar_finds_the_room_empty_in_time(
    tmp_path: Path, vacant_after: int, paged: bool
) -> None:
    """A radar cannot see someone leave (docs/sources.md, "A radar room"): the door opened at
    night is wandering when the radar reports the room vacant within wandering_confirm (20 s);
    a later vacant report finds the door window closed, the radar heard: nothing is paged."""
    engine = Engine(policy(tmp_path, RADAR_RULES))
    messages = [
        radar(3, 1, T - 60),  # out of bed
        door(False, T),  # the door opens
        door(True, T + 6),
        radar(5, 1, T + vacant_after),  # the room empty
    ]
    out = engine.round(messages, drain=True)
    assert [(p.kind, p.room) for p in out.pages if p.escalation == 0] == (
        [("wandering", "kamer1")] if paged else []
    )
