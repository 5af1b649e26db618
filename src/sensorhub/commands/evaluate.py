"""Evaluate the pages sensorhub sent against the ground truth of a (simulated) site.

TRUTH is a STEM.truth.json written by the site simulator: every actionable incident with its
room, kind, start and deadline, and every episode of ward life. PAGES is the JSONL that
`sensorhub replay --pages` wrote, or a capture of a live `serve` (one page object per line, or
one {"topic": ..., "payload": <page>} per line). The census of a conventional system is read
from STEM.census.jsonl next to the truth unless --census says otherwise.

Reported: conventional alarms, reactions (care pages with escalation 0), the reduction and the
best reduction possible (one reaction per incident), recall per incident kind within its
deadline, every missed or late incident, needless reactions with what caused them, latency
percentiles per kind, technical recall, technical pages sent to care staff, and all of it per
night. docs/research.md explains every figure and the JSON keys.

Exit status: 0 when the evaluation ran, 2 for unreadable input, and with --fail-on-miss 1 when
an actionable incident was missed or late or a technical page went to care staff.

Example:
  sensorhub replay site.jsonl.gz --pages pages.jsonl
  sensorhub evaluate site.truth.json pages.jsonl --png report.png --json report.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError

from sensorhub.contract import PAGES_TOPIC, Page
from sensorhub.evaluation.plot import render_png
from sensorhub.evaluation.report import render_table
from sensorhub.evaluation.scoring import evaluate
from sensorhub.evaluation.truth import ConventionalAlarm, GroundTruth, sibling


class InputError(Exception):
    """Unreadable input: the message names the file, the line and what is wrong."""


# --- reading the input --------------------------------------------------------------------------


def _describe(error: ValidationError, limit: int = 3) -> str:
    """A pydantic error as a sentence: which field, what is wrong, what was there."""
    parts = []
    for item in error.errors()[:limit]:
        where = ""
        for step in item["loc"]:
            where += f"[{step}]" if isinstance(step, int) else (f".{step}" if where else str(step))
        text = item["msg"]
        if item["type"] != "missing" and "input" in item:
            shown = json.dumps(item["input"], default=str)
            text += f" (got {shown[:60]}{'...' if len(shown) > 60 else ''})"
        parts.append(f"{where or 'the object'}: {text}")
    more = error.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _open_text(path: Path) -> BinaryIO:
    try:
        if path.suffix == ".gz":
            return cast(BinaryIO, gzip.open(path, "rb"))
        return path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as error:
        raise InputError(f"{path}: cannot be read: {error.strerror or error}") from None


def _json_lines(path: Path, what: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) of every non-blank line, or an InputError naming the line."""
    with _open_text(path) as stream:
        try:
            for number, raw in enumerate(stream, start=1):
                if not raw.strip():
                    continue
                try:
                    yield number, json.loads(raw)
                except UnicodeDecodeError:
                    raise InputError(f"{path}:{number}: not UTF-8 text") from None
                except json.JSONDecodeError as error:
                    raise InputError(
                        f"{path}:{number}: not a JSON object ({error.msg} at column "
                        f"{error.colno}); expected one {what} per line"
                    ) from None
        except (OSError, EOFError) as error:
            raise InputError(f"{path}: cannot be read: {error}") from None


M = TypeVar("M", bound=BaseModel)


def _validate(model: type[M], value: Any, where: str, what: str) -> M:
    if not isinstance(value, dict):
        raise InputError(f"{where}: expected {what} (a JSON object), got {type(value).__name__}")
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise InputError(f"{where}: not {what}: {_describe(error)}") from None


def load_truth(path: Path) -> GroundTruth:
    """Read a STEM.truth.json, or raise InputError saying where and what is wrong."""
    with _open_text(path) as stream:
        data = stream.read()
    try:
        value = json.loads(data)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise InputError(
            f"{path}:{error.lineno}: not valid JSON ({error.msg} at column {error.colno})"
        ) from None
    truth = _validate(GroundTruth, value, str(path), "a ground truth (STEM.truth.json)")
    try:
        ZoneInfo(truth.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"{path}: timezone {truth.timezone!r} is not a known IANA time zone "
            "(e.g. Europe/Amsterdam)"
        ) from None
    return truth


