"""A comparison of two rule files (or a live night and its shadow) as text for a terminal."""

from __future__ import annotations

from collections.abc import Sequence

from sensorhub.durations import format_duration
from sensorhub.evaluation.compare import Comparison, Difference
from sensorhub.evaluation.report import nights_text, ratio, weekday
from sensorhub.evaluation.scoring import Evaluation, Outcome


def cell(old: int, new: int) -> str:
    """``3`` when both sides agree, ``3 -> 1`` when they do not."""
    return str(old) if old == new else f"{old} -> {new}"


def change_text(c: Comparison) -> str:
    """The change in reactions, in percent of the old side's."""
    more = c.more_reactions
    if more == float("inf"):
        return "from none"
    return f"{more:+.1f}%"


def render_comparison(c: Comparison) -> str:
    """The comparison: reactions per night and kind, every page only one side sends with why
    the other did not, and with a ground truth recall and misses of each."""
    lines: list[str] = []
    add = lines.append
    add(f"OLD {c.old}")
    add(f"NEW {c.new}")
    add(
        f"{nights_text(c.nights)}; pages OLD {c.pages[0]}, NEW {c.pages[1]}; reactions OLD "
        f"{c.old_reactions}, NEW {c.new_reactions} ({change_text(c)})"
    )
    add("")
    lines.extend(_reaction_table(c))
    add("")
    lines.extend(_differences("OLD", "NEW", c, c.only_old))
    add("")
    lines.extend(_differences("NEW", "OLD", c, c.only_new))
    if c.old_evaluation is not None and c.new_evaluation is not None:
        add("")
        lines.extend(_truth(c, c.old_evaluation, c.new_evaluation))
    if c.notes:
        add("")
        lines.extend(f"note: {note}" for note in c.notes)
    return "\n".join(lines)


def _reaction_table(c: Comparison) -> list[str]:
    rows = [
        (
            f"{night} {weekday(night)}",
            [cell(*c.reactions_of(night=night, kind=kind)) for kind in c.kinds]
            + [cell(*c.reactions_of(night=night))],
        )
        for night in c.nights
    ]
    rows.append(
        (
            "all nights",
            [cell(*c.reactions_of(kind=kind)) for kind in c.kinds] + [cell(*c.reactions_of())],
        )
    )
    header = [*c.kinds, "all"]
    widths = [max(len(h), *(len(r[1][i]) for r in rows)) for i, h in enumerate(header)]
    out = ["reactions per night and incident kind (OLD -> NEW where they differ)"]
    out.append(
        f"{'night':<15}" + "".join(f"  {h:>{w}}" for h, w in zip(header, widths, strict=True))
    )
    for label, values in rows:
        out.append(
            f"{label:<15}" + "".join(f"  {v:>{w}}" for v, w in zip(values, widths, strict=True))
        )
    return out


def _differences(
    side: str, other: str, c: Comparison, differences: Sequence[Difference]
) -> list[str]:
    if not differences:
        return [f"pages only {side} sends: none"]
    out = [f"pages only {side} sends: {len(differences)}"]
    rows = [
        (
            c.local_time(d.page),
            d.page.room,
            d.page.kind,
            str(d.page.escalation),
            d.page.recipient,
            _why(c, d),
        )
        for d in differences
    ]
    header = ("time", "room", "kind", "esc", "recipient", f"why {other} did not page")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header[:-1])]
    out.extend(
        "  " + "  ".join(f"{v:<{w}}" for v, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in (header, *rows)
    )
    return out


def _why(c: Comparison, d: Difference) -> str:
    if d.moved is not None:
        delta = d.moved.ts - d.page.ts
        later = "later" if delta > 0 else "earlier"
        return f"sends it {format_duration(round(abs(delta)))} {later}, at {c.local_time(d.moved)}"
    return d.why_not or "(no audit)"


def _truth(c: Comparison, old: Evaluation, new: Evaluation) -> list[str]:
    out = ["against the ground truth"]
    out.append(
        f"  {'':<4}{'recall':>8}{'caught':>10}{'late':>6}{'missed':>8}"
        f"{'technical recall':>18}{'needless reactions':>20}"
    )
    for name, e in (("OLD", old), ("NEW", new)):
        caught = sum(o.status == "caught" for o in e.care)
        out.append(
            f"  {name:<4}{ratio(e.recall):>8}{f'{caught}/{e.care_incidents}':>10}"
            f"{len(e.late):>6}{len(e.missed):>8}{ratio(e.technical_recall):>18}"
            f"{len(e.needless):>20}"
        )
    out.extend(_outcomes("incidents NEW misses that OLD caught", c.new_misses, new))
    out.extend(_outcomes("incidents NEW catches that OLD missed", c.fixed, new))
    out.extend(_outcomes("incidents both miss", c.both_missed, new))
    return out


def _outcomes(title: str, outcomes: Sequence[Outcome], e: Evaluation) -> list[str]:
    if not outcomes:
        return [f"{title}: none"]
    out = [f"{title}: {len(outcomes)}"]
    for o in outcomes:
        i = o.incident
        status = o.status if o.status != "late" else f"late by {o.late_by:.0f} s"
        out.append(
            f"  {e.local_time(i.start):<24}  night {i.night}  room {i.room:<6} {i.kind:<16}{status}"
        )
    return out
