"""How fast the numba core decides events already decoded into columns, against issue 4's
target (20 million events/s on one core), with the pure-Python reference classifier as the
floor.

Run: ``.venv/bin/python benchmarks/kernel.py [--events 1000000] [--rooms 36] [--seed 1]
[--threads N]``

Makes (in memory, seeded, with numpy) a decoded ward stream: ``--events`` events of
``--rooms`` rooms of one site, each room with one device of every kind, an event per room every
6 s on average from an evening on, heartbeats, postures, bed mat, door, motion, sound, a few
falls, resident calls and staff visits; 2% of the events up to 9 s late (within the lateness,
so they wait in the reorder buffer, none is decided late). No event ids, so there is no
redelivery check. The policy is the shipped one (``sensorhub.rules.load_policy()``). Then
times, in the same run:

- **kernel alone, one thread** — ``sensorhub.core.kernel.run`` (the checked entry to the
  jitted kernel) on decoded batches of ``BATCH`` events, the stream in the order the reference
  decides it (time, then arrival: no event of the stream is beyond the lateness; the batches'
  columns made in that order beforehand, not timed), each batch followed by
  ``kernel.fire_all`` up to its last time, and at the end up to 30 s past the last event (as
  ``drain``). No driver: no event clock, no pages made, only the kernel's decision records
  counted. Best of ``REPEAT``.
- **kernel alone, parallel over rooms** — the same batches, each grouped by room partition
  (``kernel.partition_plan``, timed too: it is part of the parallel kernel's work) and decided
  by ``kernel.run_parallel``: the rooms split round-robin into ``--threads`` partitions (default
  numba's thread count), each with its own state, on numba's threads. Best of ``REPEAT``.
- **kernel + driver, audit off** — ``FastClassifier(policy, audit=False).push_batch`` on the
  stream in batches of ``BATCH`` columns (what a Parquet batch holds), then ``drain``: best of
  ``REPEAT``. This is ``replay`` without ``--audit``, decoding apart.
- **kernel + driver, audit on** — the same with ``audit=True``: an ``AuditRecord`` per event.
- **live: push_batch of MICRO** — ``push_batch`` in micro-batches of ``MICRO`` events (what a
  live service hands over of what arrived), audit off, on the first ``LIVE_EVENTS`` events.
- **live: push** — ``FastClassifier.push`` of one ``Event`` at a time (the objects made
  beforehand), audit off, on the same events.
- **reference** — ``sensorhub.core.classifier.Classifier.push`` on the same events as ``Event``
  objects (made beforehand, not timed), then ``drain``: the floor.

Before timing, every path is run once on ``WARM_UP`` events and how long the first call took is
printed apart: numba compiles the kernel there (or loads its cache, which the kernel asks
for, when an earlier run left one).

Prints the machine and its load, the figures, the pages of each run (which must agree), and
issue 4's target for every row with by how much it is missed. Makes no assertion on time.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numba
import numpy as np
import numpy.typing as npt

from recordings import load_line, machine
from sensorhub.codec.columns import EventColumns
from sensorhub.contract import EVENT_CODES, KINDS, Event
from sensorhub.core import kernel
from sensorhub.core.classifier import Classifier
from sensorhub.core.fast import FastClassifier
from sensorhub.rules import load_policy
from sensorhub.rules.policy import Policy

#: Issue 4's target for the kernel: decided events per second on one core.
TARGET_KERNEL = 20_000_000.0
#: Columns per push_batch (the Parquet reader's batch size).
BATCH = 16_384
#: Events fed once before timing (the first call: JIT or cache load).
WARM_UP = 2_000
#: Best of this many runs of the fast figures (the slow ones run once).
REPEAT = 3
#: Events of a live micro-batch, and how many events the live rows feed.
MICRO = 100
LIVE_EVENTS = 20_000
#: How long the end of input lets time run on (as ``drain``: END_OF_INPUT_RUN_ON).
RUN_ON = 30.0

SITE = "bench"
#: The stream starts at 21:00 local time (the shipped night is 22:00-07:00).
START = datetime(2026, 11, 20, 21, 0, tzinfo=ZoneInfo("Europe/Amsterdam")).timestamp()
#: Seconds between two events of one room, on average.
ROOM_INTERVAL = 6.0
#: Share of events that arrive late, and by at most how much (below the lateness of 10 s).
LATE = 0.02
LATE_BY = 9.0
#: (kind, event): relative weight. Every device sends a heartbeat about once a minute, so
#: none falls silent (the shipped silent_after is 10 min).
MIX: dict[tuple[str, str], float] = {
    ("optical", "heartbeat"): 10,
    ("optical", "in_bed"): 12,
    ("optical", "sitting_on_edge"): 1.5,
    ("optical", "out_of_bed"): 2,
    ("optical", "in_bathroom"): 1,
    ("optical", "left_room"): 0.2,
    ("optical", "entered_room"): 0.2,
    ("optical", "no_person"): 0.5,
    ("optical", "fall"): 0.02,
    ("optical", "on_floor"): 0.01,
    ("optical", "staff_present"): 0.1,
    ("bed", "heartbeat"): 10,
    ("bed", "occupied"): 3,
    ("bed", "vacated"): 2,
    ("door", "heartbeat"): 10,
    ("door", "open"): 0.5,
    ("door", "closed"): 0.5,
    ("motion", "heartbeat"): 10,
    ("motion", "motion"): 4,
    ("motion", "no_motion"): 2,
    ("call", "heartbeat"): 10,
    ("call", "pressed"): 0.02,
    ("call", "cancelled"): 0.01,
    ("presence", "heartbeat"): 10,
    ("presence", "staff_in"): 0.05,
    ("presence", "staff_out"): 0.05,
    ("acoustic", "heartbeat"): 10,
    ("acoustic", "sound"): 4,
    ("acoustic", "quiet"): 2,
}

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Stream:
    """Decoded events in arrival order, as columns; device ``d`` is room ``d // len(KINDS)``'s
    sensor of kind ``KINDS[d % len(KINDS)]``."""

    ts: F64
    room: npt.NDArray[np.int32]
    device: npt.NDArray[np.int32]
    code: npt.NDArray[np.int16]
    value: F64
    confidence: npt.NDArray[np.float32]
    rooms: int

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def columns(self, start: int, stop: int) -> EventColumns:
        """Events ``start:stop`` (views, no copy), for a classifier registered by
        ``register``."""
        s = slice(start, stop)
        return EventColumns(
            self.ts[s],
            self.room[s],
            self.device[s],
            self.code[s],
            self.value[s],
            self.confidence[s],
        )

    def events(self, stop: int | None = None) -> list[Event]:
        """The first ``stop`` events (all by default) as ``Event`` objects."""
        names = list(EVENT_CODES)
        n = len(self) if stop is None else min(stop, len(self))
        events = []
        for ts, room, code, value in zip(
            self.ts[:n].tolist(),
            self.room[:n].tolist(),
            self.code[:n].tolist(),
            self.value[:n].tolist(),
            strict=True,
        ):
            kind, event = names[code]
            events.append(
                Event(
                    ts=ts,
                    site=SITE,
                    room=f"r{room}",
                    kind=kind,
                    device=f"r{room}-{kind}",
                    event=event,
                    value=None if math.isnan(value) else value,
                )
            )
        return events


def ward_stream(n: int, rooms: int, seed: int) -> Stream:
    """``n`` decoded events of ``rooms`` rooms, drawn with ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    pairs = list(MIX)
    weights = np.array([MIX[pair] for pair in pairs])
    pick = rng.choice(len(pairs), size=n, p=weights / weights.sum())
    code = np.array([EVENT_CODES[pair] for pair in pairs], dtype=np.int16)[pick]
    kind = np.array([KINDS.index(k) for k, _ in pairs], dtype=np.int32)[pick]
    room = rng.integers(0, rooms, size=n, dtype=np.int32)
    device = room * np.int32(len(KINDS)) + kind
    ts = START + np.cumsum(rng.exponential(ROOM_INTERVAL / rooms, size=n))
    late = rng.random(n) < LATE
    ts[late] -= rng.uniform(0.0, LATE_BY, size=int(late.sum()))
    ts = np.round(ts, 3)  # milliseconds, as on the wire
    sound = code == EVENT_CODES[("acoustic", "sound")]
    value = np.where(sound, np.round(rng.uniform(50.0, 80.0, size=n), 1), np.nan)
    confidence = np.ones(n, dtype=np.float32)
    return Stream(ts, room, device, code, value, confidence, rooms)


