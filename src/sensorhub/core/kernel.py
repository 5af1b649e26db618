"""The compiled classification core: the care policy of ``classifier.py`` as numba kernels.

The pure-Python ``Classifier`` is the specification; this module decides the same things over
columnar batches and per-room state arrays, with no Python object per event. Event-time order
and the watermark are the driver's business (``fast.py``): the kernel is handed a *plan*, the
events of a batch in the order the reference decides them, each with its decision time.

Rooms never interact, so timers are fixed slots per room (fall, absent, bed_mat, door) and per
device (silent, obstructed) instead of a heap: before an event of room ``r`` is decided, the
timers *of room r* that the reference would have fired first are fired, in (due, creation)
order; at the end of a batch every timer up to the watermark is fired, room by room.

State layout: one row per room in ``ri`` (int64) and ``rf`` (float64), one row per device in
``di`` and ``df``; the column numbers are the ``RI_*``/``RF_*``/``DI_*``/``DF_*`` constants.
Evidence (the event ids a page carries) lives in singly linked lists in a node pool
(``nodes``: event sequence number, next); a list is three columns (head, tail, length).
Decisions come out as rows of ``out_i``/``out_f`` (the ``O_*``/``OF_*`` columns) plus the
evidence of pages in ``ev_out``; the driver turns them into ``Page`` and ``AuditRecord``.

The kernel never grows an array: it stops before an item when an output or the node pool could
run short and returns where it stopped; the driver grows the arrays and calls again.
"""

# ruff: noqa: PLR0917 - numba has no keyword-only parameters: kernels take their state positionally

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt
from numba.core import cgutils, types
from numba.experimental import structref
from numba.extending import intrinsic

from sensorhub.contract import EVENT_CODES, HEALTH_EVENTS, INCIDENT_KINDS, KINDS
from sensorhub.core.classifier import (
    CONVENTIONAL_ALARMS,
    CONVENTIONAL_LOUD_ONLY,
    CONVENTIONAL_REARM,
    CONVENTIONAL_WANDERERS_ONLY,
    TECHNICAL_REPEAT,
)
from sensorhub.core.classifier import (
    SEVERITY as CARE_SEVERITY,
)
from sensorhub.core.columns import EventColumns

# The one place numba's flags are set (STYLE.md): cached (the second start pays no JIT), exact
# float semantics, and no GIL (a batch may run beside the I/O threads). No fastmath anywhere:
# every decision compares times and levels, and the policy relies on NaN comparing false (a
# sound with no level is not loud, no loud run has no start), which fastmath may assume away.
# ``jit`` (and ``hot``, its inlined form) are the decorators the kernels use; ``parallel_jit``
# is for the one entry that runs room partitions on numba's threads.

_F = TypeVar("_F", bound=Callable[..., Any])
_FLAGS: Final[dict[str, Any]] = {"cache": True, "fastmath": False, "nogil": True}


def jit(fn: _F) -> _F:
    """Compile ``fn`` with the project's numba flags."""
    return cast(_F, numba.njit(**_FLAGS)(fn))


def parallel_jit(fn: _F) -> _F:
    """``jit`` with numba's parallel loops (``numba.prange``)."""
    return cast(_F, numba.njit(**_FLAGS, parallel=True)(fn))


def hot(fn: _F) -> _F:
    """``jit``, and compiled into every caller (numba IR inlining): for the few small helpers
    on every event's path, where a call costs more than the helper's work."""
    return cast(_F, numba.njit(**_FLAGS, inline="always")(fn))


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
E_SOUND: Final = _code("acoustic", "sound")

#: conventional alarm per event code, from the classifier's ``CONVENTIONAL_ALARMS``: 0 none,
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
#: severity per incident kind, from the classifier's ``SEVERITY`` (calls: 0, never compared)
SEVERITY: Final = np.array(
    [CARE_SEVERITY.get(kind, 0) for kind in INCIDENT_KINDS[:N_INC]], dtype=np.int64
)

# pending slots per room, and the timer codes (the slots' index, then the device timers)
P_FALL, P_ABSENT, P_BED_MAT, P_DOOR = range(4)
N_PEND: Final = 4
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
C_AUDIT = 6  # 1: keep every decision record; 0: only those that page
N_CNT: Final = 8

#: free output rows and evidence slots the kernel wants before it starts an item
OUT_RESERVE: Final = 512

NONE = -1

# -- small helpers -------------------------------------------------------------------------

STATE_FIELDS: Final = (
    "ri",
    "rf",
    "di",
    "df",
    "rp",
    "nodes",
    "out_i",
    "out_f",
    "ev_out",
    "cnt",
    "night_b",
    "night_off",
    "scratch",
)


class State:
    """All kernel state: the arrays named in ``STATE_FIELDS`` (see the module docstring).

    Compiled, it is a numba ``StructRef`` (``make_state``): the kernels pass one pointer
    instead of a tuple of thirteen arrays, whose reference counting at every call cost more
    than the decisions. Its arrays are not counted either: the Python proxy owns them (see
    ``_unowned``). Under ``NUMBA_DISABLE_JIT`` it is this plain class.
    """

    ri: I64
    rf: F64
    di: I64
    df: F64
    rp: F64
    nodes: I64
    out_i: I64
    out_f: F64
    ev_out: I64
    cnt: I64
    night_b: F64
    night_off: I64
    scratch: I64

    def __init__(self, *arrays: Any) -> None:
        for name, array in zip(STATE_FIELDS, arrays, strict=True):
            setattr(self, name, array)


_numba_types: Any = types  # numba's own annotations are partial: keep mypy out
_numba_structref: Any = structref
_numba_config: Any = numba.config
_numba_intrinsic: Any = intrinsic
_numba_cgutils: Any = cgutils


@_numba_structref.register
class _StateType(_numba_types.StructRef):  # type: ignore[misc]
    """The numba type of the compiled ``State`` (module level, so that the cache finds it)."""

    def preprocess_fields(self, fields: Any) -> Any:
        return tuple((name, _numba_types.unliteral(typ)) for name, typ in fields)


class _StateProxy(_numba_structref.StructRefProxy):  # type: ignore[misc]
    """The compiled ``State`` as Python sees it: the arrays are its attributes, as ``State``'s
    (set by ``make_state``), and they keep alive the arrays its struct views."""


_numba_structref.define_proxy(_StateProxy, _StateType, list(STATE_FIELDS))


