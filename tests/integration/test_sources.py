"""Zigbee2MQTT devices through a real Mosquitto to ``sensorhub serve`` in a process of its own:
the rule file's ``sources:`` alone connects them (docs/sources.md).

Zigbee2MQTT publishes a device's state with retain false by default and its availability
retained. Before serve starts, the broker holds a retained availability ``offline`` of the
button and a retained ``contact: false`` of the door (a device with ``retain: true``): the
availability is taken (the broker keeps it current: the device is offline now), the old state
is not. Live, the door opens (once, then its state repeated on each link-quality change), a
broken payload is dead-lettered naming the source and the field, the button is pressed and
paged. Then serve is killed (SIGKILL: no snapshot, the journal alone) and started again with
another ``PYTHONHASHSEED``: the broker gives the retained availability again, and the door
repeats its state; neither is a new event, because the last states came back with the journal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sensorhub.contract import DEADLETTER_TOPIC
from tests.conftest import Names, Received, TestClient, wait_until

from .conftest import ServeProcess
from .test_serve import NIGHT, is_page

MakeClient = Callable[..., TestClient]
SEED_BEFORE, SEED_AFTER = 11, 4242

RULES = """\
version: 1
sites:
  {site}:
    rooms:
      kamer1: {{}}
      kamer2: {{}}
      kamer3: {{}}
    sources:
      z2m:
        preset: zigbee2mqtt
        base: {base}
        devices:
          kamer1-deur: {{room: kamer1, kind: door}}
          kamer2-knop: {{room: kamer2, kind: call}}
          kamer3 knop: {{room: kamer3, kind: call, device: kamer3-knop}}
"""


def audited(path: Path, device: str) -> list[str]:
    """The events of ``device`` the classifier took, in event time, by the --audit file (one
    event may be in several records: its state, the page it decided)."""
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    events = {
        r["event"]["id"]: r["event"] for r in records if r.get("event", {}).get("device") == device
    }
    return [event["event"] for event in sorted(events.values(), key=lambda e: e["ts"])]


def is_dead_letter_of_source(field: str) -> Callable[[Received], bool]:
    def match(message: Received) -> bool:
        return message.topic == DEADLETTER_TOPIC and f"field {field!r}" in message.json()["error"]

    return match


def serve_with_audit(
    serve_process: Callable[..., ServeProcess], tmp_path: Path, rules_text: str
) -> tuple[ServeProcess, Path]:
    """``serve`` on ``rules_text`` (not started), with its ``--audit`` file."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(rules_text, encoding="utf-8")
    audit = tmp_path / "audit.jsonl"
    service = serve_process(rules)
    service.command += ["--audit", str(audit)]
    return service, audit


