"""The built-in presets: what a family of foreign devices publishes, as data.

A preset says under which topic its devices publish, which kinds of contract device they can
be, and for each kind which payload fields become which events (:class:`FieldRule`). A source
of a rule file names its preset and adds what only the site knows: the devices table, the base
topic if it is not the usual one, the battery threshold and where ``ts`` comes from
(:mod:`sensorhub.rules.sources`). A new preset is one more :class:`Preset` here (and its
documentation in docs/sources.md): its rules, and where its payloads or topics are not flat JSON
on ``<base>/<device>``, its reader and topic layout (``reader``, ``name_of``); the mapper does
not change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sensorhub.codec.payload import parse_object
from sensorhub.codec.show import show_value
from sensorhub.sources.spec import NO_EVENT, FieldRule, TsSpec, value_key

#: How a preset reads a payload (and the topic after the base it came on): the fields its
#: field rules read, or why there are none.
Reader = Callable[[str, bytes], dict[str, Any] | str]
#: What a preset's ``name_of`` says of a topic whose payload names the device (Frigate's
#: events): its reader puts the device's name in the field :data:`DEVICE_FIELD`.
IN_PAYLOAD: Final = ""
DEVICE_FIELD: Final = "\0device"


def read_json(rest: str, payload: bytes) -> dict[str, Any] | str:
    """A payload that is one JSON object, as it is."""
    return parse_object(payload)


#: What to do about a retained state of a preset that says nothing of its own.
RETAINED_ADVICE: Final = "publish the devices' states without the retain flag"
#: The kind a field rule applies to whatever the device's kind (device health).
ANY_KIND: Final = "*"
#: The battery level (%) at or below which a device reports ``battery_low`` unless its source
#: says otherwise.
BATTERY_LOW: Final = 20.0


@dataclass(frozen=True, slots=True)
class Preset:
    """A family of devices: ``title`` for messages, the usual ``base`` topic, the ``rules`` per
    kind (``ANY_KIND``: for every kind), the payloads of ``<device>/availability`` and the
    events they become, the topic levels under a device that are not its state, and the topics
    under the base that belong to the bridge, not to a device.

    ``reader`` turns a payload into the fields the rules read (a JSON object as it is, or a
    vendor's nested report flattened); ``name_of``, for topics that are not
    ``<base>/<device>``, turns the topic after the base into the device's name (None: a topic
    of the source that is no device's state, not read; :data:`IN_PAYLOAD`: the reader finds
    it); ``ts`` is the default of the source's ``ts`` (an ``rfc3339`` one without a time zone
    is in the site's); ``available`` is a topic level under the base whose availability is
    that of every device of the source; ``zones`` makes, for a role a camera's zone can have
    (``bed``, ``door``), the field rule of a zone of that name; ``retained`` says what to do
    about a retained state (serve's warning, which names the source); with ``serials``, a
    message whose topic names no device of the source is taken for the device the reader finds
    in the payload (:data:`DEVICE_FIELD`: a radar's serial number), if the source lists it."""

    name: str
    title: str
    base: str
    rules: Mapping[str, tuple[FieldRule, ...]]
    availability: Mapping[str, str]
    ignored_suffixes: tuple[str, ...]
    ignored_first: tuple[str, ...]
    reader: Reader = read_json
    name_of: Callable[[str], str | None] | None = None
    ts: TsSpec | None = None
    available: str | None = None
    zones: Mapping[str, Callable[[str], FieldRule]] = dataclasses.field(default_factory=dict)
    serials: bool = False
    retained: str = RETAINED_ADVICE

    @property
    def kinds(self) -> tuple[str, ...]:
        """The contract kinds its devices can be."""
        return tuple(kind for kind in self.rules if kind != ANY_KIND)


def _bool(field: str, slot: str, true: str, false: str) -> FieldRule:
    return FieldRule(
        field,
        slot,
        "true or false",
        {value_key(True): true, value_key(False): false},
    )


# Zigbee2MQTT: https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html and the
# "Exposes" section of each device's page (https://www.zigbee2mqtt.io/devices/).
_OCCUPANCY_MOTION = _bool("occupancy", "occupancy", "motion", "no_motion")
_PRESENCE_MOTION = _bool("presence", "presence", "motion", "no_motion")
_OCCUPANCY_BED = _bool("occupancy", "occupancy", "occupied", "vacated")
_PRESENCE_BED = _bool("presence", "presence", "occupied", "vacated")

ZIGBEE2MQTT: Final = Preset(
    name="zigbee2mqtt",
    title="Zigbee2MQTT",
    base="zigbee2mqtt",
    rules={
        # contact: true is a closed contact (magnet at the reed switch), false an open door
        "door": (_bool("contact", "contact", "closed", "open"),),
        "motion": (_OCCUPANCY_MOTION, _PRESENCE_MOTION),
        "bed": (
            _OCCUPANCY_BED,
            _PRESENCE_BED,
            # movement in bed says someone is in it; its end does not say the bed is empty
            _bool("vibration", "vibration", "occupied", NO_EVENT),
        ),
        "call": (
            FieldRule(
                "action",
                "action",
                "a string (the button's action, such as single)",
                # "" is the action cleared (legacy), release ends a hold: neither is a press
                {value_key(""): NO_EVENT, value_key("release"): NO_EVENT},
                any_string="pressed",
                repeats=True,
            ),
        ),
        ANY_KIND: (
            FieldRule(
                "battery",
                "battery",
                "a number (battery %)",
                at_most=BATTERY_LOW,
                at_most_event="battery_low",
            ),
            _bool("battery_low", "battery_low", "battery_low", NO_EVENT),
            _bool("tamper", "tamper", "fault", NO_EVENT),
        ),
    },
    availability={"online": "heartbeat", "offline": "fault"},
    # commands (<name>/set, <name>/set/state, /get) and, with Zigbee2MQTT's Home Assistant
    # integration, each press again on <name>/action (the state message has it: one press)
    ignored_suffixes=("set", "get", "action"),
    ignored_first=("bridge",),
    retained="the device is set to retain: true in Zigbee2MQTT; set retain: false for it under "
    "devices: in Zigbee2MQTT's configuration.yaml to stop this warning",
)


# Milesight VS373 fall-detection radar, trigger reports:
# https://www.milesight.com/docs/en/vs373/topic/trigger-report.html
#: ``trigger_data.event`` codes, by the name of the field the reader makes of them.
VS373_EVENTS: Final = {
    0: "fall",
    1: "motionless",
    2: "dwell",
    3: "out_of_bed",
    4: "occupancy",
    5: "vacant",
    6: "bradycardia",
    7: "tachypnea",
    8: "lying",
}
#: ``trigger_data.status`` codes, as the value of that field.
VS373_STATUS: Final = {1: "alarm", 2: "resolve", 3: "ignore", 4: "status_report"}


def _spelt(report: Mapping[str, Any], key: str) -> Any:
    """``report[key]``, or as the vendor's own examples also spell it, with spaces."""
    value = report.get(key)
    return report.get(key.replace("_", " ")) if value is None else value


def _coded(value: Any, codes: Mapping[int, str]) -> str | None:
    return codes.get(value) if type(value) is int else None


def read_vs373(rest: str, payload: bytes) -> dict[str, Any] | str:
    """A VS373 trigger report as one field named after its event (``fall``, ``out_of_bed``,
    ...) holding its status (``alarm``, ``resolve``, ...), ``time`` (``device_info.time``) and
    the radar's serial number (``device_info.device_sn``) as :data:`DEVICE_FIELD`.

    Milesight's examples write ``device_info``/``trigger_data`` and ``device info``/``trigger
    data``, the latter inside ``device info``: all are read."""
    parsed = parse_object(payload)
    if isinstance(parsed, str):
        return parsed
    info = _spelt(parsed, "device_info")
    trigger = _spelt(parsed, "trigger_data")
    if trigger is None and isinstance(info, dict):
        trigger = _spelt(info, "trigger_data")
    if not isinstance(trigger, dict):
        return "no trigger_data object: a VS373 trigger report has one, with its event and status"
    event, status = trigger.get("event"), trigger.get("status")
    name = _coded(event, VS373_EVENTS)
    if name is None:
        codes = ", ".join(f"{code} {name}" for code, name in VS373_EVENTS.items())
        return f"trigger_data.event is {show_value(event)}, not one of {codes}"
    state = _coded(status, VS373_STATUS)
    if state is None:
        codes = ", ".join(f"{code} {state}" for code, state in VS373_STATUS.items())
        return f"trigger_data.status is {show_value(status)}, not one of {codes}"
    fields: dict[str, Any] = {name: state}
    if isinstance(info, dict):
        if "time" in info:
            fields["time"] = info["time"]
        serial = _spelt(info, "device_sn")
        if isinstance(serial, str):
            fields[DEVICE_FIELD] = serial
    return fields


def _texts(field: str, slot: str, values: Mapping[str, str]) -> FieldRule:
    """A field that holds one of the texts of ``values``, each to its event."""
    return FieldRule(
        field,
        slot,
        ", ".join(repr(text) for text in values),
        {value_key(text): event for text, event in values.items()},
    )


def _trigger(event: str, slot: str, alarm: str, resolve: str = NO_EVENT) -> FieldRule:
    """A VS373 event's field: its alarm and resolve; ignore and status reports are no event."""
    statuses = {"alarm": alarm, "resolve": resolve, "ignore": NO_EVENT, "status_report": NO_EVENT}
    return _texts(event, slot, statuses)


VS373: Final = Preset(
    name="vs373",
    title="Milesight VS373",
    base="vs373",
    rules={
        "optical": (
            # a fall's resolve is not the resident up again: it stops nothing (staff acknowledge)
            _trigger("fall", "fall", "fall"),
            _trigger("lying", "lying", "on_floor"),
            # the out-of-bed alarm resolves when the resident is back in bed
            _trigger("out_of_bed", "bed", "out_of_bed", "in_bed"),
            # occupancy and vacant are one state: someone came in, the room is empty
            _trigger("occupancy", "presence", "entered_room"),
            _trigger("vacant", "presence", "no_person"),
            # no event of the contract: a site maps them under fields if it wants them
            *(
                _trigger(event, event, NO_EVENT)
                for event in ("motionless", "dwell", "bradycardia", "tachypnea")
            ),
        ),
    },
    availability={},
    ignored_suffixes=(),
    ignored_first=(),
    reader=read_vs373,
    ts=TsSpec("time", "rfc3339"),  # the radar's local time
    serials=True,  # radars that share a topic are told apart by device_info.device_sn
    retained="turn the retain flag off in the radar's MQTT settings to stop this warning",
)


# Home Assistant's MQTT Statestream: https://www.home-assistant.io/integrations/mqtt_statestream/
#: The longest state Home Assistant keeps (its states are at most 255 characters).
_HA_STATE_MAX: Final = 255


def statestream_entity(rest: str) -> str | None:
    """``binary_sensor/kamer1_deur/state`` -> ``binary_sensor.kamer1_deur``; None for the other
    topics of an entity (its attributes, last_changed, last_updated) and of the base."""
    domain, _, tail = rest.partition("/")
    object_id, _, level = tail.partition("/")
    if level != "state" or not domain or not object_id:
        return None
    return f"{domain}.{object_id}"


def read_statestream(rest: str, payload: bytes) -> dict[str, Any] | str:
    """A statestream state (plain text, such as ``on``) as the field ``state``."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        return "not UTF-8 text: Home Assistant's statestream sends a state as plain text (on, off)"
    if len(text) > _HA_STATE_MAX:
        return f"a state of {len(text)} characters, not a Home Assistant state (at most 255)"
    return {"state": text}


def _ha_state(on: str, off: str) -> FieldRule:
    """A binary sensor's state; unavailable (its device is gone) is a fault."""
    return _texts(
        "state", "state", {"on": on, "off": off, "unavailable": "fault", "unknown": NO_EVENT}
    )


HOME_ASSISTANT: Final = Preset(
    name="homeassistant",
    title="Home Assistant statestream",
    base="homeassistant",
    rules={
        # device_class door, window, opening: on is open
        "door": (_ha_state("open", "closed"),),
        # device_class motion, presence
        "motion": (_ha_state("motion", "no_motion"),),
        # device_class occupancy (a bed occupancy sensor)
        "bed": (_ha_state("occupied", "vacated"),),
    },
    availability={},
    ignored_suffixes=(),
    ignored_first=(),
    reader=read_statestream,
    name_of=statestream_entity,
    retained="Home Assistant's statestream publishes every state retained: nothing to do",
)


# Frigate NVR: https://docs.frigate.video/integrations/mqtt/ (frigate/events,
# frigate/<camera>/<object>, frigate/available)
#: The events' topic (the camera is in the payload) and the object counted per camera.
FRIGATE_EVENTS: Final = "events"
FRIGATE_PERSON: Final = "person"
_FRIGATE_TYPES: Final = ("new", "update", "end")
#: A tracked person's passage through a zone, per Frigate event type (the value of the field
#: ``zone:<name>`` the reader makes): seen first in it, come into it, gone out of it, lost in it
ZONE_NEW, ZONE_ENTERED, ZONE_LEFT, ZONE_ENDED = "new", "entered", "left", "ended"


def frigate_topic(rest: str) -> str | None:
    """``events``: a device named in the payload; ``<camera>/person``: that camera's count of
    persons; every other topic (snapshots, other objects, stats, reviews) is not read."""
    if rest == FRIGATE_EVENTS:
        return IN_PAYLOAD
    camera, _, obj = rest.partition("/")
    return camera if obj == FRIGATE_PERSON and camera else None


def _zones(tracked: Mapping[str, Any], key: str) -> list[Any]:
    zones = tracked.get(key)
    return zones if isinstance(zones, list) else []


def read_frigate(rest: str, payload: bytes) -> dict[str, Any] | str:
    """A Frigate event as its camera (:data:`DEVICE_FIELD`), ``frame_time`` and, for a person,
    a field ``zone:<name>`` for each zone it came into, went out of or was lost in; or a count
    of persons as ``persons`` (``none``, ``one``, ``several``)."""
    if rest != FRIGATE_EVENTS:
        text = payload.strip()
        if not text.isdigit() or len(text) > 6:
            shown = show_value(text.decode("utf-8", "replace"))
            return f"the count of persons is {shown}, not a whole number"
        count = int(text)
        return {"persons": "none" if count == 0 else "one" if count == 1 else "several"}
    parsed = parse_object(payload)
    if isinstance(parsed, str):
        return parsed
    kind, after, before = parsed.get("type"), parsed.get("after"), parsed.get("before")
    if kind not in _FRIGATE_TYPES:
        return f"type is {show_value(kind)}, not 'new', 'update' or 'end'"
    if not isinstance(after, dict) or not isinstance(after.get("camera"), str):
        return "after is not an object with the camera (a Frigate event has one)"
    fields: dict[str, Any] = {DEVICE_FIELD: after["camera"]}
    if "frame_time" in after:
        fields["frame_time"] = after["frame_time"]
    if after.get("label") != FRIGATE_PERSON or after.get("false_positive") is True:
        return fields  # another object (a cat, a car): nothing of a person
    now = _zones(after, "current_zones")
    was = _zones(before, "current_zones") if isinstance(before, dict) else []
    if kind == "new":
        for zone in (*_zones(after, "entered_zones"), *now):
            fields[f"zone:{zone}"] = ZONE_NEW
    elif kind == "update":
        for zone in now:
            if zone not in was:
                fields[f"zone:{zone}"] = ZONE_ENTERED
        for zone in was:
            if zone not in now:
                fields[f"zone:{zone}"] = ZONE_LEFT
    else:
        for zone in now:
            fields[f"zone:{zone}"] = ZONE_ENDED
    return fields


def _zone_rule(zone: str, slot: str, outcomes: Mapping[str, str], *, repeats: bool) -> FieldRule:
    return FieldRule(
        f"zone:{zone}",
        slot,
        ", ".join(repr(passage) for passage in outcomes),
        {value_key(passage): outcome for passage, outcome in outcomes.items()},
        repeats=repeats,
    )


def _bed_zone(zone: str) -> FieldRule:
    """A person seen first in the bed zone or come into it is in bed, gone out of it out of
    bed; one lost in it (under the blanket) is still in bed."""
    outcomes = {
        ZONE_NEW: "in_bed",
        ZONE_ENTERED: "in_bed",
        ZONE_LEFT: "out_of_bed",
        ZONE_ENDED: NO_EVENT,
    }
    return _zone_rule(zone, "bed", outcomes, repeats=False)


def _door_zone(zone: str) -> FieldRule:
    """A person seen first at the door came in; one lost at the door went out; each passage is
    an event (two people leaving one after the other)."""
    outcomes = {
        ZONE_NEW: "entered_room",
        ZONE_ENTERED: NO_EVENT,
        ZONE_LEFT: NO_EVENT,
        ZONE_ENDED: "left_room",
    }
    return _zone_rule(zone, "door", outcomes, repeats=True)


FRIGATE: Final = Preset(
    name="frigate",
    title="Frigate",
    base="frigate",
    rules={
        "optical": (
            FieldRule(
                "persons",
                "persons",
                "a whole number",
                {
                    value_key("none"): "no_person",
                    value_key("one"): NO_EVENT,
                    value_key("several"): "multiple_persons",
                },
            ),
        ),
    },
    availability={"online": "heartbeat", "offline": "fault"},
    # frigate/<zone>/person counts a zone's persons: not a camera, not a device
    ignored_suffixes=(FRIGATE_PERSON,),
    ignored_first=(),
    reader=read_frigate,
    name_of=frigate_topic,
    ts=TsSpec("frame_time", "unix", fallback=True),
    available="available",
    zones={"bed": _bed_zone, "door": _door_zone},
    retained="Frigate published it retained: nothing to do",
)

#: The presets by name.
PRESETS: Final[Mapping[str, Preset]] = {
    preset.name: preset for preset in (ZIGBEE2MQTT, VS373, HOME_ASSISTANT, FRIGATE)
}
