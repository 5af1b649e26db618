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
import math
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Literal, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError

from sensorhub.contract import INCIDENT_KINDS, PAGES_TOPIC, IncidentKind, Page, reduction
from sensorhub.evaluation.truth import (
    DEADLINES,
    ConventionalAlarm,
    Episode,
    GroundTruth,
    TruthIncident,
    sibling,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: A page may be decided up to this long before the incident's recorded start (rounding of
#: event times, evidence that arrived a moment early) and still count for it.
EARLY_SLACK: Final = 1.0
#: A page of the right room and kind after the deadline counts as *late* (not needless) if it
#: comes before the incident's episode ended, or within this many seconds of the deadline.
LATE_WINDOW: Final = 600.0
#: Version of the JSON report; bumped only when a key changes meaning or disappears.
JSON_VERSION: Final = 1
#: A page decided before this local hour belongs to the night that started the day before.
NIGHT_CUTOFF_HOUR: Final = 12
#: What a needless reaction is attributed to when no episode of its room was going on.
NOTHING_SCRIPTED: Final = "nothing scripted"
PERCENTILES: Final = (50, 90, 99)
#: How many needless reactions the terminal table lists one by one (the JSON has all).
NEEDLESS_LISTED: Final = 30

Status = Literal["caught", "late", "missed"]


class InputError(Exception):
    """Unreadable input: the message names the file, the line and what is wrong."""


# --- the evaluation -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one actionable incident of the truth."""

    incident: TruthIncident
    status: Status
    page: Page | None = None

    @property
    def latency(self) -> float | None:
        """Seconds from the incident's start to the page that answered it (late ones too)."""
        return None if self.page is None else self.page.ts - self.incident.start

    @property
    def late_by(self) -> float | None:
        return None if self.page is None else max(0.0, self.page.ts - self.incident.deadline)


@dataclass(frozen=True, slots=True)
class Needless:
    """A reaction that answered no actionable incident, and the ward life it was part of."""

    page: Page
    night: str
    cause: str
    episodes: tuple[int, ...]
    #: the episode it overlaps already had its incident of this kind paged
    duplicate: bool


@dataclass(frozen=True, slots=True)
class CareLeak:
    """A technical page that reached care staff."""

    page: Page
    reason: str


@dataclass(frozen=True, slots=True)
class KindFigures:
    """Recall and latency of one incident kind."""

    kind: IncidentKind
    audience: str
    incidents: int
    caught: int
    late: int
    missed: int
    #: the page-by allowance (deadline - start) of this kind: (smallest, largest) in the truth
    deadline: tuple[float, float]
    #: latency (page ts - start) of every answered incident, late ones included, sorted
    latencies: tuple[float, ...]
    #: first pages of this kind (reactions; for device faults first technical pages)
    pages: int
    #: of those, the ones that answered no incident
    needless: int

    @property
    def recall(self) -> float | None:
        """caught within the deadline / incidents; None when there were no incidents."""
        return self.caught / self.incidents if self.incidents else None

    def latency(self, percentile: float) -> float | None:
        return percentile_of(self.latencies, percentile)


@dataclass(frozen=True, slots=True)
class NightFigures:
    night: str
    conventional_alarms: int
    reactions: int
    incidents: int
    not_caught: int

    @property
    def reduction(self) -> float | None:
        return _reduction(self.reactions, self.conventional_alarms)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything ``sensorhub evaluate`` reports; ``to_json`` gives its documented JSON form."""

    site: str
    timezone: str
    nights: tuple[str, ...]
    rooms: int
    conventional_alarms: int
    reactions: int
    pages_total: int
    technical_pages: int
    duplicate_pages: int
    other_site_pages: int
    care: tuple[Outcome, ...]
    technical: tuple[Outcome, ...]
    needless: tuple[Needless, ...]
    technical_needless: int
    care_leaks: tuple[CareLeak, ...]
    by_kind: tuple[KindFigures, ...]
    per_night: tuple[NightFigures, ...]

    @property
    def care_incidents(self) -> int:
        return len(self.care)

    @property
    def reduction(self) -> float | None:
        """1 - reactions / conventional alarms."""
        return _reduction(self.reactions, self.conventional_alarms)

    @property
    def best_possible_reduction(self) -> float | None:
        """1 - care incidents / conventional alarms: one reaction per incident and no more."""
        return _reduction(self.care_incidents, self.conventional_alarms)

    @property
    def recall(self) -> float | None:
        return _share(self.care)

    @property
    def technical_recall(self) -> float | None:
        return _share(self.technical)

    @property
    def missed(self) -> tuple[Outcome, ...]:
        """Actionable incidents (care and technical) that got no page at all."""
        return tuple(o for o in (*self.care, *self.technical) if o.status == "missed")

    @property
    def late(self) -> tuple[Outcome, ...]:
        """Actionable incidents paged only after their deadline (they count as missed)."""
        return tuple(o for o in (*self.care, *self.technical) if o.status == "late")

    @property
    def passed(self) -> bool:
        """Nothing missed, nothing late, no technical page to care staff."""
        return not self.missed and not self.late and not self.care_leaks

    def needless_by_cause(self) -> list[tuple[str, int]]:
        counts = Counter(n.cause for n in self.needless)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def local_time(self, ts: float) -> str:
        return local_time(ts, self.timezone)

    def to_json(self) -> dict[str, Any]:
        """The JSON report: keys are documented in docs/research.md and kept stable."""
        return {
            "version": JSON_VERSION,
            "site": self.site,
            "timezone": self.timezone,
            "nights": list(self.nights),
            "rooms": self.rooms,
            "conventional_alarms": self.conventional_alarms,
            "reactions": self.reactions,
            "reduction": _round(self.reduction),
            "care_incidents": self.care_incidents,
            "best_possible_reduction": _round(self.best_possible_reduction),
            "recall": _round(self.recall),
            "technical_recall": _round(self.technical_recall),
            "passed": self.passed,
            "pages": {
                "total": self.pages_total,
                "reactions": self.reactions,
                "technical": self.technical_pages,
                "duplicates_ignored": self.duplicate_pages,
                "other_site_ignored": self.other_site_pages,
            },
            "by_kind": {figures.kind: self._kind_json(figures) for figures in self.by_kind},
            "missed": [self._outcome_json(o) for o in self.missed],
            "late": [self._outcome_json(o) for o in self.late],
            "needless": {
                "total": len(self.needless),
                "by_cause": dict(self.needless_by_cause()),
                "reactions": [
                    {
                        "page_id": n.page.page_id,
                        "room": n.page.room,
                        "kind": n.page.kind,
                        "ts": n.page.ts,
                        "local_time": self.local_time(n.page.ts),
                        "night": n.night,
                        "cause": n.cause,
                        "episodes": list(n.episodes),
                        "duplicate": n.duplicate,
                    }
                    for n in self.needless
                ],
            },
            "technical": {
                "incidents": len(self.technical),
                "caught": sum(o.status == "caught" for o in self.technical),
                "late": sum(o.status == "late" for o in self.technical),
                "missed": sum(o.status == "missed" for o in self.technical),
                "recall": _round(self.technical_recall),
                "pages": self.technical_pages,
                "needless": self.technical_needless,
            },
            "technical_pages_to_care": {
                "count": len(self.care_leaks),
                "pages": [
                    {
                        "page_id": leak.page.page_id,
                        "room": leak.page.room,
                        "kind": leak.page.kind,
                        "audience": leak.page.audience,
                        "recipient": leak.page.recipient,
                        "ts": leak.page.ts,
                        "local_time": self.local_time(leak.page.ts),
                        "reason": leak.reason,
                    }
                    for leak in self.care_leaks
                ],
            },
            "per_night": [
                {
                    "night": night.night,
                    "conventional_alarms": night.conventional_alarms,
                    "reactions": night.reactions,
                    "reduction": _round(night.reduction),
                    "incidents": night.incidents,
                    "not_caught": night.not_caught,
                }
                for night in self.per_night
            ],
        }

    @staticmethod
    def _kind_json(figures: KindFigures) -> dict[str, Any]:
        return {
            "audience": figures.audience,
            "incidents": figures.incidents,
            "caught": figures.caught,
            "late": figures.late,
            "missed": figures.missed,
            "recall": _round(figures.recall),
            "deadline_s": figures.deadline[1],
            "deadline_min_s": figures.deadline[0],
            "latency_s": {
                **{f"p{p}": _round(figures.latency(p)) for p in PERCENTILES},
                "max": _round(figures.latency(100)),
                "n": len(figures.latencies),
            },
            "pages": figures.pages,
            "needless": figures.needless,
        }

    def _outcome_json(self, outcome: Outcome) -> dict[str, Any]:
        incident = outcome.incident
        return {
            "room": incident.room,
            "kind": incident.kind,
            "audience": incident.audience,
            "night": incident.night,
            "start": incident.start,
            "local_time": self.local_time(incident.start),
            "deadline": incident.deadline,
            "episode": incident.episode,
            "device": incident.device,
            "page_id": None if outcome.page is None else outcome.page.page_id,
            "page_ts": None if outcome.page is None else outcome.page.ts,
            "late_by_s": _round(outcome.late_by),
        }


def _reduction(reactions: int, alarms: int) -> float | None:
    """:func:`sensorhub.contract.reduction`; None when there were no alarms to reduce."""
    return reduction(reactions, alarms) if alarms else None


def percentile_of(ordered: Sequence[float], percentile: float) -> float | None:
    """Nearest-rank percentile of sorted values (always one of them); None for no values."""
    if not ordered:
        return None
    rank = max(1, math.ceil(percentile / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def local_time(ts: float, timezone: str) -> str:
    """Event time as the site's wall clock, with the zone's abbreviation (CET/CEST)."""
    return datetime.fromtimestamp(ts, ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def night_of(ts: float, timezone: str) -> str:
    """The local date the night of ``ts`` started on (before noon: the day before)."""
    local = datetime.fromtimestamp(ts, ZoneInfo(timezone))
    day = local.date() if local.hour >= NIGHT_CUTOFF_HOUR else local.date() - timedelta(days=1)
    return day.isoformat()


def _share(outcomes: Sequence[Outcome]) -> float | None:
    if not outcomes:
        return None
    return sum(o.status == "caught" for o in outcomes) / len(outcomes)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


K = TypeVar("K", bound=Hashable)


def _match(
    incidents: Iterable[TruthIncident],
    pages: Iterable[Page],
    key: Callable[[TruthIncident | Page], K],
    episodes: dict[int, Episode],
) -> dict[int, Outcome]:
    """One-to-one matching of incidents to pages with the same ``key``, greedily in time order.

    First every incident takes the earliest free page in [start - 1 s, deadline]; then each
    incident still unanswered takes the earliest free page after its deadline, up to the end of
    its episode or LATE_WINDOW after the deadline, and before the next incident of the same key
    could have been paged. Returns an Outcome per ``id()`` of each incident.
    """
    page_groups: dict[K, list[Page]] = defaultdict(list)
    for page in pages:
        page_groups[key(page)].append(page)
    incident_groups: dict[K, list[TruthIncident]] = defaultdict(list)
    for incident in incidents:
        incident_groups[key(incident)].append(incident)

    outcomes: dict[int, Outcome] = {}
    for group_key, group in incident_groups.items():
        group.sort(key=lambda i: (i.start, i.deadline))
        candidates = sorted(page_groups.get(group_key, []), key=lambda p: (p.ts, p.page_id))
        used: set[str] = set()
        for incident in group:
            for page in candidates:
                if page.ts > incident.deadline:
                    break
                if page.page_id in used or page.ts < incident.start - EARLY_SLACK:
                    continue
                used.add(page.page_id)
                outcomes[id(incident)] = Outcome(incident, "caught", page)
                break
        for index, incident in enumerate(group):
            if id(incident) in outcomes:
                continue
            episode = episodes.get(incident.episode)
            limit = max(incident.deadline + LATE_WINDOW, episode.end if episode else -math.inf)
            if index + 1 < len(group):
                limit = min(limit, group[index + 1].start - EARLY_SLACK)
            late: Page | None = None
            for page in candidates:
                if page.ts > limit:
                    break
                if page.page_id not in used and page.ts > incident.deadline:
                    late = page
                    break
            if late is not None:
                used.add(late.page_id)
                outcomes[id(incident)] = Outcome(incident, "late", late)
            else:
                outcomes[id(incident)] = Outcome(incident, "missed")
    return outcomes


def _care_key(item: TruthIncident | Page) -> tuple[str, str, str]:
    return (item.site, item.room, item.kind)


def _room_key(item: TruthIncident | Page) -> tuple[str, str]:
    return (item.site, item.room)


def evaluate(
    truth: GroundTruth, pages: Iterable[Page], census: Iterable[ConventionalAlarm]
) -> Evaluation:
    """Match ``pages`` against ``truth`` and count ``census``: the whole evaluation, no I/O.

    Pages of another site are left out; a page id seen twice (a QoS 1 redelivery in a capture)
    counts once.
    """
    zone = truth.timezone
    ZoneInfo(zone)  # fail early on an unknown zone
    seen: set[str] = set()
    duplicates = other_site = 0
    kept: list[Page] = []
    for page in pages:
        if page.site != truth.site:
            other_site += 1
        elif page.page_id in seen:
            duplicates += 1
        else:
            seen.add(page.page_id)
            kept.append(page)
    reactions = [p for p in kept if p.is_reaction]
    technical_first = [p for p in kept if p.audience == "technical" and p.escalation == 0]

    episodes = {episode.id: episode for episode in truth.episodes}
    care_incidents = [i for i in truth.incidents if i.audience == "care"]
    technical_incidents = [i for i in truth.incidents if i.audience == "technical"]
    care_outcomes = _match(care_incidents, reactions, _care_key, episodes)
    technical_outcomes = _match(technical_incidents, technical_first, _room_key, episodes)

    care = tuple(
        sorted(
            (care_outcomes[id(i)] for i in care_incidents),
            key=lambda o: (o.incident.start, o.incident.room),
        )
    )
    technical = tuple(
        sorted(
            (technical_outcomes[id(i)] for i in technical_incidents),
            key=lambda o: (o.incident.start, o.incident.room),
        )
    )
    answered = {o.page.page_id for o in (*care, *technical) if o.page is not None}

    # needless reactions and what they were part of
    room_episodes: dict[tuple[str, str], list[Episode]] = defaultdict(list)
    for episode in truth.episodes:
        room_episodes[(episode.site, episode.room)].append(episode)
    paged_episodes = {(o.incident.episode, o.incident.kind) for o in care if o.page is not None}
    needless: list[Needless] = []
    for page in sorted(reactions, key=lambda p: (p.ts, p.room)):
        if page.page_id in answered:
            continue
        overlapping = [
            e
            for e in room_episodes.get((page.site, page.room), [])
            if e.start - EARLY_SLACK <= page.ts <= e.end + EARLY_SLACK
        ]
        labels = sorted({e.label for e in overlapping})
        duplicate = any((e.id, page.kind) in paged_episodes for e in overlapping)
        cause = " + ".join(labels) if labels else NOTHING_SCRIPTED
        if duplicate:
            cause += " (already paged)"
        needless.append(
            Needless(
                page=page,
                night=night_of(page.ts, zone),
                cause=cause,
                episodes=tuple(e.id for e in overlapping),
                duplicate=duplicate,
            )
        )
    technical_needless = sum(p.page_id not in answered for p in technical_first)

    # technical pages that reached care staff
    care_recipients = {
        p.recipient for p in kept if p.audience == "care" and p.kind != "device_fault"
    }
    leaks: list[CareLeak] = []
    for page in sorted(kept, key=lambda p: (p.ts, p.page_id)):
        if page.kind == "device_fault" and page.audience == "care":
            leaks.append(CareLeak(page, "a device fault paged with audience care"))
        elif page.audience == "technical" and page.recipient in care_recipients:
            leaks.append(CareLeak(page, f"recipient {page.recipient!r} also receives care pages"))

    # per kind
    needless_kinds = Counter(n.page.kind for n in needless)
    first_pages = Counter(p.kind for p in reactions) + Counter(p.kind for p in technical_first)
    outcomes_by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in (*care, *technical):
        outcomes_by_kind[outcome.incident.kind].append(outcome)
    by_kind: list[KindFigures] = []
    for kind in INCIDENT_KINDS:
        outcomes = outcomes_by_kind.get(kind, [])
        if not outcomes and not first_pages[kind]:
            continue
        allowances = [o.incident.deadline - o.incident.start for o in outcomes] or [DEADLINES[kind]]
        latencies = sorted(o.latency for o in outcomes if o.latency is not None)
        by_kind.append(
            KindFigures(
                kind=kind,
                audience="technical" if kind == "device_fault" else "care",
                incidents=len(outcomes),
                caught=sum(o.status == "caught" for o in outcomes),
                late=sum(o.status == "late" for o in outcomes),
                missed=sum(o.status == "missed" for o in outcomes),
                deadline=(min(allowances), max(allowances)),
                latencies=tuple(latencies),
                pages=first_pages[kind],
                needless=needless_kinds[kind]
                + (technical_needless if kind == "device_fault" else 0),
            )
        )

    # per night
    census_nights: Counter[str] = Counter()
    conventional = 0
    for alarm in census:
        if alarm.site == truth.site:
            census_nights[alarm.night] += 1
            conventional += 1
    reaction_nights = Counter(night_of(p.ts, zone) for p in reactions)
    incident_nights = Counter(o.incident.night for o in care)
    not_caught_nights = Counter(o.incident.night for o in care if o.status != "caught")
    nights = sorted({*truth.nights, *census_nights, *reaction_nights, *incident_nights})
    per_night = tuple(
        NightFigures(
            night=night,
            conventional_alarms=census_nights[night],
            reactions=reaction_nights[night],
            incidents=incident_nights[night],
            not_caught=not_caught_nights[night],
        )
        for night in nights
    )

    return Evaluation(
        site=truth.site,
        timezone=zone,
        nights=tuple(truth.nights),
        rooms=len(truth.rooms),
        conventional_alarms=conventional,
        reactions=len(reactions),
        pages_total=len(kept),
        technical_pages=sum(p.audience == "technical" for p in kept),
        duplicate_pages=duplicates,
        other_site_pages=other_site,
        care=care,
        technical=technical,
        needless=tuple(needless),
        technical_needless=technical_needless,
        care_leaks=tuple(leaks),
        by_kind=tuple(by_kind),
        per_night=per_night,
    )


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


# --- the terminal table -------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _deadline(bounds: tuple[float, float]) -> str:
    low, high = bounds
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"


def _nights_text(nights: Sequence[str]) -> str:
    if not nights:
        return "no nights"
    if len(nights) == 1:
        return f"1 night ({nights[0]})"
    return f"{len(nights)} nights ({nights[0]} to {nights[-1]})"


def _weekday(night: str) -> str:
    try:
        return datetime.fromisoformat(night).strftime("%a")
    except ValueError:
        return ""


def render_table(evaluation: Evaluation) -> str:
    """The evaluation as text for a terminal, 100 columns wide at most."""
    e = evaluation
    lines: list[str] = []
    add = lines.append
    nights = _nights_text(e.nights)
    add(f"site {e.site}, {e.rooms} rooms, {nights}, {e.timezone}")
    add("")
    add(f"conventional alarms  {e.conventional_alarms:>7}")
    add(f"reactions            {e.reactions:>7}   (care pages with escalation 0)")
    add(f"reduction            {_pct(e.reduction):>7}")
    add(
        f"best possible        {_pct(e.best_possible_reduction):>7}   "
        f"(one reaction for each of the {e.care_incidents} care incidents)"
    )
    caught = sum(o.status == "caught" for o in e.care)
    add(f"recall               {_ratio(e.recall):>7}   ({caught} of {e.care_incidents} in time)")
    t_caught = sum(o.status == "caught" for o in e.technical)
    add(
        f"technical recall     {_ratio(e.technical_recall):>7}   "
        f"({t_caught} of {len(e.technical)} device faults in time)"
    )
    add(
        f"technical pages to care staff {len(e.care_leaks)}"
        + ("   (must be 0)" if e.care_leaks else "")
    )
    add("")
    add(f"{'':<63}{'latency in s':^24}".rstrip())
    add(
        f"{'kind':<16}{'incidents':>10}{'caught':>7}{'late':>5}{'missed':>7}{'recall':>7}"
        f"{'deadline':>11}{'p50':>6}{'p90':>6}{'p99':>6}{'max':>6}{'needless':>10}"
    )
    for k in e.by_kind:
        add(
            f"{k.kind:<16}{k.incidents:>10}{k.caught:>7}{k.late:>5}{k.missed:>7}"
            f"{_ratio(k.recall):>7}{_deadline(k.deadline) + ' s':>11}"
            f"{_seconds(k.latency(50)):>6}{_seconds(k.latency(90)):>6}"
            f"{_seconds(k.latency(99)):>6}{_seconds(k.latency(100)):>6}{k.needless:>10}"
        )
    if not e.by_kind:
        add("(no incidents and no pages)")
    add("")
    add(
        f"{'night':<15}{'conventional':>13}{'reactions':>10}{'reduction':>10}"
        f"{'incidents':>10}{'not caught':>11}"
    )
    for row in e.per_night:
        add(
            f"{row.night + ' ' + _weekday(row.night):<15}{row.conventional_alarms:>13}"
            f"{row.reactions:>10}{_pct(row.reduction):>10}{row.incidents:>10}"
            f"{row.not_caught:>11}"
        )
    add("")
    if e.missed:
        add(f"missed incidents: {len(e.missed)}")
        for o in e.missed:
            i = o.incident
            add(f"  {e.local_time(i.start):<24}  night {i.night}  room {i.room:<6} {i.kind}")
    else:
        add("missed incidents: none")
    if e.late:
        add(f"late incidents: {len(e.late)} (paged after the deadline; they count as missed)")
        for o in e.late:
            i = o.incident
            add(
                f"  {e.local_time(i.start):<24}  night {i.night}  room {i.room:<6} {i.kind:<17}"
                f"{_seconds(o.late_by)} s late"
            )
    for leak in e.care_leaks:
        add(f"  technical page to care: {leak.page.page_id} room {leak.page.room}: {leak.reason}")
    add("")
    add(f"needless reactions: {len(e.needless)}")
    for cause, count in e.needless_by_cause():
        add(f"  {count:>5}  {cause}")
    if e.needless:
        add("")
        for n in e.needless[:NEEDLESS_LISTED]:
            add(
                f"  {e.local_time(n.page.ts):<24}  room {n.page.room:<6} {n.page.kind:<17}{n.cause}"
            )
        if len(e.needless) > NEEDLESS_LISTED:
            add(f"  ... and {len(e.needless) - NEEDLESS_LISTED} more (all of them with --json)")
    notes = []
    if e.duplicate_pages:
        notes.append(f"{e.duplicate_pages} repeated page ids counted once")
    if e.other_site_pages:
        notes.append(f"{e.other_site_pages} pages of other sites left out")
    if not e.conventional_alarms:
        notes.append("the census is empty: no reduction can be computed")
    if notes:
        add("")
        add("note: " + "; ".join(notes))
    return "\n".join(lines)


# --- the PNG report -----------------------------------------------------------------------------

CONVENTIONAL_COLOUR: Final = "#a7b0ba"
SENSORHUB_COLOUR: Final = "#1f6fb4"
CAUGHT_COLOUR: Final = "#1f6fb4"
LATE_COLOUR: Final = "#d62728"
DEADLINE_COLOUR: Final = "#d62728"


def render_png(evaluation: Evaluation, path: Path) -> None:
    """Write the report: reactions per night (left) and latency per incident kind (right)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 (slow import)
    from matplotlib.figure import Figure  # noqa: PLC0415

    e = evaluation
    figure = Figure(figsize=(16, 7.2), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, width_ratios=(1, 1.25))
    _plot_nights(left, e)
    _plot_latency(right, e)
    nights = _nights_text(e.nights)
    figure.suptitle(
        f"{e.site}: {e.rooms} rooms, {nights}\n"
        f"reduction {_pct(e.reduction)} (best possible {_pct(e.best_possible_reduction)})   "
        f"recall {_ratio(e.recall)}   technical recall {_ratio(e.technical_recall)}   "
        f"technical pages to care {len(e.care_leaks)}",
        fontsize=14,
    )
    figure.savefig(path, format="png")


def _clock_change(night: str, timezone: str) -> str:
    """'clocks back' / 'clocks forward' when daylight saving changes in this night, else ''."""
    try:
        day = datetime.fromisoformat(night).date()
    except ValueError:
        return ""
    zone = ZoneInfo(timezone)
    evening = datetime.combine(day, datetime.min.time(), zone) + timedelta(hours=18)
    morning = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone) + timedelta(
        hours=10
    )
    before, after = evening.utcoffset(), morning.utcoffset()
    if before is None or after is None or before == after:
        return ""
    return "clocks back" if after < before else "clocks forward"


