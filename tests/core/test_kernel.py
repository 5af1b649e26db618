"""The compiled core decides exactly what the reference classifier decides.

``FastClassifier`` (numba kernels, ``sensorhub.core.fast``) and ``Classifier`` (the pure-Python
twin, ``sensorhub.core.classifier``) are fed the same random streams, in the same arrival order,
late and out of order, with redeliveries, staff, silent and obstructed devices, loud runs and
daylight-saving nights; they must give the same pages and, room by room, the same audit trail.
Pages of different rooms may come in another order, so pages are compared sorted.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorhub.codec.columns import EventColumns
from sensorhub.contract import VOCABULARY, Event
from sensorhub.core import kernel
from sensorhub.core.classifier import Classifier
from sensorhub.core.fast import FastClassifier
from sensorhub.core.night import night_flips
from sensorhub.core.types import AuditRecord, IncidentChange, Opened, Resolved, Step
from sensorhub.rules.policy import Policy
from tests.core.test_event_time import _policy
from tests.scenario import AMS, NIGHT

ROOMS = ("normal", "high", "wander", "wander-nocam", "high-nocam", "unnamed")
#: 22:30 local on the night daylight saving ends (25 Oct 2026, 03:00 CEST -> 02:00 CET)
DST_NIGHT = datetime(2026, 10, 24, 22, 30, tzinfo=AMS).timestamp()
#: 06:30 local: the night ends in the stream
MORNING = datetime(2026, 11, 21, 6, 30, tzinfo=AMS).timestamp()
#: 21:50 local: the night begins in the stream
EVENING = datetime(2026, 11, 20, 21, 50, tzinfo=AMS).timestamp()
STARTS = (NIGHT, DST_NIGHT, MORNING, EVENING)

CHOICES = [(kind, event) for kind, events in VOCABULARY.items() for event in events] + [
    ("optical", "heartbeat"),
    ("bed", "battery_low"),
    ("door", "fault"),
    ("optical", "fall"),
    ("optical", "on_floor"),
    ("optical", "in_bed"),
    ("optical", "out_of_bed"),
    ("optical", "left_room"),
    ("optical", "obstructed"),
    ("bed", "vacated"),
    ("bed", "occupied"),
    ("door", "open"),
    ("call", "pressed"),
    ("call", "pressed"),
    ("presence", "staff_in"),
    ("presence", "staff_out"),
]


def _stream(seed: int, n: int) -> list[Event]:
    """A random ward: bursts and lulls, two devices of some kinds, loud runs, some events
    without an id."""
    rng = random.Random(seed)
    t = rng.choice(STARTS)
    mean_gap = rng.choice((1.0, 4.0, 8.0, 30.0))
    rooms = ROOMS[: rng.randint(2, len(ROOMS))]
    events: list[Event] = []
    i = 0
    while len(events) < n:
        t += rng.expovariate(1 / mean_gap) if rng.random() > 0.01 else rng.uniform(300, 1500)
        room = rng.choice(rooms)
        kind, name = rng.choice(CHOICES)
        device = f"{room}-{kind}" + ("-b" if rng.random() < 0.15 else "")
        if (kind, name) == ("acoustic", "sound") and rng.random() < 0.5:
            level = rng.uniform(60, 90)
            for _ in range(rng.randint(2, 15)):  # a loud run
                i += 1
                events.append(_event(t, room, kind, device, name, i=i, rng=rng, level=level))
                t += rng.uniform(1, 12)
            continue
        i += 1
        events.append(_event(t, room, kind, device, name, i=i, rng=rng, level=rng.uniform(50, 90)))
    return events[:n]


def _event(
    t: float,
    room: str,
    kind: str,
    device: str,
    name: str,
    *,
    i: int,
    rng: random.Random,
    level: float,
) -> Event:
    return Event(
        ts=round(t, 3),
        site="zon",
        room=room,
        kind=kind,
        device=device,
        event=name,
        id=f"e{i}" if rng.random() > 0.1 else None,
        value=level if name == "sound" else None,
        raw={"n": i},
    )


def _arrival(events: list[Event], seed: int) -> list[Event]:
    """Arrival order: up to 10 s late, a few far beyond the bound, a few delivered twice."""
    rng = random.Random(seed)
    late_share = rng.choice((0.0, 0.02, 0.1))
    timed: list[tuple[float, int, Event]] = []
    for n, e in enumerate(events):
        delay = rng.uniform(0, 9.99)
        if rng.random() < late_share:
            delay = rng.uniform(10, 120)
        timed.append((e.ts + delay, n, e))
        if e.id is not None and rng.random() < 0.03:
            timed.append((e.ts + delay + rng.uniform(0, 600), n, e))
    return [e for _, _, e in sorted(timed, key=lambda x: (x[0], x[1]))]


def _copy(event: Event) -> Event:
    return Event(**{f: getattr(event, f) for f in event.__slots__})  # type: ignore[attr-defined]


def _page_key(opened: Opened) -> tuple[Any, ...]:
    """An opened incident (its first page, once routed), as compared between the twins."""
    return (
        opened.room,
        opened.kind,
        opened.ts,
        opened.incident,
        opened.events,
        opened.device,
        opened.fault,
    )


def _change_key(change: IncidentChange) -> tuple[Any, ...]:
    if isinstance(change, Opened):
        return ("opened", *_page_key(change))
    if isinstance(change, Resolved):
        return ("resolved", change.incident, change.ts, change.reason)
    return ("evidence", change.incident, change.ts)


def _audit_key(record: AuditRecord) -> tuple[Any, ...]:
    event = record.event
    return (
        record.ts,
        record.decision,
        record.incident,
        record.reason,
        record.timer,
        None if event is None else (event.ts, event.kind, event.device, event.event, event.id),
    )


class Outcome:
    def __init__(self, classifier: Classifier | FastClassifier) -> None:
        self.classifier = classifier
        self.pages: list[Opened] = []  # the incidents opened: one first page each
        self.changes: list[IncidentChange] = []
        self.audit: list[AuditRecord] = []

    def add(self, step: Step) -> None:
        self.pages += step.opened
        self.changes += step.incidents
        self.audit += step.audit

    def by_room(self) -> dict[Any, list[tuple[Any, ...]]]:
        rooms: dict[Any, list[tuple[Any, ...]]] = {}
        for record in self.audit:
            if record.room is not None:
                rooms.setdefault(record.room, []).append(_audit_key(record))
        return rooms

    def without_room(self) -> Counter[tuple[Any, ...]]:
        return Counter(_audit_key(r) for r in self.audit if r.room is None)


def _feed(
    classifier: Classifier | FastClassifier,
    arrivals: list[Event],
    *,
    batches: list[int] | None = None,
    ticks: bool = False,
) -> Outcome:
    out = Outcome(classifier)
    if batches is None or not isinstance(classifier, FastClassifier):
        for n, event in enumerate(arrivals):
            out.add(classifier.push(_copy(event)))
            if ticks and n % 17 == 0:
                out.add(classifier.tick(event.ts + 3))
    else:
        start = 0
        for size in [*batches, len(arrivals)]:  # the rest in one batch
            chunk = [_copy(e) for e in arrivals[start : start + size]]
            start += size
            out.add(classifier.push_batch(EventColumns.from_events(chunk, classifier.registry)))
    out.add(classifier.drain())
    return out


def _assert_same(reference: Outcome, fast: Outcome) -> None:
    assert sorted(map(_page_key, fast.pages)) == sorted(map(_page_key, reference.pages))
    assert Counter(map(_change_key, fast.changes)) == Counter(map(_change_key, reference.changes))
    ref_rooms, fast_rooms = reference.by_room(), fast.by_room()
    assert fast_rooms.keys() == ref_rooms.keys()
    for room, records in ref_rooms.items():
        assert fast_rooms[room] == records, f"audit of room {room} differs"
    assert fast.without_room() == reference.without_room()
    r, f = reference.classifier, fast.classifier
    assert (f.raw_alarms, f.late_events, f.duplicates) == (
        r.raw_alarms,
        r.late_events,
        r.duplicates,
    )
    assert f.buffered == r.buffered


def _batches(n: int, seed: int) -> list[int]:
    """Random batch sizes for ``n`` events (the rest, if any, is one more batch)."""
    rng = random.Random(seed)
    sizes = []
    while n > 0:
        size = min(n, rng.choice((1, 3, 50, 400, 5000)))
        sizes.append(size)
        n -= size
    return sizes


def _both(
    events: list[Event], seed: int, policy: Policy | None = None, **feed: Any
) -> tuple[Outcome, Outcome]:
    policy = policy or _policy()
    arrivals = _arrival(events, seed)
    return (
        _feed(Classifier(policy), arrivals, ticks=feed.get("ticks", False)),
        _feed(FastClassifier(policy), arrivals, **feed),
    )


# -- random streams ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_seeded_streams_pushed_one_by_one_give_identical_decisions(seed: int) -> None:
    reference, fast = _both(_stream(seed, 1500), seed, ticks=seed % 2 == 0)
    assert reference.pages, "a stream this long pages something"
    _assert_same(reference, fast)


@pytest.mark.parametrize("seed", range(12))
def test_seeded_streams_pushed_in_batches_give_identical_decisions(seed: int) -> None:
    events = _stream(100 + seed, 3000)
    reference, fast = _both(events, seed, batches=_batches(len(events), seed))
    _assert_same(reference, fast)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 600),
    arrival_seed=st.integers(0, 2**16),
    batched=st.booleans(),
)
def test_random_streams_give_identical_decisions(
    seed: int, n: int, arrival_seed: int, batched: bool
) -> None:
    events = _stream(seed, n)
    batches = _batches(n, arrival_seed) if batched else None
    _assert_same(*_both(events, arrival_seed, batches=batches))


def test_a_dst_night_gives_identical_decisions() -> None:
    """A busy stream across 2026-10-25 01:00 UTC, when Amsterdam's 03:00 becomes 02:00."""
    rng = random.Random(4)
    events = []
    t = DST_NIGHT
    for i in range(4000):
        t += rng.expovariate(1 / 6)
        kind, name = rng.choice(CHOICES)
        room = rng.choice(ROOMS)
        level = rng.uniform(50, 90)
        events.append(_event(t, room, kind, f"{room}-{kind}", name, i=i, rng=rng, level=level))
    assert events[0].ts < datetime(2026, 10, 25, 1, 0, tzinfo=AMS).timestamp() < events[-1].ts
    _assert_same(*_both(events, 4, batches=[1000, 1000, 2000]))