def _unowned_typed(typingctx: Any, array: Any) -> Any:
    """``_unowned``: ``array`` without its meminfo: a view that numba counts no references on.

    Every ``s.ri`` in a kernel took a reference to the array and dropped it at the end: two
    atomic operations, tens of them for an event that goes through ``_decide`` (a call per
    helper, each reading its arrays again). The State's proxy holds the arrays instead, for as
    long as the State lives (``make_state``)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        view = context.make_array(signature.args[0])(context, builder, value=args[0])
        view.meminfo = _numba_cgutils.get_null_value(view.meminfo.type)
        return view._getvalue()

    return array(array), codegen


_unowned: Callable[[Any], Any] = _numba_intrinsic(_unowned_typed)


@jit
def _unowned_state(
    ri: I64,
    rf: F64,
    di: I64,
    df: F64,
    rp: F64,
    nodes: I64,
    out_i: I64,
    out_f: F64,
    ev_out: I64,
    cnt: I64,
    night_b: F64,
    night_off: I64,
    scratch: I64,
) -> State:
    return _StateProxy(
        _unowned(ri),
        _unowned(rf),
        _unowned(di),
        _unowned(df),
        _unowned(rp),
        _unowned(nodes),
        _unowned(out_i),
        _unowned(out_f),
        _unowned(ev_out),
        _unowned(cnt),
        _unowned(night_b),
        _unowned(night_off),
        _unowned(scratch),
    )


def _make_state(*arrays: Any) -> State:
    state = _unowned_state(*arrays)
    for name, array in zip(STATE_FIELDS, arrays, strict=True):
        setattr(state, name, array)  # the struct's arrays are views that own nothing
    return state


#: Makes the ``State`` the kernels take from the arrays of ``STATE_FIELDS``, in that order.
make_state: Callable[..., State] = State if _numba_config.DISABLE_JIT else _make_state


@jit
def _is_night(s: State, r: int, ts: float) -> bool:
    rp, nb, no = s.rp, s.night_b, s.night_off
    k = int(rp[r, RP_NIGHT])
    lo = no[k]
    hi = no[k + 1]
    # number of boundaries <= ts; the boundaries alternate night start, night end
    p = np.searchsorted(nb[lo:hi], ts, side="right")
    return bool(p % 2 == 1)


@hot
def _next_seq(s: State) -> int:
    cnt = s.cnt
    cnt[C_SEQ] += 1
    return int(cnt[C_SEQ])


@jit
def _lpush(s: State, lists: I64, row: int, col: int, seq: int) -> None:
    nodes, cnt = s.nodes, s.cnt
    h = cnt[C_FREE_HEAD]
    cnt[C_FREE_HEAD] = nodes[h, 1]
    cnt[C_FREE_N] -= 1
    nodes[h, 0] = seq
    nodes[h, 1] = NONE
    if lists[row, col + 2] == 0:
        lists[row, col] = h
    else:
        nodes[lists[row, col + 1], 1] = h
    lists[row, col + 1] = h
    lists[row, col + 2] += 1


@jit
def _lclear(s: State, lists: I64, row: int, col: int) -> None:
    nodes, cnt = s.nodes, s.cnt
    n = lists[row, col + 2]
    if n > 0:
        nodes[lists[row, col + 1], 1] = cnt[C_FREE_HEAD]
        cnt[C_FREE_HEAD] = lists[row, col]
        cnt[C_FREE_N] += n
    lists[row, col] = NONE
    lists[row, col + 1] = NONE
    lists[row, col + 2] = 0


@jit
def _lextend(s: State, dst: I64, drow: int, dcol: int, src: I64, srow: int, scol: int) -> None:
    nodes = s.nodes
    h = src[srow, scol]
    for _ in range(src[srow, scol + 2]):
        _lpush(s, dst, drow, dcol, nodes[h, 0])
        h = nodes[h, 1]


@hot
def _emit(
    s: State, item: int, timer: int, r: int, t: float, decision: int, reason: int, arg: int
) -> int:
    out_i, out_f, cnt = s.out_i, s.out_f, s.cnt
    k = cnt[C_NOUT]
    cnt[C_NOUT] = k + 1
    out_i[k, O_ITEM] = item
    out_i[k, O_TIMER] = timer
    out_i[k, O_ROOM] = r
    out_i[k, O_DECISION] = decision
    out_i[k, O_REASON] = reason
    out_i[k, O_WHY] = NONE
    out_i[k, O_ARG] = arg
    out_i[k, O_KIND] = NONE
    out_i[k, O_DEVICE] = NONE
    out_i[k, O_FAULT] = NONE
    out_i[k, O_PAGE] = 0
    out_i[k, O_EV_START] = 0
    out_i[k, O_EV_LEN] = 0
    out_f[k, OF_TS] = t
    out_f[k, OF_OPENED] = math.nan
    out_f[k, OF_AUX] = math.nan
    return int(k)


@jit
def _set_incident(s: State, k: int, kind: int, opened: float) -> None:
    s.out_i[k, O_KIND] = kind
    s.out_f[k, OF_OPENED] = opened


@jit
def _set_page(s: State, k: int, lists: I64, row: int, col: int) -> None:
    """Record ``k`` pages, with the evidence list at (lists, row, col)."""
    out_i, ev_out, cnt, nodes = s.out_i, s.ev_out, s.cnt, s.nodes
    out_i[k, O_PAGE] = 1
    start = cnt[C_NEV]
    h = lists[row, col]
    n = lists[row, col + 2]
    for j in range(n):
        ev_out[start + j] = nodes[h, 0]
        h = nodes[h, 1]
    out_i[k, O_EV_START] = start
    out_i[k, O_EV_LEN] = n
    cnt[C_NEV] = start + n


@jit
def _schedule_room(s: State, r: int, slot: int, since: float, due: float) -> None:
    """Pending ``slot`` of room ``r`` starts (or restarts, keeping its place) with no evidence."""
    ri, rf = s.ri, s.rf
    if ri[r, RI_PEND_ON + slot] == 0:
        ri[r, RI_PEND_ORDER + slot] = _next_seq(s)
    else:
        _lclear(s, ri, r, RI_PEND_LIST + 3 * slot)
    ri[r, RI_PEND_ON + slot] = 1
    ri[r, RI_PEND_SEQ + slot] = _next_seq(s)
    rf[r, RF_PEND_SINCE + slot] = since
    rf[r, RF_PEND_DUE + slot] = due
    rf[r, RF_NEXT_DUE] = min(rf[r, RF_NEXT_DUE], due)


@jit
def _drop_pending(s: State, r: int, slot: int) -> None:
    ri = s.ri
    ri[r, RI_PEND_ON + slot] = 0
    _lclear(s, ri, r, RI_PEND_LIST + 3 * slot)


# -- room predicates -----------------------------------------------------------------------


@jit
def _staff_present(s: State, r: int, t: float) -> bool:
    ri, rf, di, df, rp = s.ri, s.rf, s.di, s.df, s.rp
    if t - rf[r, RF_STAFF_SEEN] <= rp[r, RP_STAFF_RECENT]:
        return True
    d = ri[r, RI_FIRST_DEV]
    while d >= 0:
        if di[d, DI_STAFF_IN] == 1 and t - df[d, DF_STAFF_SINCE] <= rp[r, RP_STAFF_TIMEOUT]:
            return True
        d = di[d, DI_NEXT]
    return False


@jit
def _optical_working_in(ri: I64, di: I64, df: F64, rp: F64, r: int, t: float) -> bool:
    """Whether room ``r`` has a working optical sensor at ``t``: present, not blind (obstructed
    or faulted) and heard from within the silence limit."""
    d = ri[r, RI_FIRST_DEV]
    while d >= 0:
        if (
            di[d, DI_OPT_PRESENT] == 1
            and di[d, DI_OPT_BLIND] == 0
            and t - df[d, DF_OPT_SEEN] <= rp[r, RP_SILENT_AFTER]
        ):
            return True
        d = di[d, DI_NEXT]
    return False


@jit
def _optical_working(s: State, r: int, t: float) -> bool:
    return bool(_optical_working_in(s.ri, s.di, s.df, s.rp, r, t))


@jit
def _is_open(s: State, r: int, kind: int, t: float) -> bool:
    ri, rf, rp = s.ri, s.rf, s.rp
    if ri[r, RI_INC_OPEN + kind] == 0:
        return False
    if t - rf[r, RF_INC_LAST + kind] > rp[r, RP_IDLE_CLOSE]:
        ri[r, RI_INC_OPEN + kind] = 0
        return False
    return True


@jit
def _in_order(s: State, r: int, on: int, order: int, n_slots: int) -> I64:
    """The slots ``0..n_slots`` of room ``r`` whose flag (column ``on`` + slot) is set, in the
    order of their insertion numbers (column ``order`` + slot): a dict's iteration order."""
    ri = s.ri
    slots = np.empty(n_slots, dtype=np.int64)
    orders = np.empty(n_slots, dtype=np.int64)
    n = 0
    for k in range(n_slots):
        if ri[r, on + k] == 1:
            o = ri[r, order + k]
            j = n
            while j > 0 and orders[j - 1] > o:
                slots[j] = slots[j - 1]
                orders[j] = orders[j - 1]
                j -= 1
            slots[j] = k
            orders[j] = o
            n += 1
    return slots[:n]


# -- incidents -----------------------------------------------------------------------------


