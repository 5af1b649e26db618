"""The words of the audit trail: why an event or a timer was or was not passed on.

The one definition of every reason and timer text, for both twins: the reference
``Classifier`` writes them as it decides, ``FastClassifier`` from the kernel's reason codes
(``kernel.R_*``, ``W_*``, ``RW_*``, ``CW_*``). The audit trails of the two must be the same to
the letter (tests/test_kernel.py), so neither spells a text of its own.
"""

from __future__ import annotations

from typing import Final

from sensorhub.rules.policy import RoomPolicy

# -- fixed texts ---------------------------------------------------------------------------

HEARTBEAT: Final = "heartbeat"
SITTING_ON_EDGE: Final = "sitting on the bed edge"
HEARD_AGAIN: Final = "device heard from again"
SEES_AGAIN: Final = "camera sees again"
DOOR_OUTSIDE_NIGHT: Final = "door opened outside the night window"
DOOR_STAFF: Final = "door opened with staff present"
LEFT_ROOM_OUTSIDE_NIGHT: Final = "left the room outside the night window"
CALL_ALREADY_PAGED: Final = "resident call, already paged on arrival"
CALL_PAGED_ON_ARRIVAL: Final = "resident call: paged on arrival (calls are never filtered)"
FALL_MORE_EVIDENCE: Final = "more evidence of the pending fall"
BED_MAT_IGNORED: Final = (
    "bed mat: the working optical sensor decides whether the resident is in bed"
)
EXIT_OUTSIDE_NIGHT: Final = "left the bed outside the night window"
EXIT_AGAIN: Final = "out of bed again; the grace period still runs from the first exit"
EXIT_STAFF: Final = "left the bed with staff present"
DOOR_SEEN: Final = "door opened, but the optical sensor did not see the resident leave"
DOOR_IN_BED: Final = "door opened, but the resident is in bed"
DOOR_MOTION: Final = "door opened, but there is still motion in the room"

# why an incident is resolved or a pending one cancelled
STAFF_ARRIVED: Final = "staff arrived"
BACK_IN_BED: Final = "back in bed"
SEEN_BACK_IN_BED: Final = "resident seen back in bed"
CALL_CANCELLED: Final = "call cancelled"
BACK_WITHIN_GRACE: Final = "back in bed within the grace period"
TURNING_OVER: Final = "bed occupied again (turning over)"

# why a care incident is raised, where it takes no parameter
WHY_BED_EXIT: Final = "high fall-risk resident left the bed at night"
WHY_WANDER: Final = "resident who wanders left the room at night"
WHY_CALL: Final = "resident call"

# timers
TIMER_FALL: Final = "fall confirmation"
TIMER_ABSENT: Final = "bathroom grace"
TIMER_BED_MAT: Final = "bed-mat confirmation"
TIMER_DOOR: Final = "door window"


# -- texts with their values -----------------------------------------------------------------


def redelivery(event_id: str) -> str:
    return f"redelivery of event id {event_id!r}: processed once"


def late(reason: str, lateness: float) -> str:
    """``reason`` of an event that came after the clock had passed it."""
    return (
        f"{reason} (arrived more than {lateness:g} s late: decided on arrival, "
        "not in event-time order)"
    )


def state(kind: str, event: str) -> str:
    """An event that only changed what is known of the room."""
    return f"{kind} {event}"


def raise_staff(why: str) -> str:
    return f"{why}; staff present in the room"


def raise_duplicate(why: str, kind: str) -> str:
    return f"{why}; duplicate of open {kind} incident, already paged"


def raise_covered(why: str, other_kind: str) -> str:
    return f"{why}; covered by the open {other_kind} incident, already paged"


def raise_paged(why: str, kind: str) -> str:
    return f"{why}: {kind}"


def resolved(kind: str, why: str) -> str:
    return f"{kind} incident resolved: {why}"


def seen_in_room(event: str) -> str:
    """Why a wandering incident is resolved by an optical event."""
    return f"resident seen in the room ({event})"


def cancelled(name: str, why: str) -> str:
    return f"pending {name} cancelled: {why}"


def contradicted(event: str) -> str:
    """Why a pending fall is cancelled."""
    return f"contradicted by {event}"


def fault_duplicate(device: str, reason: str) -> str:
    return f"device {device} {reason}: already paged to technicians"


def fault_paged(device: str, reason: str) -> str:
    return f"device {device}: {reason}"


def fall_staff(event: str) -> str:
    return f"{event} while staff are present"


def fall_pending(event: str, p: RoomPolicy) -> str:
    return f"{event}: paged unless contradicted within {p.fall_confirm:g} s"


def loud_pending(lasted: float, p: RoomPolicy) -> str:
    return f"loud sound for {lasted:g} s of {p.acoustic_duration:g} s"


def door_pending(p: RoomPolicy) -> str:
    return f"door opened: looking {p.wandering_confirm:g} s for the room being left empty"


def obstructed_pending(p: RoomPolicy) -> str:
    return f"camera obstructed: a device fault if it lasts {p.obstructed_after:g} s"


def bed_pending(p: RoomPolicy) -> str:
    return f"bed vacated: leaving the bed if still vacated after {p.bed_exit_confirm:g} s"


def exit_pending(p: RoomPolicy) -> str:
    return f"left the bed at night: paged if not back in bed within {p.bathroom_grace / 60:g} min"


def why_fall(p: RoomPolicy) -> str:
    return f"person on the floor, not contradicted within {p.fall_confirm:g} s"


def why_absent(p: RoomPolicy) -> str:
    return f"not back in bed within {p.bathroom_grace / 60:g} min"


def why_acoustic(lasted: float, p: RoomPolicy) -> str:
    return f"sound at or above {p.acoustic_threshold:g} dB(A) for {lasted:g} s"


def timer_silent(p: RoomPolicy) -> str:
    return f"no event or heartbeat for {p.silent_after:g} s"


def timer_obstructed(p: RoomPolicy) -> str:
    return f"obstructed for {p.obstructed_after:g} s"