def register(classifier: FastClassifier, rooms: int) -> None:
    """Room ``r`` and its devices get the indices the stream's columns use."""
    for r in range(rooms):
        for kind in KINDS:
            classifier.registry.device(SITE, f"r{r}", kind, f"r{r}-{kind}")


@dataclass(frozen=True)
class Run:
    """One timed run: wall and cpu seconds, events, pages (decision records that page, for
    the kernel alone), audit records."""

    wall: float
    cpu: float
    events: int
    pages: int
    audit: int = 0

    @property
    def rate(self) -> float:
        return self.events / self.wall

    @property
    def cpu_share(self) -> float:
        return self.cpu / self.wall if self.wall > 0 else 0.0


def timed(run: Callable[[], tuple[int, int, int]]) -> tuple[float, float, tuple[int, int, int]]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def run_fast(
    policy: Policy, stream: Stream, *, audit: bool, stop: int | None = None, batch: int = BATCH
) -> Run:
    """``push_batch`` of the stream (up to ``stop``) in batches of ``batch``, then ``drain``."""
    classifier = FastClassifier(policy, audit=audit)
    register(classifier, stream.rooms)
    n = len(stream) if stop is None else min(stop, len(stream))
    batches = [stream.columns(i, min(i + batch, n)) for i in range(0, n, batch)]

    def feed() -> tuple[int, int, int]:
        pages = records = 0
        for columns in batches:
            step = classifier.push_batch(columns)
            pages += len(step.opened)
            records += len(step.audit)
        step = classifier.drain()
        return n, pages + len(step.opened), records + len(step.audit)

    wall, cpu, (events, pages, records) = timed(feed)
    return Run(wall, cpu, events, pages, records)


