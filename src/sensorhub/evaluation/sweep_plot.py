"""A sweep as a picture (PNG): each parameter set's reactions against its recall and latency.

With a ground truth, two panels share the reactions axis: recall (left) and the p50 and p90
latency of answered care incidents (right), each set a numbered point, the rule file as written
a star; the key beside them says which values each number stands for. The best sets sit at the
left of both panels, high on the left and low on the right. Without a truth there is no recall
or latency, and the picture is the reactions of each set as bars.

matplotlib is imported when a picture is drawn, not with this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sensorhub.evaluation.report import pct
from sensorhub.evaluation.sweep import AS_WRITTEN, SetScore

if TYPE_CHECKING:
    from matplotlib.axes import Axes

SET_COLOUR: Final = "#1f6fb4"
FILE_COLOUR: Final = "#d62728"
P50_COLOUR: Final = "#7fb2de"
#: Sets the key lists by number; a bigger grid is listed up to here (the CSV has them all).
KEY_ROWS: Final = 40


def render_png(
    parameters: Sequence[str], rows: Sequence[SetScore], path: Path, *, title: str
) -> None:
    """Write the picture of ``rows`` to ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 (slow import)
    from matplotlib.figure import Figure  # noqa: PLC0415

    ordered = sorted(rows, key=lambda row: row.number)
    scored = all(row.evaluation is not None for row in ordered)
    kind = ordered[0].kind if ordered else None
    of = f"{kind} incidents" if kind else "care incidents"
    figure = Figure(figsize=(16, 7), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    if scored:
        recall, latency, key = figure.subplots(1, 3, width_ratios=(1, 1, 0.55))
        _points(recall, ordered, "recall", lambda row: row.recall)
        recall.set_ylabel(f"recall ({of} paged in time)")
        _points(latency, ordered, "latency p90", lambda row: row.latency(90))
        latency.scatter(
            [row.reactions for row in ordered],
            [row.latency(50) for row in ordered],
            marker="_",
            s=120,
            color=P50_COLOUR,
            label="p50",
            zorder=2,
        )
        latency.set_ylabel(f"latency of answered {of} (s)")
        latency.legend(loc="best", fontsize=9)
    else:
        bars, key = figure.subplots(1, 2, width_ratios=(2, 0.55))
        _bars(bars, ordered)
    _key(key, parameters, ordered)
    figure.suptitle(
        f"{title}: recall and latency of {of}"
        if scored
        else f"{title}  (no truth: recall and latency need --truth)"
    )
    figure.savefig(path, format="png")


def _points(
    axes: Axes, rows: Sequence[SetScore], label: str, value: Callable[[SetScore], float | None]
) -> None:
    at: dict[tuple[int, float], list[int]] = {}
    for row in rows:
        y = value(row)
        if y is None:
            continue
        at.setdefault((row.reactions, y), []).append(row.number)
        first = row.number == 0
        axes.scatter(
            row.reactions,
            y,
            marker="*" if first else "o",
            s=160 if first else 40,
            color=FILE_COLOUR if first else SET_COLOUR,
            label=("the file as written" if first else None),
            zorder=3,
        )
    for point, numbers in at.items():
        # sets with the same figures share a point and one label
        axes.annotate(",".join(map(str, numbers)), point, textcoords="offset points", xytext=(5, 4))
    axes.set_xlabel("reactions (first care pages)")
    axes.set_title(f"reactions against {label}")
    axes.grid(alpha=0.3)


def _bars(axes: Axes, rows: Sequence[SetScore]) -> None:
    numbers = [str(row.number) for row in rows]
    colours = [FILE_COLOUR if row.number == 0 else SET_COLOUR for row in rows]
    bars = axes.bar(numbers, [row.reactions for row in rows], color=colours)
    axes.bar_label(bars, labels=[pct(row.reduction) for row in rows], fontsize=8)
    axes.set_xlabel("parameter set (0: the file as written; above each bar its reduction)")
    axes.set_ylabel("reactions (first care pages)")
    axes.grid(axis="y", alpha=0.3)


def _key(axes: Axes, parameters: Sequence[str], rows: Sequence[SetScore]) -> None:
    axes.axis("off")
    table = [["set", *parameters]]
    for row in rows[:KEY_ROWS]:
        values = row.values if row.values is not None else (AS_WRITTEN,) * len(parameters)
        table.append([str(row.number), *values])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in table]
    if len(rows) > KEY_ROWS:
        lines.append(f"... and {len(rows) - KEY_ROWS} more (see --csv)")
    axes.text(0, 1, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=9)