@jit
def _raise(
    s: State,
    r: int,
    kind: int,
    t: float,
    lists: I64,
    row: int,
    col: int,
    item: int,
    timer: int,
    why: int,
    aux: float,
) -> None:
    """Evidence for a care incident is actionable now: page it, or say why not."""
    ri, rf, out_f = s.ri, s.rf, s.out_f
    if kind != I_CALL and _staff_present(s, r, t):
        k = _emit(s, item, timer, r, t, D_SUPPRESSED, R_RAISE_STAFF, kind)
        s.out_i[k, O_WHY] = why
        out_f[k, OF_AUX] = aux
        return
    if _is_open(s, r, kind, t):
        rf[r, RF_INC_LAST + kind] = t
        k = _emit(s, item, timer, r, t, D_EVIDENCE, R_RAISE_DUP, kind)
        s.out_i[k, O_WHY] = why
        out_f[k, OF_AUX] = aux
        _set_incident(s, k, kind, rf[r, RF_INC_OPENED + kind])
        return
    if kind != I_CALL:
        for other in _in_order(s, r, RI_INC_OPEN, RI_INC_ORDER, N_INC):
            if other == I_CALL or not _is_open(s, r, other, t):
                continue
            if SEVERITY[other] >= SEVERITY[kind]:
                rf[r, RF_INC_LAST + other] = t
                k = _emit(s, item, timer, r, t, D_SUPPRESSED, R_RAISE_COVERED, other)
                s.out_i[k, O_WHY] = why
                out_f[k, OF_AUX] = aux
                _set_incident(s, k, other, rf[r, RF_INC_OPENED + other])
                return
    ri[r, RI_INC_OPEN + kind] = 1
    ri[r, RI_INC_ORDER + kind] = _next_seq(s)
    rf[r, RF_INC_OPENED + kind] = t
    rf[r, RF_INC_LAST + kind] = t
    k = _emit(s, item, timer, r, t, D_PAGED, R_RAISE_PAGED, kind)
    s.out_i[k, O_WHY] = why
    out_f[k, OF_AUX] = aux
    _set_incident(s, k, kind, t)
    _set_page(s, k, lists, row, col)


@jit
def _resolve(s: State, r: int, kind: int, t: float, why: int, item: int, arg: int) -> None:
    ri, rf = s.ri, s.rf
    if ri[r, RI_INC_OPEN + kind] == 1:
        ri[r, RI_INC_OPEN + kind] = 0
        k = _emit(s, item, NONE, r, t, D_RESOLVED, R_RESOLVE, arg)
        s.out_i[k, O_WHY] = why
        _set_incident(s, k, kind, rf[r, RF_INC_OPENED + kind])


@jit
def _cancel(s: State, r: int, slot: int, t: float, why: int, item: int, arg: int) -> None:
    ri = s.ri
    if ri[r, RI_PEND_ON + slot] == 1:
        _drop_pending(s, r, slot)
        k = _emit(s, item, NONE, r, t, D_RESOLVED, R_CANCEL, arg)
        s.out_i[k, O_WHY] = why
        s.out_i[k, O_FAULT] = slot


@jit
def _device_fault(
    s: State,
    r: int,
    d: int,
    reason: int,
    t: float,
    lists: I64,
    row: int,
    col: int,
    item: int,
    timer: int,
) -> None:
    di, df, out_i = s.di, s.df, s.out_i
    if di[d, DI_FAULT_OPEN + reason] == 1 and t - df[d, DF_FAULT_LAST + reason] <= (
        TECHNICAL_REPEAT
    ):
        df[d, DF_FAULT_LAST + reason] = t
        k = _emit(s, item, timer, r, t, D_EVIDENCE, R_FAULT_DUP, NONE)
        _set_incident(s, k, I_DEVICE, df[d, DF_FAULT_OPENED + reason])
        out_i[k, O_DEVICE] = d
        out_i[k, O_FAULT] = reason
        return
    di[d, DI_FAULT_OPEN + reason] = 1
    df[d, DF_FAULT_OPENED + reason] = t
    df[d, DF_FAULT_LAST + reason] = t
    k = _emit(s, item, timer, r, t, D_PAGED, R_FAULT_PAGED, NONE)
    _set_incident(s, k, I_DEVICE, t)
    out_i[k, O_DEVICE] = d
    out_i[k, O_FAULT] = reason
    _set_page(s, k, lists, row, col)


# -- deciding one event --------------------------------------------------------------------


@hot
def _count_conventional(s: State, r: int, d: int, code: int, ts: float, value: float) -> None:
    df, rp, cnt = s.df, s.rp, s.cnt
    alarm = CODE_ALARM[code]
    if alarm == A_NONE:
        return
    if alarm == A_WANDERS and rp[r, RP_WANDERS] == 0.0:
        return
    if alarm == A_LOUD and not value >= rp[r, RP_AC_THRESHOLD]:  # NaN (no value) is not loud
        return
    last = df[d, DF_LAST_ALARM]
    if not math.isnan(last) and abs(ts - last) < CONVENTIONAL_REARM:
        return
    df[d, DF_LAST_ALARM] = ts
    cnt[C_RAW] += 1


@hot
def _device_seen(s: State, r: int, d: int, t: float, item: int) -> None:
    rf, di, df, rp = s.rf, s.di, s.df, s.rp
    df[d, DF_LAST_SEEN] = t
    di[d, DI_SILENT_ON] = 1
    di[d, DI_SILENT_SEQ] = _next_seq(s)
    due = t + rp[r, RP_SILENT_AFTER]
    df[d, DF_SILENT_DUE] = due
    rf[r, RF_NEXT_DUE] = min(rf[r, RF_NEXT_DUE], due)
    if di[d, DI_FAULT_OPEN + F_SILENT] == 1:
        di[d, DI_FAULT_OPEN + F_SILENT] = 0
        k = _emit(s, item, NONE, r, t, D_RESOLVED, R_HEARD_AGAIN, NONE)
        _set_incident(s, k, I_DEVICE, df[d, DF_FAULT_OPENED + F_SILENT])
        s.out_i[k, O_DEVICE] = d
        s.out_i[k, O_FAULT] = F_SILENT
    if di[d, DI_KIND] == K_OPTICAL:
        if di[d, DI_OPT_PRESENT] == 0:
            di[d, DI_OPT_BLIND] = 0
        di[d, DI_OPT_PRESENT] = 1
        df[d, DF_OPT_SEEN] = t


@jit
def _staff_arrived(s: State, r: int, t: float, item: int) -> None:
    for kind in _in_order(s, r, RI_INC_OPEN, RI_INC_ORDER, N_INC):
        _resolve(s, r, kind, t, RW_STAFF, item, kind)
    for slot in _in_order(s, r, RI_PEND_ON, RI_PEND_ORDER, N_PEND):
        _cancel(s, r, slot, t, CW_STAFF, item, NONE)
    s.rf[r, RF_AC_START] = math.nan


@jit
def _single(s: State, seq: int) -> None:
    """Scratch list 0 := [seq]."""
    scratch = s.scratch
    _lclear(s, scratch, 0, 0)
    _lpush(s, scratch, 0, 0, seq)


@jit
def _bed_exit(
    s: State,
    r: int,
    since: float,
    t: float,
    lists: I64,
    row: int,
    col: int,
    item: int,
    timer: int,
) -> None:
    """The resident left the bed at ``since`` (decided at ``t``)."""
    ri, rp = s.ri, s.rp
    if not _is_night(s, r, since):
        _emit(s, item, timer, r, t, D_SUPPRESSED, R_EXIT_DAY, NONE)
        return
    if rp[r, RP_HIGH_RISK] != 0.0:
        _raise(s, r, I_BED_EXIT, t, lists, row, col, item, timer, W_BED_EXIT, math.nan)
        return
    if ri[r, RI_PEND_ON + P_ABSENT] == 1:
        _lextend(s, ri, r, RI_PEND_LIST + 3 * P_ABSENT, lists, row, col)
        _emit(s, item, timer, r, t, D_PENDING, R_EXIT_AGAIN, NONE)
        return
    if _staff_present(s, r, t):
        _emit(s, item, timer, r, t, D_SUPPRESSED, R_EXIT_STAFF, NONE)
        return
    _schedule_room(s, r, P_ABSENT, since, since + rp[r, RP_GRACE])
    _lextend(s, ri, r, RI_PEND_LIST + 3 * P_ABSENT, lists, row, col)
    _emit(s, item, timer, r, t, D_PENDING, R_EXIT_PENDING, NONE)