# -- fixed edge cases --------------------------------------------------------------------------


def ev(t: float, room: str, kind: str, event: str, **extra: Any) -> Event:
    device = extra.pop("device", f"{room}-{kind}")
    return Event(
        ts=NIGHT + t, site="zon", room=room, kind=kind, device=device, event=event, **extra
    )


def _in_order(events: list[Event], **feed: Any) -> tuple[Outcome, Outcome]:
    """Both classifiers, events pushed exactly in the given order."""
    policy = _policy()
    return _feed(Classifier(policy), events), _feed(FastClassifier(policy), events, **feed)


@pytest.mark.parametrize("batches", [None, [99]])
def test_an_event_at_a_timer_deadline_is_decided_before_the_timer(
    batches: list[int] | None,
) -> None:
    """A contradiction exactly at the fall's deadline (10 s) still cancels it: ties go to the
    event."""
    events = [ev(100, "normal", "optical", "fall"), ev(110, "normal", "optical", "in_bed")]
    reference, fast = _in_order(events, batches=batches)
    _assert_same(reference, fast)
    assert fast.pages == []


@pytest.mark.parametrize("batches", [None, [99]])
def test_a_bed_mat_occupied_again_exactly_at_the_deadline_is_turning_over(
    batches: list[int] | None,
) -> None:
    events = [
        ev(0, "high-nocam", "bed", "occupied"),
        ev(100, "high-nocam", "bed", "vacated"),
        ev(105, "high-nocam", "bed", "occupied"),
        ev(200, "high-nocam", "bed", "vacated"),
        ev(205.001, "high-nocam", "bed", "occupied"),
    ]
    reference, fast = _in_order(events, batches=batches)
    _assert_same(reference, fast)
    assert [p.kind for p in fast.pages] == ["bed_exit"]