@pytest.mark.mqtt
def test_zigbee2mqtt_devices_are_paged_and_their_repeats_dropped_across_a_restart(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
) -> None:
    base = f"{names.prefix}-z2m"
    service, audit = serve_with_audit(
        serve_process, tmp_path, RULES.format(site=names.site, base=base)
    )
    client = mqtt_client([names.pages, DEADLETTER_TOPIC])

    def z2m(name: str, payload: Any, *, retain: bool = False) -> None:
        client.publish(f"{base}/{name}", payload, retain=retain)

    # what the broker holds before serve starts (as Zigbee2MQTT leaves it)
    z2m("kamer2-knop/availability", {"state": "offline"}, retain=True)
    z2m("kamer1-deur", {"contact": False, "battery": 90, "linkquality": 40}, retain=True)
    try:
        service.start(seed=SEED_BEFORE)
        z2m("kamer1-deur", {"contact": False, "battery": 90, "linkquality": 81})
        z2m("kamer1-deur", {"contact": False, "battery": 90, "linkquality": 65})
        z2m("kamer1-deur", {"contact": "yes", "battery": 90, "linkquality": 65})
        z2m("kamer2-knop", {"action": "single", "battery": 80, "linkquality": 110})
        [page] = client.wait_for(is_page("call", "kamer2"))
        assert page.json()["events"][0].startswith("z2m:")
        [letter] = client.wait_for(is_dead_letter_of_source("contact"))
        assert letter.json()["source"] == "z2m"
        assert letter.json()["topic"] == f"{base}/kamer1-deur"
        assert "source 'z2m' (Zigbee2MQTT), device 'kamer1-deur'" in letter.json()["error"]
        wait_until(lambda: "fault" in audited(audit, "kamer2-knop"), "the availability taken")

        service.kill()
        service.start(seed=SEED_AFTER)
        z2m("kamer1-deur", {"contact": False, "battery": 90, "linkquality": 70})
        z2m("kamer3 knop", {"action": "double"})
        client.wait_for(is_page("call", "kamer3"))
        z2m("kamer1-deur", {"contact": True, "battery": 90, "linkquality": 70})
        wait_until(lambda: "closed" in audited(audit, "kamer1-deur"), "the door closed")
        service.stop_by("sigterm")
    finally:
        client.publish(f"{base}/kamer2-knop/availability", b"", retain=True)  # clear them
        client.publish(f"{base}/kamer1-deur", b"", retain=True)

    # the retained door state: the advice is Zigbee2MQTT's setting, not a native sensor's
    log = service.text()
    assert f"ignoring a retained message on {base}/kamer1-deur" in log
    assert "source 'z2m' (Zigbee2MQTT)" in log
    assert "set retain: false for it under devices:" in log
    assert "sensors must publish events without the retain flag" not in log
    assert "linkquality" not in audit.read_text(encoding="utf-8")  # contract fields only
    assert "linkquality" not in letter.json()["payload"]
    assert audited(audit, "kamer1-deur") == ["open", "closed"]
    assert audited(audit, "kamer2-knop") == ["fault", "pressed"]
    assert audited(audit, "kamer3-knop") == ["pressed"]
    assert len(client.matching(is_page("call"))) == 2


NIGHT_RULES = """\
version: 1
sites:
  {site}:
    rooms:
      kamer1: {{resident: {{wanders: true}}}}
      kamer2: {{}}
    sources:
      z2m:
        preset: zigbee2mqtt
        base: {base}
        ts: {{field: last_seen, format: unix_ms}}
        names:
          pattern: "{{room}}/{{device}}"
          kinds: {{deur: door, knop: call}}
"""


@pytest.mark.mqtt
def test_a_door_opened_at_night_by_its_last_seen_time_is_paged_as_wandering(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
) -> None:
    """With ``ts`` from Zigbee2MQTT's ``last_seen`` (epoch ms) the events are in their own time:
    a wandering resident's door opened at 23:00 is paged within 30 s of event time, the
    resident call pressed a minute later within 2 s; neither depends on the wall clock."""
    base = f"{names.prefix}-z2m"
    rules = tmp_path / "rules.yaml"
    rules.write_text(NIGHT_RULES.format(site=names.site, base=base), encoding="utf-8")
    service = serve_process(rules)
    client = mqtt_client([names.pages])
    service.start()
    ms = int(NIGHT * 1000)
    client.publish(f"{base}/kamer1/deur", {"contact": False, "linkquality": 90, "last_seen": ms})
    client.publish(
        f"{base}/kamer1/deur", {"contact": False, "linkquality": 60, "last_seen": ms + 5000}
    )
    client.publish(f"{base}/kamer2/knop", {"action": "single", "last_seen": ms + 60_000})
    [wandering] = client.wait_for(is_page("wandering", "kamer1"))
    [call] = client.wait_for(is_page("call", "kamer2"))
    assert NIGHT < wandering.json()["ts"] <= NIGHT + 30  # the contract's "page by"
    assert NIGHT + 60 <= call.json()["ts"] <= NIGHT + 62
    [evidence] = wandering.json()["events"]
    assert evidence.startswith("z2m:")
    assert evidence.endswith(":contact")