@jit
def _back_in_bed(s: State, r: int, t: float, item: int, optical: bool) -> None:
    _cancel(s, r, P_ABSENT, t, CW_BACK, item, NONE)
    _resolve(s, r, I_BED_EXIT, t, RW_BACK, item, I_BED_EXIT)
    _resolve(s, r, I_ABSENT, t, RW_BACK, item, I_ABSENT)
    _resolve(s, r, I_WANDERING, t, RW_BACK, item, I_WANDERING)
    if optical:
        _resolve(s, r, I_FALL, t, RW_SEEN_BACK, item, I_FALL)


@jit
def _wandering_evidence(
    s: State,
    r: int,
    t: float,
    lists: I64,
    row: int,
    col: int,
    seq: int,
    item: int,
    timer: int,
) -> None:
    """The resident left the room: the door's evidence, then ``lists``, then event ``seq``."""
    ri, rp, scratch = s.ri, s.rp, s.scratch
    _lclear(s, scratch, 1, 0)
    if ri[r, RI_PEND_ON + P_DOOR] == 1:
        _lextend(s, scratch, 1, 0, ri, r, RI_PEND_LIST + 3 * P_DOOR)
        _drop_pending(s, r, P_DOOR)
    if row >= 0:
        _lextend(s, scratch, 1, 0, lists, row, col)
    if seq >= 0:
        _lpush(s, scratch, 1, 0, seq)
    if rp[r, RP_WANDERS] == 0.0:
        return
    if not _is_night(s, r, t):
        _emit(s, item, timer, r, t, D_SUPPRESSED, R_LEFT_DAY, NONE)
        return
    _raise(s, r, I_WANDERING, t, scratch, 1, 0, item, timer, W_WANDER, math.nan)


@jit
def _on_optical(s: State, r: int, d: int, code: int, t: float, seq: int, item: int) -> None:
    ri, rf, di, rp, scratch = s.ri, s.rf, s.di, s.rp, s.scratch
    if code == E_OBSTRUCTED:
        di[d, DI_OPT_BLIND] = 1
        if di[d, DI_OBST_ON] == 1:
            _lpush(s, di, d, DI_OBST_LIST, seq)
            return
        due = t + rp[r, RP_OBSTRUCTED_AFTER]
        di[d, DI_OBST_ON] = 1
        di[d, DI_OBST_SEQ] = _next_seq(s)
        s.df[d, DF_OBST_DUE] = due
        rf[r, RF_NEXT_DUE] = min(rf[r, RF_NEXT_DUE], due)
        _lclear(s, di, d, DI_OBST_LIST)
        _lpush(s, di, d, DI_OBST_LIST, seq)
        _emit(s, item, NONE, r, t, D_PENDING, R_OBST_PENDING, NONE)
        return
    di[d, DI_OPT_BLIND] = 0
    # the camera sees again
    if di[d, DI_OBST_ON] == 1:
        di[d, DI_OBST_ON] = 0
        _lclear(s, di, d, DI_OBST_LIST)
        _emit(s, item, NONE, r, t, D_RESOLVED, R_SEES_AGAIN, NONE)
    if di[d, DI_FAULT_OPEN + F_OBSTRUCTED] == 1:
        di[d, DI_FAULT_OPEN + F_OBSTRUCTED] = 0
        k = _emit(s, item, NONE, r, t, D_RESOLVED, R_SEES_AGAIN, NONE)
        _set_incident(s, k, I_DEVICE, s.df[d, DF_FAULT_OPENED + F_OBSTRUCTED])
        s.out_i[k, O_DEVICE] = d
        s.out_i[k, O_FAULT] = F_OBSTRUCTED
    if code in (E_STAFF_PRESENT, E_MULTIPLE):
        arriving = not _staff_present(s, r, t)
        rf[r, RF_STAFF_SEEN] = t
        if arriving:
            _staff_arrived(s, r, t, item)
        return
    upright = code in (E_IN_BED, E_SITTING, E_OUT_OF_BED, E_BATHROOM, E_LEFT)
    if upright and ri[r, RI_PEND_ON + P_FALL] == 1:
        _cancel(s, r, P_FALL, t, CW_CONTRADICTED, item, code)
    if code in (E_FALL, E_FLOOR):
        if ri[r, RI_PEND_ON + P_FALL] == 1:
            _lpush(s, ri, r, RI_PEND_LIST + 3 * P_FALL, seq)
            _emit(s, item, NONE, r, t, D_PENDING, R_FALL_MORE, NONE)
        elif _staff_present(s, r, t):
            _emit(s, item, NONE, r, t, D_SUPPRESSED, R_FALL_STAFF, code)
        else:
            _schedule_room(s, r, P_FALL, t, t + rp[r, RP_FALL_CONFIRM])
            _lpush(s, ri, r, RI_PEND_LIST + 3 * P_FALL, seq)
            _emit(s, item, NONE, r, t, D_PENDING, R_FALL_PENDING, code)
    if (upright or code in (E_ENTERED, E_FALL, E_FLOOR)) and code != E_LEFT:
        _resolve(s, r, I_WANDERING, t, RW_SEEN_ROOM, item, code)
    if code == E_LEFT or (code == E_NO_PERSON and ri[r, RI_PEND_ON + P_DOOR] == 1):
        _wandering_evidence(s, r, t, scratch, -1, 0, seq, item, NONE)
    if code in (E_IN_BED, E_SITTING):
        was = ri[r, RI_OPT_IN_BED]
        ri[r, RI_OPT_IN_BED] = 1
        if code == E_IN_BED:
            _back_in_bed(s, r, t, item, True)
        elif was == 0:
            _emit(s, item, NONE, r, t, D_STATE, R_SIT_EDGE, NONE)
    elif code in (E_OUT_OF_BED, E_BATHROOM, E_LEFT):
        was = ri[r, RI_OPT_IN_BED]
        ri[r, RI_OPT_IN_BED] = 0
        if (code == E_OUT_OF_BED and was != 0) or was == 1:
            _single(s, seq)
            _bed_exit(s, r, t, t, scratch, 0, 0, item, NONE)
    elif code in (E_NO_PERSON, E_FALL, E_FLOOR, E_ENTERED):
        ri[r, RI_OPT_IN_BED] = 0


@jit
def _on_bed(s: State, r: int, code: int, t: float, seq: int, item: int) -> None:
    ri, rp, scratch = s.ri, s.rp, s.scratch
    vacated = code == E_BED_VACATED
    was = ri[r, RI_MAT_IN_BED]
    ri[r, RI_MAT_IN_BED] = 0 if vacated else 1
    if _optical_working(s, r, t):
        _emit(s, item, NONE, r, t, D_IGNORED, R_BED_IGNORED, NONE)
        return
    if not vacated:
        _cancel(s, r, P_BED_MAT, t, CW_TURNING, item, NONE)
        _back_in_bed(s, r, t, item, False)
        return
    if was == 0:
        return
    confirm = rp[r, RP_BED_CONFIRM]
    if confirm <= 0:
        _single(s, seq)
        _bed_exit(s, r, t, t, scratch, 0, 0, item, NONE)
        return
    _schedule_room(s, r, P_BED_MAT, t, t + confirm)
    _lpush(s, ri, r, RI_PEND_LIST + 3 * P_BED_MAT, seq)
    _emit(s, item, NONE, r, t, D_PENDING, R_BED_PENDING, NONE)


@jit
def _on_door(s: State, r: int, code: int, t: float, seq: int, item: int) -> None:
    ri, rp = s.ri, s.rp
    if code != E_DOOR_OPEN or rp[r, RP_WANDERS] == 0.0:
        return
    if not _is_night(s, r, t):
        _emit(s, item, NONE, r, t, D_SUPPRESSED, R_DOOR_DAY, NONE)
        return
    if _staff_present(s, r, t):
        _emit(s, item, NONE, r, t, D_SUPPRESSED, R_DOOR_STAFF, NONE)
        return
    if ri[r, RI_PEND_ON + P_DOOR] == 1:
        _lpush(s, ri, r, RI_PEND_LIST + 3 * P_DOOR, seq)
        return
    _schedule_room(s, r, P_DOOR, t, t + rp[r, RP_WANDER_CONFIRM])
    _lpush(s, ri, r, RI_PEND_LIST + 3 * P_DOOR, seq)
    _emit(s, item, NONE, r, t, D_PENDING, R_DOOR_PENDING, NONE)


