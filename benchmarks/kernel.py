"""How fast the numba core decides events already decoded into columns, against issue 4's
target for the kernel, with the pure-Python reference classifier as the floor.

Run: ``.venv/bin/python benchmarks/kernel.py [--events 1000000] [--rooms 36] [--seed 1]``

Makes (in memory, seeded, with numpy) a decoded ward stream: ``--events`` events of
``--rooms`` rooms of one site, each room with one device of every kind, an event per room every
6 s on average from an evening on, heartbeats, postures, bed mat, door, motion, sound, a few
falls, resident calls and staff visits; 2% of the events up to 9 s late (within the lateness,
so they wait in the reorder buffer, none is decided late). No event ids, so there is no
redelivery check. The policy is the shipped one (``sensorhub.rules.load_policy()``). Then
times, in the same run:

- **kernel + driver, audit off** — ``FastClassifier(policy, audit=False).push_batch`` on the
  stream in batches of ``BATCH`` columns (what a Parquet batch holds), then ``drain``: best of
  ``REPEAT``. Within that run, the time spent inside the kernel's public wrappers
  (``sensorhub.core.kernel.run``, ``fire_all``, ``fire_room``, ``live_seqs``, swapped for
  timing ones for the run) gives the **kernel alone** figure: events per second of kernel time,
  single thread. It includes the wrappers' dtype checks, so it is a lower bound on the jitted
  code itself.
- **kernel + driver, audit on** — the same with ``audit=True``: an ``AuditRecord`` per event.
- **reference** — ``sensorhub.core.classifier.Classifier.push`` on the same events as ``Event``
  objects (made beforehand, not timed), then ``drain``: the floor.

Before timing, a ``FastClassifier`` is fed the first ``WARM_UP`` events once, and how long that
first call took is printed apart: numba compiles the kernel there (or loads its cache, which
``kernel.py`` asks for, when an earlier run left one).

``FastClassifier`` runs on one thread: nothing in ``sensorhub.core.fast`` runs rooms in parallel,
so there is no parallel-over-rooms figure to print.

Prints the machine, the figures, the pages of each run (which must agree), and issue 4's target
for the kernel with by how much it is missed. Makes no assertion on time.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from recordings import machine
from sensorhub.contract import EVENT_CODES, KINDS, Event
from sensorhub.core import kernel
from sensorhub.core.classifier import Classifier
from sensorhub.core.columns import EventColumns
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


@dataclass
class KernelClock:
    """Time spent inside the kernel's public wrappers while ``timed_kernel`` is in force."""

    seconds: float = 0.0
    calls: int = 0


@contextmanager
def timed_kernel() -> Iterator[KernelClock]:
    """``sensorhub.core.kernel``'s entry points, timed, for the time inside; the driver calls
    them through the module (``k.run(...)``), so it calls the timed ones."""
    clock = KernelClock()
    names = ("run", "fire_all", "fire_room", "live_seqs")
    originals = {name: getattr(kernel, name) for name in names}

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                clock.seconds += time.perf_counter() - started
                clock.calls += 1

        return call

    for name, fn in originals.items():
        setattr(kernel, name, timed(fn))
    try:
        yield clock
    finally:
        for name, fn in originals.items():
            setattr(kernel, name, fn)


@dataclass(frozen=True)
class Run:
    """One timed run: wall and cpu seconds, events, pages, audit records, kernel seconds."""

    wall: float
    cpu: float
    events: int
    pages: int
    audit: int = 0
    kernel: float = 0.0
    kernel_calls: int = 0

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


def run_fast(policy: Policy, stream: Stream, *, audit: bool, stop: int | None = None) -> Run:
    """``push_batch`` of the stream (up to ``stop``) in batches, then ``drain``."""
    classifier = FastClassifier(policy, audit=audit)
    register(classifier, stream.rooms)
    n = len(stream) if stop is None else min(stop, len(stream))
    batches = [stream.columns(i, min(i + BATCH, n)) for i in range(0, n, BATCH)]

    def feed() -> tuple[int, int, int]:
        pages = records = 0
        for columns in batches:
            step = classifier.push_batch(columns)
            pages += len(step.pages)
            records += len(step.audit)
        step = classifier.drain()
        return n, pages + len(step.pages), records + len(step.audit)

    with timed_kernel() as clock:
        wall, cpu, (events, pages, records) = timed(feed)
    return Run(wall, cpu, events, pages, records, clock.seconds, clock.calls)


def run_reference(policy: Policy, events: list[Event]) -> Run:
    classifier = Classifier(policy)

    def feed() -> tuple[int, int, int]:
        pages = records = 0
        for event in events:
            step = classifier.push(event)
            pages += len(step.pages)
            records += len(step.audit)
        step = classifier.drain()
        return len(events), pages + len(step.pages), records + len(step.audit)

    wall, cpu, (n, pages, records) = timed(feed)
    return Run(wall, cpu, n, pages, records)


