"""A comparison as a picture (PNG): the reactions of OLD and NEW per night and per incident
kind, the pages only one of them sends marked by the hour, and with a truth the recall of each.

matplotlib is imported when a picture is drawn, not with this module.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from sensorhub.evaluation.compare import Comparison
from sensorhub.evaluation.compare_report import change_text
from sensorhub.evaluation.report import nights_text, ratio, weekday

if TYPE_CHECKING:
    from matplotlib.axes import Axes

OLD_COLOUR: Final = "#a7b0ba"
NEW_COLOUR: Final = "#1f6fb4"
WIDTH: Final = 0.4


def render_comparison_png(comparison: Comparison, path: Path) -> None:
    """Write the picture: reactions per night (left), per kind (middle), the pages only one
    side sends by local hour of the night (right)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 (slow import)
    from matplotlib.figure import Figure  # noqa: PLC0415

    c = comparison
    figure = Figure(figsize=(18, 6.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    nights, kinds, hours = figure.subplots(1, 3, width_ratios=(1.2, 1, 1))
    labels = [f"{n[5:]} {weekday(n)}" for n in c.nights]
    _bars(nights, labels, [c.reactions_of(night=n) for n in c.nights], "reactions per night")
    _bars(
        kinds,
        list(c.kinds),
        [c.reactions_of(kind=k) for k in c.kinds],
        "reactions per incident kind",
    )
    _hours(hours, c)
    title = (
        f"OLD {c.old}  vs  NEW {c.new}\n{nights_text(c.nights)}: reactions OLD "
        f"{c.old_reactions}, NEW {c.new_reactions} ({change_text(c)}); pages only OLD sends "
        f"{len(c.only_old)}, only NEW sends {len(c.only_new)}"
    )
    if c.old_evaluation is not None and c.new_evaluation is not None:
        title += (
            f"\nrecall OLD {ratio(c.old_evaluation.recall)}, NEW "
            f"{ratio(c.new_evaluation.recall)}; incidents NEW misses that OLD caught "
            f"{len(c.new_misses)}, NEW catches that OLD missed {len(c.fixed)}"
        )
    figure.suptitle(title, fontsize=12)
    figure.savefig(path, format="png")


def _bars(ax: Axes, labels: list[str], counts: list[tuple[int, int]], title: str) -> None:
    xs = range(len(labels))
    ax.bar([x - WIDTH / 2 for x in xs], [o for o, _ in counts], WIDTH, color=OLD_COLOUR)
    ax.bar([x + WIDTH / 2 for x in xs], [n for _, n in counts], WIDTH, color=NEW_COLOUR)
    for x, (old, new) in zip(xs, counts, strict=True):
        if old != new:
            ax.annotate(f"{new - old:+d}", (x, max(old, new)), ha="center", va="bottom")
    ax.set_xticks(list(xs), labels, rotation=30 if len(labels) > 4 else 0)
    ax.set_title(title)
    ax.set_ylabel("reactions (care pages, escalation 0)")
    ax.legend(["OLD", "NEW"], loc="upper right")
    ax.margins(y=0.15)
    _whole_numbers(ax)


def _hours(ax: Axes, c: Comparison) -> None:
    """The pages only one side sends, counted by the local hour they were decided at."""
    order = [*range(12, 24), *range(12)]
    for offset, differences, colour in (
        (-WIDTH / 2, c.only_old, OLD_COLOUR),
        (WIDTH / 2, c.only_new, NEW_COLOUR),
    ):
        counts = [0] * 24
        for d in differences:
            zone = ZoneInfo(c.timezone_of(d.page.site))
            counts[order.index(datetime.fromtimestamp(d.page.ts, zone).hour)] += 1
        ax.bar([x + offset for x in range(24)], counts, WIDTH, color=colour)
    ax.set_xticks(range(0, 24, 2), [f"{order[x]:02d}" for x in range(0, 24, 2)])
    ax.set_xlabel("local hour (noon to noon)")
    ax.set_ylabel("pages, escalations included")
    ax.set_title("pages only one side sends, by hour")
    ax.legend(["only OLD", "only NEW"], loc="upper right")
    _whole_numbers(ax)


def _whole_numbers(ax: Axes) -> None:
    """Counts on the y axis: no ticks between whole numbers."""
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415 (slow import)

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
