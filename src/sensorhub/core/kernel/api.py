"""The checked entries to the kernel, called from Python: they check the arrays they are given,
then call the compiled functions."""

# ruff: noqa: PLR0917 - numba has no keyword-only parameters: kernels take their state positionally

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sensorhub.codec.columns import EventColumns
from sensorhub.core.kernel.drivers import _fire_all, _partition_plan, _run, _run_parts
from sensorhub.core.kernel.layout import C_FREE_HEAD, F64, I64, N_CODES
from sensorhub.core.kernel.planning import _plan
from sensorhub.core.kernel.records import _live_seqs
from sensorhub.core.kernel.state import State
from sensorhub.core.kernel.timers import _fire_room


def plan(
    ts: F64, n_buf: int, late: npt.NDArray[np.bool_], watermark: F64, clock_before: F64
) -> tuple[I64, F64, npt.NDArray[np.bool_], I64, I64, int]:
    """Checked entry to ``_plan``."""
    n_new = ts.shape[0] - n_buf
    if late.shape != (n_new,) or watermark.shape != (n_new,) or clock_before.shape != (n_new,):
        raise ValueError("late, watermark and clock_before need one row per event of the batch")
    order, plan_t, plan_late, rounds, rel, decided = _plan(ts, n_buf, late, watermark, clock_before)
    return order, plan_t, plan_late, rounds, rel, int(decided)


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


def live_seqs(nodes: I64, cnt: I64) -> I64:
    """The events any evidence list may still name in a page, by sequence number."""
    return np.asarray(_live_seqs(nodes, int(cnt[C_FREE_HEAD])), dtype=np.int64)
