"""The scores of a parameter sweep: one row per parameter set, as a table, CSV and JSON.

``sensorhub sweep`` replays a recording once per parameter set and hands each set's counts and
pages here: :func:`score` measures them (against the ground truth when there is one, with the
very :func:`~sensorhub.evaluation.scoring.evaluate` of ``sensorhub evaluate``), and the
renderers write the rows in set order, so a sweep gives the same table whichever processes or
cluster ran it. ``sensorhub.evaluation.sweep_plot`` draws them. docs/research.md explains
every column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Final

from sensorhub.contract import INCIDENT_KINDS, IncidentKind, Page, reduction
from sensorhub.evaluation.report import json_report, pct, ratio, seconds
from sensorhub.evaluation.scoring import Evaluation, evaluate, percentile_of
from sensorhub.evaluation.truth import ConventionalAlarm, GroundTruth

#: Version of the sweep's JSON; bumped only when a key changes meaning or disappears.
JSON_VERSION: Final = 1
#: What the parameter columns of the set of the file as written show.
AS_WRITTEN: Final = "(file)"


@dataclass(frozen=True, slots=True)
class Counts:
    """What the replays of one parameter set counted, summed over the recordings."""

    lines: int = 0
    events: int = 0
    dead_letters: int = 0
    raw_alarms: int = 0
    reactions: int = 0
    technical_pages: int = 0
    escalations: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True, slots=True)
class SetScore:
    """One parameter set and what it did. ``values`` holds the value of each swept parameter as
    written; None for the set of the rule file as written (number 0)."""

    number: int
    values: tuple[str, ...] | None
    counts: Counts
    evaluation: Evaluation | None
    #: recall and latency of this incident kind only (``sweep --kind``); None: every care kind
    kind: IncidentKind | None = None

    @property
    def reactions(self) -> int:
        return self.counts.reactions

    @property
    def reduction(self) -> float | None:
        """Against the census of the truth where there is one (as ``sensorhub evaluate``),
        else against the raw alarms of the replays (as ``sensorhub replay``)."""
        if self.evaluation is not None:
            return self.evaluation.reduction
        return reduction(self.counts.reactions, self.counts.raw_alarms)

    @property
    def recall(self) -> float | None:
        """Care incidents (of ``kind``) paged in time / care incidents (of ``kind``)."""
        if self.evaluation is None:
            return None
        if self.kind is None:
            return self.evaluation.recall
        figures = [f for f in self.evaluation.by_kind if f.kind == self.kind]
        return figures[0].recall if figures else None

    def count(self, what: str) -> int | None:
        """``missed``, ``late`` (care and technical incidents) or ``needless`` (reactions that
        answered nothing); None without a truth."""
        e = self.evaluation
        if e is None:
            return None
        return len({"missed": e.missed, "late": e.late, "needless": e.needless}[what])

    def latency(self, percentile: float) -> float | None:
        """Of every answered care incident (of ``kind``; late ones too): seconds from its start
        to its page, nearest rank."""
        if self.evaluation is None:
            return None
        latencies = sorted(
            o.latency
            for o in (*self.evaluation.care, *self.evaluation.technical)
            if o.latency is not None
            and (
                o.incident.kind == self.kind
                or (self.kind is None and o.incident.audience == "care")
            )
        )
        return percentile_of(latencies, percentile)


def score(
    number: int,
    values: tuple[str, ...] | None,
    counts: Counts,
    *,
    pages: Iterable[Page] | None,
    truth: GroundTruth | None,
    census: Sequence[ConventionalAlarm],
    kind: IncidentKind | None = None,
) -> SetScore:
    """The row of one parameter set; measured against ``truth`` when there is one."""
    evaluation = None
    if truth is not None:
        evaluation = evaluate(truth, pages or (), census)
    return SetScore(number, values, counts, evaluation, kind)


# --- the table ----------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _cells(row: SetScore, parameters: int) -> list[str]:
    values = row.values if row.values is not None else (AS_WRITTEN,) * parameters
    return [
        str(row.number),
        *values,
        f"{row.reactions:,}",
        pct(row.reduction),
        ratio(row.recall),
        _number(row.count("missed")),
        _number(row.count("late")),
        _number(row.count("needless")),
        seconds(row.latency(50)),
        seconds(row.latency(90)),
    ]


def render_table(parameters: Sequence[str], rows: Sequence[SetScore]) -> str:
    """The rows as a terminal table, a column per swept parameter, in set order."""
    header = [
        "set",
        *parameters,
        "reactions",
        "reduction",
        "recall",
        "missed",
        "late",
        "needless",
        "p50 s",
        "p90 s",
    ]
    table = [header, *(_cells(row, len(parameters)) for row in sorted(rows, key=_by_number))]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    first = 1 + len(parameters)  # the set and the parameters are left-aligned, figures right
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i < first else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in table
    )


def _by_number(row: SetScore) -> int:
    return row.number


# --- CSV and JSON -------------------------------------------------------------------------------


def _kinds(rows: Sequence[SetScore]) -> list[str]:
    """The incident kinds any row has figures for, in the contract's order."""
    present = {figures.kind for row in rows if row.evaluation for figures in row.evaluation.by_kind}
    return [kind for kind in INCIDENT_KINDS if kind in present]


