"""Scoring: pages matched against the actionable incidents of a ground truth, and the figures.

``evaluate(truth, pages, census)`` does the whole evaluation without I/O and returns an
:class:`Evaluation`; ``sensorhub.evaluation.report`` writes it as a table or JSON,
``sensorhub.evaluation.plot`` draws it, ``sensorhub.commands.evaluate`` is the command.
docs/research.md explains every figure.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal, TypeVar
from zoneinfo import ZoneInfo

from sensorhub.contract import INCIDENT_KINDS, IncidentKind, Page, reduction
from sensorhub.evaluation.truth import (
    DEADLINES,
    ConventionalAlarm,
    Episode,
    GroundTruth,
    TruthIncident,
)

#: A page may be decided up to this long before the incident's recorded start (rounding of
#: event times, evidence that arrived a moment early) and still count for it.
EARLY_SLACK: Final = 1.0
#: A page of the right room and kind after the deadline counts as *late* (not needless) if it
#: comes before the incident's episode ended, or within this many seconds of the deadline.
LATE_WINDOW: Final = 600.0
#: A page decided before this local hour belongs to the night that started the day before.
NIGHT_CUTOFF_HOUR: Final = 12
#: What a needless reaction is attributed to when no episode of its room was going on.
NOTHING_SCRIPTED: Final = "nothing scripted"

Status = Literal["caught", "late", "missed"]


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
        from sensorhub.evaluation.report import json_report  # noqa: PLC0415 (report imports this module)

        return json_report(self)


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


def group_by_kind(outcomes: Iterable[Outcome]) -> dict[IncidentKind, list[Outcome]]:
    """The outcomes of each incident kind, in the order given; kinds without one are absent."""
    groups: dict[IncidentKind, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[outcome.incident.kind].append(outcome)
    return dict(groups)


K = TypeVar("K", bound=Hashable)


def _match(
    incidents: Sequence[TruthIncident],
    pages: Iterable[Page],
    key: Callable[[TruthIncident | Page], K],
    episodes: dict[int, Episode],
) -> tuple[Outcome, ...]:
    """One-to-one matching of incidents to pages with the same ``key``, greedily in time order.

    First every incident takes the earliest free page in [start - 1 s, deadline]; then each
    incident still unanswered takes the earliest free page after its deadline, up to the end of
    its episode or LATE_WINDOW after the deadline, and before the next incident of the same key
    could have been paged. Returns an Outcome per incident, ordered by start and room (ties
    in the order of ``incidents``).
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
    return tuple(
        sorted(
            (outcomes[id(i)] for i in incidents), key=lambda o: (o.incident.start, o.incident.room)
        )
    )


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
    care = _match(care_incidents, reactions, _care_key, episodes)
    technical = _match(technical_incidents, technical_first, _room_key, episodes)
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
    outcomes_by_kind = group_by_kind((*care, *technical))
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
