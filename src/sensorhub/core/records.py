"""The kernel's decision records read back in the reference's terms, for ``FastClassifier``.

The kernel writes a row of ``out_i``/``out_f`` per decision (``kernel/records.py``: the
``O_*``/``OF_*`` columns) with codes where the reference has words: the decision, the reason
(``R_*``, with its why, ``W_*``, ``RW_*``, ``CW_*``), the timer, the incident's kind and, for a
device fault, the device and the fault. The driver (``fast.py``) turns each into incident
changes and ``AuditRecord`` objects with what is here: the ids of incidents and the texts of
reasons and timers, all in ``reasons``' words, so that the audit trails of the two twins are
the same to the letter. The events a record names are made again from their columns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from sensorhub.codec.columns import EventColumns, Registry
from sensorhub.contract import INCIDENT_KINDS, Event
from sensorhub.core import kernel as k
from sensorhub.core import reasons
from sensorhub.core.care import fault_id, incident_id
from sensorhub.core.types import Decision
from sensorhub.rules.policy import RoomPolicy

#: decision code (``D_*``) -> the audit record's decision
DECISIONS: Final[tuple[Decision, ...]] = (
    "paged",
    "pending",
    "evidence",
    "suppressed",
    "resolved",
    "state",
    "ignored",
)


def device_fault(row: list[int], registry: Registry) -> tuple[str, str]:
    """The device (its name) and the fault of a device-fault record."""
    return registry.device_keys[row[k.O_DEVICE]][3], k.FAULT_REASONS[row[k.O_FAULT]]


def incident_of(policy: RoomPolicy, row: list[int], opened: float, registry: Registry) -> str:
    """The id of the incident of a record (its kind not -1), opened at ``opened``."""
    kind = INCIDENT_KINDS[row[k.O_KIND]]
    if kind == "device_fault":
        device, fault = device_fault(row, registry)
        return fault_id(policy, device, fault, opened)
    return incident_id(policy, kind, opened)


def event_of(columns: EventColumns, i: int, registry: Registry, seq: int | None = None) -> Event:
    """The event at position ``i`` of ``columns`` (``seq`` its sequence number, 0 if None)."""
    code = int(columns.code[i])
    site, room, kind, device = registry.device_keys[int(columns.device[i])]
    value = float(columns.value[i])
    return Event(
        ts=float(columns.ts[i]),
        site=site,
        room=room,
        kind=kind,
        device=device,
        event=k.CODE_EVENT_NAME[code],
        id=columns.ids[i] if columns.ids is not None else None,
        confidence=float(columns.confidence[i]),
        value=None if math.isnan(value) else value,
        raw=columns.raw[i] if columns.raw is not None else {},
        seq=seq if seq is not None else 0,
    )


def timer_text(policy: RoomPolicy, timer: int) -> str | None:
    """The audit text of a timer (``T_*``, or the pending slot's), None for an event's record."""
    if timer < 0:
        return None
    if timer == k.T_SILENT:
        return reasons.timer_silent(policy)
    if timer == k.T_OBSTRUCTED:
        return reasons.timer_obstructed(policy)
    return _TIMER_TEXTS[timer]


def reason_text(p: RoomPolicy, row: list[int], frow: list[float], registry: Registry) -> str:
    """The audit text of a decision record, in ``reasons``' words."""
    reason, arg = row[k.O_REASON], row[k.O_ARG]
    aux = frow[k.OF_AUX]
    fixed = _FIXED_REASONS.get(reason)
    if fixed is not None:
        return fixed
    event = k.CODE_EVENT_NAME[arg] if arg >= 0 else ""
    if reason == k.R_STATE:
        return reasons.state(k.CODE_KIND_NAME[arg], event)
    if reason in (k.R_RAISE_STAFF, k.R_RAISE_DUP, k.R_RAISE_COVERED, k.R_RAISE_PAGED):
        why = _why(p, row[k.O_WHY], aux)
        kind = INCIDENT_KINDS[arg]
        if reason == k.R_RAISE_STAFF:
            return reasons.raise_staff(why)
        if reason == k.R_RAISE_DUP:
            return reasons.raise_duplicate(why, kind)
        if reason == k.R_RAISE_COVERED:
            return reasons.raise_covered(why, kind)
        return reasons.raise_paged(why, kind)
    if reason in (k.R_RESOLVE, k.R_CANCEL):
        closing = (reason, row[k.O_WHY])
        fixed_why = _CLOSED_WHY.get(closing)
        why = fixed_why if fixed_why is not None else _CLOSED_BY_EVENT[closing](event)
        if reason == k.R_RESOLVE:
            return reasons.resolved(INCIDENT_KINDS[row[k.O_KIND]], why)
        return reasons.cancelled(k.PENDING_NAMES[row[k.O_FAULT]], why)
    if reason in (k.R_FAULT_DUP, k.R_FAULT_PAGED):
        device, fault = device_fault(row, registry)
        if reason == k.R_FAULT_DUP:
            return reasons.fault_duplicate(device, fault)
        return reasons.fault_paged(device, fault)
    return _POLICY_REASONS[reason](p, event, aux)


def _why(p: RoomPolicy, why: int, aux: float) -> str:
    if why == k.W_FALL:
        return reasons.why_fall(p)
    if why == k.W_ABSENT:
        return reasons.why_absent(p)
    if why == k.W_BED_EXIT:
        return reasons.WHY_BED_EXIT
    if why == k.W_WANDER:
        return reasons.WHY_WANDER
    if why == k.W_ACOUSTIC:
        return reasons.why_acoustic(aux, p)
    return reasons.WHY_CALL


_TIMER_TEXTS: Final = (
    reasons.TIMER_FALL,
    reasons.TIMER_ABSENT,
    reasons.TIMER_BED_MAT,
    reasons.TIMER_DOOR,
)
_FIXED_REASONS: Final = {
    k.R_HEARTBEAT: reasons.HEARTBEAT,
    k.R_SIT_EDGE: reasons.SITTING_ON_EDGE,
    k.R_HEARD_AGAIN: reasons.HEARD_AGAIN,
    k.R_SEES_AGAIN: reasons.SEES_AGAIN,
    k.R_DOOR_DAY: reasons.DOOR_OUTSIDE_NIGHT,
    k.R_DOOR_STAFF: reasons.DOOR_STAFF,
    k.R_LEFT_DAY: reasons.LEFT_ROOM_OUTSIDE_NIGHT,
    k.R_CALL_FAST: reasons.CALL_ALREADY_PAGED,
    k.R_FALL_MORE: reasons.FALL_MORE_EVIDENCE,
    k.R_BED_IGNORED: reasons.BED_MAT_IGNORED,
    k.R_EXIT_DAY: reasons.EXIT_OUTSIDE_NIGHT,
    k.R_EXIT_AGAIN: reasons.EXIT_AGAIN,
    k.R_EXIT_STAFF: reasons.EXIT_STAFF,
    k.R_DOOR_SEEN: reasons.DOOR_SEEN,
    k.R_DOOR_IN_BED: reasons.DOOR_IN_BED,
    k.R_DOOR_MOTION: reasons.DOOR_MOTION,
}
#: texts with the room's parameters: (policy, the record's event name, its aux value) -> text
_POLICY_REASONS: Final[dict[int, Callable[[RoomPolicy, str, float], str]]] = {
    k.R_FALL_STAFF: lambda p, event, aux: reasons.fall_staff(event),
    k.R_FALL_PENDING: lambda p, event, aux: reasons.fall_pending(event, p),
    k.R_AC_PENDING: lambda p, event, aux: reasons.loud_pending(aux, p),
    k.R_DOOR_PENDING: lambda p, event, aux: reasons.door_pending(p),
    k.R_OBST_PENDING: lambda p, event, aux: reasons.obstructed_pending(p),
    k.R_BED_PENDING: lambda p, event, aux: reasons.bed_pending(p),
    k.R_EXIT_PENDING: lambda p, event, aux: reasons.exit_pending(p),
}
#: why an incident was resolved (R_RESOLVE, RW_*) or a pending one cancelled (R_CANCEL, CW_*)
_CLOSED_WHY: Final = {
    (k.R_RESOLVE, k.RW_STAFF): reasons.STAFF_ARRIVED,
    (k.R_RESOLVE, k.RW_BACK): reasons.BACK_IN_BED,
    (k.R_RESOLVE, k.RW_SEEN_BACK): reasons.SEEN_BACK_IN_BED,
    (k.R_RESOLVE, k.RW_CALL_CANCELLED): reasons.CALL_CANCELLED,
    (k.R_CANCEL, k.CW_STAFF): reasons.STAFF_ARRIVED,
    (k.R_CANCEL, k.CW_BACK): reasons.BACK_WITHIN_GRACE,
    (k.R_CANCEL, k.CW_TURNING): reasons.TURNING_OVER,
}
#: the same where the event that closed it is named
_CLOSED_BY_EVENT: Final[dict[tuple[int, int], Callable[[str], str]]] = {
    (k.R_RESOLVE, k.RW_SEEN_ROOM): reasons.seen_in_room,
    (k.R_CANCEL, k.CW_CONTRADICTED): reasons.contradicted,
}
