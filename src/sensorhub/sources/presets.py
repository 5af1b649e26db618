"""The built-in presets: what a family of foreign devices publishes, as data.

A preset says under which topic its devices publish, which kinds of contract device they can
be, and for each kind which payload fields become which events (:class:`FieldRule`). A source
of a rule file names its preset and adds what only the site knows: the devices table, the base
topic if it is not the usual one, the battery threshold and where ``ts`` comes from
(:mod:`sensorhub.rules.sources`). A new preset is one more :class:`Preset` here (and its
documentation in docs/sources.md); the mapper does not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from sensorhub.sources.spec import NO_EVENT, FieldRule, value_key

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
    under the base that belong to the bridge, not to a device."""

    name: str
    title: str
    base: str
    rules: Mapping[str, tuple[FieldRule, ...]]
    availability: Mapping[str, str]
    ignored_suffixes: tuple[str, ...]
    ignored_first: tuple[str, ...]

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
    ignored_suffixes=("set", "get"),
    ignored_first=("bridge",),
)

#: The presets by name.
PRESETS: Final[Mapping[str, Preset]] = {ZIGBEE2MQTT.name: ZIGBEE2MQTT}
