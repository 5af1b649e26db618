"""The compiled core's fast paths decide exactly what the general ones (and the reference) do.

- without an audit trail the kernel keeps only the records that page: the pages, the counts and
  the buffer stay the reference's;
- the batch plan (a linear merge in ``kernel._plan``) is the order the reference decides in,
  checked against the plain sort that states it;
- the rooms split into partitions and decided in parallel (``kernel.run_parallel``) page
  exactly what one thread pages;
- a compiled ``State``, whose arrays numba counts no references on, keeps them alive itself.
"""

from __future__ import annotations

import gc
import math
import random
import weakref
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorhub.codec.columns import EventColumns
from sensorhub.core import kernel
from sensorhub.core.classifier import Classifier
from sensorhub.core.fast import FastClassifier, _parameters
from tests.core.test_event_time import _policy
from tests.core.test_kernel import _arrival, _batches, _copy, _page_key, _stream


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("batched", [False, True])
def test_without_an_audit_trail_the_pages_are_the_references(seed: int, batched: bool) -> None:
    arrivals = _arrival(_stream(200 + seed, 2500), seed)
    reference = Classifier(_policy())
    ref_pages = [p for e in arrivals for p in reference.push(_copy(e)).opened]
    ref_pages += reference.drain().opened
    fast = FastClassifier(_policy(), audit=False)
    pages = []
    if batched:
        start = 0
        for size in _batches(len(arrivals), seed):
            chunk = [_copy(e) for e in arrivals[start : start + size]]
            start += size
            step = fast.push_batch(EventColumns.from_events(chunk, fast.registry))
            assert step.audit == []
            pages += step.opened
    else:
        pages = [p for e in arrivals for p in fast.push(_copy(e)).opened]
    pages += fast.drain().opened
    assert ref_pages, "a stream this long pages something"
    assert sorted(map(_page_key, pages)) == sorted(map(_page_key, ref_pages))
    assert (fast.raw_alarms, fast.late_events, fast.duplicates, fast.buffered) == (
        reference.raw_alarms,
        reference.late_events,
        reference.duplicates,
        reference.buffered,
    )


def _plan_by_sorting(
    ts: np.ndarray[Any, Any],
    n_buf: int,
    late: np.ndarray[Any, Any],
    watermark: np.ndarray[Any, Any],
) -> tuple[list[int], list[int]]:
    """The plan as the reference states it: every event's round (the first watermark at or
    above its time, not before its arrival; a late one in its arrival's round), then sorted by
    (round, late first, time, arrival)."""
    nk = len(late)
    rounds = []
    for i, t in enumerate(ts.tolist()):
        arrival = i - n_buf if i >= n_buf else -1
        if arrival >= 0 and late[arrival]:
            rounds.append(arrival)
            continue
        first = next((j for j in range(nk) if watermark[j] >= t), nk)
        rounds.append(max(first, arrival))
    is_late = [i >= n_buf and bool(late[i - n_buf]) for i in range(len(ts))]
    key = [
        (rounds[i], 0 if is_late[i] else 1, 0.0 if is_late[i] else float(ts[i]), i)
        for i in range(len(ts))
    ]
    order = sorted(range(len(ts)), key=key.__getitem__)
    return order, [rounds[i] for i in order]


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_buf=st.integers(0, 30),
    n_new=st.integers(1, 60),
    lateness=st.sampled_from([0.0, 1.0, 10.0]),
    spread=st.sampled_from([0.5, 5.0, 30.0]),
)
def test_the_batch_plan_is_the_order_the_reference_decides_in(
    seed: int, n_buf: int, n_new: int, lateness: float, spread: float
) -> None:
    rng = random.Random(seed)
    clock = 1000.0
    # the buffer: waiting events (at or after the clock), in (time, arrival) order
    buf = sorted(round(clock + rng.uniform(0, lateness + 1), 1) for _ in range(n_buf))
    max_ts = max([clock + lateness, *buf])
    new = [round(clock + rng.uniform(-spread, 3 * spread), 1) for _ in range(n_new)]
    ts = np.array(buf + new, dtype=np.float64)
    peak = np.maximum.accumulate(np.array([max_ts, *new]))
    clock_before = np.maximum(clock, peak[:-1] - lateness)
    late = np.array(new) < clock_before
    watermark = peak[1:] - lateness
    order, plan_t, plan_late, rounds, _, decided = kernel.plan(
        ts, n_buf, late, watermark, clock_before
    )
    want_order, want_rounds = _plan_by_sorting(ts, n_buf, late, watermark)
    assert order.tolist() == want_order
    assert rounds.tolist() == want_rounds
    assert decided == sum(r < n_new for r in want_rounds)
    for o, i in enumerate(want_order):
        is_late = i >= n_buf and late[i - n_buf]
        assert plan_late[o] == is_late
        assert plan_t[o] == (clock_before[i - n_buf] if is_late else ts[i])


