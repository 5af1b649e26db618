"""Replay recordings through two rule files and show what the change does, before it goes live.

  sensorhub rules compare OLD.yaml NEW.yaml RECORDING... [--truth TRUTH.json] [--png FILE]
  sensorhub rules compare --pages LIVE.jsonl SHADOW.jsonl [--audit LIVE.audit SHADOW.audit]

Each RECORDING (.jsonl, .jsonl.gz or .parquet, as `sensorhub replay` reads them) is replayed
through OLD and through NEW, with routing and escalation as `serve` does. Printed:

- the reactions (care pages with escalation 0) of each per night and per incident kind;
- every page only one of them sends (time, room, kind, escalation, recipient), with why the
  other did not page: that it sends the same page up to an hour earlier or later (and when),
  or its audit's decision on that room then (a recording whose pages differ is replayed once
  more through the side that did not send them, with the audit of the rooms that differ);
- with --truth (a simulator's STEM.truth.json; the census beside it, if any), the recall and
  the misses of each: the incidents NEW misses that OLD caught, those NEW catches that OLD
  missed, and those both miss.

With --pages the two sides are two page files instead (one contract page per line, or a
capture of {"topic", "payload"} lines, as `sensorhub evaluate` reads), e.g. a night of live
pages and of a shadow's (LIVE is reported as OLD, SHADOW as NEW); --audit gives their audit
files (JSONL, as `serve --audit` and `replay --audit` write) for the reasons, and --rules the
rule file whose time zones count the nights (default: the shipped reference policy's).

exit status:
  0  compared (and no --fail-on-... condition was met)
  1  --fail-on-new-miss: NEW misses an incident of the truth that OLD caught (without --truth:
     NEW drops a reaction OLD sends, or sends it later); or --fail-on-more-reactions PCT: NEW
     sends more than PCT percent more reactions than OLD
  2  bad input: a rule file with mistakes (each at FILE:LINE), a recording, page, audit or
     truth file that cannot be read
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensorhub.codec.formats import RecordingError
from sensorhub.commands.evaluate import InputError, load_census, load_pages, load_truth
from sensorhub.commands.replay import ReplaySummary, replay
from sensorhub.contract import Page
from sensorhub.evaluation.compare import Comparison, Side, compare, only_in
from sensorhub.evaluation.compare_report import render_comparison
from sensorhub.evaluation.truth import ConventionalAlarm, GroundTruth, sibling
from sensorhub.rules import RuleFileError, load_policy
from sensorhub.rules.policy import Policy

OK, FAILED, BAD_INPUT = 0, 1, 2
_PROGRAM = "sensorhub rules compare"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="*",
        type=Path,
        metavar="OLD NEW RECORDING",
        help="the rule file in use, the changed one, and one or more recordings "
        "(.jsonl, .jsonl.gz, .parquet)",
    )
    parser.add_argument(
        "--pages",
        nargs=2,
        type=Path,
        metavar=("LIVE", "SHADOW"),
        help="compare two page files (JSONL of pages) instead of replaying rule files",
    )
    parser.add_argument(
        "--audit",
        nargs=2,
        type=Path,
        metavar=("LIVE", "SHADOW"),
        help="with --pages: the audit files of the two, for why the other did not page",
    )
    parser.add_argument(
        "--rules",
        type=Path,
        help="with --pages: the rule file whose time zones count the nights (default: the "
        "shipped reference policy)",
    )
    parser.add_argument("--truth", type=Path, help="ground truth (STEM.truth.json): recall, misses")
    parser.add_argument(
        "--census",
        type=Path,
        help="conventional alarms, JSONL (default: STEM.census.jsonl next to the truth, if any)",
    )
    parser.add_argument("--png", type=Path, metavar="FILE", help="draw the comparison here (PNG)")
    parser.add_argument(
        "--fail-on-new-miss",
        action="store_true",
        help="exit 1 when NEW misses an incident of the truth OLD caught (without --truth: "
        "when NEW drops a reaction OLD sends, or sends it later)",
    )
    parser.add_argument(
        "--fail-on-more-reactions",
        type=float,
        metavar="PCT",
        help="exit 1 when NEW sends more than PCT percent more reactions than OLD",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    say: Callable[[str], None] = (
        (lambda _: None) if args.quiet else (lambda text: print(text, file=sys.stderr))
    )
    try:
        comparison = _compare(args, say)
    except _BadInputError as error:
        print(f"{_PROGRAM}: {error}", file=sys.stderr)
        return BAD_INPUT
    print(render_comparison(comparison))
    if args.png is not None:
        from sensorhub.evaluation.compare_plot import render_comparison_png  # noqa: PLC0415

        try:
            render_comparison_png(comparison, args.png)
        except OSError as error:
            print(f"{_PROGRAM}: {args.png}: cannot be written: {error}", file=sys.stderr)
            return BAD_INPUT
        say(f"wrote {args.png}")
    return _verdict(args, comparison)


class _BadInputError(Exception):
    """Input that cannot be compared; the message says which file and what is wrong."""


def _verdict(args: argparse.Namespace, c: Comparison) -> int:
    failed = []
    if args.fail_on_new_miss and c.new_miss_count:
        what = "incidents OLD caught" if c.has_truth else "reactions OLD sends"
        failed.append(f"NEW misses {c.new_miss_count} {what}")
    limit = args.fail_on_more_reactions
    if limit is not None and c.more_reactions > limit:
        failed.append(
            f"NEW sends {c.new_reactions} reactions against OLD's {c.old_reactions}, more "
            f"than {limit:g}% more"
        )
    for reason in failed:
        print(f"{_PROGRAM}: FAILED: {reason}", file=sys.stderr)
    return FAILED if failed else OK


def _compare(args: argparse.Namespace, say: Callable[[str], None]) -> Comparison:
    truth, census = _truth(args.truth, args.census)
    if args.pages is not None:
        if args.inputs:
            raise _BadInputError(
                "give either OLD NEW RECORDING... or --pages LIVE SHADOW, not both"
            )
        policy = _policy(args.rules)
        live, shadow = args.pages
        audits = args.audit or (None, None)
        old = Side(str(live), _pages(live), _audit(audits[0]) if audits[0] else None)
        new = Side(str(shadow), _pages(shadow), _audit(audits[1]) if audits[1] else None)
    else:
        if len(args.inputs) < 3:
            raise _BadInputError(
                "give OLD NEW RECORDING... (two rule files, at least one recording)"
            )
        if args.audit is not None or args.rules is not None:
            raise _BadInputError("--audit and --rules go with --pages only")
        old_path, new_path, *recordings = args.inputs
        policy = _policy(old_path)
        replays = _Replays(recordings, say)
        old, new = replays.sides(str(old_path), policy, str(new_path), _policy(new_path))
    return compare(
        old,
        new,
        timezone_of=lambda site: policy.staff(site).timezone,
        truth=truth,
        census=census,
    )


def _policy(path: Path | None) -> Policy:
    try:
        return load_policy(path)
    except RuleFileError as error:
        if error.unreadable:
            raise _BadInputError(str(error)) from None
        raise _BadInputError(f"the rule file {path} has mistakes:\n{error}") from None


def _pages(path: Path) -> list[Page]:
    try:
        return load_pages(path)[0]
    except InputError as error:
        raise _BadInputError(str(error)) from None


def _audit(path: Path) -> list[dict[str, Any]]:
    """The entries of an audit file (JSON objects, one a line); a line that is not one is an
    error naming the line."""
    entries = []
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except ValueError as error:
                    raise _BadInputError(f"{path}:{number}: not a JSON object ({error})") from None
                if not isinstance(entry, dict):
                    raise _BadInputError(f"{path}:{number}: not a JSON object (an audit entry)")
                entries.append(entry)
    except UnicodeDecodeError:
        raise _BadInputError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise _BadInputError(f"{path}: cannot be read: {error.strerror or error}") from None
    return entries


def _truth(
    path: Path | None, census_path: Path | None
) -> tuple[GroundTruth | None, list[ConventionalAlarm]]:
    if path is None:
        if census_path is not None:
            raise _BadInputError("--census goes with --truth")
        return None, []
    try:
        truth = load_truth(path)
        if census_path is None:
            census_path = sibling(path, ".census.jsonl")
            if not census_path.exists():
                return truth, []
        return truth, load_census(census_path)
    except InputError as error:
        raise _BadInputError(str(error)) from None


@dataclass
class _Replays:
    """The recordings replayed through each rule file, in a scratch folder of their own."""

    recordings: Sequence[Path]
    say: Callable[[str], None]

    def sides(
        self, old: str, old_policy: Policy, new: str, new_policy: Policy
    ) -> tuple[Side, Side]:
        """Both sides: their pages (each recording replayed through each rule file), then
        the audit of the rooms where they differ, of the recordings where they differ (a
        second replay of those, with those rooms' audit only)."""
        for recording in self.recordings:
            if not recording.is_file():
                raise _BadInputError(f"{recording}: no such recording (or not a file)")
        pages: dict[str, list[Page]] = {"OLD": [], "NEW": []}
        audit: dict[str, list[dict[str, Any]]] = {"OLD": [], "NEW": []}
        policies = {"OLD": old_policy, "NEW": new_policy}
        with tempfile.TemporaryDirectory(prefix="sensorhub-compare-") as scratch:
            folder = Path(scratch)
            for n, recording in enumerate(self.recordings):
                got = {
                    name: self._pages(recording, policy, folder / f"{name}-{n}", name)
                    for name, policy in policies.items()
                }
                # OLD's audit says why OLD did not send what only NEW sends, and the other way
                for name, other in (("OLD", "NEW"), ("NEW", "OLD")):
                    pages[name].extend(got[name])
                    rooms = {(p.site, p.room) for p in only_in(got[other], got[name])}
                    if rooms:
                        stem = folder / f"{name}-{n}"
                        audit[name].extend(
                            self._audit(recording, policies[name], stem, name, rooms)
                        )
        return Side(old, pages["OLD"], audit["OLD"]), Side(new, pages["NEW"], audit["NEW"])

    def _pages(self, recording: Path, policy: Policy, stem: Path, name: str) -> list[Page]:
        pages = stem.with_suffix(".pages.jsonl")
        summary = self._replay(recording, policy, pages, name)
        if summary.dead_letters and name == "OLD":
            self.say(
                f"{recording}: {summary.dead_letters} lines are not valid events and were left "
                "out (`sensorhub replay` writes them to a dead-letter file)"
            )
        return _pages(pages)

    def _audit(
        self,
        recording: Path,
        policy: Policy,
        stem: Path,
        name: str,
        rooms: Collection[tuple[str, str]],
    ) -> list[dict[str, Any]]:
        audit = stem.with_suffix(".audit.jsonl")
        what = f"{name}, the audit of {_rooms(rooms)}"
        self._replay(
            recording, policy, stem.with_suffix(".again.jsonl"), what, audit=audit, rooms=rooms
        )
        return _audit(audit)

    def _replay(
        self,
        recording: Path,
        policy: Policy,
        pages: Path,
        what: str,
        *,
        audit: Path | None = None,
        rooms: Collection[tuple[str, str]] | None = None,
    ) -> ReplaySummary:
        self.say(f"replaying {recording} through {what} ...")

        def progress(summary: ReplaySummary) -> None:
            self.say(
                f"... {summary.lines:,} lines, {summary.events / summary.seconds:,.0f} events/s"
            )

        try:
            with _quiet_replay():
                return replay(
                    recording,
                    policy,
                    pages,
                    audit_path=audit,
                    deadletter_path=pages.with_suffix(".deadletter.jsonl"),
                    progress=progress,
                    audit_rooms=rooms,
                )
        except RecordingError as error:
            raise _BadInputError(str(error)) from None
        except (OSError, EOFError) as error:
            raise _BadInputError(f"{recording}: cannot be read: {error}") from None


def _rooms(rooms: Collection[tuple[str, str]]) -> str:
    if len(rooms) == 1:
        site, room = next(iter(rooms))
        return f"room {room} of {site}"
    return f"{len(rooms)} rooms"


@contextmanager
def _quiet_replay() -> Iterator[None]:
    """Replay's warning of dead letters names a scratch file that is gone when the comparison
    ends: it is said once, above, instead."""
    logger = logging.getLogger("sensorhub.commands.replay")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
