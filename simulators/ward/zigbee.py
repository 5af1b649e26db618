"""A ward's sensors as Zigbee2MQTT devices: the same night in the form Zigbee2MQTT publishes it,
and the ``sources:`` section of the rule file that maps it back (docs/sources.md).

The door contacts, motion sensors (PIR), call buttons and bed mats of a ward are devices that
Zigbee2MQTT covers; each becomes a Zigbee2MQTT device whose friendly name is its native device
name (``door-103``), publishing its whole state on ``zigbee2mqtt/door-103`` as Zigbee2MQTT does:

| native event | Zigbee2MQTT state |
|---|---|
| door ``open`` / ``closed`` | ``"contact": false`` / ``true`` |
| motion ``motion`` / ``no_motion`` | ``"occupancy": true`` / ``false`` |
| bed ``occupied`` / ``vacated`` | ``"occupancy": true`` / ``false`` (an occupancy sensor) |
| call ``pressed`` / ``cancelled`` | ``"action": "single"`` / ``"hold"`` (this ward's buttons) |
| ``battery_low`` (with its value) | ``"battery": <the value>`` |
| ``fault`` | ``"tamper": true`` |
| ``heartbeat`` | the state again (a periodic report: nothing changed) |

Every message also carries ``battery``, ``linkquality`` and ``last_seen`` (Zigbee2MQTT's
``advanced.last_seen: ISO_8601``, milliseconds, UTC), which is the event's ``ts``: the rule
file reads the time from it, so a mapped event has the very time of the native one. A state
field is sent only once an event of the night has set it (a door's first report before
anything happened says nothing about the door), so a periodic report never makes an event of
its own but the heartbeat.

The care radars of a ward's radar rooms publish as Milesight VS373 radars do
(:mod:`simulators.ward.radar`). The kinds neither covers (cameras, sound monitors, the staff
presence buttons) stay native, as do the malformed lines. The generated ``sources:`` section
(:func:`sources_section`) lists each Zigbee device with its room and kind, takes ``ts`` from
``last_seen``, makes every report a ``heartbeat`` (the device is heard, as its native heartbeats
say) and a ``hold`` of a call button a ``cancelled``; and lists the radars likewise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeGuard

from sensorhub.codec.payload import decode_line
from sensorhub.contract import DeadLetter
from simulators.ward.model import Event, RecordingEntry, Ward, demo_rule_file
from simulators.ward.radar import RADAR_BASE, RadarWard, is_radar, radar_section
from simulators.ward.recording import compact

#: The forms a ward's sensors can publish in.
Sensors = Literal["native", "zigbee"]
SENSORS: Final[tuple[Sensors, ...]] = ("native", "zigbee")
#: The kinds whose devices are Zigbee2MQTT devices in the ``zigbee`` form.
ZIGBEE_KINDS: Final = ("door", "motion", "call", "bed")
#: Zigbee2MQTT's default base topic, and the name of the source in the rule file.
BASE: Final = "zigbee2mqtt"
SOURCE: Final = "z2m"
#: A device's battery (%) until an event says it runs low.
FULL_BATTERY: Final = 95
#: What a call button sends for a press and for a cancel.
PRESS: Final = "single"
CANCEL: Final = "hold"

#: native event -> (state field, value) per kind
_STATES: Final[dict[str, dict[str, tuple[str, Any]]]] = {
    "door": {"open": ("contact", False), "closed": ("contact", True)},
    "motion": {"motion": ("occupancy", True), "no_motion": ("occupancy", False)},
    "bed": {"occupied": ("occupancy", True), "vacated": ("occupancy", False)},
    "call": {"pressed": ("action", PRESS), "cancelled": ("action", CANCEL)},
}


@dataclass(frozen=True, slots=True)
class ForeignMessage:
    """A message as a foreign device publishes it: its topic and payload, and the event time
    it stands for (the publisher paces by it) and the native event (for people to read)."""

    topic: str
    payload: bytes
    ts: float
    event: str


def last_seen(ts: float) -> str:
    """``ts`` as Zigbee2MQTT's ``last_seen`` (ISO_8601): UTC with milliseconds, built from the
    whole milliseconds so that the time read back is the event's ``ts`` (to the millisecond
    the recording keeps)."""
    seconds, millis = divmod(round(ts * 1000), 1000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{millis:03d}Z"


class ZigbeeWard:
    """Turns a ward's events into Zigbee2MQTT messages, keeping each device's state."""

    def __init__(self, base: str = BASE) -> None:
        self.base = base
        self._states: dict[str, dict[str, Any]] = {}
        self._sent: dict[str, int] = {}

    def message(self, event: Event) -> ForeignMessage | None:
        """The Zigbee2MQTT message of ``event``, or None if its kind stays native."""
        kind = event.get("kind")
        if kind not in ZIGBEE_KINDS:
            return None
        device = str(event["device"])
        state = self._states.setdefault(device, {"battery": FULL_BATTERY})
        name = event["event"]
        momentary: dict[str, Any] = {}
        if name in _STATES[kind]:
            field, value = _STATES[kind][name]
            if field == "action":
                momentary[field] = value  # a press is no state: the next report has none
            else:
                state[field] = value
        elif name == "battery_low":
            state["battery"] = round(event.get("value", 10))
        elif name == "fault":
            state["tamper"] = True
        elif name != "heartbeat":
            raise ValueError(f"event {name!r} of a {kind} device has no Zigbee2MQTT form")
        sent = self._sent[device] = self._sent.get(device, 0) + 1
        payload = {
            **state,
            **momentary,
            "linkquality": 60 + sent * 7 % 90,  # it changes, as a radio link does
            "last_seen": last_seen(float(event["ts"])),
        }
        return ForeignMessage(
            f"{self.base}/{device}", compact(payload).encode("utf-8"), float(event["ts"]), name
        )


def zigbee_entries(
    recording: Iterable[RecordingEntry | bytes],
    base: str = BASE,
    *,
    radar_base: str = RADAR_BASE,
    timezone: str = "Europe/Amsterdam",
) -> Iterator[RecordingEntry | bytes | ForeignMessage]:
    """``recording`` with the events of Zigbee2MQTT kinds as Zigbee2MQTT messages and those of
    radars as VS373 trigger reports under ``radar_base`` (their time in ``timezone``, the
    ward's); every other entry (cameras, sound monitors, presence buttons, malformed lines) as
    it is. A radar's event may be more than one report (the alarms it resolves first).

    Late delivery (the recording's events up to 9 s late) keeps to what a broker can do with
    Zigbee2MQTT: it publishes each device's reports as it hears them, and MQTT keeps one
    client's messages in order, so one device's messages never overtake each other. Each
    device's messages take the places of its events in the recording, in event-time order: a
    device's late event is sent in its time, and the event it was late behind goes later.
    """
    entries = list(recording)
    in_time: dict[str, list[Event]] = {}
    zigbee: dict[int, str] = {}  # the entries sent as Zigbee2MQTT messages: their devices
    for index, entry in enumerate(entries):
        if _is_zigbee(entry):
            zigbee[index] = str(entry["device"])
            in_time.setdefault(zigbee[index], []).append(entry)
    for events in in_time.values():
        events.sort(key=_event_ts)  # stable: events of the same time keep their order
        events.reverse()  # popped from the end
    ward, radars = ZigbeeWard(base), RadarWard(timezone, radar_base)
    for index, entry in enumerate(entries):
        device = zigbee.get(index)
        if device is None:
            yield entry
            continue
        event = in_time[device].pop()
        if is_radar(event):
            for topic, payload in radars.reports(event):
                yield ForeignMessage(topic, payload, float(event["ts"]), event["event"])
            continue
        message = ward.message(event)
        yield entry if message is None else message  # never None: a Zigbee2MQTT kind


def _is_zigbee(entry: RecordingEntry | bytes) -> TypeGuard[Event]:
    """Whether ``entry`` is a valid event (as the service's codec reads it) of a Zigbee2MQTT
    kind or of a radar. A line of the recording that is bad input stays as it is, for the dead
    letters: the foreign form of an event without a ``ts`` or with an event the kind does not have
    would be another bad input, or none (a confidence out of range is not in the form)."""
    if not isinstance(entry, dict) or not (entry.get("kind") in ZIGBEE_KINDS or is_radar(entry)):
        return False
    return not isinstance(decode_line(compact(entry).encode("utf-8"), 0.0, ""), DeadLetter)


def _event_ts(event: Event) -> float:
    return float(event["ts"])


def sources_section(ward: Ward, base: str = BASE, radar_base: str = RADAR_BASE) -> str:
    """The ``sources:`` section (under the ward's site) that maps :func:`zigbee_entries`'s
    messages back to the ward's events."""
    lines = [
        "    sources:",
        f"      {SOURCE}:",
        "        preset: zigbee2mqtt",
        *([] if base == BASE else [f"        base: {base}"]),
        "        ts: {field: last_seen, format: rfc3339}   # advanced.last_seen: ISO_8601",
        "        fields:",
        "          # every report says the device is alive, as a native heartbeat does",
        "          last_seen: {any_text: heartbeat, repeats: true}",
        "          # the ward's call buttons: a press calls, a hold cancels the call",
        f"          action: {{kind: call, any_text: pressed, values: {{'': none, release: none, "
        f"{CANCEL}: cancelled}}, repeats: true}}",
        "        devices:",
    ]
    lines.extend(
        f'          {room.device(kind)}: {{room: "{room.name}", kind: {kind}}}'
        for room in ward.rooms
        for kind in room.kinds()
        if kind in ZIGBEE_KINDS
    )
    lines.extend(radar_section(ward, radar_base))
    return "\n".join(lines) + "\n"


def rule_file(
    ward: Ward, sensors: Sensors = "native", *, written_by: str = "simulators.ward"
) -> str:
    """The ward's rule file (:func:`demo_rule_file`), with the ``sources:`` section of its
    Zigbee2MQTT devices and radars if ``sensors`` is ``zigbee``."""
    text = demo_rule_file(ward, written_by=written_by)
    return text + sources_section(ward) if sensors == "zigbee" else text