def kernel_cached() -> bool:
    """Whether numba's cache holds compiled kernel functions from an earlier run (next to
    ``kernel.py``, or under ``NUMBA_CACHE_DIR`` when that is set)."""
    folder = os.environ.get("NUMBA_CACHE_DIR")
    if folder:
        return any(Path(folder).rglob("kernel.*.nbi"))
    return any((Path(kernel.__file__).parent / "__pycache__").glob("kernel.*.nbi"))


def verdict(ok: bool, missed_by: str) -> str:
    return "met" if ok else f"MISSED by {missed_by}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the stream")
    parser.add_argument("--rooms", type=int, default=36, help="rooms of the ward")
    parser.add_argument("--seed", type=int, default=1, help="seed of the stream")
    args = parser.parse_args(argv)
    if args.events < 1 or args.rooms < 1:
        parser.error("--events and --rooms must be at least 1")

    load_before = os.getloadavg()[0]
    policy = load_policy()
    made = time.perf_counter()
    stream = ward_stream(args.events, args.rooms, args.seed)
    made = time.perf_counter() - made

    cached = kernel_cached()
    print("warming up the kernel ...", file=sys.stderr)
    warm_up = run_fast(policy, stream, audit=False, stop=WARM_UP).wall

    print("timing the kernel + driver, audit off ...", file=sys.stderr)
    fast = min((run_fast(policy, stream, audit=False) for _ in range(REPEAT)), key=lambda r: r.wall)
    print("timing the kernel + driver, audit on ...", file=sys.stderr)
    audited = run_fast(policy, stream, audit=True)
    print("making Event objects and timing the reference classifier ...", file=sys.stderr)
    objects = time.perf_counter()
    events = stream.events()
    objects = time.perf_counter() - objects
    reference = run_reference(policy, events)
    del events
    load_after = os.getloadavg()[0]

    floor = reference.rate
    kernel_rate = fast.events / fast.kernel if fast.kernel > 0 else 0.0
    print()
    print("\n".join(machine()))
    print(
        f"load     : {load_before:.2f} before, {load_after:.2f} after (1-minute load average; "
        f"above {os.cpu_count()} other work competes for the cpus)"
    )
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
    )
    print(
        f"batches of {BATCH:,} columns; best of {REPEAT} runs with audit off, one run each "
        "otherwise; one process, one thread (fast.py offers no parallel-over-rooms entry)"
    )
    print()
    rows: list[tuple[str, Run | None, float, float]] = [
        ("kernel alone (time inside kernel.run & co)", None, kernel_rate, fast.kernel),
        ("kernel + driver, audit off (push_batch)", fast, fast.rate, fast.wall),
        ("kernel + driver, audit on (push_batch)", audited, audited.rate, audited.wall),
        ("reference Classifier.push (floor)", reference, floor, reference.wall),
    ]
    print(f"{'':44} {'events/s':>12} {'wall s':>7} {'x floor':>8} {'cpu %':>6} {'pages':>6}")
    for label, run, rate, wall in rows:
        cpu = f"{run.cpu_share:6.0%}" if run else f"{'':6}"
        pages = f"{run.pages:6,}" if run else f"{'':6}"
        print(f"{label:44} {rate:12,.0f} {wall:7.3f} {rate / floor:8.1f} {cpu} {pages}")
    if min(run.cpu_share for run in (fast, audited, reference)) < 0.9:
        print(
            "(cpu % below 90: the machine was busy with other work and the figures are low; "
            "run it again on an idle machine)"
        )
    if fast.kernel_calls == 0:
        print(
            "WARNING: the driver made no call to sensorhub.core.kernel's wrappers: the kernel "
            "alone was not measured (update timed_kernel in benchmarks/kernel.py)"
        )
    else:
        print(
            f"(kernel alone: {fast.kernel_calls:,} calls, {fast.kernel / fast.wall:.0%} of the "
            "audit-off run; the rest is the driver: event clock, plan, pages)"
        )
    print(f"audit records: audit on {audited.audit:,}, reference {reference.audit:,}")
    if not fast.pages == audited.pages == reference.pages:
        print("WARNING: the runs paged differently")

    print()
    print("target (issue 4), measured above:")
    for label, rate in (("kernel alone", kernel_rate), ("kernel + driver", fast.rate)):
        print(
            f"  {label} >= {TARGET_KERNEL / 1e6:g} M events/s on one core: "
            f"{rate / 1e6:.2f} M -> "
            + verdict(
                rate >= TARGET_KERNEL,
                f"{TARGET_KERNEL / rate:.1f}x" if rate > 0 else "everything (not measured)",
            )
        )


if __name__ == "__main__":
    main()