def run_push(policy: Policy, events: list[Event]) -> Run:
    """``FastClassifier.push`` of one event at a time (audit off), then ``drain``."""
    classifier = FastClassifier(policy, audit=False)

    def feed() -> tuple[int, int, int]:
        pages = sum(len(classifier.push(event).opened) for event in events)
        return len(events), pages + len(classifier.drain().opened), 0

    wall, cpu, (n, pages, _) = timed(feed)
    return Run(wall, cpu, n, pages)


@dataclass
class KernelStates:
    """Kernel states for the stream's rooms, made by ``FastClassifier``'s own bookkeeping (one
    per partition), with the night tables covering the whole stream."""

    classifiers: list[FastClassifier]
    pages_seen: int = 0

    @classmethod
    def make(cls, policy: Policy, stream: Stream, parts: int) -> KernelStates:
        classifiers = []
        for _ in range(parts):
            classifier = FastClassifier(policy, audit=False)
            register(classifier, stream.rooms)
            classifier._sync_registry()
            classifier._cover(float(stream.ts.min()), float(stream.ts.max()) + RUN_ON)
            classifier._make_room()
            classifiers.append(classifier)
        return cls(classifiers)

    def states(self) -> tuple[kernel.State, ...]:
        return tuple(c._state() for c in self.classifiers)

    def pages(self) -> int:
        """Count the records that page, and clear the records (audit off: those of
        incidents)."""
        n = 0
        for c in self.classifiers:
            n += int(np.count_nonzero(c._out_i[: c._cnt[kernel.C_NOUT], kernel.O_PAGE]))
            c._cnt[kernel.C_NOUT] = 0
            c._cnt[kernel.C_NEV] = 0
            c._make_room()
        return n

    def fire_all(self, watermark: float, rooms: int) -> None:
        for c in self.classifiers:
            r = 0
            while r < rooms:
                r = kernel.fire_all(c._state(), rooms, watermark, r)
                if r < rooms:
                    self.pages_seen += self.pages()


def kernel_batches(stream: Stream, stop: int) -> list[tuple[EventColumns, I64, kernel.Plan]]:
    """The first ``stop`` events in the order the reference decides them (time, then arrival:
    no event of the stream is beyond the lateness), cut into batches of ``BATCH``: each batch's
    columns in that order, its sequence numbers (arrival) and its plan (all in order)."""
    order = np.lexsort((np.arange(len(stream)), stream.ts)).astype(np.int64)[:stop]
    batches = []
    for i in range(0, len(order), BATCH):
        index = order[i : i + BATCH]
        columns = EventColumns(
            stream.ts[index],
            stream.room[index],
            stream.device[index],
            stream.code[index],
            stream.value[index],
            stream.confidence[index],
        )
        n = len(index)
        plan = kernel.Plan(
            np.arange(n, dtype=np.int64), columns.ts.copy(), np.zeros(n, dtype=np.bool_)
        )
        batches.append((columns, index, plan))
    return batches


