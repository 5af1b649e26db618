"""Redeliveries: the compiled classifier drops exactly the events the reference drops.

A redelivery is an event whose ``(site, room, kind, device, id)`` the reference ``Classifier``
still remembers: it remembers an id from its first delivery until a pruning (when an event with
an id is at least ``DEDUP_WINDOW`` later than the last pruning) finds it older than
``DEDUP_WINDOW``. ``FastClassifier`` keeps the same memory as arrays (``seen.SeenIds``) and
checks a whole batch in one compiled pass; these tests put redeliveries on both sides of batch
boundaries and of the pruning horizon, and compare decisions, counts and audit trails.
"""

from __future__ import annotations

import math
import pickle
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorhub.codec.columns import EventColumns, IdColumn
from sensorhub.contract import Event
from sensorhub.core import seen as seen_module
from sensorhub.core.classifier import Classifier
from sensorhub.core.clock import DEDUP_WINDOW
from sensorhub.core.fast import FastClassifier
from sensorhub.core.seen import SLACK, SeenIds
from tests.core.test_event_time import _policy
from tests.core.test_kernel import CHOICES, ROOMS, _assert_same, _batches, _copy, _feed, ev
from tests.core.test_kernel import _in_order as in_order

W = DEDUP_WINDOW

# -- the memory of ids alone, against the reference's dict ---------------------------------------

IDS = ["a", "b", "ab", "ab\x00", "", "é", "\U0001f6cf", "x\ud800", "e1", "e10", "e" * 64]


def _model(events: list[tuple[int, float, str | None]], window: float) -> list[bool]:
    """The reference's check (``Classifier.push`` and ``_prune_seen``): which events are new."""
    seen: dict[tuple[int, str], float] = {}
    pruned_at = -math.inf
    new = []
    for device, ts, event_id in events:
        if event_id is None:
            new.append(True)
            continue
        key = (device, event_id)
        if key in seen:
            new.append(False)
            continue
        seen[key] = ts
        new.append(True)
        if ts - pruned_at >= window:
            pruned_at = ts
            horizon = ts - window
            seen = {k: t for k, t in seen.items() if t >= horizon}
    return new


def _check(seen: SeenIds, events: list[tuple[int, float, str | None]]) -> list[bool]:
    keep = seen.check(
        np.array([e[0] for e in events], dtype=np.int32),
        np.array([e[1] for e in events], dtype=np.float64),
        IdColumn.from_strings([e[2] for e in events]),
    )
    return [True] * len(events) if keep is None else keep.tolist()


_EVENT = st.tuples(
    st.integers(0, 3),
    st.floats(0, 30, allow_nan=False),  # a step forward in time
    st.floats(0, 40, allow_nan=False),  # how late
    st.one_of(st.none(), st.sampled_from(IDS), st.text(max_size=6)),
)


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(_EVENT, max_size=300),
    window=st.sampled_from([5.0, 20.0, 60.0]),
    cuts=st.lists(st.integers(1, 40), max_size=20),
    pickled_at=st.integers(0, 25),
    slack=st.sampled_from([0, 7, SLACK]),
)
def test_seen_ids_match_the_reference_dict_in_any_batching(
    steps: list[tuple[int, float, float, str | None]],
    window: float,
    cuts: list[int],
    pickled_at: int,
    slack: int,
) -> None:
    t = 1_800_000_000.0
    events = []
    for device, step, late, event_id in steps:
        t += step
        events.append((device, t - late, event_id))
    seen = SeenIds(window, slack=slack)
    got: list[bool] = []
    start = 0
    for n, size in enumerate([*cuts, len(events)]):
        if n == pickled_at:
            seen = pickle.loads(pickle.dumps(seen))  # noqa: S301 - our own bytes
        got += _check(seen, events[start : start + size])
        start += size
    assert got == _model(events, window)