def load_pages(path: Path) -> tuple[list[Page], int]:
    """Pages from a replay's --pages file or a capture of ``{"topic", "payload"}`` lines.

    Returns the pages and how many captured messages were not pages (other topics).
    """
    pages: list[Page] = []
    skipped = 0
    for number, value in _json_lines(path, "page"):
        where = f"{path}:{number}"
        page: Any = value
        if isinstance(value, dict) and "payload" in value and "page_id" not in value:
            topic = value.get("topic")
            if isinstance(topic, str) and not topic.startswith(PAGES_TOPIC + "/"):
                skipped += 1
                continue
            page = value["payload"]
            if isinstance(page, str):
                try:
                    page = json.loads(page)
                except json.JSONDecodeError as error:
                    raise InputError(
                        f"{where}: the captured payload is not JSON ({error.msg})"
                    ) from None
        pages.append(_validate(Page, page, where, "a page"))
    return pages, skipped


def load_census(path: Path) -> list[ConventionalAlarm]:
    """Read a STEM.census.jsonl, or raise InputError naming the line."""
    return [
        _validate(ConventionalAlarm, value, f"{path}:{number}", "a conventional alarm")
        for number, value in _json_lines(path, "conventional alarm")
    ]


# --- the command --------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("truth", type=Path, metavar="TRUTH", help="ground truth: STEM.truth.json")
    parser.add_argument(
        "pages",
        type=Path,
        metavar="PAGES",
        help="pages: JSONL from replay --pages, or a capture of a live serve",
    )
    parser.add_argument(
        "--census",
        type=Path,
        help="conventional alarms, JSONL (default: STEM.census.jsonl next to the truth)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the JSON report here")
    parser.add_argument(
        "--png", type=Path, metavar="REPORT.png", help="write a report picture (PNG) here"
    )
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="what to print on stdout: a table (default) or the JSON report",
    )
    parser.add_argument(
        "--fail-on-miss",
        action="store_true",
        help="exit 1 when an actionable incident was missed or late, or a technical page went "
        "to care staff (for CI of rule changes)",
    )


def _error(message: str) -> int:
    print(f"sensorhub evaluate: {message}", file=sys.stderr)
    return 2


def _census_path(truth: Path, given: Path | None) -> Path:
    if given is not None:
        return given
    path = sibling(truth, ".census.jsonl")
    if not path.exists():
        raise InputError(f"{path}: no census next to the truth; give its path with --census")
    return path


def run(args: argparse.Namespace) -> int:
    try:
        truth = load_truth(args.truth)
        pages, skipped = load_pages(args.pages)
        census = load_census(_census_path(args.truth, args.census))
    except InputError as error:
        return _error(str(error))
    evaluation = evaluate(truth, pages, census)
    document = evaluation.to_json()
    notes = sys.stderr if args.format == "json" else sys.stdout
    try:
        if args.json is not None:
            args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        if args.png is not None:
            render_png(evaluation, args.png)
    except OSError as error:
        return _error(f"{error.filename}: cannot be written: {error.strerror or error}")
    if args.format == "json":
        print(json.dumps(document, indent=2))
    else:
        print(render_table(evaluation))
    if skipped:
        print(f"({skipped} captured messages on other topics than pages left out)", file=notes)
    for written in (args.json, args.png):
        if written is not None:
            print(f"wrote {written}", file=notes)
    if args.fail_on_miss and not evaluation.passed:
        print(
            f"sensorhub evaluate: FAILED: {len(evaluation.missed)} missed, "
            f"{len(evaluation.late)} late, {len(evaluation.care_leaks)} technical pages to care",
            file=sys.stderr,
        )
        return 1
    return 0
