"""The evaluation as text: the terminal table and the JSON report (docs/research.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sensorhub.evaluation.scoring import Evaluation, KindFigures, Outcome

#: Version of the JSON report; bumped only when a key changes meaning or disappears.
JSON_VERSION: Final = 1
PERCENTILES: Final = (50, 90, 99)
#: How many needless reactions the terminal table lists one by one (the JSON has all).
NEEDLESS_LISTED: Final = 30


# --- the JSON report ----------------------------------------------------------------------------


def json_report(evaluation: Evaluation) -> dict[str, Any]:
    """The JSON report: keys are documented in docs/research.md and kept stable."""
    e = evaluation
    return {
        "version": JSON_VERSION,
        "site": e.site,
        "timezone": e.timezone,
        "nights": list(e.nights),
        "rooms": e.rooms,
        "conventional_alarms": e.conventional_alarms,
        "reactions": e.reactions,
        "reduction": _round(e.reduction),
        "care_incidents": e.care_incidents,
        "best_possible_reduction": _round(e.best_possible_reduction),
        "recall": _round(e.recall),
        "technical_recall": _round(e.technical_recall),
        "passed": e.passed,
        "pages": {
            "total": e.pages_total,
            "reactions": e.reactions,
            "technical": e.technical_pages,
            "duplicates_ignored": e.duplicate_pages,
            "other_site_ignored": e.other_site_pages,
        },
        "by_kind": {figures.kind: _kind_json(figures) for figures in e.by_kind},
        "missed": [_outcome_json(e, o) for o in e.missed],
        "late": [_outcome_json(e, o) for o in e.late],
        "needless": {
            "total": len(e.needless),
            "by_cause": dict(e.needless_by_cause()),
            "reactions": [
                {
                    "page_id": n.page.page_id,
                    "room": n.page.room,
                    "kind": n.page.kind,
                    "ts": n.page.ts,
                    "local_time": e.local_time(n.page.ts),
                    "night": n.night,
                    "cause": n.cause,
                    "episodes": list(n.episodes),
                    "duplicate": n.duplicate,
                }
                for n in e.needless
            ],
        },
        "technical": {
            "incidents": len(e.technical),
            "caught": sum(o.status == "caught" for o in e.technical),
            "late": sum(o.status == "late" for o in e.technical),
            "missed": sum(o.status == "missed" for o in e.technical),
            "recall": _round(e.technical_recall),
            "pages": e.technical_pages,
            "needless": e.technical_needless,
        },
        "technical_pages_to_care": {
            "count": len(e.care_leaks),
            "pages": [
                {
                    "page_id": leak.page.page_id,
                    "room": leak.page.room,
                    "kind": leak.page.kind,
                    "audience": leak.page.audience,
                    "recipient": leak.page.recipient,
                    "ts": leak.page.ts,
                    "local_time": e.local_time(leak.page.ts),
                    "reason": leak.reason,
                }
                for leak in e.care_leaks
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
            for night in e.per_night
        ],
    }


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


def _outcome_json(e: Evaluation, outcome: Outcome) -> dict[str, Any]:
    incident = outcome.incident
    return {
        "room": incident.room,
        "kind": incident.kind,
        "audience": incident.audience,
        "night": incident.night,
        "start": incident.start,
        "local_time": e.local_time(incident.start),
        "deadline": incident.deadline,
        "episode": incident.episode,
        "device": incident.device,
        "page_id": None if outcome.page is None else outcome.page.page_id,
        "page_ts": None if outcome.page is None else outcome.page.ts,
        "late_by_s": _round(outcome.late_by),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


# --- the terminal table -------------------------------------------------------------------------


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"


def deadline_text(bounds: tuple[float, float]) -> str:
    low, high = bounds
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"


def nights_text(nights: Sequence[str]) -> str:
    if not nights:
        return "no nights"
    if len(nights) == 1:
        return f"1 night ({nights[0]})"
    return f"{len(nights)} nights ({nights[0]} to {nights[-1]})"


def weekday(night: str) -> str:
    try:
        return datetime.fromisoformat(night).strftime("%a")
    except ValueError:
        return ""


def render_table(evaluation: Evaluation) -> str:
    """The evaluation as text for a terminal, 100 columns wide at most."""
    e = evaluation
    lines: list[str] = []
    add = lines.append
    nights = nights_text(e.nights)
    add(f"site {e.site}, {e.rooms} rooms, {nights}, {e.timezone}")
    add("")
    add(f"conventional alarms  {e.conventional_alarms:>7}")
    add(f"reactions            {e.reactions:>7}   (care pages with escalation 0)")
    add(f"reduction            {pct(e.reduction):>7}")
    add(
        f"best possible        {pct(e.best_possible_reduction):>7}   "
        f"(one reaction for each of the {e.care_incidents} care incidents)"
    )
    caught = sum(o.status == "caught" for o in e.care)
    add(f"recall               {ratio(e.recall):>7}   ({caught} of {e.care_incidents} in time)")
    t_caught = sum(o.status == "caught" for o in e.technical)
    add(
        f"technical recall     {ratio(e.technical_recall):>7}   "
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
            f"{ratio(k.recall):>7}{deadline_text(k.deadline) + ' s':>11}"
            f"{seconds(k.latency(50)):>6}{seconds(k.latency(90)):>6}"
            f"{seconds(k.latency(99)):>6}{seconds(k.latency(100)):>6}{k.needless:>10}"
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
            f"{row.night + ' ' + weekday(row.night):<15}{row.conventional_alarms:>13}"
            f"{row.reactions:>10}{pct(row.reduction):>10}{row.incidents:>10}"
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
                f"{seconds(o.late_by)} s late"
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
