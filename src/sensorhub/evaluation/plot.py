"""The evaluation as a picture (PNG): reactions per night and latency per incident kind.

matplotlib is imported when a picture is drawn, not with this module.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from sensorhub.evaluation.report import deadline_text, nights_text, pct, ratio, weekday
from sensorhub.evaluation.scoring import Evaluation, group_by_kind

if TYPE_CHECKING:
    from matplotlib.axes import Axes

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
    nights = nights_text(e.nights)
    figure.suptitle(
        f"{e.site}: {e.rooms} rooms, {nights}\n"
        f"reduction {pct(e.reduction)} (best possible {pct(e.best_possible_reduction)})   "
        f"recall {ratio(e.recall)}   technical recall {ratio(e.technical_recall)}   "
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
            f"{weekday(night.night)} {night.night[5:]}" + (f"\n({change})" if change else "")
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
    outcomes = group_by_kind((*e.care, *e.technical))
    labels = []
    top = max([k.deadline[1] for k in kinds] + [1.0]) * 3
    for x, figures in enumerate(kinds):
        answered = sorted(
            (o for o in outcomes.get(figures.kind, []) if o.latency is not None),
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
            f"{name}\nby {deadline_text(figures.deadline)} s\n"
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