@jit
def _on_acoustic(s: State, r: int, code: int, t: float, value: float, seq: int, item: int) -> None:
    ri, rf, rp = s.ri, s.rf, s.rp
    loud = code == E_SOUND and value >= rp[r, RP_AC_THRESHOLD]  # NaN: no value, not loud
    if not loud:
        rf[r, RF_AC_START] = math.nan
        return
    if math.isnan(rf[r, RF_AC_START]) or t - rf[r, RF_AC_LAST] > rp[r, RP_AC_GAP]:
        rf[r, RF_AC_START] = t
        _lclear(s, ri, r, RI_AC_LIST)
    rf[r, RF_AC_LAST] = t
    _lpush(s, ri, r, RI_AC_LIST, seq)
    lasted = t - rf[r, RF_AC_START]
    if lasted >= rp[r, RP_AC_DURATION]:
        _raise(s, r, I_ACOUSTIC, t, ri, r, RI_AC_LIST, item, NONE, W_ACOUSTIC, lasted)
    else:
        k = _emit(s, item, NONE, r, t, D_PENDING, R_AC_PENDING, NONE)
        s.out_f[k, OF_AUX] = lasted


@jit
def _on_call(s: State, r: int, code: int, t: float, seq: int, item: int) -> None:
    ri, rf, scratch = s.ri, s.rf, s.scratch
    if code == E_CALL_CANCELLED:
        _resolve(s, r, I_CALL, t, RW_CALL_CANCELLED, item, I_CALL)
        return
    fast = ri[r, RI_FAST] == 1
    if not _is_open(s, r, I_CALL, t) and fast:
        ri[r, RI_FAST] = 0
        ri[r, RI_INC_OPEN + I_CALL] = 1
        ri[r, RI_INC_ORDER + I_CALL] = _next_seq(s)
        rf[r, RF_INC_OPENED + I_CALL] = rf[r, RF_FAST_OPENED]
        rf[r, RF_INC_LAST + I_CALL] = t
        k = _emit(s, item, NONE, r, t, D_EVIDENCE, R_CALL_FAST, NONE)
        _set_incident(s, k, I_CALL, rf[r, RF_FAST_OPENED])
        return
    if fast and ri[r, RI_FAST_SEQ] == seq:
        ri[r, RI_FAST] = 0  # it was paged on arrival but turned out a repeat
    _single(s, seq)
    _raise(s, r, I_CALL, t, scratch, 0, 0, item, NONE, W_CALL, math.nan)


@jit
def _decide(
    s: State, r: int, d: int, code: int, ts: float, value: float, t: float, seq: int, item: int
) -> None:
    """Decide one event at time ``t`` (the reference's ``Classifier._decide``)."""
    ri, rf, di, df, cnt = s.ri, s.rf, s.di, s.df, s.cnt
    n0 = cnt[C_NOUT]
    _count_conventional(s, r, d, code, ts, value)
    _device_seen(s, r, d, t, item)
    health = CODE_HEALTH[code]
    kind = CODE_KIND[code]
    if health >= 0:
        if health == 0:
            _emit(s, item, NONE, r, t, D_STATE, R_HEARTBEAT, NONE)
        else:
            if kind == K_OPTICAL and health == 2:
                di[d, DI_OPT_BLIND] = 1
            _single(s, seq)
            reason = F_FAULT if health == 2 else F_BATTERY
            _device_fault(s, r, d, reason, t, s.scratch, 0, 0, item, NONE)
    elif kind == K_OPTICAL:
        _on_optical(s, r, d, code, t, seq, item)
    elif kind == K_BED:
        _on_bed(s, r, code, t, seq, item)
    elif kind == K_DOOR:
        _on_door(s, r, code, t, seq, item)
    elif kind == K_MOTION:
        ri[r, RI_HAS_MOTION] = 1
        if code == E_MOTION:
            rf[r, RF_LAST_MOTION] = t
    elif kind == K_CALL:
        _on_call(s, r, code, t, seq, item)
    elif kind == K_PRESENCE:
        if code == E_STAFF_IN:
            arriving = not _staff_present(s, r, t)
            di[d, DI_STAFF_IN] = 1
            df[d, DF_STAFF_SINCE] = t
            if arriving:
                _staff_arrived(s, r, t, item)
        else:
            di[d, DI_STAFF_IN] = 0
    elif kind == K_ACOUSTIC:
        _on_acoustic(s, r, code, t, value, seq, item)
    if cnt[C_NOUT] == n0:
        _emit(s, item, NONE, r, t, D_STATE, R_STATE, code)


@hot
def _keep_pages_only(s: State, n0: int) -> None:
    """Without an audit trail, drop the records from ``n0`` on that decided no page."""
    out_i, out_f, cnt = s.out_i, s.out_f, s.cnt
    if cnt[C_AUDIT] == 1:
        return
    w = n0
    for j in range(n0, cnt[C_NOUT]):
        if out_i[j, O_PAGE] == 1:
            if w != j:
                out_i[w, :] = out_i[j, :]
                out_f[w, :] = out_f[j, :]
            w += 1
    cnt[C_NOUT] = w


# -- timers --------------------------------------------------------------------------------


@jit
def _next_timer(s: State, r: int) -> tuple[float, int, int, int]:
    """The room's earliest live timer: (due, creation, timer code, device); due inf if none."""
    ri, rf, di, df = s.ri, s.rf, s.di, s.df
    best_due = math.inf
    best_seq = 0
    best_code = NONE
    best_dev = NONE
    for p in range(N_PEND):
        if ri[r, RI_PEND_ON + p] == 1:
            due = rf[r, RF_PEND_DUE + p]
            seq = ri[r, RI_PEND_SEQ + p]
            if due < best_due or (due == best_due and seq < best_seq):
                best_due, best_seq, best_code, best_dev = due, seq, p, NONE
    d = ri[r, RI_FIRST_DEV]
    while d >= 0:
        if di[d, DI_SILENT_ON] == 1:
            due = df[d, DF_SILENT_DUE]
            seq = di[d, DI_SILENT_SEQ]
            if due < best_due or (due == best_due and seq < best_seq):
                best_due, best_seq, best_code, best_dev = due, seq, T_SILENT, d
        if di[d, DI_OBST_ON] == 1:
            due = df[d, DF_OBST_DUE]
            seq = di[d, DI_OBST_SEQ]
            if due < best_due or (due == best_due and seq < best_seq):
                best_due, best_seq, best_code, best_dev = due, seq, T_OBSTRUCTED, d
        d = di[d, DI_NEXT]
    return best_due, best_seq, best_code, best_dev