def run_kernel(policy: Policy, stream: Stream, *, parts: int, stop: int | None = None) -> Run:
    """The kernel alone: ``kernel.run`` (``parts`` 0) or ``kernel.run_parallel`` over ``parts``
    room partitions, one batch a call, timers fired after each batch."""
    n = len(stream) if stop is None else min(stop, len(stream))
    batches = kernel_batches(stream, n)
    kept = KernelStates.make(policy, stream, max(parts, 1))
    part_of = np.arange(stream.rooms, dtype=np.int64) % max(parts, 1)
    end = float(stream.ts[:n].max()) + RUN_ON

    def feed() -> tuple[int, int, int]:
        for columns, seq, plan in batches:
            if parts == 0:
                i = 0
                while i < len(plan):
                    i = kernel.run(kept.states()[0], columns, seq, plan, i)
                    kept.pages_seen += kept.pages()
            else:
                grouped, bounds = kernel.partition_plan(plan, columns.room, part_of)
                pos = bounds[:-1].copy()
                while True:
                    kernel.run_parallel(kept.states(), columns, seq, grouped, bounds, pos)
                    kept.pages_seen += kept.pages()
                    if bool((pos == bounds[1:]).all()):
                        break
            kept.fire_all(float(plan.times[-1]), stream.rooms)
            kept.pages_seen += kept.pages()
        kept.fire_all(end, stream.rooms)
        kept.pages_seen += kept.pages()
        return n, kept.pages_seen, 0

    wall, cpu, (events, pages, _) = timed(feed)
    return Run(wall, cpu, events, pages)


def run_reference(policy: Policy, events: list[Event]) -> Run:
    classifier = Classifier(policy)

    def feed() -> tuple[int, int, int]:
        pages = records = 0
        for event in events:
            step = classifier.push(event)
            pages += len(step.opened)
            records += len(step.audit)
        step = classifier.drain()
        return len(events), pages + len(step.opened), records + len(step.audit)

    wall, cpu, (n, pages, records) = timed(feed)
    return Run(wall, cpu, n, pages, records)


def kernel_cached() -> bool:
    """Whether numba's cache holds compiled kernel functions from an earlier run (in the
    ``__pycache__`` of the package ``sensorhub/core/kernel/``, or, when ``NUMBA_CACHE_DIR`` is
    set, in its folder ``kernel_<hash of the package's path>``)."""
    folder = os.environ.get("NUMBA_CACHE_DIR")
    if folder:
        return any(Path(folder).glob("kernel_*/*.nbi"))
    return any((Path(kernel.__file__).parent / "__pycache__").glob("*.nbi"))


