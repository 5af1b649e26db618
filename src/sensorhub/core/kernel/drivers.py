"""The kernel's loops: ``_run`` decides the planned events of a batch (the simple ones in the
loop itself), ``_fire_all`` fires the timers up to the watermark, ``_run_parts`` runs room
partitions on numba's threads."""

# ruff: noqa: PLR0917 - numba has no keyword-only parameters: kernels take their state positionally

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from sensorhub.core.care import CONVENTIONAL_REARM
from sensorhub.core.kernel.events import _decide
from sensorhub.core.kernel.layout import (
    A_LOUD,
    A_NONE,
    A_WANDERS,
    C_AUDIT,
    C_FREE_N,
    C_NEV,
    C_NOUT,
    C_RAW,
    C_SEQ,
    CODE_ALARM,
    CODE_HEALTH,
    CODE_KIND,
    D_IGNORED,
    D_STATE,
    DF_LAST_ALARM,
    DF_LAST_SEEN,
    DF_OPT_SEEN,
    DF_SILENT_DUE,
    DI_FAULT_OPEN,
    DI_OBST_ON,
    DI_OPT_BLIND,
    DI_OPT_PRESENT,
    DI_SILENT_ON,
    DI_SILENT_SEQ,
    DI_STAFF_IN,
    E_BED_VACATED,
    E_DOOR_OPEN,
    E_ENTERED,
    E_IN_BED,
    E_MOTION,
    E_NO_PERSON,
    E_SITTING,
    E_SOUND,
    E_STAFF_IN,
    F64,
    F_OBSTRUCTED,
    F_SILENT,
    I64,
    I_ABSENT,
    I_BED_EXIT,
    I_FALL,
    I_WANDERING,
    K_ACOUSTIC,
    K_BED,
    K_DOOR,
    K_MOTION,
    K_OPTICAL,
    K_PRESENCE,
    NONE,
    OUT_RESERVE,
    P_ABSENT,
    P_DOOR,
    P_FALL,
    R_BED_IGNORED,
    R_HEARTBEAT,
    R_SIT_EDGE,
    R_STATE,
    RF_AC_START,
    RF_CLOCK,
    RF_LAST_MOTION,
    RF_NEXT_DUE,
    RI_HAS_MOTION,
    RI_INC_OPEN,
    RI_MAT_IN_BED,
    RI_OPT_IN_BED,
    RI_PEND_ON,
    RP_AC_THRESHOLD,
    RP_SILENT_AFTER,
    RP_WANDERS,
)
from sensorhub.core.kernel.records import _emit, _keep_incident_records
from sensorhub.core.kernel.rooms import _optical_working_in
from sensorhub.core.kernel.state import State
from sensorhub.core.kernel.timers import _fire_room
from sensorhub.jit import hot, jit, parallel_jit


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
            _keep_incident_records(s, n0)
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
