"""Care incidents and device faults: raised (paged, or why not), resolved, a pending one
cancelled."""

# ruff: noqa: PLR0917 - numba has no keyword-only parameters: kernels take their state positionally

from __future__ import annotations

from sensorhub.core.care import TECHNICAL_REPEAT
from sensorhub.core.kernel.layout import (
    D_EVIDENCE,
    D_PAGED,
    D_RESOLVED,
    D_SUPPRESSED,
    DF_FAULT_LAST,
    DF_FAULT_OPENED,
    DI_FAULT_OPEN,
    I64,
    I_CALL,
    I_DEVICE,
    N_INC,
    NONE,
    O_DEVICE,
    O_FAULT,
    O_WHY,
    OF_AUX,
    R_CANCEL,
    R_FAULT_DUP,
    R_FAULT_PAGED,
    R_RAISE_COVERED,
    R_RAISE_DUP,
    R_RAISE_PAGED,
    R_RAISE_STAFF,
    R_RESOLVE,
    RF_INC_LAST,
    RF_INC_OPENED,
    RI_INC_OPEN,
    RI_INC_ORDER,
    RI_PEND_ON,
    SEVERITY,
)
from sensorhub.core.kernel.records import _drop_pending, _emit, _next_seq, _set_incident, _set_page
from sensorhub.core.kernel.rooms import _in_order, _is_open, _staff_present
from sensorhub.core.kernel.state import State
from sensorhub.jit import jit


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
