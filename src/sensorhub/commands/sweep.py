"""Sweep rule parameters over recordings: every combination replayed and scored, side by side.

  sensorhub sweep site.jsonl.gz --rules site.rules.yaml \\
      --set bathroom_grace=5m,10m,15m,20m --set acoustic_threshold=60,65,70 \\
      --truth site.truth.json --png sweep.png --csv sweep.csv

Each --set names a parameter of the rule file and its values; the sweep runs every combination
(the cartesian product, here 4 x 3 = 12 parameter sets) and the rule file as written (set 0),
each replayed as `sensorhub replay` does (routing and escalation included) and scored. Where it
applies is written as in the rule file:

  bathroom_grace=...                               every site, room and resident of the file
  sites.SITE.bathroom_grace=...                    every room and resident of SITE
  sites.SITE.rooms.ROOM.bathroom_grace=...         ROOM and its resident
  sites.SITE.rooms.ROOM.resident.fall_risk=...     ROOM's resident

A swept value holds for everything under its place: settings of the same parameter further down
in the file are taken out for the sweep (stderr names them). Each parameter set is validated as
`rules check` validates a file; a bad place or value is named before anything runs.

Each recording is replayed on its own (a fresh engine, as `sensorhub replay RECORDING`), and a
set's figures are summed over them. Without --truth the table gives reactions and the reduction
against the replays' raw alarms; with --truth (a simulator's STEM.truth.json, its census next to
it) also recall, missed and late incidents, needless reactions and the latency of answered care
incidents, as `sensorhub evaluate` measures them. docs/research.md explains every column.

The replays run in --jobs local processes (default: one per core, when the first replays show
that the others take long enough to pay for starting them; else in the command's own process),
or with --scheduler on the workers of a Dask distributed cluster (`pip install
'sensorhub[cluster]'`; the recordings must be readable at the same path on every worker). Either
gives the same table. Progress goes to stderr.

exit status: 0 the sweep ran; 2 bad input (a recording, the rule file, a --set, the truth)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sensorhub.commands.evaluate import InputError, load_census, load_truth
from sensorhub.commands.sweep_work import ClusterError, DaskPool, LocalPool, Part, Task
from sensorhub.contract import INCIDENT_KINDS, MAX_LATENESS, IncidentKind, Page
from sensorhub.durations import DURATION_GUIDE, duration_argument, format_duration
from sensorhub.evaluation.sweep import (
    Counts,
    SetScore,
    render_csv,
    render_json,
    render_table,
    score,
)
from sensorhub.evaluation.truth import ConventionalAlarm, GroundTruth, sibling
from sensorhub.rules import RuleFileError, default_rules_path
from sensorhub.rules.loader import parse_rule_file
from sensorhub.rules.overrides import Assignment, SweepError, Swept, Variants, grid

PROGRESS_EVERY = 2.0  # seconds of wall time between progress lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "recordings",
        metavar="RECORDING",
        type=Path,
        nargs="+",
        help="recordings: .jsonl, .jsonl.gz or .parquet, each replayed on its own",
    )
    parser.add_argument(
        "--rules", type=Path, help="rule file (default: the shipped reference policy)"
    )
    parser.add_argument(
        "--set",
        dest="sets",
        metavar="PARAMETER=VALUE,...",
        action="append",
        required=True,
        help="a parameter and its values, e.g. bathroom_grace=5m,10m,15m or "
        "sites.SITE.rooms.ROOM.resident.fall_risk=normal,high; repeat for more parameters",
    )
    parser.add_argument(
        "--truth",
        type=Path,
        help="ground truth (STEM.truth.json) of the recordings together: adds recall, misses "
        "and latency",
    )
    parser.add_argument(
        "--kind",
        choices=INCIDENT_KINDS,
        help="with --truth: recall and latency of this incident kind only (default: of every "
        "care incident), e.g. absent_too_long for a sweep of bathroom_grace",
    )
    parser.add_argument(
        "--census",
        type=Path,
        help="conventional alarms, JSONL (default: STEM.census.jsonl next to the truth)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--jobs",
        type=_positive,
        metavar="N",
        help=f"replays at a time, in local processes (default: the cores, here {_cores()}, "
        "when the replays are long enough to pay for starting the processes)",
    )
    where.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the replays on this Dask distributed cluster instead",
    )
    parser.add_argument("--csv", type=Path, metavar="OUT.csv", help="write the table as CSV")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the sweep as JSON")
    parser.add_argument(
        "--png",
        type=Path,
        metavar="OUT.png",
        help="draw reactions against recall and latency (PNG)",
    )
    parser.add_argument(
        "--lateness",
        type=duration_argument,
        default=MAX_LATENESS,
        metavar="DURATION",
        help=f"as for replay (see {DURATION_GUIDE}; default {format_duration(MAX_LATENESS)})",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of jobs: give 1 or more")
    return value


def _error(message: str) -> int:
    print(f"sensorhub sweep: {message}", file=sys.stderr)
    return 2


class _Say:
    """Progress on stderr, unless --quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    say = _Say(args.quiet)
    if args.kind is not None and args.truth is None:
        return _error("--kind needs --truth: recall and latency are measured against one")
    for recording in args.recordings:
        if not recording.is_file():
            return _error(f"no such recording: {recording}")
    rules_path = args.rules or default_rules_path()
    try:
        variants = Variants(parse_rule_file(rules_path))
        swept = [variants.parse_set(option) for option in args.sets]
        _no_place_twice(swept)
        assignments = grid(swept)
        rules = [variants.rules(())] + [variants.rules(a) for a in assignments]
    except RuleFileError as error:
        return _error(f"the rule file has mistakes:\n{error}")
    except SweepError as error:
        return _error(str(error))
    for s in swept:
        replaced = variants.replaced(s.address)
        if replaced:
            shown = ", ".join(".".join(place) for place in replaced[:4])
            more = f" and {len(replaced) - 4} more" if len(replaced) > 4 else ""
            say(
                f"{s.address.text}: the swept values replace the file's own "
                f"{s.address.parameter} at {shown}{more}"
            )
    truth: GroundTruth | None = None
    census: list[ConventionalAlarm] = []
    if args.truth is not None:
        try:
            truth = load_truth(args.truth)
            census = load_census(args.census or _census_next_to(args.truth))
        except InputError as error:
            return _error(str(error))
    parameters = [s.address.text for s in swept]
    tasks = [
        Task(number, str(recording), version, args.lateness, pages=truth is not None)
        for number, version in enumerate(rules)
        for recording in args.recordings
    ]
    try:
        pool = (
            DaskPool(args.scheduler)
            if args.scheduler
            else LocalPool(min(args.jobs or _cores(), len(tasks)), adaptive=args.jobs is None)
        )
    except ClusterError as error:
        return _error(str(error))
    started = time.perf_counter()
    with pool:
        say(
            f"sweep: {len(rules)} parameter sets ({len(assignments)} and the file as written) "
            f"x {len(args.recordings)} recording{'s' if len(args.recordings) != 1 else ''} = "
            f"{len(tasks)} replays" + (f" on {pool.where}" if args.scheduler else "")
        )
        collected = _Collected(assignments, truth, census, len(args.recordings), args.kind)
        last = started
        for part in pool.run(tasks):
            if part.error is not None:
                return _error(f"{part.recording}: {part.error}")
            collected.add(part)
            now = time.perf_counter()
            if now - last >= PROGRESS_EVERY and collected.replays < len(tasks):
                last = now
                say(collected.progress(len(tasks), now - started))
    seconds = time.perf_counter() - started
    rows = collected.rows
    lines = sum(row.counts.lines for row in rows if row.number == 0)
    print(_heading(args, rules_path, len(assignments), lines))
    print(render_table(parameters, rows))
    about = {
        "rules": str(rules_path),
        "recordings": [str(r) for r in args.recordings],
        "truth": None if args.truth is None else str(args.truth),
        "run": collected.run_json(seconds, pool.where),
    }
    try:
        if args.csv is not None:
            args.csv.write_text(render_csv(parameters, rows), encoding="utf-8")
        if args.json is not None:
            document = render_json(parameters, rows, about)
            args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        if args.png is not None:
            from sensorhub.evaluation.sweep_plot import render_png  # noqa: PLC0415 - matplotlib

            render_png(parameters, rows, args.png, title=_title(rules_path, args.recordings))
    except OSError as error:
        return _error(f"{error.filename}: cannot be written: {error.strerror or error}")
    if isinstance(pool, LocalPool) and pool.note:
        say(pool.note)
    for line in collected.closing(seconds, pool.where):
        say(line)
    for written in (args.csv, args.json, args.png):
        if written is not None:
            say(f"wrote {written}")
    return 0