def row_json(parameters: Sequence[str], row: SetScore) -> dict[str, Any]:
    """One set as JSON (docs/research.md lists the keys); shares as fractions, latencies in
    seconds, ``null`` for what needs a truth that was not given. Recall and latency are of
    every care incident (``by_kind`` has each kind's), whatever ``kind`` the table shows."""
    c = row.counts
    overall = replace(row, kind=None)
    document: dict[str, Any] = {
        "set": row.number,
        "values": None if row.values is None else dict(zip(parameters, row.values, strict=True)),
        "events": c.events,
        "lines": c.lines,
        "dead_letters": c.dead_letters,
        "raw_alarms": c.raw_alarms,
        "reactions": c.reactions,
        "reduction": _round(row.reduction),
        "technical_pages": c.technical_pages,
        "escalations": c.escalations,
        "recall": _round(overall.recall),
        "missed": row.count("missed"),
        "late": row.count("late"),
        "needless": row.count("needless"),
        "latency_s": {"p50": _round(overall.latency(50)), "p90": _round(overall.latency(90))},
    }
    e = row.evaluation
    if e is not None:
        report = json_report(e)
        document |= {
            "conventional_alarms": e.conventional_alarms,
            "technical_recall": report["technical_recall"],
            "technical_pages_to_care": report["technical_pages_to_care"]["count"],
            "by_kind": report["by_kind"],
        }
    return document


#: The figures of a set in the CSV, by their JSON key, before the latencies.
_CSV_FIGURES: Final = (
    "events",
    "raw_alarms",
    "reactions",
    "reduction",
    "technical_pages",
    "escalations",
    "recall",
    "missed",
    "late",
    "needless",
)


def render_csv(parameters: Sequence[str], rows: Sequence[SetScore]) -> str:
    """The rows as CSV: the table's columns, the counts, and recall and latency per kind."""
    kinds = _kinds(rows)
    header = ["set", *parameters, *_CSV_FIGURES, "latency_p50_s", "latency_p90_s"]
    for kind in kinds:
        header += [f"{kind}_recall", f"{kind}_latency_p50_s", f"{kind}_latency_p90_s"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in sorted(rows, key=_by_number):
        document = row_json(parameters, row)
        values = row.values if row.values is not None else (AS_WRITTEN,) * len(parameters)
        line: list[Any] = [row.number, *values, *(document[key] for key in _CSV_FIGURES)]
        line += [document["latency_s"]["p50"], document["latency_s"]["p90"]]
        by_kind = document.get("by_kind", {})
        for kind in kinds:
            figures = by_kind.get(kind)
            if figures is None:
                line += [None, None, None]
            else:
                latency = figures["latency_s"]
                line += [figures["recall"], latency["p50"], latency["p90"]]
        writer.writerow(["" if cell is None else cell for cell in line])
    return out.getvalue()


def render_json(
    parameters: Sequence[str], rows: Sequence[SetScore], about: dict[str, Any]
) -> dict[str, Any]:
    """The whole sweep: ``about`` (the rule file, recordings, truth) and a row per set."""
    return {
        "version": JSON_VERSION,
        **about,
        "parameters": list(parameters),
        "sets": [row_json(parameters, row) for row in sorted(rows, key=_by_number)],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