@jit
def _fire(s: State, r: int, code: int, d: int, t: float) -> None:
    ri, rf, di, scratch = s.ri, s.rf, s.di, s.scratch
    if code == T_SILENT:
        di[d, DI_SILENT_ON] = 0
        _lclear(s, scratch, 0, 0)
        _device_fault(s, r, d, F_SILENT, t, scratch, 0, 0, NONE, T_SILENT)
        if di[d, DI_KIND] == K_OPTICAL:
            di[d, DI_OPT_PRESENT] = 0
        return
    if code == T_OBSTRUCTED:
        di[d, DI_OBST_ON] = 0
        _device_fault(s, r, d, F_OBSTRUCTED, t, di, d, DI_OBST_LIST, NONE, T_OBSTRUCTED)
        _lclear(s, di, d, DI_OBST_LIST)
        return
    ri[r, RI_PEND_ON + code] = 0
    col = RI_PEND_LIST + 3 * code
    if code == P_FALL:
        _raise(s, r, I_FALL, t, ri, r, col, NONE, code, W_FALL, math.nan)
    elif code == P_ABSENT:
        _raise(s, r, I_ABSENT, t, ri, r, col, NONE, code, W_ABSENT, math.nan)
    elif code == P_BED_MAT:
        since = rf[r, RF_PEND_SINCE + P_BED_MAT]
        _bed_exit(s, r, since, t, ri, r, col, NONE, code)
    else:  # the door window closed
        since = rf[r, RF_PEND_SINCE + P_DOOR]
        if _optical_working(s, r, t):
            _emit(s, NONE, code, r, t, D_RESOLVED, R_DOOR_SEEN, NONE)
        elif ri[r, RI_MAT_IN_BED] == 1:
            _emit(s, NONE, code, r, t, D_RESOLVED, R_DOOR_IN_BED, NONE)
        elif ri[r, RI_HAS_MOTION] == 1 and rf[r, RF_LAST_MOTION] > since + 1:
            _emit(s, NONE, code, r, t, D_RESOLVED, R_DOOR_MOTION, NONE)
        else:
            _wandering_evidence(s, r, t, ri, r, col, -1, NONE, code)
    # the slot's evidence list was consumed (unless the slot was started again meanwhile)
    if ri[r, RI_PEND_ON + code] == 0:
        _lclear(s, ri, r, col)


@jit
def _fire_room(s: State, r: int, limit: float, inclusive: bool) -> None:
    """Fire the room's timers due before ``limit`` (up to and including it if ``inclusive``)."""
    rf = s.rf
    if rf[r, RF_NEXT_DUE] > limit or (rf[r, RF_NEXT_DUE] == limit and not inclusive):
        return
    while True:
        due, _, code, d = _next_timer(s, r)
        if due > limit or (due == limit and not inclusive):
            rf[r, RF_NEXT_DUE] = due
            return
        t = max(rf[r, RF_CLOCK], due)
        rf[r, RF_CLOCK] = t
        n0 = s.cnt[C_NOUT]
        _fire(s, r, code, d, t)
        _keep_pages_only(s, n0)


@hot
def _has_room(s: State) -> bool:
    """Whether the outputs and the node pool can take one more item, whatever it does."""
    nodes, out_i, ev_out, cnt = s.nodes, s.out_i, s.ev_out, s.cnt
    free = int(cnt[C_FREE_N])
    live = int(nodes.shape[0]) - free
    return bool(
        free >= 2 * live + OUT_RESERVE
        and out_i.shape[0] - cnt[C_NOUT] >= OUT_RESERVE
        and ev_out.shape[0] - cnt[C_NEV] >= 2 * live + OUT_RESERVE
    )


# -- the fast path -------------------------------------------------------------------------
#
# Most events of a ward change a few numbers of their room and decide nothing: heartbeats (over
# half of all events), motion, quiet sound, a door closing, staff leaving, a bed mat where the
# camera decides, the resident seen in bed, on the bed edge, entering, or no one seen, with
# nothing pending or open that the event would touch. ``_run`` recognises them, before
# anything changes, from the room's present state, then applies exactly what ``_decide`` would
# (the same state changes, the same one audit record) with the state arrays in locals, no call
# and no record when no audit is kept. Anything else, or anything in doubt, goes the general
# way through ``_decide``.

S_NONE, S_HEARTBEAT, S_STATE, S_BED_IGNORED, S_SIT_EDGE = range(5)


@jit
def _emit_simple(s: State, simple: int, r: int, code: int, t: float, item: int) -> None:
    """The one audit record of a simple event."""
    if simple == S_HEARTBEAT:
        _emit(s, item, NONE, r, t, D_STATE, R_HEARTBEAT, NONE)
    elif simple == S_BED_IGNORED:
        _emit(s, item, NONE, r, t, D_IGNORED, R_BED_IGNORED, NONE)
    elif simple == S_SIT_EDGE:
        _emit(s, item, NONE, r, t, D_STATE, R_SIT_EDGE, NONE)
    else:
        _emit(s, item, NONE, r, t, D_STATE, R_STATE, code)


@jit
def _run(
    s: State,
    ev_ts: F64,
    ev_room: npt.NDArray[np.int32],
    ev_dev: npt.NDArray[np.int32],
    ev_code: npt.NDArray[np.int16],
    ev_value: F64,
    ev_seq: I64,
    plan_e: I64,
    plan_t: F64,
    plan_late: npt.NDArray[np.bool_],
    start: int,
) -> int:
    """Decide the planned events from ``start``; returns where it stopped (len: all done).

    The simple events are decided here, in the loop, on the state arrays held in locals: a
    helper taking arrays costs numba reference counting on every call, more than the event's
    work. Everything else goes through ``_decide``."""
    ri, rf, di, df, rp, cnt = s.ri, s.rf, s.di, s.df, s.rp, s.cnt
    audit = cnt[C_AUDIT] == 1
    # the kernel never grows an array: their sizes hold for the whole call
    n_nodes = s.nodes.shape[0]
    n_out = s.out_i.shape[0]
    n_ev = s.ev_out.shape[0]
    n = plan_e.shape[0]
    i = start
    while i < n:
        free = cnt[C_FREE_N]  # _has_room, on the locals
        live = n_nodes - free
        if (
            free < 2 * live + OUT_RESERVE
            or n_out - cnt[C_NOUT] < OUT_RESERVE
            or n_ev - cnt[C_NEV] < 2 * live + OUT_RESERVE
        ):
            return i
        # event, room and device as unsigned numbers: numba leaves out the wraparound of a
        # signed index (a negative one counts from the end) at every access; calls take ints
        e = np.uintp(plan_e[i])
        t = plan_t[i]
        r = np.uintp(ev_room[e])
        if rf[r, RF_NEXT_DUE] <= t:
            _fire_room(s, int(r), t, bool(plan_late[i]))
        rf[r, RF_CLOCK] = max(rf[r, RF_CLOCK], t)
        d = np.uintp(ev_dev[e])
        code = int(ev_code[e])
        value = ev_value[e]
        ts = ev_ts[e]

        # is it simple? (reads only: nothing changes before the answer)
        simple = S_NONE
        health = CODE_HEALTH[code]
        kind = CODE_KIND[code]
        if di[d, DI_FAULT_OPEN + F_SILENT] == 1:  # heard from again: a resolution to record
            simple = S_NONE
        elif health == 0:
            simple = S_HEARTBEAT
        elif health > 0:
            simple = S_NONE
        elif kind == K_MOTION:
            simple = S_STATE
        elif kind == K_ACOUSTIC:
            if not (code == E_SOUND and value >= rp[r, RP_AC_THRESHOLD]):  # not loud
                simple = S_STATE
        elif kind == K_DOOR:
            if code != E_DOOR_OPEN or rp[r, RP_WANDERS] == 0.0:
                simple = S_STATE
        elif kind == K_PRESENCE:
            if code != E_STAFF_IN:
                simple = S_STATE
        elif kind == K_BED:
            if _optical_working_in(ri, di, df, rp, int(r), t):
                simple = S_BED_IGNORED
        elif (
            kind == K_OPTICAL
            and di[d, DI_OBST_ON] == 0
            and di[d, DI_FAULT_OPEN + F_OBSTRUCTED] == 0
        ):  # the camera sees; only what the event would touch must be quiet
            wandering = ri[r, RI_INC_OPEN + I_WANDERING]
            if code == E_IN_BED:
                if (
                    wandering == 0
                    and ri[r, RI_PEND_ON + P_FALL] == 0
                    and ri[r, RI_PEND_ON + P_ABSENT] == 0
                    and ri[r, RI_INC_OPEN + I_FALL] == 0
                    and ri[r, RI_INC_OPEN + I_BED_EXIT] == 0
                    and ri[r, RI_INC_OPEN + I_ABSENT] == 0
                ):
                    simple = S_STATE
            elif code == E_SITTING:
                if wandering == 0 and ri[r, RI_PEND_ON + P_FALL] == 0:
                    simple = S_SIT_EDGE if ri[r, RI_OPT_IN_BED] == 0 else S_STATE
            elif code == E_ENTERED:
                if wandering == 0:
                    simple = S_STATE
            elif code == E_NO_PERSON and ri[r, RI_PEND_ON + P_DOOR] == 0:
                simple = S_STATE

        if simple == S_NONE:
            n0 = cnt[C_NOUT]
            _decide(s, int(r), int(d), code, ts, value, t, int(ev_seq[e]), int(e))
            _keep_pages_only(s, n0)
            i += 1
            continue

        # what _decide does for it: _count_conventional
        alarm = CODE_ALARM[code]
        if alarm != A_NONE and not (
            (alarm == A_WANDERS and rp[r, RP_WANDERS] == 0.0)
            or (alarm == A_LOUD and not value >= rp[r, RP_AC_THRESHOLD])
        ):
            last = df[d, DF_LAST_ALARM]
            if math.isnan(last) or not abs(ts - last) < CONVENTIONAL_REARM:
                df[d, DF_LAST_ALARM] = ts
                cnt[C_RAW] += 1
        # _device_seen, the device not silent
        df[d, DF_LAST_SEEN] = t
        di[d, DI_SILENT_ON] = 1
        cnt[C_SEQ] += 1
        di[d, DI_SILENT_SEQ] = cnt[C_SEQ]
        due = t + rp[r, RP_SILENT_AFTER]
        df[d, DF_SILENT_DUE] = due
        rf[r, RF_NEXT_DUE] = min(rf[r, RF_NEXT_DUE], due)
        if kind == K_OPTICAL:
            if di[d, DI_OPT_PRESENT] == 0:
                di[d, DI_OPT_BLIND] = 0
            di[d, DI_OPT_PRESENT] = 1
            df[d, DF_OPT_SEEN] = t
        # the event itself
        if simple == S_STATE:
            if kind == K_MOTION:
                ri[r, RI_HAS_MOTION] = 1
                if code == E_MOTION:
                    rf[r, RF_LAST_MOTION] = t
            elif kind == K_ACOUSTIC:
                rf[r, RF_AC_START] = math.nan
            elif kind == K_PRESENCE:
                di[d, DI_STAFF_IN] = 0
            elif kind == K_OPTICAL:  # in bed, on the edge, entered, no person
                di[d, DI_OPT_BLIND] = 0
                ri[r, RI_OPT_IN_BED] = 1 if code in (E_IN_BED, E_SITTING) else 0
        elif simple == S_SIT_EDGE:  # sitting on the edge, out of bed before
            di[d, DI_OPT_BLIND] = 0
            ri[r, RI_OPT_IN_BED] = 1
        elif simple == S_BED_IGNORED:
            ri[r, RI_MAT_IN_BED] = 0 if code == E_BED_VACATED else 1
        if audit:
            _emit_simple(s, simple, int(r), code, t, int(e))
        i += 1
    return i


