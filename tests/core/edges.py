"""Helpers of the policy edge tests: rule files written in the test, pages as exact tuples."""

from __future__ import annotations

from typing import Any, Final

import pytest

from tests.scenario import NIGHT, Result, ev

#: One tick of event time: the smallest step the tests take across an edge.
TICK: Final = 0.001
#: (offset from an edge, test id): one tick before it, exactly at it, one tick after it.
EDGE: Final = [
    pytest.param(-TICK, id="tick-before"),
    pytest.param(0.0, id="exactly"),
    pytest.param(TICK, id="tick-after"),
]


def at(t: float) -> float:
    """The event time of ``ev(t, ...)``: ``t`` seconds after NIGHT, as the very same float."""
    return NIGHT + t


def rules(rooms: dict[str, str], site: str = "") -> str:
    """A rule file for site ``zon`` with ``rooms`` (room name -> its YAML flow mapping) and,
    if given, ``site`` (site-level settings as one YAML line, e.g. a ``night`` window)."""
    lines = ["version: 1", "sites:", "  zon:"]
    if site:
        lines.append(f"    {site}")
    lines.append("    rooms:")
    lines += [f"      {name}: {body}" for name, body in rooms.items()]
    return "\n".join(lines) + "\n"


def reactions(result: Result) -> list[tuple[str, str, float]]:
    """(room, kind, ts) of every reaction (care page, escalation 0), in page order."""
    return [(p.room, p.kind, p.ts) for p in result.pages if p.is_reaction]


def technical(result: Result) -> list[tuple[str, str, float]]:
    """(room, pager text, ts) of every first technical page (device faults)."""
    return [
        (p.room, p.text, p.ts)
        for p in result.pages
        if p.audience == "technical" and p.escalation == 0
    ]


#: Rooms with the shipped parameters: "-nocam" rooms have no camera (the bed mat decides).
ROOMS = {
    "normal": "{}",
    "normal-nocam": "{}",
    "high": "{resident: {fall_risk: high}}",
    "high-nocam": "{resident: {fall_risk: high}}",
    "wander": "{resident: {wanders: true}}",
    "wander-nocam": "{resident: {wanders: true}}",
}
#: The rule file of the edge tests: the rooms above, all else the shipped defaults.
RULES: Final = rules(ROOMS)


def in_bed(room: str, t: float = 0) -> dict[str, Any]:
    """The camera sees the resident in bed."""
    return ev(t, room, "optical", "in_bed")


def mat_in_bed(room: str, t: float = 0) -> dict[str, Any]:
    """The bed mat is occupied."""
    return ev(t, room, "bed", "occupied")
