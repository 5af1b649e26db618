"""The night window (docs/contract.md section 4: default 22:00-07:00 Europe/Amsterdam, daylight
saving included) at its start and end, exactly, one tick (1 ms) and half a minute either side,
in winter and summer time and on the two daylight-saving change nights of 2026, and the
`night` and `timezone` rule-file settings at their edges, on both classifiers.

Night is [start, end) on the local wall clock: 22:00:00.000 is night, 21:59:59.999 is not;
06:59:59.999 is night, 07:00:00.000 is not. A bed exit is judged at the time the resident left
the bed (the `vacated` time on the bed-mat path, not the decision 5 s later).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sensorhub.engine import ClassifierName
from tests.core.edges import RULES, TICK, in_bed, mat_in_bed, reactions, rules
from tests.scenario import AMS, ev, run

GRACE = 15 * 60
BED_EXIT_CONFIRM = 5
WANDERING_CONFIRM = 20

#: offsets from an edge: half a minute and one tick before, exactly, one tick and half a minute
#: after (a night that starts at 22:01 instead of 22:00 misses 22:00:30)
OFFSETS = [
    pytest.param(-30.0, id="30s-before"),
    pytest.param(-TICK, id="tick-before"),
    pytest.param(0.0, id="exactly"),
    pytest.param(TICK, id="tick-after"),
    pytest.param(30.0, id="30s-after"),
]


def utc(year: int, month: int, day: int, hour: int, minute: int) -> float:
    """Unix seconds of a UTC time."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def local(
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    *,
    second: int = 0,
    zone: ZoneInfo = AMS,
) -> float:
    """Unix seconds of a local wall-clock time (the first of two, where the clock goes back)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=zone).timestamp()


#: The edges of the default night: (test id, local time, the same instant in UTC, edge)
DEFAULT_NIGHT = [
    ("winter-start", local(2026, 11, 20, 22, 0), utc(2026, 11, 20, 21, 0), "start"),
    ("winter-end", local(2026, 11, 21, 7, 0), utc(2026, 11, 21, 6, 0), "end"),
    ("summer-start", local(2026, 7, 10, 22, 0), utc(2026, 7, 10, 20, 0), "start"),
    ("summer-end", local(2026, 7, 11, 7, 0), utc(2026, 7, 11, 5, 0), "end"),
    # clocks go forward 29 March 2026 02:00 CET -> 03:00 CEST
    ("spring-change-start", local(2026, 3, 28, 22, 0), utc(2026, 3, 28, 21, 0), "start"),
    ("spring-change-end", local(2026, 3, 29, 7, 0), utc(2026, 3, 29, 5, 0), "end"),
    ("spring-next-start", local(2026, 3, 29, 22, 0), utc(2026, 3, 29, 20, 0), "start"),
    # clocks go back 25 October 2026 03:00 CEST -> 02:00 CET
    ("autumn-change-start", local(2026, 10, 24, 22, 0), utc(2026, 10, 24, 20, 0), "start"),
    ("autumn-change-end", local(2026, 10, 25, 7, 0), utc(2026, 10, 25, 6, 0), "end"),
    ("autumn-next-start", local(2026, 10, 25, 22, 0), utc(2026, 10, 25, 21, 0), "start"),
]
#: (edge time, "start" or "end") of the default night, by test id
DEFAULT_EDGES = [pytest.param(at, edge, id=name) for name, at, _, edge in DEFAULT_NIGHT]


def is_night(edge: str, offset: float) -> bool:
    """Whether ``offset`` s from a night's ``edge`` ("start" or "end") is in the night."""
    return offset >= 0 if edge == "start" else offset < 0


def high_risk_gets_up(t: float, room: str = "high") -> list[dict[str, Any]]:
    """A high-fall-risk resident in bed 5 min before ``t`` gets up at ``t`` (camera)."""
    return [in_bed(room, t - 300), ev(t, room, "optical", "out_of_bed")]


# -- the default night ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edge_at", "edge_utc"), [pytest.param(at, u, id=name) for name, at, u, _ in DEFAULT_NIGHT]
)
def test_the_default_night_edges_are_the_instants_the_tests_mean(
    edge_at: float, edge_utc: float
) -> None:
    """Guards the test below: each local edge is the UTC instant of its daylight-saving time."""
    assert edge_at == edge_utc


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize(("edge_at", "edge"), DEFAULT_EDGES)
def test_a_high_risk_bed_exit_is_paged_exactly_inside_the_default_night(
    tmp_path: Path, classifier: ClassifierName, edge_at: float, edge: str, offset: float
) -> None:
    t = edge_at + offset
    r = run(tmp_path, high_risk_gets_up(t), RULES, classifier=classifier)
    assert reactions(r) == ([("high", "bed_exit", t)] if is_night(edge, offset) else [])


