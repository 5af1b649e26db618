"""Writing the kernel's state and output: sequence numbers, the evidence lists of the node
pool, the output records and the evidence of pages, and the pending slots of a room."""

# ruff: noqa: PLR0917 - numba has no keyword-only parameters: kernels take their state positionally

from __future__ import annotations

import math

import numpy as np

from sensorhub.core.kernel.layout import (
    C_AUDIT,
    C_FREE_HEAD,
    C_FREE_N,
    C_NEV,
    C_NOUT,
    C_SEQ,
    D_EVIDENCE,
    D_RESOLVED,
    I64,
    NONE,
    O_ARG,
    O_DECISION,
    O_DEVICE,
    O_EV_LEN,
    O_EV_START,
    O_FAULT,
    O_ITEM,
    O_KIND,
    O_PAGE,
    O_REASON,
    O_ROOM,
    O_TIMER,
    O_WHY,
    OF_AUX,
    OF_OPENED,
    OF_TS,
    RF_NEXT_DUE,
    RF_PEND_DUE,
    RF_PEND_SINCE,
    RI_PEND_LIST,
    RI_PEND_ON,
    RI_PEND_ORDER,
    RI_PEND_SEQ,
)
from sensorhub.core.kernel.state import State
from sensorhub.jit import hot, jit


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


@hot
def _keep_incident_records(s: State, n0: int) -> None:
    """Without an audit trail, drop the records from ``n0`` on that say nothing of an incident:
    keep those that open one (page), resolve one or add evidence to one (routing needs them)."""
    out_i, out_f, cnt = s.out_i, s.out_f, s.cnt
    if cnt[C_AUDIT] == 1:
        return
    w = n0
    for j in range(n0, cnt[C_NOUT]):
        decision = out_i[j, O_DECISION]
        if out_i[j, O_PAGE] == 1 or (
            out_i[j, O_KIND] >= 0 and decision in (D_RESOLVED, D_EVIDENCE)
        ):
            if w != j:
                out_i[w, :] = out_i[j, :]
                out_f[w, :] = out_f[j, :]
            w += 1
    cnt[C_NOUT] = w


@jit
def _live_seqs(nodes: I64, free_head: int) -> I64:
    """The event sequence numbers held by nodes not on the free list (sorted, unique)."""
    free = np.zeros(nodes.shape[0], dtype=np.bool_)
    h = free_head
    while h >= 0:
        free[h] = True
        h = nodes[h, 1]
    return np.unique(nodes[~free, 0])