@jit
def _fire_all(s: State, n_rooms: int, watermark: float, start: int) -> int:
    """Fire every room's timers up to ``watermark``, from room ``start``; returns where it
    stopped (n_rooms: all done)."""
    rf = s.rf
    for r in range(start, n_rooms):
        if rf[r, RF_NEXT_DUE] <= watermark:
            if not _has_room(s):
                return r
            _fire_room(s, r, watermark, True)
    return n_rooms


# -- rooms in parallel ----------------------------------------------------------------------
#
# Rooms never interact, so the rooms can be split into partitions, each with a ``State`` of its
# own, and the partitions decided at the same time on numba's threads: the decisions of each
# room are the same as on one thread (only the order of the records of different rooms
# differs). A partition's plan is the plan of its rooms, in the same order.


@jit
def _partition_plan(plan_e: I64, ev_room: npt.NDArray[np.int32], part_of: I64) -> tuple[I64, I64]:
    """A stable counting sort of the plan by the partition of each event's room: the
    permutation of the plan, and the bounds of each partition's part of it."""
    n_parts = int(part_of.max()) + 1 if part_of.shape[0] else 1
    bounds = np.zeros(n_parts + 1, dtype=np.int64)
    for i in range(plan_e.shape[0]):
        bounds[part_of[ev_room[plan_e[i]]] + 1] += 1
    for p in range(n_parts):
        bounds[p + 1] += bounds[p]
    at = bounds[:-1].copy()
    perm = np.empty(plan_e.shape[0], dtype=np.int64)
    for i in range(plan_e.shape[0]):
        p = part_of[ev_room[plan_e[i]]]
        perm[at[p]] = i
        at[p] += 1
    return perm, bounds


#: The event columns as ``_run_parts`` takes them: ts, room, device, code, value, seq.
EventArrays = tuple[
    F64, npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.int16], F64, I64
]


@parallel_jit
def _run_parts(
    states: tuple[State, ...],
    ev: EventArrays,
    plan_e: I64,
    plan_t: F64,
    plan_late: npt.NDArray[np.bool_],
    bounds: I64,
    pos: I64,
) -> None:
    """``_run`` of every partition ``p`` (``states[p]``, the plan's part ``bounds[p]`` to
    ``bounds[p + 1]``) from ``pos[p]`` on, in parallel; ``pos[p]`` becomes where it stopped."""
    for p in numba.prange(len(states)):
        stop = bounds[p + 1]
        ts, room, device, code, value, seq = ev
        pos[p] = _run(
            states[p],
            ts,
            room,
            device,
            code,
            value,
            seq,
            plan_e[:stop],
            plan_t[:stop],
            plan_late[:stop],
            pos[p],
        )


# -- the plan of a batch -------------------------------------------------------------------

#: The plan's insertion sort gives up after this many moves per event (then a merge sort).
PLAN_MOVES: Final = 16


@jit
def _plan_into(
    ts: F64,
    n_buf: int,
    late: npt.NDArray[np.bool_],
    watermark: F64,
    clock_before: F64,
    idx: I64,
    rel: I64,
    order: I64,
    plan_t: F64,
    plan_late: npt.NDArray[np.bool_],
    rounds: I64,
) -> int:
    """The order in which the reference decides the undecided events ``ts`` (the ``n_buf``
    buffered ones in (time, arrival) order, then a batch in arrival order).

    ``watermark[a]`` is the watermark after the batch's event ``a`` arrived, ``clock_before[a]``
    the clock before; ``late[a]`` says that event ``a`` came after the clock had passed it
    (decided on arrival, at ``clock_before[a]``). Every other event is decided in (time,
    arrival) order once the watermark reaches it: in the round (arrival) ``rel`` of the first
    watermark at or above its time, and not before its own arrival; ``rel`` = the batch's
    length means not yet. A late event goes first in its round. Along (time, arrival) order the
    rounds never go down (an event that waits is never later than one decided before it), so
    the plan is a merge, in linear time for a batch that is nearly in time order.

    Writes the order, plan times, plan late flags, plan rounds and the round of every event
    (``rel``) into the first ``len(ts)`` rows of the arrays given (``idx`` is scratch), and
    returns how many of the order are decided now: the rest, its tail, stays buffered. The
    caller keeps the arrays from batch to batch (fresh memory costs a page fault a page)."""
    n = ts.shape[0]
    nk = n - n_buf
    m = 0
    for i in range(n):
        if i < n_buf or not late[i - n_buf]:
            idx[m] = i
            m += 1
    # (time, index) order: the index order is the arrival order
    moves = 0
    for p in range(1, m):
        x = idx[p]
        tx = ts[x]
        q = p
        while q > 0 and ts[idx[q - 1]] > tx:
            idx[q] = idx[q - 1]
            q -= 1
        idx[q] = x
        moves += p - q
        if moves > PLAN_MOVES * m:  # far from sorted: a stable sort of what is left
            head = idx[:m].copy()
            idx[:m] = head[np.argsort(ts[head], kind="mergesort")]
            break
    j = 0
    for p in range(m):
        i = idx[p]
        while j < nk and watermark[j] < ts[i]:
            j += 1
        rel[i] = max(j, i - n_buf)  # the buffer's events arrived before the batch
    for a in range(nk):
        if late[a]:
            rel[n_buf + a] = a
    plan_late[:n] = False
    o = 0
    p = 0
    for a in range(nk):
        if not late[a]:
            continue
        while p < m and rel[idx[p]] < a:
            i = idx[p]
            order[o], plan_t[o], rounds[o] = i, ts[i], rel[i]
            o += 1
            p += 1
        order[o], plan_t[o], plan_late[o], rounds[o] = n_buf + a, clock_before[a], True, a
        o += 1
    while p < m:
        i = idx[p]
        order[o], plan_t[o], rounds[o] = i, ts[i], rel[i]
        o += 1
        p += 1
    decided = 0
    while decided < n and rounds[decided] < nk:
        decided += 1
    return decided


