"""A resident call paged on arrival, in ``FastClassifier``: the compiled check of each press.

Resident calls are never filtered: the reference pages a press the moment it arrives, unless
the room's call is open by then, judged from the room's in-order state rolled forward over the
room's events still waiting in the buffer (``Classifier._call_open_on_arrival``). The driver
(``fast.py``) cuts a batch's plan before each press, so that the kernel's state is the one the
reference has at that moment, and asks ``page_on_arrival``; ``group_by_room`` finds each room's
waiting events once a batch, not once a press.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from sensorhub.core import kernel as k
from sensorhub.core.kernel.layout import F64, I64
from sensorhub.jit import jit


class Waiting(NamedTuple):
    """What picks, for a press at batch position ``a`` in room ``r``, the room's events still
    waiting in the buffer when it arrives (``page_on_arrival``): those that arrived before it
    (``by_room[room_start[r]:room_start[r + 1]]``, the room's positions in the undecided
    columns, ascending), are not released by then (``released_at``: the plan's round of each,
    at least ``a``) and did not come beyond the lateness bound (``late``, the batch's)."""

    by_room: I64
    room_start: I64
    released_at: I64
    late: npt.NDArray[np.bool_]


@jit
def page_on_arrival(  # noqa: PLR0917 - numba takes its arguments positionally
    s: k.State,
    r: int,
    p: int,
    a: int,
    seq: int,
    clock: float,
    by_room: I64,
    room_start: I64,
    released_at: I64,
    late: npt.NDArray[np.bool_],
    both_ts: F64,
    both_code: npt.NDArray[np.int16],
    both_seq: I64,
) -> bool:
    """Whether room ``r``'s resident call pressed at position ``p`` of the undecided columns
    (batch position ``a``, sequence number ``seq``) is paged on arrival, as the reference's
    ``push`` decides it: not while the room's last call paged on arrival is not yet reached in
    order, nor if the room's call incident is open when it arrives; if it is paged, the room's
    state records it. One compiled call per press: the waiting events are picked here (see
    ``Waiting``), not with numpy on the room's whole batch.

    Open when it arrives: as the state has it at ``clock`` (the watermark before the press;
    staff present or not), then after the room's waiting events at or before the press, in
    (time, arrival) order."""
    if s.ri[r, k.RI_FAST] == 1:
        return False
    ts = both_ts[p]
    idle = s.rp[r, k.RP_IDLE_CLOSE]
    is_open = s.ri[r, k.RI_INC_OPEN + k.I_CALL] == 1
    last = s.rf[r, k.RF_INC_LAST + k.I_CALL] if is_open else -math.inf
    present = k._staff_present(s, r, clock)
    n_buf = p - a
    before = np.empty(room_start[r + 1] - room_start[r], dtype=np.int64)
    m = 0
    for w in by_room[room_start[r] : room_start[r + 1]]:
        if w >= p:
            break
        if released_at[w] < a or (w >= n_buf and late[w - n_buf]) or both_ts[w] > ts:
            continue
        # insertion by (time, sequence number): a few events, nearly in order
        q = m
        while q > 0 and (
            both_ts[before[q - 1]] > both_ts[w]
            or (both_ts[before[q - 1]] == both_ts[w] and both_seq[before[q - 1]] > both_seq[w])
        ):
            before[q] = before[q - 1]
            q -= 1
        before[q] = w
        m += 1
    for i in range(m):
        other_ts = both_ts[before[i]]
        code = both_code[before[i]]
        if is_open and other_ts - last > idle:
            is_open = False
        if code == k.E_CALL_CANCELLED:
            is_open = False
        elif code == k.E_CALL_PRESSED:
            is_open = True
            last = other_ts
        elif code == k.E_STAFF_OUT:
            present = False
        elif code in (k.E_STAFF_IN, k.E_STAFF_PRESENT, k.E_MULTIPLE):
            if not present:
                is_open = False
            present = True
    if is_open and ts - last <= idle:
        return False
    s.ri[r, k.RI_FAST] = 1
    s.ri[r, k.RI_FAST_SEQ] = seq
    s.rf[r, k.RF_FAST_OPENED] = ts
    return True


@jit
def group_by_room(room: npt.NDArray[np.int32], n_rooms: int) -> tuple[I64, I64]:
    """The positions of the events grouped by room (each room's in ascending order) and where
    each room's begin (``start[r]:start[r + 1]``): a counting sort."""
    start = np.zeros(n_rooms + 1, dtype=np.int64)
    for i in range(room.shape[0]):
        start[room[i] + 1] += 1
    for r in range(n_rooms):
        start[r + 1] += start[r]
    fill = start[:-1].copy()
    out = np.empty(room.shape[0], dtype=np.int64)
    for i in range(room.shape[0]):
        r = room[i]
        out[fill[r]] = i
        fill[r] += 1
    return out, start