def _no_place_twice(swept: list[Swept]) -> None:
    """The same parameter at the same place twice would be a grid of contradictions."""
    for n, one in enumerate(swept):
        for other in swept[n + 1 :]:
            if one.address.keys == other.address.keys:
                raise SweepError(
                    f"--set {other.address.text}=... sets what --set {one.address.text}=... "
                    "sets: give all its values in one --set, separated by ','"
                )


def _census_next_to(truth: Path) -> Path:
    path = sibling(truth, ".census.jsonl")
    if not path.exists():
        raise InputError(f"{path}: no census next to the truth; give its path with --census")
    return path


class _Collected:
    """The parts as they come in, and each set scored as soon as all its recordings are in."""

    def __init__(
        self,
        assignments: list[Assignment],
        truth: GroundTruth | None,
        census: list[ConventionalAlarm],
        recordings: int,
        kind: IncidentKind | None,
    ) -> None:
        self.assignments = assignments
        self.kind = kind
        self.truth = truth
        self.census = census
        self.recordings = recordings
        self.replays = 0
        self.rows: list[SetScore] = []
        self._parts: dict[int, list[Part]] = defaultdict(list)
        #: per worker: replays run, their seconds and the most it had compiled
        self.workers: dict[str, tuple[int, float, int]] = {}
        self.dead_letters: dict[str, int] = {}

    def add(self, part: Part) -> None:
        self.replays += 1
        runs, seconds, compiled = self.workers.get(part.worker, (0, 0.0, 0))
        self.workers[part.worker] = (runs + 1, seconds + part.seconds, max(compiled, part.compiled))
        if part.number == 0:
            self.dead_letters[part.recording] = part.counts.dead_letters
        parts = self._parts[part.number]
        parts.append(part)
        if len(parts) < self.recordings:
            return
        del self._parts[part.number]
        counts = sum((p.counts for p in parts), Counts())
        pages = None
        if self.truth is not None:
            pages = [
                Page.model_validate_json(line)
                for p in parts
                for line in p.pages.splitlines()
                if line.strip()
            ]
        values = None
        if part.number > 0:
            values = tuple(value.text for _, value in self.assignments[part.number - 1])
        self.rows.append(
            score(
                part.number,
                values,
                counts,
                pages=pages,
                truth=self.truth,
                census=self.census,
                kind=self.kind,
            )
        )

    def progress(self, replays: int, seconds: float) -> str:
        rate = len(self.rows) / seconds * 60
        left = (replays - self.replays) * seconds / self.replays
        scored = len(self.rows)
        return (
            f"... {self.replays} of {replays} replays, {scored} set{'s' if scored != 1 else ''} "
            "scored, "
            f"{rate:,.1f} sets/min, about {format_duration(round(left))} to go"
        )

    def closing(self, seconds: float, where: str) -> list[str]:
        lines = [
            f"sweep: {self.replays} replays in {seconds:.1f} s on {where}: "
            f"{len(self.rows) / seconds * 60:,.1f} parameter sets/min"
        ]
        compiled = {worker: c for worker, (_, _, c) in self.workers.items() if c}
        if compiled:
            lines += [
                f"warning: worker {worker} compiled {count} of the classifier's functions "
                "(numba found no cache for them): run `python -m sensorhub.core.warm` once "
                "where it runs"
                for worker, count in sorted(compiled.items())
            ]
        for recording, count in self.dead_letters.items():
            if count:
                lines.append(
                    f"{recording}: {count:,} lines are not valid events "
                    "(`sensorhub replay` writes them out with the reason)"
                )
        return lines

    def run_json(self, seconds: float, where: str) -> dict[str, Any]:
        return {
            "seconds": round(seconds, 3),
            "where": where,
            "sets_per_minute": round(len(self.rows) / seconds * 60, 3),
            "workers": {
                worker: {"replays": runs, "seconds": round(busy, 3), "compiled": compiled}
                for worker, (runs, busy, compiled) in sorted(self.workers.items())
            },
        }


def _heading(args: argparse.Namespace, rules_path: Path, sets: int, lines: int) -> str:
    """What the table is of, and how its figures are measured."""
    recordings = ", ".join(str(r) for r in args.recordings)
    text = (
        f"sweep of {rules_path}: {sets} parameter sets and the file as written (set 0), "
        f"over {recordings} ({lines:,} lines)\n"
    )
    if args.truth is None:
        return text + (
            "reduction: 1 - reactions / the replay's raw alarms; recall, misses and latency "
            "need --truth\n"
        )
    of = f"{args.kind} incidents" if args.kind else "care incidents"
    return text + (
        f"measured against {args.truth}: reduction 1 - reactions / the conventional alarms of "
        "its census; missed and late incidents (care and technical), needless reactions; "
        f"recall and p50/p90 latency of {of}\n"
    )


def _title(rules_path: Path, recordings: Sequence[Path]) -> str:
    names = ", ".join(r.name for r in recordings[:3])
    more = f" and {len(recordings) - 3} more" if len(recordings) > 3 else ""
    return f"sweep of {rules_path.name} over {names}{more}"