def test_ids_whose_hashes_collide_are_told_apart_by_their_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every id hashed alike (the check run as Python, its hash replaced): still exact."""
    check = getattr(seen_module._check_ids, "py_func", seen_module._check_ids)
    monkeypatch.setattr(seen_module, "_check_ids", check)

    def copy_and_collide(  # noqa: PLR0917 - the signature of key_hash_copy
        device: int, raw: Any, start: int, length: int, store: Any, at: int
    ) -> Any:
        store[at : at + length] = raw[start : start + length]
        return np.uint64(7)

    monkeypatch.setattr(seen_module, "key_hash_copy", copy_and_collide)
    rng = random.Random(3)
    events = []
    t = 0.0
    for _ in range(400):
        t += rng.uniform(0, 3)
        events.append((rng.randint(0, 2), t - rng.uniform(0, 20), rng.choice([*IDS, None])))
    seen = SeenIds(30.0, slack=0)
    got = _check(seen, events[:150]) + _check(seen, events[150:151]) + _check(seen, events[151:])
    assert got == _model(events, 30.0)
    assert got.count(False) > 50


def test_seen_ids_keep_an_hour_not_the_whole_stream() -> None:
    """One id a second for ten hours: what is remembered stays about one window long."""
    seen = SeenIds(W)
    t0 = 1_800_000_000.0
    largest = 0
    for hour in range(10):
        ts = t0 + hour * 3600 + np.arange(3600, dtype=np.float64)
        ids: list[str | None] = [f"id-{hour}-{i}" for i in range(3600)]
        batch = [(0, float(t), i) for t, i in zip(ts, ids, strict=True)]
        assert _check(seen, batch) == [True] * 3600
        largest = max(largest, len(seen))
    assert largest <= 2 * 3600 + 1
    # a redelivery from the last hour is still caught, one from long ago is not
    assert _check(seen, [(0, t0 + 9 * 3600 + 5, "id-9-5"), (0, t0 + 5, "id-0-5")]) == [False, True]


def test_a_pickle_holds_the_entries_but_neither_the_hash_table_nor_room_to_grow() -> None:
    """What serve writes in every snapshot: under 56 bytes an id here, where the arrays as they
    are (grown by doubling, and the hash table) take half as much again or more."""
    seen = SeenIds(W)
    t0 = 1_800_000_000.0
    assert _check(seen, [(0, t0 + i, f"id-{i:05}") for i in range(5000)]) == [True] * 5000
    data = pickle.dumps(seen)
    held = sum(array.nbytes for array in vars(seen).values() if isinstance(array, np.ndarray))
    assert len(data) < 5000 * (8 + 32 + 8 + 8) + 2000 < held / 1.45
    again = pickle.loads(data)  # noqa: S301 - our own bytes
    batch = [(0, t0 + 5000, "id-00007"), (1, t0 + 5000, "id-00007"), (0, t0 + 5001, "id-04999")]
    assert _check(again, batch) == _check(seen, batch) == [False, True, False]


# -- the classifiers, decision for decision -----------------------------------------------------


def _redelivering(seed: int, n: int) -> list[Event]:
    """Arrivals over several dedup windows with many redeliveries: right away, within the
    window, around its edge and long after it; ids shared between devices and reused."""
    rng = random.Random(seed)
    t = 1_795_213_263.0
    originals: list[Event] = []
    timed: list[tuple[float, int, Event]] = []
    for i in range(n):
        t += rng.expovariate(1 / rng.choice((2.0, 30.0, 400.0)))
        room = rng.choice(ROOMS[:3])
        kind, name = rng.choice(CHOICES)
        device = f"{room}-{kind}" + ("-b" if rng.random() < 0.2 else "")
        event_id = rng.choice((f"e{i}", f"e{rng.randint(0, 20)}", None, "same"))
        event = Event(
            ts=round(t, 3),
            site="zon",
            room=room,
            kind=kind,
            device=device,
            event=name,
            id=event_id,
            value=rng.uniform(50, 90) if name == "sound" else None,
            raw={"n": i},
        )
        originals.append(event)
        timed.append((event.ts + rng.uniform(0, 9.99), len(timed), event))
        if event_id is not None and rng.random() < 0.3:
            again = rng.choice((0.5, rng.uniform(0, W), W + rng.uniform(-30, 30), 3 * W))
            timed.append((event.ts + again, len(timed), event))
    return [e for _, _, e in sorted(timed, key=lambda x: (x[0], x[1]))]


def _both(arrivals: list[Event], batches: list[int] | None) -> None:
    policy = _policy()
    reference = _feed(Classifier(policy), arrivals)
    fast = _feed(FastClassifier(policy), arrivals, batches=batches)
    _assert_same(reference, fast)


@pytest.mark.parametrize("seed", range(6))
def test_redeliveries_across_batches_and_the_pruning_horizon(seed: int) -> None:
    arrivals = _redelivering(seed, 1200)
    span = arrivals[-1].ts - arrivals[0].ts
    assert span > 3 * W, "the stream spans several dedup windows"
    _both(arrivals, None if seed == 0 else _batches(len(arrivals), seed))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400), batch_seed=st.integers(0, 2**16))
def test_random_redeliveries_give_identical_decisions(seed: int, n: int, batch_seed: int) -> None:
    arrivals = _redelivering(seed, n)
    _both(arrivals, _batches(len(arrivals), batch_seed))


def _horizon_stream() -> list[Event]:
    return [
        ev(0, "normal", "call", "heartbeat", id="a"),  # remembered; the first pruning (at 0)
        ev(W, "normal", "call", "heartbeat", id="b"),  # prunes (horizon 0): "a" at 0 stays
        ev(0, "normal", "call", "heartbeat", id="a"),  # a redelivery
        ev(W + 1, "normal", "call", "heartbeat", id="a", device="normal-call-b"),  # new device
        ev(2 * W, "normal", "call", "heartbeat", id="c"),  # prunes (horizon W): "a" goes
        ev(0, "normal", "call", "heartbeat", id="a"),  # new again (late, decided on arrival)
        ev(W, "normal", "call", "heartbeat", id="b"),  # b (at W) stays: a redelivery
        ev(W + 1, "normal", "call", "heartbeat", id="a", device="normal-call-b"),  # stays too
        ev(2 * W + 5, "normal", "call", "heartbeat", id="a"),  # remembered from the 6th event
    ]


@pytest.mark.parametrize(
    "batches", [None, [9], [1, 1, 1, 1, 1, 1, 1, 1], [2, 3], [3, 3], [5, 1], [4, 4], [6, 2]]
)
def test_redeliveries_at_the_pruning_horizon(batches: list[int] | None) -> None:
    reference, fast = in_order(_horizon_stream(), batches=batches)
    _assert_same(reference, fast)
    assert fast.classifier.duplicates == 4
    ignored = [a.event.id for a in fast.audit if a.decision == "ignored" and a.event is not None]
    assert ignored.count("a") >= 1
    assert "b" in ignored


def test_redeliveries_survive_a_snapshot() -> None:
    policy = _policy()
    arrivals = _redelivering(7, 600)
    half = len(arrivals) // 2
    reference = _feed(Classifier(policy), arrivals)
    fast = FastClassifier(policy)
    first = [_copy(e) for e in arrivals[:half]]
    fast.push_batch(EventColumns.from_events(first, fast.registry))
    restored = pickle.loads(pickle.dumps(fast))  # noqa: S301 - our own bytes
    rest = [_copy(e) for e in arrivals[half:]]
    restored.push_batch(EventColumns.from_events(rest, restored.registry))
    restored.drain()
    assert restored.duplicates == reference.classifier.duplicates
    assert restored.late_events == reference.classifier.late_events