@pytest.mark.parametrize("batches", [None, [99]])
def test_timers_of_one_room_fire_in_order_of_due_time_then_creation(
    batches: list[int] | None,
) -> None:
    """Two devices fall silent at the same instant as a fall is due: the silence timers were
    made first, so they fire first."""
    events = [
        ev(0, "normal", "bed", "heartbeat"),
        ev(0, "normal", "door", "heartbeat"),
        ev(590, "normal", "optical", "on_floor"),
        ev(2000, "normal", "call", "heartbeat"),
    ]
    reference, fast = _in_order(events, batches=batches)
    _assert_same(reference, fast)
    kinds = ["device_fault", "device_fault", "fall", "device_fault"]
    assert [p.kind for p in reference.pages] == kinds
    assert [p.kind for p in fast.pages] == kinds


@pytest.mark.parametrize("batches", [None, [2, 1], [99]])
def test_events_beyond_the_lateness_bound_are_decided_on_arrival(
    batches: list[int] | None,
) -> None:
    events = [
        ev(100, "normal", "optical", "heartbeat"),
        ev(200, "normal", "optical", "heartbeat"),
        ev(150, "normal", "call", "pressed", id="late-call"),
        ev(120, "normal", "optical", "fall"),
        ev(400, "normal", "optical", "heartbeat"),
    ]
    reference, fast = _in_order(events, batches=batches)
    _assert_same(reference, fast)
    assert fast.classifier.late_events == 2
    assert [p.kind for p in fast.pages] == ["call", "fall"]
    assert any("late" in a.reason for a in fast.audit)