def test_a_high_risk_resident_getting_up_at_22_00_30_is_paged(
    tmp_path: Path, classifier: ClassifierName
) -> None:
    t = local(2026, 11, 20, 22, 0) + 30
    r = run(tmp_path, high_risk_gets_up(t), RULES, classifier=classifier)
    assert reactions(r) == [("high", "bed_exit", t)]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(utc(2026, 3, 29, 1, 0), id="spring-02:00-CET-is-03:00-CEST"),
        pytest.param(utc(2026, 10, 25, 1, 0), id="autumn-03:00-CEST-is-02:00-CET"),
    ],
)
@pytest.mark.parametrize("offset", [-TICK, 0.0, TICK])
def test_the_night_goes_on_through_the_clock_change(
    tmp_path: Path, classifier: ClassifierName, change: float, offset: float
) -> None:
    t = change + offset
    r = run(tmp_path, high_risk_gets_up(t), RULES, classifier=classifier)
    assert reactions(r) == [("high", "bed_exit", t)]


def test_the_clock_changes_are_where_the_test_expects_them() -> None:
    """Guards the tests above: the instants and local times they rely on."""
    spring = datetime.fromtimestamp(utc(2026, 3, 29, 1, 0), AMS)
    assert (spring.hour, spring.utcoffset()) == (3, timedelta(hours=2))
    assert datetime.fromtimestamp(utc(2026, 3, 29, 1, 0) - TICK, AMS).hour == 1
    autumn = datetime.fromtimestamp(utc(2026, 10, 25, 1, 0), AMS)
    assert (autumn.hour, autumn.utcoffset()) == (2, timedelta(hours=1))
    assert datetime.fromtimestamp(utc(2026, 10, 25, 1, 0) - TICK, AMS).hour == 2


# -- what each incident judges by the night ----------------------------------------------------


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize(
    ("edge_at", "edge"),
    [
        pytest.param(local(2026, 11, 20, 22, 0), "start", id="start"),
        pytest.param(local(2026, 11, 21, 7, 0), "end", id="end"),
    ],
)
def test_a_bed_mat_exit_is_judged_at_the_vacated_time_not_at_the_decision(
    tmp_path: Path, classifier: ClassifierName, edge_at: float, edge: str, offset: float
) -> None:
    """Vacated at 21:59:59.999 and decided at 22:00:04.999 is a day exit; vacated at
    06:59:59.999 is a night exit, paged at 07:00:04.999."""
    t = edge_at + offset
    r = run(
        tmp_path,
        [mat_in_bed("high-nocam", t - 300), ev(t, "high-nocam", "bed", "vacated")],
        RULES,
        classifier=classifier,
    )
    expected = [("high-nocam", "bed_exit", t + BED_EXIT_CONFIRM)]
    assert reactions(r) == (expected if is_night(edge, offset) else [])