def verdict(ok: bool, missed_by: str) -> str:
    return "met" if ok else f"MISSED by {missed_by}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the stream")
    parser.add_argument("--rooms", type=int, default=36, help="rooms of the ward")
    parser.add_argument("--seed", type=int, default=1, help="seed of the stream")
    parser.add_argument(
        "--threads", type=int, default=0, help="room partitions (default: numba's threads)"
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.rooms < 1:
        parser.error("--events and --rooms must be at least 1")

    load_before = os.getloadavg()[0]
    policy = load_policy()
    made = time.perf_counter()
    stream = ward_stream(args.events, args.rooms, args.seed)
    made = time.perf_counter() - made

    threads = args.threads or numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    cached = kernel_cached()
    print("warming up (numba compiles the kernel, or loads its cache) ...", file=sys.stderr)
    warm = time.perf_counter()
    run_fast(policy, stream, audit=False, stop=WARM_UP)
    warm_up = time.perf_counter() - warm
    run_fast(policy, stream, audit=True, stop=WARM_UP)
    run_kernel(policy, stream, parts=0, stop=WARM_UP)
    run_kernel(policy, stream, parts=threads, stop=WARM_UP)
    live_events = stream.events(LIVE_EVENTS)
    run_push(policy, live_events[:WARM_UP])
    warm_up_all = time.perf_counter() - warm

    print("timing the kernel alone, one thread and parallel ...", file=sys.stderr)
    single = best(lambda: run_kernel(policy, stream, parts=0))
    parallel = best(lambda: run_kernel(policy, stream, parts=threads))
    print("timing the kernel + driver ...", file=sys.stderr)
    fast = best(lambda: run_fast(policy, stream, audit=False))
    audited = run_fast(policy, stream, audit=True)
    print("timing the live paths ...", file=sys.stderr)
    micro = best(lambda: run_fast(policy, stream, audit=False, stop=LIVE_EVENTS, batch=MICRO))
    pushed = run_push(policy, live_events)
    print("making Event objects and timing the reference classifier ...", file=sys.stderr)
    objects = time.perf_counter()
    events = stream.events()
    objects = time.perf_counter() - objects
    reference = run_reference(policy, events)
    del events
    load_after = os.getloadavg()[0]

    floor = reference.rate
    print()
    print("\n".join(machine()))
    print(load_line(load_before, load_after))
    late = int((stream.ts < np.maximum.accumulate(stream.ts)).sum())
    days = (float(stream.ts.max()) - float(stream.ts.min())) / 86_400.0
    print(
        f"stream   : {len(stream):,} decoded events, {args.rooms} rooms x {len(KINDS)} devices, "
        f"seed {args.seed}, {days:.1f} days of event time, {late:,} out of order; "
        f"made in {made:.2f} s (Event objects for the reference in {objects:.2f} s, not timed)"
    )
    print("policy   : the shipped rules (sensorhub.rules.load_policy())")
    print(
        f"warm-up  : the first call, FastClassifier on {WARM_UP:,} events, took {warm_up:.2f} s "
        + (
            "(numba loaded its cache: an earlier run had compiled the kernel)"
            if cached
            else "(numba compiled the kernel: no cache from an earlier run)"
        )
        + f"; every path's first call together {warm_up_all:.2f} s"
    )
    print(
        f"batches of {BATCH:,} columns (live rows: the first {len(live_events):,} events); "
        f"best of {REPEAT} runs for the kernel and audit-off rows, one run otherwise; "
        f"parallel: {threads} room partitions on {numba.get_num_threads()} numba threads"
    )
    print()
    rows: list[tuple[str, Run]] = [
        ("kernel alone, one thread (kernel.run)", single),
        (f"kernel alone, parallel over rooms ({threads} thr)", parallel),
        ("kernel + driver, audit off (push_batch)", fast),
        ("kernel + driver, audit on (push_batch)", audited),
        (f"live: push_batch of {MICRO}, audit off", micro),
        ("live: push of one event, audit off", pushed),
        ("reference Classifier.push (floor)", reference),
    ]
    print(f"{'':44} {'events/s':>12} {'wall s':>7} {'x floor':>8} {'cpu %':>6} {'pages':>6}")
    for label, run in rows:
        print(
            f"{label:44} {run.rate:12,.0f} {run.wall:7.3f} {run.rate / floor:8.1f} "
            f"{run.cpu_share:6.0%} {run.pages:6,}"
        )
    print(
        f"(push: {1e6 / pushed.rate:.1f} us an event; push_batch of {MICRO}: "
        f"{1e6 / micro.rate:.2f} us an event, {MICRO * 1e6 / micro.rate:.0f} us a batch)"
    )
    cpu_note = " (parallel: 100% is one core)" if parallel.cpu_share > 1.05 else ""
    if min(run.cpu_share for run in (single, fast, audited, reference)) < 0.9:
        print(
            "(cpu % below 90: the machine was busy with other work and the figures are low; "
            "run it again on an idle machine)" + cpu_note
        )
    print(f"audit records: audit on {audited.audit:,}, reference {reference.audit:,}")
    if not single.pages == parallel.pages == fast.pages == audited.pages == reference.pages:
        print("WARNING: the runs paged differently")
    if micro.pages != pushed.pages:
        print("WARNING: the live runs paged differently")

    print()
    print(f"target (issue 4): >= {TARGET_KERNEL / 1e6:g} M events/s on one core, measured above:")
    for label, run in rows:
        rate = run.rate
        print(
            f"  {label:44} {rate / 1e6:8.2f} M -> "
            + verdict(rate >= TARGET_KERNEL, f"{TARGET_KERNEL / rate:.1f}x")
        )


def best(run: Callable[[], Run]) -> Run:
    return min((run() for _ in range(REPEAT)), key=lambda r: r.wall)


if __name__ == "__main__":
    main()