@pytest.mark.parametrize("batches", [None, [3], [1, 1, 1]])
def test_a_redelivered_event_is_processed_once(batches: list[int] | None) -> None:
    press = ev(100, "normal", "call", "pressed", id="p1")
    events = [press, ev(110, "normal", "call", "cancelled", id="c1"), _copy(press)]
    reference, fast = _in_order(events, batches=batches)
    _assert_same(reference, fast)
    assert fast.classifier.duplicates == 1
    assert [p.kind for p in fast.pages] == ["call"]


@pytest.mark.parametrize("batches", [None, [1000, 21]])
def test_a_room_first_seen_mid_stream_is_classified(batches: list[int] | None) -> None:
    events = [ev(i, "normal", "optical", "heartbeat") for i in range(1000)]
    events += [
        ev(1000 + i, "high", "optical", name)
        for i, name in enumerate(["in_bed"] * 10 + ["out_of_bed"] + ["heartbeat"] * 10)
    ]
    reference, fast = _in_order(events, batches=batches)
    _assert_same(reference, fast)
    assert ("high", "bed_exit") in [(p.room, p.kind) for p in fast.pages]


def test_a_call_repeated_while_the_first_waits_in_the_buffer_is_one_incident() -> None:
    """The on-arrival check looks at the presses still waiting to be decided in order."""
    events = [
        ev(100, "normal", "call", "pressed", id="a"),
        ev(101, "normal", "call", "pressed", id="b"),
        ev(102, "normal", "presence", "staff_in", id="c"),
        ev(103, "normal", "call", "pressed", id="d"),
        ev(130, "normal", "call", "heartbeat", id="e"),
    ]
    for batches in (None, [5], [2, 3]):
        reference, fast = _in_order(events, batches=batches)
        _assert_same(reference, fast)


def test_a_fall_while_a_bed_exit_is_open_is_a_new_incident() -> None:
    events = [
        ev(0, "high", "optical", "in_bed"),
        ev(100, "high", "optical", "out_of_bed"),
        ev(130, "high", "optical", "fall"),
        ev(131, "high", "optical", "on_floor"),
        ev(400, "high", "optical", "left_room"),
    ]
    reference, fast = _in_order(events, batches=[5])
    _assert_same(reference, fast)
    assert [p.kind for p in fast.pages] == ["bed_exit", "fall"]


