"""The plan of a batch: the order in which the reference decides its events, and when."""

# ruff: noqa: PLR0917 - numba has no keyword-only parameters: kernels take their state positionally

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from sensorhub.core.kernel.layout import F64, I64
from sensorhub.jit import jit

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