@pytest.mark.parametrize("offset", OFFSETS)
def test_absence_from_a_night_exit_is_paged_after_the_night_has_ended(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """Out of bed at 06:59:59.999 is paged at 07:14:59.999; out of bed at 07:00 is not."""
    t = local(2026, 11, 21, 7, 0) + offset
    r = run(
        tmp_path,
        [
            in_bed("normal", t - 300),
            ev(t, "normal", "optical", "out_of_bed"),
            ev(t + GRACE + 100, "normal", "optical", "heartbeat"),
        ],
        RULES,
        classifier=classifier,
    )
    expected = [("normal", "absent_too_long", t + GRACE)]
    assert reactions(r) == (expected if is_night("end", offset) else [])


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize(
    ("edge_at", "edge"),
    [
        pytest.param(local(2026, 7, 10, 22, 0), "start", id="start"),
        pytest.param(local(2026, 7, 11, 7, 0), "end", id="end"),
    ],
)
def test_a_wanderer_leaving_the_room_is_paged_exactly_inside_the_night(
    tmp_path: Path, classifier: ClassifierName, edge_at: float, edge: str, offset: float
) -> None:
    t = edge_at + offset
    r = run(
        tmp_path,
        [in_bed("wander", t - 300), ev(t, "wander", "optical", "left_room")],
        RULES,
        classifier=classifier,
    )
    assert reactions(r) == ([("wander", "wandering", t)] if is_night(edge, offset) else [])


def wanderer_opens_the_door(t: float) -> list[dict[str, Any]]:
    """A wanderer (no camera) out of bed 100 s before opening the door at ``t``; no motion."""
    return [
        mat_in_bed("wander-nocam", t - 300),
        ev(t - 100, "wander-nocam", "bed", "vacated"),
        ev(t - 90, "wander-nocam", "motion", "no_motion"),
        ev(t, "wander-nocam", "door", "open"),
    ]


@pytest.mark.parametrize("offset", OFFSETS)
def test_a_door_opened_before_the_night_starts_is_not_wandering(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """The door decides: opened at 21:59:59.999, the room found empty at 22:00:19.999 is not
    wandering; opened at 22:00:00 it is, paged when the door window closes."""
    t = local(2026, 11, 20, 22, 0) + offset
    r = run(tmp_path, wanderer_opens_the_door(t), RULES, classifier=classifier)
    expected = [("wander-nocam", "wandering", t + WANDERING_CONFIRM)]
    assert reactions(r) == (expected if is_night("start", offset) else [])


def test_a_door_opened_just_before_the_night_ends_is_wandering(
    tmp_path: Path, classifier: ClassifierName
) -> None:
    """CONTRACT: a wanderer who leaves the room at night (door open at 06:59:50, no one left in
    the room) is paged; the window closes at 07:00:10."""
    t = local(2026, 11, 21, 7, 0) - 10
    r = run(tmp_path, wanderer_opens_the_door(t), RULES, classifier=classifier)
    assert reactions(r) == [("wander-nocam", "wandering", t + WANDERING_CONFIRM)]


# -- the night and the time zone set per site -----------------------------------------------

SITE_NIGHT = rules(
    {"high": "{resident: {fall_risk: high}}"}, site='night: {start: "21:30", end: "06:30"}'
)


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize(
    ("edge_at", "edge"),
    [
        pytest.param(local(2026, 11, 20, 21, 30), "start", id="winter-start"),
        pytest.param(local(2026, 11, 21, 6, 30), "end", id="winter-end"),
        pytest.param(local(2026, 7, 10, 21, 30), "start", id="summer-start"),
        pytest.param(local(2026, 7, 11, 6, 30), "end", id="summer-end"),
        pytest.param(local(2026, 3, 29, 6, 30), "end", id="spring-change-end"),
        pytest.param(local(2026, 10, 25, 6, 30), "end", id="autumn-change-end"),
    ],
)
def test_a_site_night_of_21_30_to_06_30_is_paged_exactly_inside(
    tmp_path: Path, classifier: ClassifierName, edge_at: float, edge: str, offset: float
) -> None:
    t = edge_at + offset
    r = run(tmp_path, high_risk_gets_up(t), SITE_NIGHT, classifier=classifier)
    assert reactions(r) == ([("high", "bed_exit", t)] if is_night(edge, offset) else [])


@pytest.mark.parametrize(
    ("when", "paged"),
    [
        pytest.param(local(2026, 11, 20, 21, 59, second=59) + 0.999, True, id="21:59:59.999"),
        pytest.param(local(2026, 11, 21, 6, 59, second=59) + 0.999, False, id="06:59:59.999"),
    ],
)
def test_a_site_night_replaces_the_default_night(
    tmp_path: Path, classifier: ClassifierName, when: float, paged: bool
) -> None:
    r = run(tmp_path, high_risk_gets_up(when), SITE_NIGHT, classifier=classifier)
    assert reactions(r) == ([("high", "bed_exit", when)] if paged else [])


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize(
    ("edge_at", "edge"),
    [
        pytest.param(local(2026, 11, 21, 0, 30), "start", id="start-00:30"),
        pytest.param(local(2026, 11, 21, 5, 0), "end", id="end-05:00"),
    ],
)
def test_a_night_within_one_day_is_paged_exactly_inside(
    tmp_path: Path, classifier: ClassifierName, edge_at: float, edge: str, offset: float
) -> None:
    """A window that does not wrap midnight (00:30-05:00)."""
    t = edge_at + offset
    rules_text = rules(
        {"high": "{resident: {fall_risk: high}}"}, site='night: {start: "00:30", end: "05:00"}'
    )
    r = run(tmp_path, high_risk_gets_up(t), rules_text, classifier=classifier)
    assert reactions(r) == ([("high", "bed_exit", t)] if is_night(edge, offset) else [])


LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize(
    ("edge_at", "edge"),
    [
        pytest.param(local(2026, 11, 20, 22, 0, zone=LONDON), "start", id="winter-start"),
        pytest.param(local(2026, 7, 11, 7, 0, zone=LONDON), "end", id="summer-end"),
    ],
)
def test_the_night_follows_the_site_timezone(
    tmp_path: Path, classifier: ClassifierName, edge_at: float, edge: str, offset: float
) -> None:
    """22:00 in London is 23:00 in Amsterdam: a London site's night starts an hour later."""
    t = edge_at + offset
    rules_text = rules({"high": "{resident: {fall_risk: high}}"}, site="timezone: Europe/London")
    r = run(tmp_path, high_risk_gets_up(t), rules_text, classifier=classifier)
    assert reactions(r) == ([("high", "bed_exit", t)] if is_night(edge, offset) else [])
