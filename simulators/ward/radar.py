"""A ward's care radars as Milesight VS373 radars publish: the trigger reports of a radar room's
optical events, and the ``sources:`` section of the rule file that maps them back
(docs/sources.md, "A simulated ward").

A radar room (``RoomProfile.radar``) has a VS373 where other rooms have a camera; its optical
device (``radar-101``) reports only what a VS373 can say (``RADAR_EVENTS``), in whole seconds.
Each event becomes a trigger report on ``vs373/radar-101``, in the form of Milesight's own
example (https://www.milesight.com/docs/en/vs373/topic/trigger-report.html), with the time in
the ward's local time without an offset, as the radar's clock writes it:

| native event | trigger report (event, status) |
|---|---|
| ``fall`` | 0 fall, 1 alarm |
| ``on_floor`` | 8 lying, 1 alarm |
| ``out_of_bed`` / ``in_bed`` | 3 out-of-bed, 1 alarm / 2 resolve |
| ``entered_room`` / ``no_person`` | 4 occupancy, 1 alarm / 5 vacant, 1 alarm |
| ``heartbeat`` | 4 occupancy, 4 status report |

A fall alarm on the radar stands until someone handles it (standing up does not cancel it,
Milesight's "Configure General Settings"): when staff bring the resident back to bed, the radar
resolves its open fall and lying alarms (2 resolve) before it resolves the out-of-bed one, so a
later fall is a new alarm again. The generated section makes every report a ``heartbeat`` (the
radar is heard), as the Zigbee2MQTT one does with ``last_seen``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from simulators.ward.model import RADAR_PREFIX, Event, Ward
from simulators.ward.recording import compact

#: The VS373 preset's usual base topic, and the name of the source in the rule file.
RADAR_BASE: Final = "vs373"
RADAR_SOURCE: Final = "radar"
#: native event -> (trigger_data.event, trigger_data.status)
_REPORTS: Final[dict[str, tuple[int, int]]] = {
    "fall": (0, 1),
    "on_floor": (8, 1),
    "out_of_bed": (3, 1),
    "in_bed": (3, 2),
    "entered_room": (4, 1),
    "no_person": (5, 1),
    "heartbeat": (4, 4),
}
#: The alarms that stand until handled: resolved when the resident is back in bed.
_HANDLED: Final = (0, 8)


def is_radar(event: Event) -> bool:
    """Whether ``event`` is a radar room's (its optical device is a radar)."""
    return event.get("kind") == "optical" and str(event.get("device", "")).startswith(
        RADAR_PREFIX + "-"
    )


def radar_time(ts: float, zone: ZoneInfo) -> str:
    """``ts`` as the VS373 writes ``device_info.time``: local time, whole seconds, no offset."""
    return f"{datetime.fromtimestamp(ts, zone):%Y-%m-%d %H:%M:%S}"


class RadarWard:
    """Turns a ward's radar events into VS373 trigger reports, keeping each radar's open
    alarms."""

    def __init__(self, timezone: str, base: str = RADAR_BASE) -> None:
        self.zone = ZoneInfo(timezone)
        self.base = base
        self._open: dict[str, set[int]] = {}
        self._sent: dict[str, int] = {}

    def reports(self, event: Event) -> list[tuple[str, bytes]]:
        """The (topic, payload) of each report ``event`` makes, in order."""
        name = event["event"]
        if name not in _REPORTS:
            raise ValueError(f"event {name!r} of a radar has no VS373 form")
        device = str(event["device"])
        code, status = _REPORTS[name]
        standing = self._open.setdefault(device, set())
        codes = [(code, status)]
        if name == "in_bed":  # staff handled the alarms that stand, if any
            codes[:0] = [(alarm, 2) for alarm in _HANDLED if alarm in standing]
            standing.clear()
        elif code in _HANDLED:
            standing.add(code)
        ts = float(event["ts"])
        return [self._report(device, ts, code, status) for code, status in codes]

    def _report(self, device: str, ts: float, code: int, status: int) -> tuple[str, bytes]:
        sent = self._sent[device] = self._sent.get(device, 0) + 1
        serial = hashlib.blake2b(device.encode(), digest_size=5).hexdigest().upper()
        payload: dict[str, Any] = {
            "device_info": {
                "device_model": "VS373-868M",
                "device_sn": f"6806E5{serial}",
                "time": radar_time(ts, self.zone),
            },
            "trigger_data": {"type": 0, "trigger_id": sent, "event": code, "status": status},
        }
        return f"{self.base}/{device}", compact(payload).encode("utf-8")


def radar_section(ward: Ward, base: str = RADAR_BASE) -> list[str]:
    """The lines of the ``sources:`` entry that maps :class:`RadarWard`'s reports back (none
    for a ward without radars)."""
    radars = [room for room in ward.rooms if room.radar]
    if not radars:
        return []
    return [
        f"      {RADAR_SOURCE}:",
        "        preset: vs373                    # device_info.time in the site's time zone",
        *([] if base == RADAR_BASE else [f"        base: {base}"]),
        "        fields:",
        "          # every report says the radar is alive (its status reports too)",
        "          time: {any_text: heartbeat, repeats: true}",
        "        devices:",
        *(
            f'          {room.device("optical")}: {{room: "{room.name}", kind: optical}}'
            for room in radars
        ),
    ]
