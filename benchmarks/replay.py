"""How fast ``replay`` gets through a recording, from JSONL and from Parquet, between its ceiling
(the raw decoder alone) and its floor (the pure-Python reference classifier alone).

Run: ``.venv/bin/python benchmarks/replay.py [--rooms 36] [--nights 7] [--repeat 1]
[--classifier sensorhub.core.classifier.Classifier]``

Makes (once, in ``benchmarks/.data/``) a simulated recording of ``--rooms`` rooms over
``--nights`` nights, as JSONL and as Parquet, then times in the same run, best of ``--repeat``:

- the raw decoder alone: ``decode_line`` on every line of the JSONL file, read as replay reads it
  (the ceiling for replay from JSONL: everything replay does but classify and write pages);
- ``replay`` end to end from JSONL and from Parquet (the function the command runs: read,
  check, classify, write pages and dead letters), in events per second;
- the Parquet reader alone: rows read and checked, then also made into Event objects;
- the classifier alone on events decoded beforehand: the pure-Python reference
  (``sensorhub.core.classifier.Classifier``, the floor), and the one chosen with
  ``--classifier`` if that is another.

Before timing, the chosen classifier is fed the first ``WARM_UP`` events once, and how long that
took is printed: a compiled classifier pays its JIT (or loads its cache) there, not in the
figures.

``--classifier`` names a class by its dotted path (``package.module.Class`` or
``package.module:Class``) with the reference classifier's interface: ``Cls(policy,
lateness=...)``, ``push(event) -> Step``, ``drain() -> Step``. Replay is timed with it in place of
the reference (``sensorhub.replay`` builds its classifier from its module-level name
``Classifier``, which the benchmark swaps for the time of the run, and checks that it was used).

Prints the machine, the figures, and issue 4's targets with by how much each is missed. Makes no
assertion on time.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from recordings import Recording, ensure_recording, machine
from sensorhub.batch import ColumnDecoder, read_chunks
from sensorhub.codec import decode_line
from sensorhub.columnar import ParquetRecording
from sensorhub.contract import Event
from sensorhub.core.classifier import Classifier as Reference
from sensorhub.core.columns import Registry
from sensorhub.replay import read_recording, replay
from sensorhub.rules import load_policy
from sensorhub.rules.policy import Policy

REFERENCE = "sensorhub.core.classifier.Classifier"
FAST = "sensorhub.core.fast.FastClassifier"

#: Issue 4's targets for replay.
TARGET_TWIN_FACTOR = 10.0  # replay from JSONL at least 10x the pure-Python twin
TARGET_DECODER_SHARE = 0.70  # ... and within 70% of the raw decoder's speed
TARGET_PARQUET = 5_000_000.0  # replay from Parquet at least 5 M events/s
#: Events fed to the classifier once before timing
WARM_UP = 2_000


def load_class(name: str) -> Any:
    """The class at dotted path ``name`` (``a.b.C`` or ``a.b:C``)."""
    module_name, _, attribute = name.replace(":", ".").rpartition(".")
    if not module_name:
        sys.exit(f"--classifier {name!r}: give the class's dotted path, e.g. {REFERENCE}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        sys.exit(f"--classifier {name!r}: cannot import {module_name}: {error}")
    try:
        return getattr(module, attribute)
    except AttributeError:
        sys.exit(f"--classifier {name!r}: {module_name} has no {attribute!r}")


def best_of(repeat: int, run: Callable[[], int]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, what the run counted) of the fastest of ``repeat`` runs.

    CPU time is this process's (all threads): on a machine busy with other work the wall time
    grows, the CPU time much less, and the two side by side show it."""
    best: tuple[float, float, int] = (float("inf"), 0.0, 0)
    for _ in range(repeat):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        count = run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if wall < best[0]:
            best = (wall, cpu, count)
    return best


def decode_all(path: Path) -> int:
    """What replay does to a JSONL recording, but classify: read every line and decode it."""
    name = path.name
    events = 0
    for number, line in read_recording(path):
        if type(decode_line(line, time.time(), f"{name}:{number}")) is Event:
            events += 1
    return events


def read_parquet(path: Path, *, objects: bool) -> int:
    events = 0
    with ParquetRecording(path) as recording:
        for batch in recording.batches():
            events += len(batch.events()) if objects else len(batch.valid)
    return events


