"""Turning a decided incident into a page: priority, audience, recipient and pager text."""

from __future__ import annotations

from typing import Final

from sensorhub.contract import Audience, IncidentKind, Page, Priority
from sensorhub.rules.policy import RoomPolicy

PRIORITY: Final[dict[IncidentKind, Priority]] = {
    "fall": "critical",
    "call": "high",
    "wandering": "high",
    "bed_exit": "high",
    "absent_too_long": "normal",
    "acoustic": "normal",
    "device_fault": "low",
}

#: Pager display texts by language. ``{room}`` and ``{detail}`` are filled in.
TEXTS: Final[dict[str, dict[IncidentKind, str]]] = {
    "en": {
        "fall": "Room {room}: FALL",
        "call": "Room {room}: resident call",
        "wandering": "Room {room}: resident left the room",
        "bed_exit": "Room {room}: out of bed (fall risk)",
        "absent_too_long": "Room {room}: out of bed too long",
        "acoustic": "Room {room}: sustained sound",
        "device_fault": "Room {room}: device {detail}",
    },
    "nl": {
        "fall": "Kamer {room}: VAL",
        "call": "Kamer {room}: oproep bewoner",
        "wandering": "Kamer {room}: bewoner heeft kamer verlaten",
        "bed_exit": "Kamer {room}: uit bed (valrisico)",
        "absent_too_long": "Kamer {room}: te lang uit bed",
        "acoustic": "Kamer {room}: aanhoudend geluid",
        "device_fault": "Kamer {room}: apparaat {detail}",
    },
}

#: Device-fault reasons as shown on a pager.
FAULT_TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "fault": "{device} reports a fault",
        "battery_low": "{device} battery low",
        "obstructed": "{device} camera obstructed",
        "silent": "{device} silent",
    },
    "nl": {
        "fault": "{device} meldt storing",
        "battery_low": "{device} batterij bijna leeg",
        "obstructed": "{device} camera afgedekt",
        "silent": "{device} geeft geen signaal",
    },
}


def make_page(
    room: RoomPolicy,
    *,
    incident: str,
    kind: IncidentKind,
    ts: float,
    events: list[str],
    escalation: int = 0,
    device: str | None = None,
    reason: str | None = None,
) -> Page:
    """The page for an incident of ``kind`` in ``room``, decided at event time ``ts``."""
    audience: Audience = "technical" if kind == "device_fault" else "care"
    recipient = room.technical_recipient if audience == "technical" else room.care_recipient
    detail = ""
    if kind == "device_fault":
        detail = FAULT_TEXTS[room.language][reason or "fault"].format(device=device or "?")
    return Page(
        page_id=f"{incident}/{escalation}",
        incident=incident,
        site=room.site,
        room=room.room,
        kind=kind,
        priority=PRIORITY[kind],
        audience=audience,
        ts=ts,
        escalation=escalation,
        recipient=recipient,
        text=TEXTS[room.language][kind].format(room=room.room, detail=detail),
        events=list(events),
    )