VS373_RULES = """\
version: 1
sites:
  {site}:
    timezone: Europe/Amsterdam
    rooms:
      kamer1: {{}}
    sources:
      radar:
        preset: vs373
        base: {base}
        devices:
          kamer1-radar: {{room: kamer1, kind: optical}}
"""


def vs373_fall(local_time: str) -> dict[str, Any]:
    """A fall alarm as Milesight's trigger report page prints it (keys with spaces, the
    trigger data inside the device info)."""
    return {
        "device info": {
            "device model": "VS373-868M",
            "device sn": "6806E51510750004",
            "time": local_time,
            "trigger data": {"type": 0, "trigger id": 266, "event": 0, "status": 1},
        }
    }


@pytest.mark.mqtt
def test_a_vs373_fall_alarm_is_paged_once_in_the_radars_local_time(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
) -> None:
    """A VS373 reports a fall at 23:00 local time (no offset: the site's time zone), and the
    same alarm again 5 s later; a broken report is dead-lettered. The fall is paged once,
    within the contract's 15 s of its event time, with the radar's event as evidence. serve is
    killed and started again with another hash seed: the radar repeating its unresolved alarm
    is still no new event (the last states came back with the journal)."""
    base = f"{names.prefix}-vs373"
    service, audit = serve_with_audit(
        serve_process, tmp_path, VS373_RULES.format(site=names.site, base=base)
    )
    client = mqtt_client([names.pages, DEADLETTER_TOPIC])
    service.start(seed=SEED_BEFORE)
    client.publish(f"{base}/kamer1-radar", vs373_fall("2026-11-20 23:00:00"))
    client.publish(f"{base}/kamer1-radar", vs373_fall("2026-11-20 23:00:05"))
    client.publish(f"{base}/kamer1-radar", {"device_info": {"time": "2026-11-20 23:00:06"}})
    [page] = client.wait_for(is_page("fall", "kamer1"))
    assert NIGHT < page.json()["ts"] <= NIGHT + 15
    [evidence] = page.json()["events"]
    assert evidence.startswith("radar:")
    assert evidence.endswith(":fall")
    [letter] = client.wait_for(lambda m: m.topic == DEADLETTER_TOPIC)
    assert letter.json()["source"] == "radar"
    assert "(Milesight VS373), device 'kamer1-radar': no trigger_data" in letter.json()["error"]
    wait_until(lambda: "fall" in audited(audit, "kamer1-radar"), "the fall taken")

    service.kill()
    service.start(seed=SEED_AFTER)
    client.publish(f"{base}/kamer1-radar", vs373_fall("2026-11-20 23:00:20"))
    lying = {
        "device_info": {"device_model": "VS373-868M", "time": "2026-11-20 23:00:30"},
        "trigger_data": {"type": 0, "event": 8, "status": 1},
    }
    client.publish(f"{base}/kamer1-radar", lying)
    wait_until(lambda: "on_floor" in audited(audit, "kamer1-radar"), "the lying alarm taken")
    service.stop_by("sigterm")
    assert audited(audit, "kamer1-radar") == ["fall", "on_floor"]
    # one page (sent again after the kill, with its id, if the kill came before it was stored)
    assert len({page.json()["page_id"] for page in client.matching(is_page("fall"))}) == 1


FRIGATE_RULES = """\
version: 1
sites:
  {site}:
    rooms:
      kamer1: {{resident: {{wanders: true}}}}
    sources:
      nvr:
        preset: frigate
        base: {base}
        devices:
          kamer1: {{room: kamer1, kind: optical, zones: {{kamer1_bed: bed, kamer1_deur: door}}}}
"""


def frigate_event(kind: str, t: float, now: list[str], was: list[str]) -> dict[str, Any]:
    """A person on camera kamer1, as Frigate's MQTT page gives its events (trimmed)."""
    tracked = {
        "id": f"{NIGHT:.6f}-mxklsc",
        "camera": "kamer1",
        "frame_time": NIGHT + t,
        "label": "person",
        "false_positive": False,
        "start_time": NIGHT,
        "end_time": NIGHT + t if kind == "end" else None,
        "score": 0.79,
        "box": [424, 500, 536, 712],
    }
    return {
        "type": kind,
        "before": tracked | {"current_zones": was, "entered_zones": was},
        "after": tracked | {"current_zones": now, "entered_zones": [*was, *now]},
    }


