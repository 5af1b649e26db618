"""What the kernel asks of a room: night or not, staff present, a working camera, an incident
open, the flagged slots in insertion order."""

# ruff: noqa: PLR0917 - numba has no keyword-only parameters: kernels take their state positionally

from __future__ import annotations

import numpy as np

from sensorhub.core.kernel.layout import (
    DF_OPT_SEEN,
    DF_STAFF_SINCE,
    DI_NEXT,
    DI_OPT_BLIND,
    DI_OPT_PRESENT,
    DI_STAFF_IN,
    F64,
    I64,
    RF_INC_LAST,
    RF_STAFF_SEEN,
    RI_FIRST_DEV,
    RI_INC_OPEN,
    RP_IDLE_CLOSE,
    RP_NIGHT,
    RP_SILENT_AFTER,
    RP_STAFF_RECENT,
    RP_STAFF_TIMEOUT,
)
from sensorhub.core.kernel.state import State
from sensorhub.jit import jit


@jit
def _is_night(s: State, r: int, ts: float) -> bool:
    rp, nb, no = s.rp, s.night_b, s.night_off
    k = int(rp[r, RP_NIGHT])
    lo = no[k]
    hi = no[k + 1]
    # number of boundaries <= ts; the boundaries alternate night start, night end
    p = np.searchsorted(nb[lo:hi], ts, side="right")
    return bool(p % 2 == 1)


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
