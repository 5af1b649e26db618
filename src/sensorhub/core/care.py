"""What both twins (and the compiled kernel) take as given about care and about incidents.

The severity of care incidents, how long technical incidents stay open, the ids of incidents,
and the conventional system the filter is measured against (``raw_alarms``, the fallback, the
site simulator). The reference ``Classifier`` (``classifier.py``) reads these as they are; the
kernel (``kernel/``) turns them into its tables; ``FastClassifier`` (``fast.py``) names its
incidents with ``incident_id`` and ``fault_id`` as the reference does.
"""

from __future__ import annotations

from typing import Final

from sensorhub.contract import IncidentKind
from sensorhub.rules.policy import RoomPolicy

#: How long technical incidents stay open: one page per device and reason per day at most.
TECHNICAL_REPEAT: Final = 24 * 3600.0
#: A conventional system re-arms an alarm per device after this long.
CONVENTIONAL_REARM: Final = 60.0

#: Care incidents by severity; a more severe incident in a room with an open one is new.
SEVERITY: Final[dict[IncidentKind, int]] = {
    "acoustic": 1,
    "absent_too_long": 2,
    "bed_exit": 3,
    "wandering": 4,
    "fall": 5,
}

#: Events a conventional system sounds an alarm for (per kind; acoustic: loud sound only;
#: door and motion only where the resident wanders).
CONVENTIONAL_ALARMS: Final[dict[str, frozenset[str]]] = {
    "optical": frozenset({"sitting_on_edge", "out_of_bed", "left_room", "fall", "on_floor"}),
    "bed": frozenset({"vacated"}),
    "call": frozenset({"pressed"}),
    "acoustic": frozenset({"sound"}),
    "door": frozenset({"open"}),
    "motion": frozenset({"motion"}),
}
#: Kinds whose conventional alarms sound only where the resident wanders.
CONVENTIONAL_WANDERERS_ONLY: Final = frozenset({"door", "motion"})
#: Kinds whose conventional alarms sound only at or above the room's ``acoustic_threshold``.
CONVENTIONAL_LOUD_ONLY: Final = frozenset({"acoustic"})


def incident_id(policy: RoomPolicy, kind: str, t: float, suffix: str = "") -> str:
    """The id of an incident of ``kind`` opened at ``t`` in ``policy``'s room."""
    return f"{policy.site}/{policy.room}/{kind}{suffix}/{round(t * 1000)}"


def fault_id(policy: RoomPolicy, device: str, fault: str, t: float) -> str:
    """The id of the ``device_fault`` incident of ``device``'s ``fault`` opened at ``t``
    (``routing.silences.device_fault_of`` reads the device and the fault back)."""
    return incident_id(policy, "device_fault", t, f"/{device}/{fault}")