@jit
def _plan(
    ts: F64, n_buf: int, late: npt.NDArray[np.bool_], watermark: F64, clock_before: F64
) -> tuple[I64, F64, npt.NDArray[np.bool_], I64, I64, int]:
    """The order in which the reference decides the undecided events ``ts`` (``_plan_into``
    on arrays of its own): (order, plan times, plan late flags, plan rounds, round of every
    event, how many of the order are decided now)."""
    n = ts.shape[0]
    idx = np.empty(n, dtype=np.int64)
    rel = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    plan_t = np.empty(n, dtype=np.float64)
    plan_late = np.zeros(n, dtype=np.bool_)
    rounds = np.empty(n, dtype=np.int64)
    decided = _plan_into(
        ts, n_buf, late, watermark, clock_before, idx, rel, order, plan_t, plan_late, rounds
    )
    return order, plan_t, plan_late, rounds, rel, decided


def plan(
    ts: F64, n_buf: int, late: npt.NDArray[np.bool_], watermark: F64, clock_before: F64
) -> tuple[I64, F64, npt.NDArray[np.bool_], I64, I64, int]:
    """Checked entry to ``_plan``."""
    n_new = ts.shape[0] - n_buf
    if late.shape != (n_new,) or watermark.shape != (n_new,) or clock_before.shape != (n_new,):
        raise ValueError("late, watermark and clock_before need one row per event of the batch")
    order, plan_t, plan_late, rounds, rel, decided = _plan(ts, n_buf, late, watermark, clock_before)
    return order, plan_t, plan_late, rounds, rel, int(decided)


# -- the public wrappers -------------------------------------------------------------------


def check_columns(
    ts: F64,
    room: npt.NDArray[np.int32],
    device: npt.NDArray[np.int32],
    code: npt.NDArray[np.int16],
    value: F64,
) -> None:
    """Raise ``TypeError``/``ValueError`` unless the event columns are what the kernel takes."""
    want = (
        ("ts", ts, np.float64),
        ("room", room, np.int32),
        ("device", device, np.int32),
        ("code", code, np.int16),
        ("value", value, np.float64),
    )
    n = ts.shape[0] if isinstance(ts, np.ndarray) else -1
    for name, array, dtype in want:
        if not isinstance(array, np.ndarray):
            raise TypeError(f"column {name} must be a numpy array, not {type(array).__name__}")
        if array.dtype != dtype:
            raise TypeError(
                f"column {name} must have dtype {np.dtype(dtype).name}, not {array.dtype.name}: "
                f"convert it with .astype(np.{np.dtype(dtype).name})"
            )
        if array.ndim != 1 or array.shape[0] != n:
            raise ValueError(
                f"column {name} must be one-dimensional with {n} rows like ts, "
                f"not of shape {array.shape}"
            )
        if not array.flags.c_contiguous:
            raise ValueError(f"column {name} must be contiguous: use np.ascontiguousarray")
    if n == 0:
        return
    low, high = (int(code[0]), int(code[0])) if n == 1 else (int(code.min()), int(code.max()))
    if low < 0 or high >= N_CODES:
        raise ValueError(f"column code holds values outside 0..{N_CODES - 1} (EVENT_CODES)")


@dataclass(frozen=True, slots=True)
class Plan:
    """What the kernel decides, in order: batch indices, decision times, late flags."""

    events: I64
    times: F64
    late: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.events.shape[0])

    def check(self, columns: EventColumns, seq: I64) -> None:
        """Raise ``TypeError``/``ValueError`` unless the plan and ``seq`` fit ``columns``."""
        check_columns(columns.ts, columns.room, columns.device, columns.code, columns.value)
        if seq.dtype != np.int64 or seq.shape != columns.ts.shape:
            raise TypeError("seq must be an int64 column like ts")
        e, t, late = self.events, self.times, self.late
        if e.dtype != np.int64 or t.dtype != np.float64 or late.dtype != np.bool_:
            raise TypeError("the plan must be int64 indices, float64 times and bool late flags")
        if e.shape != t.shape or e.shape != late.shape:
            raise ValueError("the plan's three columns must have the same length")
        if e.size and (int(e.min()) < 0 or int(e.max()) >= len(columns)):
            raise ValueError("the plan indexes events that are not in the columns")

    def take(self, index: I64) -> Plan:
        return Plan(self.events[index], self.times[index], self.late[index])


def run(state: State, columns: EventColumns, seq: I64, plan: Plan, start: int = 0) -> int:
    """Checked entry to the kernel: decide ``plan[start:]`` of ``columns`` (see ``_run``);
    returns where it stopped (``len(plan)``: all done; else make room and call again)."""
    plan.check(columns, seq)
    c = columns
    return int(
        _run(
            state,
            c.ts,
            c.room,
            c.device,
            c.code,
            c.value,
            seq,
            plan.events,
            plan.times,
            plan.late,
            start,
        )
    )


def partition_plan(plan: Plan, room: npt.NDArray[np.int32], part_of: I64) -> tuple[Plan, I64]:
    """``plan`` grouped by partition (``part_of[room]``), each part in the plan's order, and
    the ``bounds`` of the parts (for ``run_parallel``)."""
    if part_of.dtype != np.int64 or plan.events.dtype != np.int64:
        raise TypeError("the plan's events and part_of must be int64")
    perm, bounds = _partition_plan(plan.events, room, part_of)
    return plan.take(perm), bounds


def run_parallel(
    states: tuple[State, ...],
    columns: EventColumns,
    seq: I64,
    plan: Plan,
    bounds: I64,
    pos: I64,
) -> None:
    """Checked entry to ``_run_parts``: partition ``p`` decides ``plan[pos[p]:bounds[p + 1]]``
    with ``states[p]``, the partitions on numba's threads (``numba.set_num_threads``). The plan
    is grouped by partition (``partition_plan``), each partition's rooms have their state in
    its own ``State`` only; ``pos`` tells where each stopped (the caller makes room in that
    partition's arrays and calls again)."""
    plan.check(columns, seq)
    if len(states) + 1 != bounds.shape[0] or pos.shape[0] != len(states):
        raise ValueError("bounds needs one row more than there are states, pos one per state")
    if bounds.dtype != np.int64 or pos.dtype != np.int64:
        raise TypeError("bounds and pos must be int64")
    c = columns
    ev = (c.ts, c.room, c.device, c.code, c.value, seq)
    _run_parts(tuple(states), ev, plan.events, plan.times, plan.late, bounds, pos)


def fire_room(state: State, room: int, watermark: float) -> None:
    """Fire room ``room``'s timers up to ``watermark`` (the caller makes room for the output)."""
    _fire_room(state, room, float(watermark), True)


def fire_all(state: State, n_rooms: int, watermark: float, start: int = 0) -> int:
    """Fire every timer up to ``watermark`` (see ``_fire_all``)."""
    return int(_fire_all(state, n_rooms, float(watermark), start))


@jit
def _live_seqs(nodes: I64, free_head: int) -> I64:
    """The event sequence numbers held by nodes not on the free list (sorted, unique)."""
    free = np.zeros(nodes.shape[0], dtype=np.bool_)
    h = free_head
    while h >= 0:
        free[h] = True
        h = nodes[h, 1]
    return np.unique(nodes[~free, 0])


def live_seqs(nodes: I64, cnt: I64) -> I64:
    """The events any evidence list may still name in a page, by sequence number."""
    return np.asarray(_live_seqs(nodes, int(cnt[C_FREE_HEAD])), dtype=np.int64)
