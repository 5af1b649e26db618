"""Convert a recording between JSONL (.jsonl, .jsonl.gz) and Parquet (.parquet), by suffix.

The recording is read and written in chunks, so a year of data needs no more memory than a
night. Every event is checked as replay checks it: a line (or row) that is not a valid event is
not converted but written to the dead-letter file with the reason, as replay does, and counted.

JSONL to Parquet keeps every field: ts, site, room, kind, device, event, id, confidence and value
get columns of their own, every other field goes, as JSON, to the column 'extra'. An RFC 3339
time becomes Unix seconds; a confidence keeps 7 significant digits (float32). Parquet to JSONL
writes one payload per line, with the unknown fields back in place. The output is written to a
temporary file beside OUT and renamed when complete, so OUT is never half written.

Examples:
  sensorhub convert 2026-11.jsonl.gz 2026-11.parquet
  sensorhub convert 2026-11.parquet 2026-11.jsonl.gz
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, cast

from sensorhub.codec.columnar import ParquetRecording
from sensorhub.codec.lines import read_events
from sensorhub.codec.parquet import (
    ROW_GROUP_SIZE,
    ParquetRecordingWriter,
    RecordingError,
    is_parquet,
    payload_line,
)
from sensorhub.codec.rows import RowBatch
from sensorhub.commands.replay import DeadLetterFile

logger = logging.getLogger(__name__)

PROGRESS_EVERY: Final = 2.0  # seconds of wall time between progress lines
#: Bytes of a JSONL recording decoded per batch (about 4k lines: their Event objects, about
#: 1 KB each, are what a conversion holds)
JSONL_BLOCK_BYTES: Final = 1 << 19
_JSONL_SUFFIXES: Final = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")


class ConvertError(Exception):
    """The conversion cannot be done as asked; the message says what to change."""


@dataclass
class ConvertSummary:
    """What a conversion read and wrote."""

    rows: int = 0  # lines of a JSONL input (not counting blank ones), rows of a Parquet input
    events: int = 0
    dead_letters: int = 0
    confidences_rounded: int = 0
    seconds: float = 0.0
    output_bytes: int = 0
    deadletter_path: Path | None = None

    def lines_of_text(self, source: Path, target: Path) -> list[str]:
        rate = self.events / self.seconds if self.seconds > 0 else 0.0
        what = "lines" if not is_parquet(source) else "rows"
        where = (
            f" (in {self.deadletter_path}, with the reason for each)" if self.dead_letters else ""
        )
        text = [
            f"converted     {self.events} events of {self.rows} {what} of {source}",
            f"dead letters  {self.dead_letters}{where}",
            f"wrote         {target} ({self.output_bytes / 1e6:,.1f} MB)",
            f"took          {self.seconds:.2f} s ({rate:,.0f} events/s)",
        ]
        if self.confidences_rounded:
            text.append(
                f"note          {self.confidences_rounded} confidences had more than 7 "
                "significant digits and were rounded to float32"
            )
        return text


def recording_format(path: Path) -> str:
    """ "parquet" or "jsonl" by the suffix of ``path``; ConvertError for anything else."""
    if is_parquet(path):
        return "parquet"
    if path.name.lower().endswith(_JSONL_SUFFIXES):
        return "jsonl"
    raise ConvertError(
        f"cannot tell the format of {path} by its name: use .parquet for Parquet and .jsonl "
        "or .jsonl.gz for JSONL"
    )


def default_deadletter_path(target: Path) -> Path:
    """OUT.deadletter.jsonl beside OUT (its format suffixes taken off)."""
    name = target.name
    for suffix in (".gz", *_JSONL_SUFFIXES, ".parquet", ".parq", ".pq"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return target.with_name(name + ".deadletter.jsonl")


def convert(
    source: Path,
    target: Path,
    *,
    deadletter_path: Path | None = None,
    row_group_size: int = ROW_GROUP_SIZE,
    progress: Callable[[ConvertSummary], None] | None = None,
) -> ConvertSummary:
    """Convert ``source`` to ``target`` (formats by suffix); ConvertError or RecordingError if
    it cannot be done. Bad input goes to ``deadletter_path`` (default: beside ``target``)."""
    source_format, target_format = recording_format(source), recording_format(target)
    if source_format == target_format:
        raise ConvertError(
            f"{source} and {target} are both {source_format.upper()}: convert converts between "
            "JSONL (.jsonl, .jsonl.gz) and Parquet (.parquet)"
        )
    if not source.is_file():
        raise ConvertError(f"no such recording: {source}")
    if target.exists() and source.resolve() == target.resolve():
        raise ConvertError("IN and OUT are the same file")
    if deadletter_path is None:
        deadletter_path = default_deadletter_path(target)
    summary = ConvertSummary(deadletter_path=deadletter_path)
    started = time.perf_counter()
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    with DeadLetterFile(deadletter_path) as dead:
        last_progress = started

        def tick() -> None:
            nonlocal last_progress
            now = time.perf_counter()
            if progress is not None and now - last_progress >= PROGRESS_EVERY:
                last_progress = now
                summary.seconds = now - started
                progress(summary)

        try:
            if source_format == "jsonl":
                _jsonl_to_parquet(
                    source, partial, summary, dead, tick, row_group_size=row_group_size
                )
            else:
                gzipped = target.name.lower().endswith(".gz")
                _parquet_to_jsonl(source, partial, summary, dead, tick, gzipped=gzipped)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    partial.replace(target)
    summary.output_bytes = target.stat().st_size
    summary.seconds = time.perf_counter() - started
    if summary.dead_letters:
        logger.warning(
            "%d %s were not valid events; they are in %s with the reason for each",
            summary.dead_letters,
            "rows" if source_format == "parquet" else "lines",
            deadletter_path,
        )
    return summary


def _jsonl_to_parquet(
    source: Path,
    target: Path,
    summary: ConvertSummary,
    dead: DeadLetterFile,
    tick: Callable[[], None],
    *,
    row_group_size: int,
) -> None:
    with ParquetRecordingWriter(target, row_group_size=row_group_size) as writer:
        for batch in read_events(source, block_bytes=JSONL_BLOCK_BYTES):
            summary.rows += batch.rows
            for letter in batch.dead_letters:
                dead.write(letter)
            summary.dead_letters = dead.count
            events = batch.events
            summary.events += len(events)
            for event in events:
                writer.write(event)
            tick()
    summary.confidences_rounded = writer.confidences_rounded


def _parquet_to_jsonl(
    source: Path,
    target: Path,
    summary: ConvertSummary,
    dead: DeadLetterFile,
    tick: Callable[[], None],
    *,
    gzipped: bool,
) -> None:
    with ExitStack() as files:
        recording = files.enter_context(ParquetRecording(source))
        raw = files.enter_context(target.open("wb"))
        if gzipped:
            # mtime=0: the same recording gives the same bytes
            stream: IO[bytes] = files.enter_context(
                cast(IO[bytes], gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0))
            )
        else:
            stream = raw
        for batch in map(RowBatch.decoded_events, recording.batches()):
            summary.rows += batch.rows
            for letter in batch.dead_letters:
                dead.write(letter)
            summary.dead_letters = dead.count
            events = batch.events
            summary.events += len(events)
            text = "\n".join(payload_line(event) for event in events)
            if text:
                stream.write(text.encode("utf-8") + b"\n")
            tick()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, metavar="IN", help="recording to read")
    parser.add_argument("target", type=Path, metavar="OUT", help="recording to write")
    parser.add_argument(
        "--deadletter",
        type=Path,
        metavar="FILE",
        help="write bad lines/rows here (default: beside OUT, as OUT.deadletter.jsonl)",
    )
    parser.add_argument(
        "--row-group-size",
        type=int,
        default=ROW_GROUP_SIZE,
        metavar="ROWS",
        help=f"rows per Parquet row group (default {ROW_GROUP_SIZE})",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress or summary output")


def run(args: argparse.Namespace) -> int:
    if args.row_group_size < 1:
        print("sensorhub convert: --row-group-size must be at least 1", file=sys.stderr)
        return 2

    def progress(summary: ConvertSummary) -> None:
        print(
            f"... {summary.rows:,} {'rows' if is_parquet(args.source) else 'lines'}, "
            f"{summary.rows / summary.seconds:,.0f}/s",
            file=sys.stderr,
        )

    try:
        summary = convert(
            args.source,
            args.target,
            deadletter_path=args.deadletter,
            row_group_size=args.row_group_size,
            progress=None if args.quiet else progress,
        )
    except (ConvertError, RecordingError) as error:
        print(f"sensorhub convert: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(
            f"sensorhub convert: {error.filename or ''}: {error.strerror or error}",
            file=sys.stderr,
        )
        return 2
    if not args.quiet:
        for text in summary.lines_of_text(args.source, args.target):
            print(text)
    return 0