def _plot_nights(ax: Axes, e: Evaluation) -> None:
    nights = e.per_night
    xs = list(range(len(nights)))
    width = 0.4
    conventional = [n.conventional_alarms for n in nights]
    reactions = [n.reactions for n in nights]
    bars_c = ax.bar(
        [x - width / 2 for x in xs],
        conventional,
        width,
        color=CONVENTIONAL_COLOUR,
        label="conventional alarms",
    )
    bars_r = ax.bar(
        [x + width / 2 for x in xs],
        reactions,
        width,
        color=SENSORHUB_COLOUR,
        label="sensorhub reactions",
    )
    ax.bar_label(bars_c, fontsize=9, padding=2)
    ax.bar_label(bars_r, fontsize=9, padding=2, color=SENSORHUB_COLOUR)
    top = max([*conventional, *reactions, 1])
    for x, night in zip(xs, nights, strict=True):
        if night.reduction is not None:
            ax.annotate(
                f"\N{MINUS SIGN}{night.reduction:.0%}",
                (x, max(night.conventional_alarms, night.reactions) + top * 0.06),
                ha="center",
                fontsize=11,
                fontweight="bold",
                color=SENSORHUB_COLOUR,
            )
    ax.set_ylim(0, top * 1.3)
    ticks = []
    for night in nights:
        change = _clock_change(night.night, e.timezone)
        ticks.append(
            f"{_weekday(night.night)} {night.night[5:]}" + (f"\n({change})" if change else "")
        )
    ax.set_xticks(xs, ticks, fontsize=9.5)
    ax.set_xlim(-0.7, max(len(nights) - 0.3, 0.7))
    ax.set_xlabel("night (starting on)")
    ax.set_ylabel("alarms / reactions per night")
    ax.set_title(
        "Reactions per night: conventional system vs sensorhub\n"
        "(bold: reduction of reactions that night)",
        fontsize=12,
    )
    ax.legend(loc="upper center", frameon=False, ncols=2)
    ax.spines[["top", "right"]].set_visible(False)