@pytest.mark.mqtt
def test_a_frigate_camera_sees_a_wandering_resident_leave_and_is_paged(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
) -> None:
    """A wandering resident gets out of bed at 23:00 by the frames' time, walks to the door
    zone and is lost there: left_room, paged as wandering within 30 s of event time. Frigate
    going offline is a fault of the camera; a count that is no number is dead-lettered."""
    base = f"{names.prefix}-frigate"
    service, audit = serve_with_audit(
        serve_process, tmp_path, FRIGATE_RULES.format(site=names.site, base=base)
    )
    client = mqtt_client([names.pages, DEADLETTER_TOPIC])
    service.start()
    bed, door = ["kamer1_bed"], ["kamer1_deur"]
    client.publish(f"{base}/events", frigate_event("new", 0, bed, []))
    client.publish(f"{base}/events", frigate_event("update", 20, [], bed))
    client.publish(f"{base}/events", frigate_event("update", 25, door, []))
    client.publish(f"{base}/events", frigate_event("end", 27, door, door))
    client.publish(f"{base}/kamer1/person", b"two")
    [page] = client.wait_for(is_page("wandering", "kamer1"))
    assert NIGHT + 27 <= page.json()["ts"] <= NIGHT + 27 + 30
    assert all(evidence.startswith("nvr:") for evidence in page.json()["events"])
    [letter] = client.wait_for(lambda m: m.topic == DEADLETTER_TOPIC)
    assert (
        "source 'nvr' (Frigate), device 'kamer1': the count of persons" in (letter.json()["error"])
    )
    client.publish(f"{base}/available", b"offline")
    wait_until(lambda: "fault" in audited(audit, "kamer1"), "frigate offline taken")
    service.stop_by("sigterm")
    assert audited(audit, "kamer1") == ["in_bed", "out_of_bed", "left_room", "fault"]


HA_RULES = """\
version: 1
sites:
  {site}:
    rooms:
      kamer1: {{}}
    sources:
      ha:
        preset: homeassistant
        base: {base}
        devices:
          binary_sensor.kamer1_deur: {{room: kamer1, kind: door, device: kamer1-deur}}
"""


@pytest.mark.mqtt
def test_home_assistant_statestream_states_become_door_events(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
) -> None:
    """Statestream publishes retained: the state the broker holds when serve starts is not
    taken; live, off and on are closed and open (a repeat dropped), unavailable a fault, the
    entity's attribute topics are not read and a state that is no state is dead-lettered."""
    base = f"{names.prefix}-ha"
    service, audit = serve_with_audit(
        serve_process, tmp_path, HA_RULES.format(site=names.site, base=base)
    )
    client = mqtt_client([DEADLETTER_TOPIC])
    state = f"{base}/binary_sensor/kamer1_deur/state"
    client.publish(state, b"on", retain=True)  # since the afternoon
    try:
        service.start()
        for payload in (b"off", b"on", b"on", b"unavailable", b"open"):
            client.publish(state, payload, retain=True)
        client.publish(f"{base}/binary_sensor/kamer1_deur/device_class", b'"door"', retain=True)
        [letter] = client.wait_for(lambda m: m.topic == DEADLETTER_TOPIC)
        wait_until(lambda: "fault" in audited(audit, "kamer1-deur"), "unavailable taken")
        service.stop_by("sigterm")
    finally:
        client.publish(state, b"", retain=True)
        client.publish(f"{base}/binary_sensor/kamer1_deur/device_class", b"", retain=True)
    assert "device 'binary_sensor.kamer1_deur': field 'state' is 'open'" in letter.json()["error"]
    assert audited(audit, "kamer1-deur") == ["closed", "open", "fault"]
