"""Replay a recording through the classifier, offline, in event time, as fast as the machine allows.

A recording is a JSONL file (or .jsonl.gz) of sensor events with site, room, kind and device
filled in, in event-time order with events up to 10 s late, or the same as Parquet (.parquet,
see `sensorhub convert`), read in batches. Every page is written to --pages as one JSON line.
Lines (or rows) that are not valid events go to the dead-letter file with a reason and the
replay goes on.

By default the events are decided by the compiled core (``FastClassifier``), a chunk of
columns at a time, each batch through the stages of ``sensorhub.codec.stages`` (read, decoded,
placed, checked): JSONL is decoded straight to columns (``sensorhub.codec.batch``), Parquet record
batches become columns without a Python object per event. ``--classifier reference`` decides
them one by one with the pure-Python twin instead. Either way pages and audit records are
written in event-time order (by time, then site, room and page id; a redelivery's audit
record by the later of its time and the event clock when it came), so the files of the two
classifiers are the same, byte for byte.

Example:
  sensorhub replay night.jsonl --rules rules/example-site.yaml --pages pages.jsonl \\
      --audit audit.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from itertools import accumulate, islice
from pathlib import Path
from queue import Full, Queue
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Self, TypeVar

import numpy as np

from sensorhub.codec.batch import LineDecoder
from sensorhub.codec.columns import EventColumns, Redeliveries
from sensorhub.codec.formats import RecordingError, is_parquet
from sensorhub.codec.lines import read_chunks, read_events
from sensorhub.codec.stages import CheckedBatch, DecodedBatch, DecodedEvents, PlacedBatch
from sensorhub.contract import MAX_LATENESS, DeadLetter, Event, Page, reduction
from sensorhub.core.fast import FastClassifier
from sensorhub.core.types import AuditRecord
from sensorhub.durations import DURATION_GUIDE, duration_argument, format_duration
from sensorhub.engine import CLASSIFIERS, ClassifierName, Engine, Round
from sensorhub.routing.router import RoutingAudit
from sensorhub.routing.silences import SilenceAudit
from sensorhub.rules import RuleFileError, load_policy
from sensorhub.rules.policy import Policy

if TYPE_CHECKING:
    from sensorhub.codec.columnar import ParquetRecording

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

PROGRESS_EVERY = 2.0  # seconds of wall time between progress lines
#: Batches of a Parquet recording read and checked ahead of the one being classified
READ_AHEAD = 2
#: Chunks of a JSONL recording (``lines.BLOCK_BYTES`` each) decoded ahead of the one being
#: classified
JSONL_READ_AHEAD = 1
#: What the audit file holds: the classifier's records, routing's and the silences' entries
_Audited = AuditRecord | RoutingAudit | SilenceAudit


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
    #: first pages (escalation 0) by incident kind
    pages_by_kind: Counter[str] = field(default_factory=Counter)
    technical_pages: int = 0
    #: re-sent and escalated pages (escalation 1, 2, ...)
    escalations: int = 0
    seconds: float = 0.0

    def count(self, pages: list[Page]) -> None:
        for page in pages:
            if page.escalation:
                self.escalations += 1
                continue
            self.pages_by_kind[page.kind] += 1
            if page.audience == "care":
                self.reactions += 1
            else:
                self.technical_pages += 1

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
            f"escalations   {self.escalations} (re-sent or escalated: nobody acknowledged)",
            f"took          {self.seconds:.2f} s ({rate:,.0f} events/s)",
        ]


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


class _InOrder:
    """Pages and audit records written in event-time order, whatever order they were decided
    in (the compiled core decides a batch room by room).

    Everything decided from now on is decided at or after the event clock (``watermark``):
    what is held with an earlier time is written, sorted, at each ``flush``. Pages sort by
    (time, site, room, page id); audit records by (time, site, room), stably, so each room's
    records keep the order they were decided in: the classifier's first, then a redelivery's
    (no room; at the later of its time and the watermark when it came), then routing's. What
    is held is what is newer than the watermark: about ``lateness`` seconds of decisions.
    """

    def __init__(self, pages_out: IO[str], audit_out: IO[str] | None) -> None:
        self._pages_out = pages_out
        self._audit_out = audit_out
        self._pages: list[tuple[tuple[float, str, str, str], Page]] = []
        self._audit: list[tuple[tuple[float, int, str, str], int, _Audited]] = []
        self._n = 0

    def add(self, work: Round, arrival_watermarks: list[float]) -> None:
        """``arrival_watermarks``: the watermark at the arrival of each redelivery of
        ``work``, in order."""
        for page in work.pages:
            self._pages.append(((page.ts, page.site, page.room, page.page_id), page))
        if self._audit_out is None:
            return
        waiting = iter(arrival_watermarks)
        for record in work.audit:
            if record.room is not None:
                key = (record.ts, 0, record.site or "", record.room)
            else:
                event = record.event
                at = next(waiting, record.ts)
                key = (
                    max(record.ts, at),
                    1,
                    event.site if event else "",
                    event.room if event else "",
                )
            self._hold(key, record)
        for entry in work.routing:
            site = getattr(entry, "site", None) or ""
            room = getattr(entry, "room", None) or ""
            self._hold((entry.ts, 2, site, room), entry)

    def _hold(self, key: tuple[float, int, str, str], record: _Audited) -> None:
        self._n += 1
        self._audit.append((key, self._n, record))

    def flush(self, watermark: float) -> None:
        """Write what was decided before ``watermark``, in order."""
        if self._pages:
            ready = [item for item in self._pages if item[0][0] < watermark]
            if ready:
                self._pages = [item for item in self._pages if item[0][0] >= watermark]
                ready.sort(key=_first)
                self._pages_out.write("".join(page.model_dump_json() + "\n" for _, page in ready))
        if self._audit and self._audit_out is not None:
            held = [item for item in self._audit if item[0][0] < watermark]
            if held:
                self._audit = [item for item in self._audit if item[0][0] >= watermark]
                held.sort(key=_first_two)
                self._audit_out.write(
                    "".join(
                        json.dumps(record.to_json(), default=str) + "\n" for _, _, record in held
                    )
                )

    def close(self) -> None:
        self.flush(math.inf)


def read_ahead(items: Iterator[_T], depth: int = READ_AHEAD) -> Generator[_T, None, None]:
    """``items``, made on a thread of their own up to ``depth`` ahead of the caller, in their
    order. An exception ``items`` raise is raised here, where its item would have come. When
    the caller stops early (``close()``), the thread stops before its next item and is
    joined."""
    queue: Queue[tuple[bool, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                queue.put(entry, timeout=0.05)
            except Full:
                continue
            return True
        return False

    def work() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((False, None))
        except BaseException as error:  # noqa: BLE001 - handed to the caller, raised there
            put((False, error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, name="sensorhub-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            more, item = queue.get()
            if more:
                yield item
            elif item is None:
                return
            else:
                raise item
    finally:
        stop.set()
        thread.join()


def _checked_ahead(
    batches: Iterator[PlacedBatch],
    fast: FastClassifier,
    files: ExitStack,
) -> Iterator[CheckedBatch]:
    """``batches`` checked: with the redeliveries of each (``check_redeliveries``), each
    batch's check run on a thread of its own while the batch before it is decided: the checks
    one at a time, in order, so they decide as ``push_batch`` would. The first batch comes as
    soon as it is checked: waiting for the second to be read too would hold the classifier
    back by a whole batch at the start."""
    for batch in islice(batches, 1):
        yield batch.checked(fast.check_redeliveries(batch.columns))
    pool = files.enter_context(ThreadPoolExecutor(1, thread_name_prefix="sensorhub-ids"))
    held: tuple[PlacedBatch, Future[Redeliveries]] | None = None
    for batch in batches:
        check = pool.submit(fast.check_redeliveries, batch.columns)
        if held is not None:
            yield held[0].checked(held[1].result())
        held = (batch, check)
    if held is not None:
        yield held[0].checked(held[1].result())


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]


def _first_two(item: tuple[Any, ...]) -> Any:
    return item[0], item[1]


def replay(
    recording: Path,
    policy: Policy,
    pages_path: Path,
    *,
    audit_path: Path | None = None,
    deadletter_path: Path | None = None,
    lateness: float = MAX_LATENESS,
    progress: Callable[[ReplaySummary], None] | None = None,
    classifier: ClassifierName = "fast",
    audit_rooms: Collection[tuple[str, str]] | None = None,
) -> ReplaySummary:
    """Classify ``recording``, route and escalate as ``serve`` does, and write its pages (and
    audit trail and dead letters).

    ``classifier``: ``"fast"`` (the compiled core, a batch of columns at a time) or
    ``"reference"`` (the pure-Python twin, an event at a time); both write the same files.
    ``audit_rooms``: the classifier's audit records of these (site, room) only (the fast one;
    the reference's audit has every room); routing's and redeliveries' are all written.
    A Parquet recording that is not a sensorhub recording raises ``RecordingError`` (before
    anything is written)."""
    if classifier not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, not {classifier!r}")
    parquet: ParquetRecording | None = None
    if is_parquet(recording):
        # pyarrow (a tenth of a second to import) only for Parquet
        from sensorhub.codec.columnar import FAST_BATCH_SIZE, ParquetRecording  # noqa: PLC0415

        parquet = ParquetRecording(recording, batch_size=FAST_BATCH_SIZE)
    audit = audit_path is not None
    engine = Engine(
        policy,
        lateness=lateness,
        clock="event",
        audit=audit,
        classifier=classifier,
        routing_audit=audit,
        durable=False,
    )
    if audit and audit_rooms is not None and isinstance(engine.classifier, FastClassifier):
        engine.classifier.set_audit(True, audit_rooms)
    summary = ReplaySummary()
    started = last_progress = time.perf_counter()
    if deadletter_path is None:
        deadletter_path = pages_path.with_name(pages_path.stem + ".deadletter.jsonl")
    with ExitStack() as files:
        if parquet is not None:
            files.enter_context(parquet)
        pages_out = files.enter_context(pages_path.open("w", encoding="utf-8"))
        audit_out = (
            files.enter_context(audit_path.open("w", encoding="utf-8")) if audit_path else None
        )
        dead = files.enter_context(DeadLetterFile(deadletter_path))
        ordered = _InOrder(pages_out, audit_out)

        def decided(work: Round, arrived: list[float]) -> None:
            for letter in work.dead_letters:
                dead.write(letter)
            summary.count(work.pages)
            ordered.add(work, arrived)
            ordered.flush(engine.classifier.clock)

        def after_batch(rows: int, letters: list[DeadLetter], events: int) -> None:
            nonlocal last_progress
            summary.lines += rows
            for letter in letters:
                dead.write(letter)
            summary.dead_letters = dead.count
            summary.events += events
            if progress is not None:
                now = time.perf_counter()
                if now - last_progress >= PROGRESS_EVERY:
                    last_progress = now
                    summary.seconds = now - started
                    progress(summary)

        fast = engine.classifier
        if isinstance(fast, FastClassifier):
            decoding: Iterator[DecodedBatch]
            if parquet is not None:
                # the next batches are read, judged and decoded on a thread of their own while
                # this one is classified (pyarrow and the compiled core let go of the GIL)
                decoding = read_ahead(b.decoded(keep_raw=audit) for b in parquet.batches())
            else:
                # the same for the next chunks (the scanner lets go of the GIL too); the
                # thread is stopped and joined before ``chunks`` is closed (entered after it)
                decoder = LineDecoder(keep_raw=audit)
                chunks = files.enter_context(closing(read_chunks(recording)))
                decoding = read_ahead(
                    (decoder.decode(c, time.time()) for c in chunks), JSONL_READ_AHEAD
                )
            decoded = files.enter_context(closing(decoding))
            # placed here: decoding never touches the registry, the places are registered by
            # the only thread that adds to the registry and the one the classifier reads it
            # on, in file order, so device numbers and output do not depend on timing
            placed = (batch.placed(fast.registry) for batch in decoded)
            for batch in _checked_ahead(placed, fast, files):
                columns = batch.columns
                duplicates, before = fast.duplicates, fast.clock
                work = engine.feed(columns, batch.new, batch.acks)
                arrived: list[float] = []
                if audit and fast.duplicates > duplicates:
                    # only redeliveries' audit records have no room (and want the watermarks)
                    arrived = _arrival_watermarks(work.audit, columns, before, fast)
                decided(work, arrived)
                after_batch(batch.rows, batch.dead_letters, len(columns))
        else:
            events_of: Iterator[DecodedEvents]
            if parquet is not None:
                events_of = (b.decoded_events() for b in parquet.batches())
            else:
                events_of = files.enter_context(closing(read_events(recording, acks=True)))
            for decoded_events in events_of:
                events = decoded_events.events
                before = fast.clock
                work = engine.feed_events(events, decoded_events.acks)
                decided(work, _event_watermarks(work.audit, events, before, lateness))
                after_batch(decoded_events.rows, decoded_events.dead_letters, len(events))
        decided(engine.end(), [])
        ordered.close()
    summary.raw_alarms = engine.raw_alarms
    summary.duplicates = engine.classifier.duplicates
    summary.late_events = engine.classifier.late_events
    summary.seconds = time.perf_counter() - started
    if summary.dead_letters:
        logger.warning(
            "%d lines were not valid events; they are in %s with the reason for each",
            summary.dead_letters,
            deadletter_path,
        )
    return summary


def _event_watermarks(
    audit: list[AuditRecord], events: list[Event], watermark: float, lateness: float
) -> list[float]:
    """As :func:`_arrival_watermarks`, for a batch given as events (the reference's)."""
    position = {id(event): i for i, event in enumerate(events)}
    peaks = list(accumulate((event.ts for event in events), max))
    result = []
    for record in audit:
        if record.room is None and record.event is not None:
            i = position.get(id(record.event))
            at = record.event.ts if i is None else max(watermark, peaks[i] - lateness)
            result.append(at)
    return result


def _arrival_watermarks(
    audit: list[AuditRecord], columns: EventColumns, watermark: float, fast: FastClassifier
) -> list[float]:
    """The watermark at the arrival of each redelivery whose audit record ``audit`` holds
    (``watermark``: the one before the batch).

    The records come in arrival order; each is matched, from the last one back, with the last
    event of the batch that has its id, time and device and is not matched yet (an event's
    first delivery comes before its redeliveries)."""
    watermarks = np.maximum.accumulate(columns.ts) - fast.lateness
    np.maximum(watermarks, watermark, out=watermarks)
    roomless = [r for r in audit if r.room is None and r.event is not None]
    ids = columns.ids.tolist() if columns.ids is not None else []
    wanted = {r.event.id for r in roomless if r.event is not None}
    where: dict[str | None, list[int]] = {}
    for i, event_id in enumerate(ids):
        if event_id in wanted:
            where.setdefault(event_id, []).append(i)
    keys = fast.registry.device_keys
    result: list[float] = []
    for record in reversed(roomless):
        event = record.event
        assert event is not None  # noqa: S101 - filtered above
        place = (event.site, event.room, event.kind, event.device)
        found: float | None = None
        candidates = where.get(event.id, [])
        for n in range(len(candidates) - 1, -1, -1):
            i = candidates[n]
            if float(columns.ts[i]) == event.ts and keys[int(columns.device[i])] == place:
                found = float(watermarks[i])
                del candidates[n]
                break
        result.append(event.ts if found is None else found)
    result.reverse()
    return result


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
        type=duration_argument,
        default=MAX_LATENESS,
        metavar="DURATION",
        help=f"how late an event may arrive and still be decided in order: a duration, seconds "
        f"or e.g. 2s, 1m (see {DURATION_GUIDE}; default {format_duration(MAX_LATENESS)})",
    )
    parser.add_argument(
        "--classifier",
        choices=CLASSIFIERS,
        default="fast",
        help="fast: the compiled core, a batch of events at a time (default); reference: the "
        "pure-Python twin, an event at a time (slow; the same pages)",
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
            classifier=args.classifier,
        )
    except RecordingError as error:
        print(f"sensorhub replay: {error}", file=sys.stderr)
        return 2
    if not args.quiet:
        for text in summary.lines_of_text():
            print(text)
    return 0