#: y ticks of the latency panel (seconds) and how they read
LATENCY_TICKS: Final = (
    (0.0, "0"),
    (1.0, "1 s"),
    (2.0, "2 s"),
    (5.0, "5 s"),
    (10.0, "10 s"),
    (30.0, "30 s"),
    (60.0, "1 min"),
    (120.0, "2 min"),
    (300.0, "5 min"),
    (600.0, "10 min"),
    (1200.0, "20 min"),
    (3600.0, "1 h"),
)


def _plot_latency(ax: Axes, e: Evaluation) -> None:
    from matplotlib.lines import Line2D  # noqa: PLC0415 (matplotlib is imported only for --png)

    kinds = [k for k in e.by_kind if k.incidents]
    outcomes: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in (*e.care, *e.technical):
        outcomes[outcome.incident.kind].append(outcome)
    labels = []
    top = max([k.deadline[1] for k in kinds] + [1.0]) * 3
    for x, figures in enumerate(kinds):
        answered = sorted(
            (o for o in outcomes[figures.kind] if o.latency is not None),
            key=lambda o: o.latency or 0.0,
        )
        dots: dict[bool, tuple[list[float], list[float]]] = {False: ([], []), True: ([], [])}
        for index, outcome in enumerate(answered):
            # spread the dots across the column by the golden ratio: even and reproducible
            offset = ((index * 0.618034) % 1.0 - 0.5) * 0.55 if len(answered) > 1 else 0.0
            xs, ys = dots[outcome.status == "late"]
            xs.append(x + offset)
            ys.append(min(max(outcome.latency or 0.0, 0.0), top))
        for late, (xs, ys) in dots.items():
            if xs:
                ax.scatter(
                    xs,
                    ys,
                    s=30 if late else 20,
                    color=LATE_COLOUR if late else CAUGHT_COLOUR,
                    alpha=1.0 if late else 0.55,
                    edgecolors="none",
                    zorder=4 if late else 3,
                )
        low, high = figures.deadline
        ax.hlines(high, x - 0.42, x + 0.42, colors=DEADLINE_COLOUR, linestyles="--", zorder=2)
        if low != high:
            ax.hlines(low, x - 0.42, x + 0.42, colors=DEADLINE_COLOUR, linestyles=":", zorder=2)
        p50 = figures.latency(50)
        if p50 is not None:
            ax.hlines(max(p50, 0.0), x - 0.3, x + 0.3, colors="black", linewidth=2, zorder=5)
        if figures.missed:
            ax.annotate(
                f"\N{MULTIPLICATION X} {figures.missed} missed",
                (x, high),
                xytext=(0, 6),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=9.5,
                fontweight="bold",
                color=LATE_COLOUR,
            )
        name = figures.kind.replace("_", " ")
        if len(name) > 10 and " " in name:
            head, _, tail = name.partition(" ")
            name = f"{head}\n{tail}"
        else:
            name += "\n"
        labels.append(
            f"{name}\nby {_deadline(figures.deadline)} s\n"
            f"{figures.caught}/{figures.incidents} in time"
        )
    if not kinds:
        ax.text(0.5, 0.5, "no actionable incidents", ha="center", transform=ax.transAxes)
    ax.set_yscale("symlog", linthresh=1.0, linscale=0.6)
    ax.set_ylim(-0.15, top)  # a little below 0, so dots of pages at the very start show whole
    shown = [(value, text) for value, text in LATENCY_TICKS if value <= top]
    ax.set_yticks([value for value, _ in shown], [text for _, text in shown])
    ax.set_xticks(range(len(kinds)), labels, fontsize=9)
    for tick, figures in zip(ax.get_xticklabels(), kinds, strict=True):
        if figures.caught < figures.incidents:
            tick.set_color(LATE_COLOUR)
    ax.set_xlim(-0.6, max(len(kinds) - 0.4, 0.6))
    ax.set_ylabel("latency (log scale above 1 s)")
    ax.set_title("Latency per incident kind: from its start to its page", fontsize=12, pad=24)
    ax.grid(axis="y", color="#e5e5e5", zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    handles = [
        Line2D([], [], marker="o", linestyle="", color=CAUGHT_COLOUR, label="page in time"),
        Line2D([], [], marker="o", linestyle="", color=LATE_COLOUR, label="page late"),
        Line2D([], [], color="black", linewidth=2, label="median"),
        Line2D([], [], color=DEADLINE_COLOUR, linestyle="--", label="deadline"),
    ]
    if any(k.deadline[0] != k.deadline[1] for k in kinds):
        handles.append(
            Line2D([], [], color=DEADLINE_COLOUR, linestyle=":", label="shortest deadline")
        )
    ax.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        frameon=False,
        ncols=len(handles),
        fontsize=9.5,
    )


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
