"""Deciding one event: ``_decide`` (the reference's ``Classifier._decide``) and the handlers of
each kind of sensor it hands the event to."""

# ruff: noqa: PLR0917 - numba has no keyword-only parameters: kernels take their state positionally

from __future__ import annotations

import math

from sensorhub.core.care import CONVENTIONAL_REARM
from sensorhub.core.kernel.incidents import _cancel, _device_fault, _raise, _resolve
from sensorhub.core.kernel.layout import (
    A_LOUD,
    A_NONE,
    A_WANDERS,
    C_NOUT,
    C_RAW,
    CODE_ALARM,
    CODE_HEALTH,
    CODE_KIND,
    CW_BACK,
    CW_CONTRADICTED,
    CW_STAFF,
    CW_TURNING,
    D_EVIDENCE,
    D_IGNORED,
    D_PENDING,
    D_RESOLVED,
    D_STATE,
    D_SUPPRESSED,
    DF_FAULT_OPENED,
    DF_LAST_ALARM,
    DF_LAST_SEEN,
    DF_OBST_DUE,
    DF_OPT_SEEN,
    DF_SILENT_DUE,
    DF_STAFF_SINCE,
    DI_FAULT_OPEN,
    DI_KIND,
    DI_OBST_LIST,
    DI_OBST_ON,
    DI_OBST_SEQ,
    DI_OPT_BLIND,
    DI_OPT_PRESENT,
    DI_SILENT_ON,
    DI_SILENT_SEQ,
    DI_STAFF_IN,
    E_BATHROOM,
    E_BED_VACATED,
    E_CALL_CANCELLED,
    E_DOOR_OPEN,
    E_ENTERED,
    E_FALL,
    E_FLOOR,
    E_IN_BED,
    E_LEFT,
    E_MOTION,
    E_MULTIPLE,
    E_NO_PERSON,
    E_OBSTRUCTED,
    E_OUT_OF_BED,
    E_SITTING,
    E_SOUND,
    E_STAFF_IN,
    E_STAFF_PRESENT,
    F_BATTERY,
    F_FAULT,
    F_OBSTRUCTED,
    F_SILENT,
    I64,
    I_ABSENT,
    I_ACOUSTIC,
    I_BED_EXIT,
    I_CALL,
    I_DEVICE,
    I_FALL,
    I_WANDERING,
    K_ACOUSTIC,
    K_BED,
    K_CALL,
    K_DOOR,
    K_MOTION,
    K_OPTICAL,
    K_PRESENCE,
    N_INC,
    N_PEND,
    NONE,
    O_DEVICE,
    O_FAULT,
    OF_AUX,
    P_ABSENT,
    P_BED_MAT,
    P_DOOR,
    P_FALL,
    R_AC_PENDING,
    R_BED_IGNORED,
    R_BED_PENDING,
    R_CALL_FAST,
    R_DOOR_DAY,
    R_DOOR_PENDING,
    R_DOOR_STAFF,
    R_EXIT_AGAIN,
    R_EXIT_DAY,
    R_EXIT_PENDING,
    R_EXIT_STAFF,
    R_FALL_MORE,
    R_FALL_PENDING,
    R_FALL_STAFF,
    R_HEARD_AGAIN,
    R_HEARTBEAT,
    R_LEFT_DAY,
    R_OBST_PENDING,
    R_SEES_AGAIN,
    R_SIT_EDGE,
    R_STATE,
    RF_AC_LAST,
    RF_AC_START,
    RF_FAST_OPENED,
    RF_INC_LAST,
    RF_INC_OPENED,
    RF_LAST_MOTION,
    RF_NEXT_DUE,
    RF_PEND_SINCE,
    RF_STAFF_SEEN,
    RI_AC_LIST,
    RI_FAST,
    RI_FAST_SEQ,
    RI_HAS_MOTION,
    RI_INC_OPEN,
    RI_INC_ORDER,
    RI_MAT_IN_BED,
    RI_OPT_IN_BED,
    RI_PEND_LIST,
    RI_PEND_ON,
    RI_PEND_ORDER,
    RP_AC_DURATION,
    RP_AC_GAP,
    RP_AC_THRESHOLD,
    RP_BED_CONFIRM,
    RP_FALL_CONFIRM,
    RP_GRACE,
    RP_HIGH_RISK,
    RP_OBSTRUCTED_AFTER,
    RP_SILENT_AFTER,
    RP_WANDER_CONFIRM,
    RP_WANDERS,
    RW_BACK,
    RW_CALL_CANCELLED,
    RW_SEEN_BACK,
    RW_SEEN_ROOM,
    RW_STAFF,
    W_ACOUSTIC,
    W_BED_EXIT,
    W_CALL,
    W_WANDER,
)
from sensorhub.core.kernel.records import (
    _drop_pending,
    _emit,
    _lclear,
    _lextend,
    _lpush,
    _next_seq,
    _schedule_room,
    _set_incident,
)
from sensorhub.core.kernel.rooms import (
    _in_order,
    _is_night,
    _is_open,
    _optical_working,
    _staff_present,
)
from sensorhub.core.kernel.state import State
from sensorhub.jit import hot, jit


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
    left: float,
    lists: I64,
    row: int,
    col: int,
    seq: int,
    item: int,
    timer: int,
) -> None:
    """The resident left the room (at ``left``, or when the door opened if it was open): the
    door's evidence, then ``lists``, then event ``seq``. Paged if that was at night."""
    ri, rp, scratch = s.ri, s.rp, s.scratch
    _lclear(s, scratch, 1, 0)
    if ri[r, RI_PEND_ON + P_DOOR] == 1:
        left = min(left, s.rf[r, RF_PEND_SINCE + P_DOOR])
        _lextend(s, scratch, 1, 0, ri, r, RI_PEND_LIST + 3 * P_DOOR)
        _drop_pending(s, r, P_DOOR)
    if row >= 0:
        _lextend(s, scratch, 1, 0, lists, row, col)
    if seq >= 0:
        _lpush(s, scratch, 1, 0, seq)
    if rp[r, RP_WANDERS] == 0.0:
        return
    if not _is_night(s, r, left):
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
        _wandering_evidence(s, r, t, t, scratch, -1, 0, seq, item, NONE)
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
