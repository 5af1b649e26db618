"""``sensorhub serve --homeassistant`` as a process of its own, on a real Mosquitto, seen by a
client that subscribes as Home Assistant does: first ``homeassistant/#`` (the discovery configs),
then the state and availability topics that the configs name.

Which document each key comes from is listed in ``tests/io/test_homeassistant.py``.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sensorhub.contract import ACK_TOPIC
from sensorhub.testing.broker import PrivateBroker
from tests.conftest import Names, TestClient, wait_until

from .conftest import ServeProcess
from .test_durable import advance, page_of
from .test_serve import event

MakeClient = Callable[..., TestClient]

RULES = """\
version: 1
sites:
  {site}:
    recipients: {{care: night-team, technical: technicians}}
    rooms:
{rooms}
"""
DISCOVERY = "homeassistant"


def write_rules(path: Path, site: str, rooms: list[str]) -> Path:
    listed = "".join(f'      "{room}": {{}}\n' for room in rooms)
    path.write_text(RULES.format(site=site, rooms=listed.rstrip("\n")), encoding="utf-8")
    return path


def configs(client: TestClient) -> dict[str, Any]:
    """The discovery configs as Home Assistant holds them now: the latest on each topic, an
    empty payload removing it."""
    latest: dict[str, bytes] = {}
    for message in client.matching(lambda m: m.topic.endswith("/config")):
        latest[message.topic] = message.payload
    return {topic: json.loads(body) for topic, body in latest.items() if body}


def last_on(client: TestClient, topic: str) -> bytes | None:
    found = client.matching(lambda m: m.topic == topic)
    return found[-1].payload if found else None


def state_of(client: TestClient, topic: str, expected: bytes) -> Callable[[], bool]:
    return lambda: last_on(client, topic) == expected


def follow(mqtt_client: MakeClient, broker: PrivateBroker, found: dict[str, Any]) -> TestClient:
    """Subscribe, as Home Assistant does, to what the discovered configs name."""
    topics = set()
    for config in found.values():
        topics.add(config["state_topic"])
        topics.update(item["topic"] for item in config["availability"])
    return mqtt_client(sorted(topics), broker=broker)


def serve_homeassistant(
    serve_process: Callable[..., ServeProcess], rules: Path, broker: PrivateBroker
) -> ServeProcess:
    service = serve_process(rules, broker=broker)
    service.command.append("--homeassistant")
    return service


def rooms_in(found: dict[str, Any]) -> set[str]:
    return {config["state_topic"].split("/")[3] for config in found.values()}


def room_configs(found: dict[str, Any], room: str) -> dict[str, Any]:
    return {t: c for t, c in found.items() if c["state_topic"].split("/")[3] == room}


@pytest.mark.mqtt
def test_home_assistant_discovers_rooms_sees_an_incident_on_and_off_its_pages_and_availability(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    own_broker: PrivateBroker,
    names: Names,
    tmp_path: Path,
) -> None:
    rules = write_rules(tmp_path / "rules.yaml", names.site, ["12", "13"])
    service = serve_homeassistant(serve_process, rules, own_broker)
    service.start()

    discovery = mqtt_client([f"{DISCOVERY}/#"], broker=own_broker)
    wait_until(lambda: len(configs(discovery)) == 4, "the configs of two rooms")
    found = configs(discovery)
    assert all(m.retain for m in discovery.matching(lambda m: m.topic.endswith("/config")))
    assert {topic.split("/")[1] for topic in found} == {"binary_sensor", "event"}
    incident_topic = f"sensorhub/ha/{names.site}/12/incident"
    page_topic = f"sensorhub/ha/{names.site}/12/page"
    assert {c["state_topic"] for c in room_configs(found, "12").values()} == {
        incident_topic,
        page_topic,
    }

    ha = follow(mqtt_client, own_broker, found)
    wait_until(state_of(ha, "sensorhub/availability", b"online"), "availability online")
    wait_until(lambda: b'"online"' in (last_on(ha, "sensorhub/status") or b""), "status online")
    wait_until(state_of(ha, incident_topic, b"OFF"), "room 12's incident OFF")
    assert last_on(ha, f"sensorhub/ha/{names.site}/13/incident") == b"OFF"

    # a resident call in room 12: the binary sensor goes ON, the event entity gets the page
    sensors = mqtt_client([names.pages], broker=own_broker)
    sensors.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    advance(sensors, names, 5)
    (page,) = sensors.wait_for(page_of(0, "12"))
    wait_until(state_of(ha, incident_topic, b"ON"), "room 12's incident ON")
    (fired,) = ha.wait_for(lambda m: m.topic == page_topic)
    body = fired.json()
    assert not fired.retain  # an event happens once: not replayed to a later subscriber
    assert body["event_type"] == "call"
    page_config = found[f"{DISCOVERY}/event/sensorhub_{names.site}__12_page/config"]
    assert body["event_type"] in page_config["event_types"]
    assert body["page_id"] == page.json()["page_id"]
    assert body["incident"] == page.json()["incident"]
    assert last_on(ha, f"sensorhub/ha/{names.site}/13/incident") == b"OFF"

    # acknowledged: OFF
    sensors.publish(
        f"{ACK_TOPIC}/{names.site}", {"incident": page.json()["incident"], "by": "night-team"}
    )
    advance(sensors, names, 10)
    wait_until(state_of(ha, incident_topic, b"OFF"), "room 12's incident OFF once acknowledged")

    # Home Assistant comes online (its birth message): every config and state again
    before = len(discovery.matching(lambda m: m.topic.endswith("/config")))
    sensors.publish(f"{DISCOVERY}/status", "online")
    wait_until(
        lambda: len(discovery.matching(lambda m: m.topic.endswith("/config"))) >= before + 4,
        "the configs published again on Home Assistant's birth",
    )
    assert configs(discovery) == found
    assert "dead letter" not in service.text()  # the birth message is not a sensor event

    # a room the rules do not name appears with its first incident
    sensors.publish(names.topic("guest", "call"), event(20, "pressed", id="c2"))
    advance(sensors, names, 25)
    wait_until(
        lambda: rooms_in(configs(discovery)) == {"12", "13", "guest"}, "the guest room discovered"
    )
    guest_topic = f"sensorhub/ha/{names.site}/guest/incident"
    guest = mqtt_client([guest_topic], broker=own_broker)
    wait_until(state_of(guest, guest_topic, b"ON"), "the guest room's incident ON")

    # SIGHUP with room 13 gone and room 14 new: 14's configs appear, 13's are removed; the
    # guest room, not named but with its incident open, stays
    write_rules(rules, names.site, ["12", "14"])
    assert service.process is not None
    service.process.send_signal(signal.SIGHUP)
    wait_until(
        lambda: rooms_in(configs(discovery)) == {"12", "14", "guest"},
        "room 14 discovered and room 13 removed",
    )
    removed = discovery.matching(lambda m: m.topic.endswith("/config") and m.payload == b"")
    assert sorted(m.topic for m in removed) == sorted(room_configs(found, "13"))
    fresh = mqtt_client([f"{DISCOVERY}/#"], broker=own_broker)  # the broker forgot 13's
    wait_until(lambda: len(configs(fresh)) == 6, "the retained configs of rooms 12, 14, guest")
    time.sleep(0.3)  # nothing more retained comes
    assert configs(fresh) == configs(discovery)

    # stopped: plain availability offline, and the JSON status too
    service.stop_by("sigterm")
    wait_until(state_of(ha, "sensorhub/availability", b"offline"), "availability offline")
    wait_until(lambda: b'"offline"' in (last_on(ha, "sensorhub/status") or b""), "status offline")


@pytest.mark.mqtt
def test_after_a_crash_the_entities_go_unavailable_and_a_restart_keeps_ids_and_open_incidents(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    own_broker: PrivateBroker,
    names: Names,
    tmp_path: Path,
) -> None:
    """kill -9: the last will turns the JSON status offline (the plain topic cannot have a will
    and still says online; ``availability_mode: all`` makes the entities unavailable). The next
    process, with another hash seed, publishes the very same configs, and the incident open
    before the crash is still ON, until acknowledged."""
    rules = write_rules(tmp_path / "rules.yaml", names.site, ["12", "north_wing"])
    service = serve_homeassistant(serve_process, rules, own_broker)
    service.start(seed=11)
    discovery = mqtt_client([f"{DISCOVERY}/#"], broker=own_broker)
    wait_until(lambda: len(configs(discovery)) == 4, "the configs of two rooms")
    found = configs(discovery)
    ha = follow(mqtt_client, own_broker, found)
    incident_topic = f"sensorhub/ha/{names.site}/north_wing/incident"
    sensors = mqtt_client([names.pages], broker=own_broker)
    sensors.publish(names.topic("north_wing", "call"), event(0, "pressed", id="c1"))
    advance(sensors, names, 5)
    (page,) = sensors.wait_for(page_of(0, "north_wing"))
    wait_until(state_of(ha, incident_topic, b"ON"), "the incident ON")

    service.kill()
    wait_until(
        lambda: b'"offline"' in (last_on(ha, "sensorhub/status") or b""),
        "the last will: status offline",
    )
    assert last_on(ha, "sensorhub/availability") == b"online"  # no will of its own

    service.start(seed=4242)
    wait_until(state_of(ha, incident_topic, b"ON"), "the open incident still ON")
    later = mqtt_client([f"{DISCOVERY}/#", incident_topic], broker=own_broker)
    wait_until(lambda: len(configs(later)) == 4, "the configs after the restart")
    assert configs(later) == found  # same unique ids, topics and names
    wait_until(state_of(later, incident_topic, b"ON"), "ON to a new subscriber (retained)")
    wait_until(lambda: b'"online"' in (last_on(ha, "sensorhub/status") or b""), "status online")

    sensors.publish(
        f"{ACK_TOPIC}/{names.site}", {"incident": page.json()["incident"], "by": "night-team"}
    )
    advance(sensors, names, 10)
    wait_until(state_of(ha, incident_topic, b"OFF"), "OFF once acknowledged after the restart")