def replay_events(path: Path, policy: Policy, cls: Any, scratch: Path) -> tuple[int, int]:
    """(events, pages) of replaying ``path``: ``cls`` is the reference class (``replay
    --classifier reference``), anything else the default compiled core."""
    summary = replay(
        path,
        policy,
        scratch / "pages.jsonl",
        deadletter_path=scratch / "deadletter.jsonl",
        classifier="reference" if cls is Reference else "fast",
    )
    return summary.events, sum(summary.pages_by_kind.values())


def decode_columns(path: Path) -> int:
    """The batch decoder alone, as replay runs it: JSONL blocks to EventColumns."""
    decoder = ColumnDecoder(Registry())
    return sum(len(decoder.decode(chunk, time.time()).columns) for chunk in read_chunks(path))


def classify_only(events: list[Event], policy: Policy, cls: Any) -> tuple[int, int]:
    """(events, pages) of feeding decoded ``events`` to a new ``cls`` and draining it."""
    classifier = cls(policy)
    pages = 0
    for event in events:
        pages += len(classifier.push(event).pages)
    pages += len(classifier.drain().pages)
    return len(events), pages


def verdict(ok: bool, missed_by: str) -> str:
    return "met" if ok else f"MISSED by {missed_by}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rooms", type=int, default=36)
    parser.add_argument("--nights", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs each")
    parser.add_argument(
        "--classifier",
        default=FAST,
        help=f"classifier class, by dotted path (default: {FAST}, which replay uses by "
        f"default; {REFERENCE} times replay --classifier reference)",
    )
    parser.add_argument("--fresh", action="store_true", help="make the recording again")
    args = parser.parse_args(argv)

    logging.getLogger("sensorhub").setLevel(logging.ERROR)  # no dead-letter warnings
    cls = load_class(args.classifier)
    is_reference = cls is Reference
    recording: Recording = ensure_recording(args.rooms, args.nights, fresh=args.fresh)
    policy = load_policy(recording.rules)
    repeat = args.repeat

    results: dict[str, tuple[float, float, int]] = {}
    load_before = os.getloadavg()[0]
    pages: dict[str, int] = {}
    # warm-up, not timed with the rest: a compiled classifier compiles (or loads its cache) here
    first = []
    for _, line in read_recording(recording.jsonl):
        item = decode_line(line, 0.0, "")
        if type(item) is Event:
            first.append(item)
        if len(first) >= WARM_UP:
            break
    warm_started = time.perf_counter()
    classify_only(first, policy, cls)
    warm_up = time.perf_counter() - warm_started
    with tempfile.TemporaryDirectory(prefix="sensorhub-bench-") as folder:
        scratch = Path(folder)
        print("timing the raw decoders ...", file=sys.stderr)
        results["decoder"] = best_of(repeat, lambda: decode_columns(recording.jsonl))
        results["codec"] = best_of(repeat, lambda: decode_all(recording.jsonl))
        print("timing the Parquet reader ...", file=sys.stderr)
        read_parquet(recording.parquet, objects=True)  # warm-up: pyarrow loads lazily
        results["parquet check"] = best_of(
            repeat, lambda: read_parquet(recording.parquet, objects=False)
        )
        results["parquet events"] = best_of(
            repeat, lambda: read_parquet(recording.parquet, objects=True)
        )
        for name, path in (("jsonl", recording.jsonl), ("parquet", recording.parquet)):
            print(f"timing replay from {name} ...", file=sys.stderr)

            def run(path: Path = path, name: str = name) -> int:
                events, pages[f"replay {name}"] = replay_events(path, policy, cls, scratch)
                return events

            results[f"replay {name}"] = best_of(repeat, run)

        print("timing the classifier alone ...", file=sys.stderr)
        items = (decode_line(line, 0.0, "") for _, line in read_recording(recording.jsonl))
        decoded = [item for item in items if type(item) is Event]
        if not is_reference:

            def run_selected() -> int:
                events, pages["selected alone"] = classify_only(decoded, policy, cls)
                return events

            results["selected alone"] = best_of(repeat, run_selected)

        def run_reference() -> int:
            events, pages["reference alone"] = classify_only(decoded, policy, Reference)
            return events

        results["reference alone"] = best_of(repeat, run_reference)
        decoded.clear()

    load_after = os.getloadavg()[0]

    def rate(key: str) -> float:
        wall, _, count = results[key]
        return count / wall

    def cpu_rate(key: str) -> float:
        _, cpu, count = results[key]
        return count / cpu if cpu > 0 else 0.0

    floor = rate("reference alone")
    decoder = rate("decoder")
    events = results["replay jsonl"][2]
    print()
    print("\n".join(machine()))
    print(
        f"load     : {load_before:.2f} before, {load_after:.2f} after (1-minute load average; "
        f"above {os.cpu_count()} other work competes for the cpus)"
    )
    print(
        f"recording: {recording.jsonl.name} ({recording.generator} simulator): "
        f"{recording.lines:,} lines, {events:,} events; {recording.sizes}"
    )
    print(
        f"classifier: {args.classifier}" + (" (the pure-Python reference)" if is_reference else "")
    )
    print(
        f"warm-up  : the classifier on the first {len(first):,} events took {warm_up:.2f} s "
        "(a compiled one compiles or loads its cache here; not in the figures below)"
    )
    print(f"best of {repeat} run(s) each; one process, one thread")
    print()
    rows = [
        ("raw decoder alone on the JSONL (ceiling)", "decoder"),
        ("codec decode_line alone on the JSONL", "codec"),
        ("replay from JSONL, end to end", "replay jsonl"),
        ("replay from Parquet, end to end", "replay parquet"),
        ("Parquet: read and check only", "parquet check"),
        ("Parquet: read, check, Event objects", "parquet events"),
    ]
    if not is_reference:
        rows.append(("selected classifier alone, decoded events", "selected alone"))
    rows.append(("reference classifier alone (floor)", "reference alone"))
    print(f"{'':42} {'events/s':>11} {'wall s':>7} {'x floor':>8} {'per cpu-s':>11} {'cpu %':>6}")
    busy = False
    for label, key in rows:
        wall, cpu, _ = results[key]
        share = cpu / wall if wall > 0 else 0.0
        busy |= share < 0.9
        print(
            f"{label:42} {rate(key):11,.0f} {wall:7.2f} {rate(key) / floor:8.2f} "
            f"{cpu_rate(key):11,.0f} {share:6.0%}"
        )
    if busy:
        print(
            "(cpu % below 90: the machine was busy with other work; events per cpu-second is "
            "then the better estimate of what this code does on an idle core)"
        )
    print()
    print(
        f"pages: replay from JSONL {pages['replay jsonl']}, "
        f"from Parquet {pages['replay parquet']}, reference alone {pages['reference alone']}"
        + ("" if is_reference else f", selected alone {pages['selected alone']}")
    )
    if pages["replay jsonl"] != pages["replay parquet"]:
        print("WARNING: replay from JSONL and from Parquet paged differently")

    jsonl = rate("replay jsonl")
    parquet = rate("replay parquet")
    print()
    print("targets (issue 4), measured above:")
    print(
        f"  replay from JSONL >= {TARGET_TWIN_FACTOR:g}x the pure-Python twin: "
        f"{jsonl / floor:.2f}x -> "
        + verdict(
            jsonl >= TARGET_TWIN_FACTOR * floor,
            f"{TARGET_TWIN_FACTOR * floor / jsonl:.1f}x "
            f"(needs {TARGET_TWIN_FACTOR * floor:,.0f} events/s)",
        )
    )
    print(
        f"  replay from JSONL >= {TARGET_DECODER_SHARE:.0%} of the raw decoder's speed: "
        f"{jsonl / decoder:.1%} -> "
        + verdict(
            jsonl >= TARGET_DECODER_SHARE * decoder,
            f"{TARGET_DECODER_SHARE * decoder / jsonl:.1f}x "
            f"(needs {TARGET_DECODER_SHARE * decoder:,.0f} events/s)",
        )
    )
    print(
        f"  replay from Parquet >= {TARGET_PARQUET:,.0f} events/s: {parquet:,.0f} -> "
        + verdict(parquet >= TARGET_PARQUET, f"{TARGET_PARQUET / parquet:.1f}x")
    )
    print(
        f"  (the Parquet reader alone checks {rate('parquet check'):,.0f} rows/s and makes "
        f"{rate('parquet events'):,.0f} Event objects/s: the ceiling for replay from Parquet "
        "while the classifier takes Event objects)"
    )


if __name__ == "__main__":
    main()