def test_the_plan_of_a_batch_far_from_time_order_is_the_same() -> None:
    """A batch in reverse time order: the insertion sort gives up, the merge sort takes over."""
    n = 3000
    ts = 1000.0 + np.arange(n, dtype=np.float64)[::-1] * 0.001
    late = np.zeros(n, dtype=np.bool_)
    watermark = np.full(n, 999.0)
    order, *_, decided = kernel.plan(ts, 0, late, watermark, np.full(n, 990.0))
    assert order.tolist() == list(range(n))[::-1]
    assert decided == 0


def _kernel_state(devices: list[tuple[str, str, str, str]]) -> FastClassifier:
    """A classifier's kernel state with rows for ``devices`` (and their rooms)."""
    fast = FastClassifier(_policy(), audit=False)
    for site, room, kind, device in devices:
        fast.registry.device(site, room, kind, device)
    fast._sync_registry()
    fast._make_room()
    return fast


@pytest.mark.parametrize("n_parts", [2, 3])
def test_rooms_decided_in_parallel_page_what_one_thread_pages(n_parts: int) -> None:
    events = sorted(_stream(11, 4000), key=lambda e: e.ts)
    keys = sorted({(e.site, e.room, e.kind, e.device) for e in events})
    single = _kernel_state(keys)
    columns = EventColumns.from_events(events, single.registry)
    n = len(columns)
    seq = np.arange(n, dtype=np.int64)
    plan = kernel.Plan(np.arange(n, dtype=np.int64), columns.ts.copy(), np.zeros(n, np.bool_))
    lo, hi = float(columns.ts.min()), float(columns.ts.max()) + 3600

    def records(fast: FastClassifier) -> list[tuple[int, ...]]:
        out = fast._out_i[: int(fast._cnt[kernel.C_NOUT])]
        rows = out[:, [kernel.O_ITEM, kernel.O_ROOM, kernel.O_REASON, kernel.O_KIND]].tolist()
        fast._cnt[kernel.C_NOUT] = 0
        fast._cnt[kernel.C_NEV] = 0
        return [tuple(r) for r in rows]

    single._cover(lo, hi)
    want: list[tuple[int, ...]] = []
    i = 0
    while i < n:
        i = kernel.run(single._state(), columns, seq, plan, i)
        want += records(single)
        single._make_room()

    parts = [_kernel_state(keys) for _ in range(n_parts)]
    for part in parts:
        part._cover(lo, hi)
    n_rooms = len(single.registry.room_keys)
    part_of = np.arange(n_rooms, dtype=np.int64) % n_parts
    grouped, bounds = kernel.partition_plan(plan, columns.room, part_of)
    pos = bounds[:-1].copy()
    got: list[tuple[int, ...]] = []
    while True:
        states = tuple(part._state() for part in parts)
        kernel.run_parallel(states, columns, seq, grouped, bounds, pos)
        for part in parts:
            got += records(part)
            part._make_room()
        if (pos == bounds[1:]).all():
            break
    assert want, "the stream pages something"
    assert sorted(got) == sorted(want)
    assert sum(part.raw_alarms for part in parts) == single.raw_alarms


def test_a_state_made_of_arrays_nobody_else_holds_decides_as_the_classifiers_own() -> None:
    events = sorted(_stream(12, 800), key=lambda e: e.ts)
    fast = _kernel_state(sorted({(e.site, e.room, e.kind, e.device) for e in events}))
    columns = EventColumns.from_events(events, fast.registry)
    fast._cover(float(columns.ts.min()), float(columns.ts.max()) + 3600)
    n = len(columns)
    seq = np.arange(n, dtype=np.int64)
    plan = kernel.Plan(np.arange(n, dtype=np.int64), columns.ts.copy(), np.zeros(n, np.bool_))
    own = fast._state()
    copies = [np.copy(getattr(own, name)) for name in kernel.STATE_FIELDS]
    held = [weakref.ref(array) for array in copies]
    alone = kernel.make_state(*copies)
    del copies
    gc.collect()
    assert all(ref() is not None for ref in held)
    # memory freed too early would be handed out again here, and the kernel would decide on it
    _churn = [np.full(4096, -1, dtype=np.int64) for _ in range(64)]
    assert kernel.run(alone, columns, seq, plan) == kernel.run(own, columns, seq, plan)
    for name, ref in zip(kernel.STATE_FIELDS, held, strict=True):
        assert np.array_equal(ref(), getattr(own, name), equal_nan=True), name


def test_the_room_parameters_land_in_their_columns() -> None:
    room = _policy().room("zon", "normal")
    row = _parameters(room, night=3)
    assert row[kernel.RP_GRACE] == room.bathroom_grace
    assert row[kernel.RP_IDLE_CLOSE] == room.incident_idle_close
    assert row[kernel.RP_SILENT_AFTER] == room.silent_after
    assert row[kernel.RP_NIGHT] == 3
    assert not math.isnan(float(row.sum()))
