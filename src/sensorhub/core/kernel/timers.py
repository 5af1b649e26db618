"""The timers: fixed slots per room (fall, absent, bed_mat, door) and per device (silent,
obstructed), fired in (due, creation) order."""

from __future__ import annotations

import math

from sensorhub.core.kernel.events import _bed_exit, _wandering_evidence
from sensorhub.core.kernel.incidents import _device_fault, _raise
from sensorhub.core.kernel.layout import (
    C_NOUT,
    D_RESOLVED,
    DF_OBST_DUE,
    DF_SILENT_DUE,
    DI_KIND,
    DI_NEXT,
    DI_OBST_LIST,
    DI_OBST_ON,
    DI_OBST_SEQ,
    DI_OPT_PRESENT,
    DI_SILENT_ON,
    DI_SILENT_SEQ,
    F_OBSTRUCTED,
    F_SILENT,
    I_ABSENT,
    I_FALL,
    K_OPTICAL,
    N_PEND,
    NONE,
    P_ABSENT,
    P_BED_MAT,
    P_DOOR,
    P_FALL,
    R_DOOR_IN_BED,
    R_DOOR_MOTION,
    R_DOOR_SEEN,
    RF_CLOCK,
    RF_LAST_MOTION,
    RF_NEXT_DUE,
    RF_PEND_DUE,
    RF_PEND_SINCE,
    RI_FIRST_DEV,
    RI_HAS_MOTION,
    RI_MAT_IN_BED,
    RI_PEND_LIST,
    RI_PEND_ON,
    RI_PEND_SEQ,
    T_OBSTRUCTED,
    T_SILENT,
    W_ABSENT,
    W_FALL,
)
from sensorhub.core.kernel.records import _emit, _keep_incident_records, _lclear
from sensorhub.core.kernel.rooms import _optical_working
from sensorhub.core.kernel.state import State
from sensorhub.jit import jit


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
            _wandering_evidence(s, r, t, since, ri, r, col, -1, NONE, code)
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
        _keep_incident_records(s, n0)