def test_what_is_kept_to_name_evidence_stays_small_on_a_long_stream() -> None:
    """Memory stays flat: only pending evidence (and the reorder buffer) is remembered."""
    fast = FastClassifier(_policy())
    for event in _arrival(_stream(3, 6000), 3):
        fast.push(_copy(event))
    assert len(fast._log) < 2 * 64 + 1000
    assert len(fast._log._pinned) < 200


# -- night tables ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("Europe/Amsterdam", 22 * 60, 7 * 60),
        ("Europe/Amsterdam", 2 * 60 + 30, 3 * 60 + 30),  # inside the repeated hour
        ("America/New_York", 23 * 60, 2 * 60 + 30),
        ("Australia/Lord_Howe", 1 * 60 + 45, 2 * 60 + 15),  # a 30-minute DST shift
        ("Asia/Kolkata", 21 * 60, 6 * 60),
    ],
)
def test_night_tables_agree_with_the_policy_around_dst(zone: str, start: int, end: int) -> None:
    policy = _policy().room("zon", "normal")
    fields = {f: getattr(policy, f) for f in policy.__slots__}
    room = type(policy)(**{**fields, "timezone": zone, "night_start": start, "night_end": end})
    a = 1_774_000_000 // 86400 * 86400  # March 2026, both DST changes within a year
    b = a + 400 * 86400
    flips = night_flips(zone, start, end, a, b)
    rng = random.Random(1)
    times = [rng.uniform(a, b) for _ in range(3000)]
    times += [float(f) + d for f in flips.tolist() for d in (-0.001, 0.0, 0.001)][:3000]
    for ts in times:
        if a <= ts < b:
            is_night = bool(np.searchsorted(flips, ts, side="right") % 2 == 1)
            assert is_night == room.is_night(ts), (zone, ts)


# -- the kernel's wrapper ----------------------------------------------------------------------


def _columns(n: int = 3) -> dict[str, Any]:
    return {
        "ts": np.full(n, NIGHT, dtype=np.float64),
        "room": np.zeros(n, dtype=np.int32),
        "device": np.zeros(n, dtype=np.int32),
        "code": np.zeros(n, dtype=np.int16),
        "value": np.full(n, math.nan, dtype=np.float64),
    }


@pytest.mark.parametrize(
    ("column", "bad", "message"),
    [
        ("ts", np.zeros(3, dtype=np.float32), "column ts must have dtype float64, not float32"),
        ("room", np.zeros(3, dtype=np.int64), "column room must have dtype int32, not int64"),
        ("code", np.zeros(3, dtype=np.int32), "column code must have dtype int16"),
        ("device", [0, 0, 0], "column device must be a numpy array, not list"),
    ],
)
def test_the_kernel_wrapper_rejects_wrong_dtypes_with_a_clear_error(
    column: str, bad: Any, message: str
) -> None:
    columns = _columns()
    columns[column] = bad
    with pytest.raises(TypeError, match=message):
        kernel.check_columns(**columns)


def test_the_kernel_wrapper_rejects_ragged_columns_and_unknown_codes() -> None:
    columns = _columns()
    columns["value"] = np.zeros(2, dtype=np.float64)
    with pytest.raises(ValueError, match="one-dimensional with 3 rows"):
        kernel.check_columns(**columns)
    columns = _columns()
    columns["code"] = np.full(3, 999, dtype=np.int16)
    with pytest.raises(ValueError, match="outside 0"):
        kernel.check_columns(**columns)


def test_push_batch_rejects_columns_of_the_wrong_dtype() -> None:
    classifier = FastClassifier(_policy())
    columns = EventColumns.from_events([ev(0, "normal", "call", "pressed")], classifier.registry)
    columns.ts = columns.ts.astype(np.float32)  # type: ignore[assignment]
    with pytest.raises(TypeError, match="astype"):
        classifier.push_batch(columns)
