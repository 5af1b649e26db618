"""The kernel's vocabulary and state layout: small integers for kinds, event codes, incidents,
timers, decisions and reasons, and the column numbers of the state arrays and the output records.

Plain module-level constants (ints, tuples and numpy arrays), imported by name into the module
of each compiled function that reads them: numba freezes a global's value into the compiled code
(and its cache), so none of them may change after import.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from sensorhub.contract import EVENT_CODES, HEALTH_EVENTS, INCIDENT_KINDS, KINDS
from sensorhub.core.care import (
    CONVENTIONAL_ALARMS,
    CONVENTIONAL_LOUD_ONLY,
    CONVENTIONAL_WANDERERS_ONLY,
)
from sensorhub.core.care import (
    SEVERITY as CARE_SEVERITY,
)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


# -- vocabulary as small integers --------------------------------------------------------------

K_OPTICAL: Final = KINDS.index("optical")
K_BED: Final = KINDS.index("bed")
K_DOOR: Final = KINDS.index("door")
K_MOTION: Final = KINDS.index("motion")
K_CALL: Final = KINDS.index("call")
K_PRESENCE: Final = KINDS.index("presence")
K_ACOUSTIC: Final = KINDS.index("acoustic")

N_CODES: Final = len(EVENT_CODES)
#: kind index of every event code
CODE_KIND: Final = np.array([KINDS.index(k) for (k, _) in EVENT_CODES], dtype=np.int64)
#: 0 heartbeat, 1 battery_low, 2 fault, -1 not a health event
CODE_HEALTH: Final = np.array(
    [HEALTH_EVENTS.index(e) if e in HEALTH_EVENTS else -1 for (_, e) in EVENT_CODES],
    dtype=np.int64,
)
CODE_KIND_NAME: Final = tuple(k for (k, _) in EVENT_CODES)
CODE_EVENT_NAME: Final = tuple(e for (_, e) in EVENT_CODES)


def _code(kind: str, event: str) -> int:
    return EVENT_CODES[(kind, event)]


E_IN_BED: Final = _code("optical", "in_bed")
E_SITTING: Final = _code("optical", "sitting_on_edge")
E_OUT_OF_BED: Final = _code("optical", "out_of_bed")
E_BATHROOM: Final = _code("optical", "in_bathroom")
E_LEFT: Final = _code("optical", "left_room")
E_ENTERED: Final = _code("optical", "entered_room")
E_FALL: Final = _code("optical", "fall")
E_FLOOR: Final = _code("optical", "on_floor")
E_STAFF_PRESENT: Final = _code("optical", "staff_present")
E_MULTIPLE: Final = _code("optical", "multiple_persons")
E_NO_PERSON: Final = _code("optical", "no_person")
E_OBSTRUCTED: Final = _code("optical", "obstructed")
E_BED_VACATED: Final = _code("bed", "vacated")
E_DOOR_OPEN: Final = _code("door", "open")
E_MOTION: Final = _code("motion", "motion")
E_CALL_PRESSED: Final = _code("call", "pressed")
E_CALL_CANCELLED: Final = _code("call", "cancelled")
E_STAFF_IN: Final = _code("presence", "staff_in")
E_STAFF_OUT: Final = _code("presence", "staff_out")
E_SOUND: Final = _code("acoustic", "sound")

#: conventional alarm per event code, from ``care.CONVENTIONAL_ALARMS``: 0 none,
#: 1 always, 2 only where the resident wanders, 3 only when loud (the room's threshold)
A_NONE, A_ALWAYS, A_WANDERS, A_LOUD = range(4)


def _alarm_table() -> npt.NDArray[np.int64]:
    table = np.full(N_CODES, A_NONE, dtype=np.int64)
    for (kind, event), code in EVENT_CODES.items():
        if event not in CONVENTIONAL_ALARMS.get(kind, ()):
            continue
        if kind in CONVENTIONAL_WANDERERS_ONLY:
            table[code] = A_WANDERS
        elif kind in CONVENTIONAL_LOUD_ONLY:
            table[code] = A_LOUD
        else:
            table[code] = A_ALWAYS
    return table


CODE_ALARM: Final = _alarm_table()

# incident kinds (order of contract.INCIDENT_KINDS)
I_FALL: Final = INCIDENT_KINDS.index("fall")
I_CALL: Final = INCIDENT_KINDS.index("call")
I_BED_EXIT: Final = INCIDENT_KINDS.index("bed_exit")
I_ABSENT: Final = INCIDENT_KINDS.index("absent_too_long")
I_WANDERING: Final = INCIDENT_KINDS.index("wandering")
I_ACOUSTIC: Final = INCIDENT_KINDS.index("acoustic")
I_DEVICE: Final = INCIDENT_KINDS.index("device_fault")
N_INC: Final = I_DEVICE  # care incidents kept per room (device faults are per device, last)
#: severity per incident kind, from ``care.SEVERITY`` (calls: 0, never compared)
SEVERITY: Final = np.array(
    [CARE_SEVERITY.get(kind, 0) for kind in INCIDENT_KINDS[:N_INC]], dtype=np.int64
)

# pending slots per room, and the timer codes (the slots' index, then the device timers)
P_FALL, P_ABSENT, P_BED_MAT, P_DOOR = range(4)
N_PEND: Final = 4
#: the reference's name of each pending slot (``RoomState.pending``)
PENDING_NAMES: Final = ("fall", "absent", "bed_mat", "door")
T_SILENT: Final = 4
T_OBSTRUCTED: Final = 5

# device-fault reasons
F_FAULT, F_BATTERY, F_OBSTRUCTED, F_SILENT = range(4)
FAULT_REASONS: Final = ("fault", "battery_low", "obstructed", "silent")

# -- decisions and reasons -----------------------------------------------------------------

D_PAGED, D_PENDING, D_EVIDENCE, D_SUPPRESSED, D_RESOLVED, D_STATE, D_IGNORED = range(7)

(
    R_STATE,  # "{kind} {event}"
    R_HEARTBEAT,
    R_SIT_EDGE,
    R_RAISE_STAFF,
    R_RAISE_DUP,
    R_RAISE_COVERED,
    R_RAISE_PAGED,
    R_RESOLVE,
    R_CANCEL,
    R_HEARD_AGAIN,
    R_SEES_AGAIN,
    R_DOOR_DAY,
    R_DOOR_STAFF,
    R_DOOR_PENDING,
    R_LEFT_DAY,
    R_AC_PENDING,
    R_CALL_FAST,
    R_FAULT_DUP,
    R_FAULT_PAGED,
    R_OBST_PENDING,
    R_FALL_MORE,
    R_FALL_STAFF,
    R_FALL_PENDING,
    R_BED_IGNORED,
    R_BED_PENDING,
    R_EXIT_DAY,
    R_EXIT_AGAIN,
    R_EXIT_STAFF,
    R_EXIT_PENDING,
    R_DOOR_SEEN,
    R_DOOR_IN_BED,
    R_DOOR_MOTION,
) = range(32)

# why a care incident is raised (W_*), resolved (RW_*), a pending one cancelled (CW_*)
W_FALL, W_ABSENT, W_BED_EXIT, W_WANDER, W_ACOUSTIC, W_CALL = range(6)
RW_STAFF, RW_BACK, RW_SEEN_BACK, RW_SEEN_ROOM, RW_CALL_CANCELLED = range(5)
CW_STAFF, CW_CONTRADICTED, CW_BACK, CW_TURNING = range(4)

# -- column numbers ------------------------------------------------------------------------

# room, float64
RF_STAFF_SEEN = 0
RF_LAST_MOTION = 1
RF_AC_START = 2  # NaN: no loud run
RF_AC_LAST = 3
RF_CLOCK = 4  # time of the last decision in the room
RF_NEXT_DUE = 5  # a lower bound of the room's earliest timer
RF_FAST_OPENED = 6  # the call paged on arrival: when
RF_INC_OPENED = 7  # + incident kind
RF_INC_LAST = RF_INC_OPENED + N_INC
RF_PEND_SINCE = RF_INC_LAST + N_INC  # + pending slot
RF_PEND_DUE = RF_PEND_SINCE + N_PEND
N_RF: Final = RF_PEND_DUE + N_PEND

# room, int64
RI_OPT_IN_BED = 0  # -1 unknown, 0 no, 1 yes
RI_MAT_IN_BED = 1
RI_HAS_MOTION = 2
RI_FAST = 3  # 1: a call was paged on arrival and not yet reached in order
RI_FAST_SEQ = 4  # the sequence number of that call's event
RI_FIRST_DEV = 5  # head of the room's device list
RI_AC_LIST = 6  # 3 columns: the loud run's evidence
RI_INC_OPEN = 9  # + incident kind
RI_INC_ORDER = RI_INC_OPEN + N_INC  # insertion order (the reference iterates a dict)
RI_PEND_ON = RI_INC_ORDER + N_INC  # + pending slot
RI_PEND_SEQ = RI_PEND_ON + N_PEND  # timer creation order
RI_PEND_ORDER = RI_PEND_SEQ + N_PEND  # insertion order
RI_PEND_LIST = RI_PEND_ORDER + N_PEND  # + 3 * slot
N_RI: Final = RI_PEND_LIST + 3 * N_PEND

# room parameters, float64
(
    RP_GRACE,
    RP_AC_THRESHOLD,
    RP_AC_DURATION,
    RP_AC_GAP,
    RP_FALL_CONFIRM,
    RP_BED_CONFIRM,
    RP_WANDER_CONFIRM,
    RP_STAFF_RECENT,
    RP_STAFF_TIMEOUT,
    RP_OBSTRUCTED_AFTER,
    RP_SILENT_AFTER,
    RP_IDLE_CLOSE,
    RP_WANDERS,  # 0 or 1
    RP_HIGH_RISK,  # 0 or 1
    RP_NIGHT,  # night table number
) = range(15)
N_RP: Final = 15
#: the policy's fields in the columns RP_GRACE .. RP_IDLE_CLOSE, in that order
RP_POLICY_FIELDS: Final = (
    "bathroom_grace",
    "acoustic_threshold",
    "acoustic_duration",
    "acoustic_gap",
    "fall_confirm",
    "bed_exit_confirm",
    "wandering_confirm",
    "staff_recent",
    "staff_timeout",
    "obstructed_after",
    "silent_after",
    "incident_idle_close",
)

# device, float64
DF_LAST_SEEN = 0
DF_SILENT_DUE = 1
DF_OBST_DUE = 2
DF_OPT_SEEN = 3
DF_STAFF_SINCE = 4
DF_LAST_ALARM = 5  # NaN: never
DF_FAULT_OPENED = 6  # + reason
DF_FAULT_LAST = DF_FAULT_OPENED + 4
N_DF: Final = DF_FAULT_LAST + 4

# device, int64
DI_ROOM = 0
DI_KIND = 1
DI_NEXT = 2  # next device of the room
DI_SILENT_ON = 3
DI_SILENT_SEQ = 4
DI_OBST_ON = 5
DI_OBST_SEQ = 6
DI_OBST_LIST = 7  # 3 columns
DI_OPT_PRESENT = 10
DI_OPT_BLIND = 11
DI_STAFF_IN = 12
DI_FAULT_OPEN = 13  # + reason
N_DI: Final = DI_FAULT_OPEN + 4

# output records, int64
O_ITEM = 0  # batch index of the event, -1 for a timer
O_TIMER = 1  # timer code, -1 for an event
O_ROOM = 2
O_DECISION = 3
O_REASON = 4
O_WHY = 5
O_ARG = 6  # an event code, a pending slot or an incident kind, by reason
O_KIND = 7  # incident kind of the record's incident, -1 none
O_DEVICE = 8  # device of a device-fault incident or of a device timer
O_FAULT = 9  # device-fault reason
O_PAGE = 10  # 1: the record decided a page
O_EV_START = 11
O_EV_LEN = 12
N_OI: Final = 13
# output records, float64
OF_TS = 0
OF_OPENED = 1  # when the record's incident was opened (its id)
OF_AUX = 2  # the loud run's length
N_OF: Final = 3

# counters
C_RAW = 0
C_NOUT = 1
C_NEV = 2
C_FREE_HEAD = 3
C_FREE_N = 4
C_SEQ = 5
C_AUDIT = 6  # 1: keep every decision record; 0: only those of incidents (open, resolve, evidence)
N_CNT: Final = 8

#: free output rows and evidence slots the kernel wants before it starts an item
OUT_RESERVE: Final = 512

NONE = -1
