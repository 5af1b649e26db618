"""Home Assistant discovery configs (``serve --homeassistant``): only keys Home Assistant
documents, the topics it accepts, ids that are the same in every process, and each room's
incident state from the router's incidents.

The documented keys, by the page of Home Assistant's documentation that defines them:

- MQTT discovery (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery): the topic
  ``<discovery_prefix>/<component>/[<node_id>/]<object_id>/config``, ``node_id`` and
  ``object_id`` of ``[a-zA-Z0-9_-]``, the prefix ``homeassistant`` by default; ``origin``
  (``name`` required, ``sw_version``, ``support_url``); the birth message ``online`` on
  ``homeassistant/status``; an empty retained config removes the entity.
- MQTT binary sensor (https://www.home-assistant.io/integrations/binary_sensor.mqtt/):
  ``name``, ``unique_id``, ``state_topic`` (required), ``payload_on`` (default ``ON``),
  ``payload_off`` (default ``OFF``), ``device_class``, ``qos``, ``availability`` (a list of
  ``topic``, ``payload_available``, ``payload_not_available``, ``value_template``),
  ``availability_mode`` (``all``, ``any``, ``latest``), ``device`` (``identifiers``,
  ``name``, ``manufacturer``, ``model``, ``sw_version``; only with ``unique_id``).
- MQTT event (https://www.home-assistant.io/integrations/event.mqtt/): ``event_types``
  (required) and ``state_topic`` (required), whose payload is JSON with ``event_type`` (one of
  ``event_types``) and further attributes; ``name``, ``unique_id``, ``qos``, ``availability``,
  ``availability_mode`` and ``device`` as above.
- Binary sensor device classes
  (https://www.home-assistant.io/integrations/binary_sensor/#device-class): ``problem``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sensorhub.contract import INCIDENT_KINDS, Page
from sensorhub.engine import Engine
from sensorhub.io.homeassistant import (
    AVAILABILITY_TOPIC,
    DISCOVERY_PREFIX,
    OpenIncidents,
    check_discovery_prefix,
    discovery_configs,
    named_rooms,
    page_event,
    room_id,
)
from sensorhub.io.mqtt import STATUS_TOPIC
from tests.scenario import NIGHT, SITE, ev
from tests.test_engine import _ack, messages, policy

# binary_sensor.mqtt, event.mqtt and the discovery page (origin), as listed above
COMMON_KEYS = {
    "name",
    "unique_id",
    "state_topic",
    "qos",
    "availability",
    "availability_mode",
    "device",
    "origin",
}
DOCUMENTED = {
    "binary_sensor": COMMON_KEYS | {"payload_on", "payload_off", "device_class"},
    "event": COMMON_KEYS | {"event_types"},
}
REQUIRED = {"binary_sensor": {"state_topic"}, "event": {"state_topic", "event_types"}}
AVAILABILITY_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}
DEVICE_KEYS = {"identifiers", "name", "manufacturer", "model", "sw_version"}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
BINARY_SENSOR_CLASSES = {"problem", "safety"}  # the two that fit; binary_sensor/#device-class
TOPIC = re.compile(
    r"(?P<prefix>[^+#]+)/(?P<component>binary_sensor|event)/(?:[a-zA-Z0-9_-]+/)?"
    r"(?P<object_id>[a-zA-Z0-9_-]+)/config"
)

ROOMS = [("zon", "12"), ("zon", "north_wing-3"), ("de.linde", "kamer 1.2"), ("a", "b__c")]


@pytest.mark.parametrize(("site", "room"), ROOMS)
def test_configs_use_only_documented_keys_on_topics_home_assistant_accepts(
    site: str, room: str
) -> None:
    configs = discovery_configs(site, room)
    assert len(configs) == 2
    components = set()
    for topic, config in configs.items():
        match = TOPIC.fullmatch(topic)
        assert match is not None, topic
        assert match["prefix"] == DISCOVERY_PREFIX
        component = match["component"]
        components.add(component)
        assert match["object_id"] == config["unique_id"]  # the discovery page's best practice
        assert set(config) <= DOCUMENTED[component], set(config) - DOCUMENTED[component]
        assert REQUIRED[component] <= set(config)
        assert config["availability_mode"] in ("all", "any", "latest")
        for item in config["availability"]:
            assert set(item) <= AVAILABILITY_KEYS
            assert "topic" in item
        assert set(config["device"]) <= DEVICE_KEYS
        assert config["device"]["identifiers"]
        assert set(config["origin"]) <= ORIGIN_KEYS
        assert "name" in config["origin"]
        json.dumps(config)  # published as JSON
    assert components == {"binary_sensor", "event"}


def test_the_incident_is_a_problem_sensor_on_off_and_the_page_event_knows_every_kind() -> None:
    configs = discovery_configs("zon", "12")
    incident = configs[f"{DISCOVERY_PREFIX}/binary_sensor/sensorhub_zon__12_incident/config"]
    page = configs[f"{DISCOVERY_PREFIX}/event/sensorhub_zon__12_page/config"]
    assert incident["device_class"] in BINARY_SENSOR_CLASSES
    assert (incident["payload_on"], incident["payload_off"]) == ("ON", "OFF")
    assert incident["state_topic"] == "sensorhub/ha/zon/12/incident"
    assert page["state_topic"] == "sensorhub/ha/zon/12/page"
    assert set(page["event_types"]) == set(INCIDENT_KINDS)
    assert incident["name"] == "Incident"
    assert page["name"] == "Page"
    assert incident["device"] == page["device"]  # one device per room
    assert incident["device"]["name"] == "Room 12 (zon)"


def test_availability_needs_both_the_plain_topic_and_the_json_status() -> None:
    """A crash turns only the JSON status (the connection's last will) offline: with
    ``availability_mode: all`` that alone makes the entities unavailable."""
    (config, _) = discovery_configs("zon", "12").values()
    assert config["availability_mode"] == "all"
    plain, status = config["availability"]
    assert plain["topic"] == AVAILABILITY_TOPIC
    assert "value_template" not in plain
    assert status["topic"] == STATUS_TOPIC
    assert status["value_template"] == "{{ value_json.state }}"
    for item in (plain, status):
        assert (item["payload_available"], item["payload_not_available"]) == ("online", "offline")


def test_a_page_event_has_its_kind_as_event_type_and_the_page_fields() -> None:
    page = Page(
        page_id="i1/0/night",
        incident="i1",
        site="zon",
        room="12",
        kind="fall",
        priority="critical",
        audience="care",
        ts=1.5,
        escalation=0,
        recipient="night",
        text="Room 12: FALL",
        events=["e1"],
    )
    body = json.loads(page_event(page))
    assert body["event_type"] == "fall"
    assert (
        body["event_type"]
        in discovery_configs("zon", "12")[
            f"{DISCOVERY_PREFIX}/event/sensorhub_zon__12_page/config"
        ]["event_types"]
    )
    assert {k: v for k, v in body.items() if k != "event_type"} == page.model_dump(mode="json")


def test_room_ids_are_apart_for_different_rooms_and_plain_where_they_can_be() -> None:
    assert room_id("zon", "12") == "zon__12"
    assert room_id("zon", "north_wing-3") == "zon__north_wing-3"
    tricky = [("a.b", "c"), ("a_b", "c"), ("a", "b_c"), ("a_b", "c_"), ("a", "b__c"), ("a__b", "c")]
    ids = [room_id(*room) for room in tricky]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]+", rid) for rid in ids)


def test_unique_ids_and_topics_are_the_same_in_another_process_with_another_hash_seed() -> None:
    """Home Assistant keeps an entity (its name, area, history) by its unique id: a restart of
    sensorhub must give the same, whatever ``PYTHONHASHSEED``."""
    here = {room: discovery_configs(*room) for room in ROOMS}
    code = (
        "import json, sys\n"
        "from sensorhub.io.homeassistant import discovery_configs\n"
        f"rooms = {ROOMS!r}\n"
        "json.dump([discovery_configs(*r) for r in rooms], sys.stdout)\n"
    )
    for seed in ("1", "4242"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        assert json.loads(out) == [here[room] for room in ROOMS]


def test_a_discovery_prefix_must_be_topic_levels_apart_from_the_event_prefix() -> None:
    assert check_discovery_prefix("homeassistant", "care") == "homeassistant"
    assert check_discovery_prefix("ha/discovery", "care") == "ha/discovery"
    for bad in ("", "home assistant", "ha/#", "ha/+/x", "/ha", "ha/"):
        with pytest.raises(ValueError, match="discovery prefix"):
            check_discovery_prefix(bad, "care")
    for overlapping in ("care", "care/ha"):
        with pytest.raises(ValueError, match="overlaps the event prefix"):
            check_discovery_prefix(overlapping, "care")
    with pytest.raises(ValueError, match="overlaps the event prefix"):
        check_discovery_prefix("ha", "ha/care")


RULES = """
version: 1
sites:
  zon:
    rooms:
      stays: {}
      quiet: {}
"""


def test_a_room_is_open_from_its_first_page_until_acknowledged(tmp_path: Path) -> None:
    """The router's incidents as a round gives them: ON from the call's page, OFF once staff
    acknowledged it, and a restart (the router's snapshot) sees the same."""
    engine = Engine(policy(tmp_path, RULES))
    assert named_rooms(engine.policy) == {(SITE, "stays"), (SITE, "quiet")}
    rooms = OpenIncidents()
    work = engine.round(messages(ev(0, "stays", "call", "pressed")))
    (call,) = work.pages
    assert rooms.update(work.incidents) == {(SITE, "stays")}
    assert rooms.rooms() == {(SITE, "stays")}
    restarted = OpenIncidents()
    restarted.restore(engine.router.snapshot()["incidents"])
    assert restarted.rooms() == {(SITE, "stays")}

    work = engine.round(
        [
            _ack(call.incident, "night-team", NIGHT + 60),
            *messages(ev(400, "quiet", "motion", "heartbeat")),
        ]
    )
    assert [a.by for a in work.acks] == ["night-team"]
    assert rooms.update(work.incidents) == {(SITE, "stays")}
    assert rooms.rooms() == set()
    restarted.restore(engine.router.snapshot()["incidents"])
    assert restarted.rooms() == set()


def test_a_forgotten_incident_leaves_its_room_closed() -> None:
    rooms = OpenIncidents()
    incident: dict[str, Any] = {
        "status": "open",
        "page": {"incident": "i", "site": "s", "room": "r"},
    }
    rooms.update({"i": json.dumps(incident)})
    assert rooms.rooms() == {("s", "r")}
    assert rooms.update({"i": None}) == {("s", "r")}
    assert rooms.rooms() == set()
