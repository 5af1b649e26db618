"""Replay a recording through the classifier, offline, in event time, as fast as the machine allows.

A recording is a JSONL file (or .jsonl.gz) of sensor events with site, room, kind and device
filled in, in event-time order with events up to 10 s late, or the same as Parquet (.parquet,
see `sensorhub convert`), read in batches. Every page is written to --pages as one JSON line.
Lines (or rows) that are not valid events go to the dead-letter file with a reason and the
replay goes on.

Example:
  sensorhub replay night.jsonl --rules rules/example-site.yaml --pages pages.jsonl \\
      --audit audit.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import IO, BinaryIO, Protocol, Self, cast

from sensorhub.codec import decode_line
from sensorhub.columnar import ParquetRecording, RecordingError, is_parquet
from sensorhub.contract import MAX_LATENESS, DeadLetter, Event, reduction
from sensorhub.core.classifier import Classifier
from sensorhub.core.types import Step
from sensorhub.rules import RuleFileError, load_policy
from sensorhub.rules.policy import Policy

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 2.0  # seconds of wall time between progress lines
JSONL_BATCH_LINES = 4096  # lines of a JSONL recording decoded per batch


@dataclass
class ReplaySummary:
    """What a replay saw and decided."""

    lines: int = 0
    events: int = 0
    dead_letters: int = 0
    duplicates: int = 0
    late_events: int = 0
    raw_alarms: int = 0
    reactions: int = 0
    pages_by_kind: Counter[str] = field(default_factory=Counter)
    technical_pages: int = 0
    seconds: float = 0.0

    @property
    def reduction(self) -> float:
        """1 - reactions / raw alarms: the share of conventional alarms nobody had to answer."""
        return reduction(self.reactions, self.raw_alarms)

    def lines_of_text(self) -> list[str]:
        rate = self.events / self.seconds if self.seconds > 0 else 0.0
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.pages_by_kind.items())) or "none"
        return [
            f"events        {self.events} of {self.lines} lines "
            f"({self.dead_letters} dead letters, {self.duplicates} duplicates, "
            f"{self.late_events} beyond the lateness bound)",
            f"raw alarms    {self.raw_alarms} (what a conventional system would have sounded)",
            f"reactions     {self.reactions} (first care pages)",
            f"reduction     {self.reduction:.1%}",
            f"pages by kind {kinds}; technical pages {self.technical_pages}",
            f"took          {self.seconds:.2f} s ({rate:,.0f} events/s)",
        ]


def open_recording(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        return cast(BinaryIO, gzip.open(path, "rb"))
    return path.open("rb")


def read_recording(path: Path) -> Generator[tuple[int, bytes], None, None]:
    """(line number, line) for every non-blank line of a recording."""
    with open_recording(path) as stream:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, line.rstrip(b"\r\n")


class Batch(Protocol):
    """A chunk of a recording, checked: ``rows`` lines (or rows) read, of which
    ``dead_letters`` were not valid events and ``events()`` are, in file order."""

    @property
    def rows(self) -> int: ...

    @property
    def dead_letters(self) -> list[DeadLetter]: ...

    def events(self) -> list[Event]: ...


@dataclass(slots=True)
class LineBatch:
    """A chunk of a JSONL recording, decoded; shaped like a Parquet recording's
    :class:`~sensorhub.columnar.EventBatch`."""

    rows: int
    valid: list[Event]
    dead_letters: list[DeadLetter]

    def events(self) -> list[Event]:
        return self.valid


def read_batches(
    path: Path, *, batch_size: int = JSONL_BATCH_LINES
) -> Generator[LineBatch, None, None]:
    """The non-blank lines of a JSONL recording, ``batch_size`` at a time, decoded as replay
    decodes them (one clock reading per batch for the dead letters' ``received_at``)."""
    name = path.name
    with closing(read_recording(path)) as lines:
        while chunk := list(islice(lines, batch_size)):
            received_at = time.time()
            events: list[Event] = []
            dead: list[DeadLetter] = []
            for number, line in chunk:
                item = decode_line(line, received_at, f"{name}:{number}")
                if isinstance(item, DeadLetter):
                    dead.append(item)
                else:
                    events.append(item)
            yield LineBatch(len(chunk), events, dead)


class DeadLetterFile:
    """Dead letters written to ``path``, one JSON line each, and counted. The file is opened
    (and so created) only with the first one; a context manager that closes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._out: IO[str] | None = None

    def write(self, letter: DeadLetter) -> None:
        if self._out is None:
            self._out = self.path.open("w", encoding="utf-8")
        self._out.write(letter.model_dump_json() + "\n")
        self.count += 1

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def replay(
    recording: Path,
    policy: Policy,
    pages_path: Path,
    *,
    audit_path: Path | None = None,
    deadletter_path: Path | None = None,
    lateness: float = MAX_LATENESS,
    progress: Callable[[ReplaySummary], None] | None = None,
) -> ReplaySummary:
    """Classify ``recording`` and write its pages (and audit trail and dead letters).

    A Parquet recording that is not a sensorhub recording raises ``RecordingError`` (before
    anything is written)."""
    parquet = ParquetRecording(recording) if is_parquet(recording) else None
    classifier = Classifier(policy, lateness=lateness)
    summary = ReplaySummary()
    started = last_progress = time.perf_counter()
    if deadletter_path is None:
        deadletter_path = pages_path.with_name(pages_path.stem + ".deadletter.jsonl")
    with ExitStack() as files:
        batches: Iterator[Batch] = (
            files.enter_context(parquet).batches()
            if parquet is not None
            else files.enter_context(closing(read_batches(recording)))
        )
        pages_out = files.enter_context(pages_path.open("w", encoding="utf-8"))
        audit_out = (
            files.enter_context(audit_path.open("w", encoding="utf-8")) if audit_path else None
        )
        dead = files.enter_context(DeadLetterFile(deadletter_path))

        def emit(step: Step) -> None:
            for page in step.pages:
                pages_out.write(page.model_dump_json() + "\n")
                summary.pages_by_kind[page.kind] += 1
                if page.is_reaction:
                    summary.reactions += 1
                elif page.audience == "technical":
                    summary.technical_pages += 1
            if audit_out is not None:
                for record in step.audit:
                    audit_out.write(json.dumps(record.to_json(), default=str) + "\n")

        for batch in batches:
            summary.lines += batch.rows
            for letter in batch.dead_letters:
                dead.write(letter)
            summary.dead_letters = dead.count
            events = batch.events()
            summary.events += len(events)
            for event in events:
                emit(classifier.push(event))
            if progress is not None:
                now = time.perf_counter()
                if now - last_progress >= PROGRESS_EVERY:
                    last_progress = now
                    summary.seconds = now - started
                    progress(summary)
        emit(classifier.drain())
    summary.raw_alarms = classifier.raw_alarms
    summary.duplicates = classifier.duplicates
    summary.late_events = classifier.late_events
    summary.seconds = time.perf_counter() - started
    if summary.dead_letters:
        logger.warning(
            "%d lines were not valid events; they are in %s with the reason for each",
            summary.dead_letters,
            deadletter_path,
        )
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", type=Path, help="recording: .jsonl, .jsonl.gz or .parquet")
    parser.add_argument(
        "--rules", type=Path, help="rule file (default: the shipped reference policy)"
    )
    parser.add_argument(
        "--pages", type=Path, required=True, help="write every page here, one JSON per line"
    )
    parser.add_argument(
        "--audit", type=Path, help="write the decision on every event (and timer) and why"
    )
    parser.add_argument(
        "--deadletter",
        type=Path,
        help="write bad lines here (default: next to --pages, as PAGES.deadletter.jsonl)",
    )
    parser.add_argument(
        "--lateness",
        type=float,
        default=MAX_LATENESS,
        help=f"how late (s) an event may arrive and still be decided in order "
        f"(default {MAX_LATENESS:g})",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress or summary output")


def run(args: argparse.Namespace) -> int:
    if not args.recording.is_file():
        print(f"sensorhub replay: no such recording: {args.recording}", file=sys.stderr)
        return 2
    try:
        policy = load_policy(args.rules)
    except RuleFileError as error:
        print(f"sensorhub replay: the rule file has mistakes:\n{error}", file=sys.stderr)
        return 2

    def progress(summary: ReplaySummary) -> None:
        print(
            f"... {summary.lines:,} lines, {summary.events / summary.seconds:,.0f} events/s",
            file=sys.stderr,
        )

    try:
        summary = replay(
            args.recording,
            policy,
            args.pages,
            audit_path=args.audit,
            deadletter_path=args.deadletter,
            lateness=args.lateness,
            progress=None if args.quiet else progress,
        )
    except RecordingError as error:
        print(f"sensorhub replay: {error}", file=sys.stderr)
        return 2
    if not args.quiet:
        for text in summary.lines_of_text():
            print(text)
    return 0
