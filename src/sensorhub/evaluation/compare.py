"""Two streams of pages (and their audit trails) side by side: what a rule change does.

``compare(old, new)`` is the whole comparison, without I/O: each :class:`Side` is the pages
one set of rules sent (a replay's ``--pages``, or a live night and a shadow's) and, if there
is one, its audit trail (the JSON objects of ``--audit``). It gives a :class:`Comparison`:

- the reactions (care pages with escalation 0) of each, per night and per incident kind;
- every page only one side sends (the same room, kind, recipient, escalation and time in the
  other's pages is the same page), each with why the other did not send it: its audit's
  decision on that room at the moment the page was decided (see :meth:`AuditIndex.why_not`);
- with a ground truth, each side's evaluation (``sensorhub evaluate``), the incidents the new
  side misses that the old one caught, the other way round, and those both miss.

``sensorhub rules compare`` replays recordings through two rule files to get the sides;
``sensorhub.evaluation.compare_report`` and ``compare_plot`` show a comparison.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from sensorhub.contract import INCIDENT_KINDS, Page
from sensorhub.evaluation.scoring import Evaluation, Outcome, evaluate, local_time, night_of
from sensorhub.evaluation.truth import ConventionalAlarm, GroundTruth
from sensorhub.store.history import entry_place

#: Pages (and audit entries) this close in event time are at the same moment: times are kept
#: to the millisecond.
SAME_TIME: Final = 0.0005
#: A page one side sends up to this long before or after the other is the same page, moved.
MOVED_WITHIN: Final = 3600.0
#: Audit decisions that say nothing about why a page was or was not sent.
_BACKGROUND: Final = frozenset({"state", "ignored"})
#: What a page is without its id: two sides sending pages equal in these send the same page.
PageKey = tuple[str, str, str, str, int, float]


@dataclass(frozen=True, slots=True)
class Side:
    """The pages one set of rules sent, and its audit trail (None: no reasons can be given)."""

    name: str
    pages: Sequence[Page]
    audit: Iterable[Mapping[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class Difference:
    """A page only one side sends, and why the other side did not (its audit's words)."""

    page: Page
    why_not: str
    #: the same page as the other side sends it, at another time (then ``why_not`` is empty)
    moved: Page | None = None


@dataclass(frozen=True, slots=True)
class Comparison:
    old: str
    new: str
    nights: tuple[str, ...]
    #: incident kinds with a reaction on either side, in the contract's order
    kinds: tuple[str, ...]
    #: (night, kind) -> reactions of the old side, of the new side
    reactions: Mapping[tuple[str, str], tuple[int, int]]
    pages: tuple[int, int]
    only_old: tuple[Difference, ...]
    only_new: tuple[Difference, ...]
    timezone_of: Callable[[str], str]
    old_evaluation: Evaluation | None = None
    new_evaluation: Evaluation | None = None
    #: incidents of the truth the new side missed (or paged late) that the old side caught
    new_misses: tuple[Outcome, ...] = ()
    #: incidents of the truth the old side missed (or paged late) that the new side catches
    fixed: tuple[Outcome, ...] = ()
    #: incidents of the truth neither side caught in time (as the new side paged them)
    both_missed: tuple[Outcome, ...] = ()
    notes: tuple[str, ...] = ()

    def reactions_of(self, *, night: str | None = None, kind: str | None = None) -> tuple[int, int]:
        """(old, new) reactions of ``night`` and of ``kind`` (None: all of them)."""
        cells = [
            counts
            for (n, k), counts in self.reactions.items()
            if night in (None, n) and kind in (None, k)
        ]
        return sum(old for old, _ in cells), sum(new for _, new in cells)

    @property
    def old_reactions(self) -> int:
        return self.reactions_of()[0]

    @property
    def new_reactions(self) -> int:
        return self.reactions_of()[1]

    @property
    def more_reactions(self) -> float:
        """How many more reactions the new side sends, in percent of the old side's (negative:
        fewer; infinite when the old side sends none and the new side some)."""
        old, new = self.old_reactions, self.new_reactions
        if old == 0:
            return math.inf if new else 0.0
        return 100.0 * (new - old) / old

    @property
    def lost_reactions(self) -> tuple[Difference, ...]:
        """Reactions only the old side sends: that the new side does not send, or sends later
        (a late page is a missed one; one sent earlier is not lost)."""
        return tuple(
            d
            for d in self.only_old
            if d.page.is_reaction and (d.moved is None or d.moved.ts > d.page.ts)
        )

    @property
    def has_truth(self) -> bool:
        return self.new_evaluation is not None

    @property
    def new_miss_count(self) -> int:
        """What ``--fail-on-new-miss`` fails on: with a truth, the incidents the new side
        misses and the old caught; without, the reactions only the old side sends."""
        return len(self.new_misses) if self.has_truth else len(self.lost_reactions)

    def local_time(self, page: Page) -> str:
        return local_time(page.ts, self.timezone_of(page.site))


def page_key(page: Page) -> PageKey:
    return (page.site, page.room, page.kind, page.recipient, page.escalation, round(page.ts, 3))


def only_in(pages: Iterable[Page], others: Iterable[Page]) -> list[Page]:
    """The pages of ``pages`` the other side does not send (as often: a page sent twice by
    one side and once by the other is one difference), in time order."""
    left = Counter(page_key(page) for page in others)
    result = []
    for page in sorted(pages, key=lambda p: (p.ts, p.site, p.room, p.page_id)):
        key = page_key(page)
        if left[key]:
            left[key] -= 1
        else:
            result.append(page)
    return result


class AuditIndex:
    """One side's audit trail, by room and by incident, to say why it did not send a page."""

    def __init__(self, entries: Iterable[Mapping[str, Any]]) -> None:
        by_room: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
        by_incident: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for entry in entries:
            if not isinstance(entry.get("ts"), int | float):
                continue
            place = entry_place(entry)
            if place is not None:
                by_room[place].append(entry)
            incident = entry.get("incident")
            if isinstance(incident, str):
                by_incident[incident].append(entry)
        self._by_room = {key: _Timeline(entries) for key, entries in by_room.items()}
        self._by_incident = {key: _Timeline(entries) for key, entries in by_incident.items()}

    def why_not(self, page: Page, opened: float) -> str:
        """Why this side sent no page like ``page`` (which the other side sent), in the words
        of its audit; ``opened``: when the other side first paged ``page``'s incident.

        In this order: its own last decision on the same incident up to the page's time (it
        routed it to others, it was acknowledged or resolved before this escalation); else
        its decision on the room at the moment the incident was first paged (a timer that
        had not run out, an event it suppressed), one on the page's evidence preferred; else
        its last decision on the page's evidence; else its last decision on the room before."""
        incident = self._by_incident.get(page.incident)
        if incident is not None:
            entry = incident.last_before(page.ts + SAME_TIME)
            if entry is not None:
                return _said(entry)
        room = self._by_room.get((page.site, page.room))
        if room is None:
            return "no decision on this room in the audit"
        evidence = set(page.events)
        moment = [
            entry
            for entry in room.between(opened - SAME_TIME, opened + SAME_TIME)
            if entry.get("decision") not in _BACKGROUND
        ]
        moment.sort(key=lambda entry: not _about(entry, evidence))
        if moment:
            return _said(moment[0])
        earlier = room.between(-math.inf, opened + SAME_TIME)
        for entry in reversed(earlier):
            if _about(entry, evidence) and entry.get("decision") not in _BACKGROUND:
                return _said(entry)
        for entry in reversed(earlier):
            if entry.get("decision") not in _BACKGROUND:
                return _said(entry)
        return "no decision on this room up to then in the audit"


class _Timeline:
    """Audit entries in time order (those of one time in the order given)."""

    def __init__(self, entries: list[Mapping[str, Any]]) -> None:
        self._entries = sorted(entries, key=lambda entry: float(entry["ts"]))
        self._times = [float(entry["ts"]) for entry in self._entries]

    def last_before(self, ts: float) -> Mapping[str, Any] | None:
        i = bisect_right(self._times, ts)
        return self._entries[i - 1] if i else None

    def between(self, start: float, end: float) -> list[Mapping[str, Any]]:
        return self._entries[bisect_right(self._times, start) : bisect_right(self._times, end)]


def _about(entry: Mapping[str, Any], evidence: set[str]) -> bool:
    """Whether ``entry`` decides on one of the events ``evidence`` names, or on a timer."""
    event = entry.get("event")
    if isinstance(event, Mapping) and event.get("id") in evidence:
        return True
    return "timer" in entry


def _said(entry: Mapping[str, Any]) -> str:
    return f"{entry.get('decision', '?')}: {entry.get('reason', '')}"


def compare(
    old: Side,
    new: Side,
    *,
    timezone_of: Callable[[str], str],
    truth: GroundTruth | None = None,
    census: Sequence[ConventionalAlarm] = (),
) -> Comparison:
    """Compare ``old`` with ``new``; ``timezone_of(site)`` gives the zone its nights are
    counted in (a night runs from noon to noon, as in ``sensorhub evaluate``)."""

    def night(page: Page) -> str:
        return night_of(page.ts, timezone_of(page.site))

    old_counts, new_counts = (
        Counter((night(p), p.kind) for p in side.pages if p.is_reaction) for side in (old, new)
    )
    cells = {*old_counts, *new_counts}
    nights = sorted(
        {night(p) for p in (*old.pages, *new.pages)} | set(truth.nights if truth else ())
    )
    kinds = tuple(kind for kind in INCIDENT_KINDS if any(cell[1] == kind for cell in cells))
    old_pages, new_pages = only_in(old.pages, new.pages), only_in(new.pages, old.pages)
    moved = _moved(old_pages, new_pages)
    only_old = _differences(old, old_pages, new, moved)
    only_new = _differences(new, new_pages, old, moved)
    notes = [
        f"no audit of {side.name}: no reason why it did not send the pages only {other} sends"
        for side, other, theirs in ((old, "NEW", only_new), (new, "OLD", only_old))
        if side.audit is None and theirs
    ]
    result = Comparison(
        old=old.name,
        new=new.name,
        nights=tuple(nights),
        kinds=kinds,
        reactions={cell: (old_counts[cell], new_counts[cell]) for cell in cells},
        pages=(len(old.pages), len(new.pages)),
        only_old=only_old,
        only_new=only_new,
        timezone_of=timezone_of,
        notes=tuple(notes),
    )
    if truth is None:
        return result
    old_evaluation = evaluate(truth, old.pages, census)
    new_evaluation = evaluate(truth, new.pages, census)
    pairs = list(
        zip(
            (*old_evaluation.care, *old_evaluation.technical),
            (*new_evaluation.care, *new_evaluation.technical),
            strict=True,
        )
    )
    return replace(
        result,
        old_evaluation=old_evaluation,
        new_evaluation=new_evaluation,
        new_misses=tuple(n for o, n in pairs if o.status == "caught" != n.status),
        fixed=tuple(n for o, n in pairs if n.status == "caught" != o.status),
        both_missed=tuple(n for o, n in pairs if o.status != "caught" != n.status),
    )


def _differences(
    side: Side, pages: list[Page], other: Side, moved: Mapping[str, Page]
) -> tuple[Difference, ...]:
    """``pages``, the pages only ``side`` sends, each with why ``other`` did not: that it sends
    the same page at another time (``moved``: page id -> the other's page), or its audit's
    reason."""
    if not pages:
        return ()
    opened = {p.incident: p.ts for p in side.pages if p.escalation == 0}
    index = AuditIndex(other.audit) if other.audit is not None else None

    def why(page: Page) -> Difference:
        if page.page_id in moved:
            return Difference(page, "", moved[page.page_id])
        return Difference(
            page, index.why_not(page, opened.get(page.incident, page.ts)) if index else ""
        )

    return tuple(why(page) for page in pages)


def _moved(only_old: list[Page], only_new: list[Page]) -> dict[str, Page]:
    """The pages only one side sends that the other sends at another time: the same site,
    room, kind, recipient and escalation within ``MOVED_WITHIN`` s (a longer grace, a shorter
    confirmation window), paired one to one in time order. Page id -> the other side's page,
    both ways."""
    waiting: dict[tuple[str, str, str, str, int], list[Page]] = defaultdict(list)
    for page in only_new:
        waiting[page_key(page)[:5]].append(page)
    pairs: dict[str, Page] = {}
    for page in only_old:
        candidates = waiting.get(page_key(page)[:5], [])
        near = [p for p in candidates if abs(p.ts - page.ts) <= MOVED_WITHIN]
        if near:
            other = min(near, key=lambda p: abs(p.ts - page.ts))
            candidates.remove(other)
            pairs[page.page_id], pairs[other.page_id] = other, page
    return pairs
