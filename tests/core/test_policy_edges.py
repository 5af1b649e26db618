"""The care policy (docs/contract.md section 4) and every rule-file parameter (rules/README.md) at
their edges, on both classifiers: exactly at a parameter's value, one tick (1 ms) before and one
after, with the exact event time of every page.

Ties: an event at exactly the time a timer is due is decided before the timer fires, so a
contradiction, a return to bed, motion or a re-occupied mat at exactly the end of a window still
counts ("within 10 s" includes the 10th second). The night window is in test_night_edges.py,
device faults (obstructed_after, silent_after) in test_device_edges.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sensorhub.engine import ClassifierName
from sensorhub.rules import RuleFileError, load_policy
from tests.core.edges import EDGE, RULES, TICK, at, in_bed, mat_in_bed, reactions, rules
from tests.scenario import ev, run

#: The shipped defaults (rules/default.yaml), in seconds.
FALL_CONFIRM = 10
BED_EXIT_CONFIRM = 5
GRACE = 15 * 60
WANDERING_CONFIRM = 20
ACOUSTIC_DURATION = 30
ACOUSTIC_GAP = 10
STAFF_RECENT = 60
STAFF_TIMEOUT = 30 * 60
IDLE_CLOSE = 10 * 60


# -- fall_confirm -------------------------------------------------------------------------------


def test_an_uncontradicted_fall_is_paged_exactly_fall_confirm_after_it(
    tmp_path: Path, classifier: ClassifierName
) -> None:
    """The page's ts is the time the confirmation timer fired: the fall + 10 s exactly."""
    r = run(
        tmp_path,
        [in_bed("normal"), ev(100, "normal", "optical", "fall")],
        RULES,
        classifier=classifier,
    )
    assert reactions(r) == [("normal", "fall", at(100) + FALL_CONFIRM)]


@pytest.mark.parametrize("confirm", [0, 1, 14])
def test_fall_confirm_set_per_room_is_the_fall_page_delay(
    tmp_path: Path, classifier: ClassifierName, confirm: int
) -> None:
    """fall_confirm 0 s (the lowest allowed) pages at the fall itself, 14 s (the highest)."""
    r = run(
        tmp_path,
        [ev(100, "room", "optical", "on_floor")],
        rules({"room": f"{{fall_confirm: {confirm}s}}"}),
        classifier=classifier,
    )
    assert reactions(r) == [("room", "fall", at(100) + confirm)]


@pytest.mark.parametrize("offset", EDGE)
def test_a_contradiction_up_to_and_at_fall_confirm_cancels_the_fall(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """Contradicted "within 10 s" includes exactly 10 s; 1 ms later the fall is paged at +10 s."""
    r = run(
        tmp_path,
        [
            in_bed("normal"),
            ev(100, "normal", "optical", "fall"),
            ev(100 + FALL_CONFIRM + offset, "normal", "optical", "out_of_bed"),
        ],
        RULES,
        classifier=classifier,
    )
    expected = [("normal", "fall", at(100) + FALL_CONFIRM)] if offset > 0 else []
    assert reactions(r) == expected


@pytest.mark.parametrize(
    "posture", ["in_bed", "sitting_on_edge", "out_of_bed", "in_bathroom", "left_room"]
)
def test_every_upright_posture_at_exactly_fall_confirm_cancels_the_fall(
    tmp_path: Path, classifier: ClassifierName, posture: str
) -> None:
    r = run(
        tmp_path,
        [
            ev(100, "normal", "optical", "on_floor"),
            ev(100 + FALL_CONFIRM, "normal", "optical", posture),
        ],
        RULES,
        classifier=classifier,
    )
    assert reactions(r) == []
    assert any(a["reason"] == f"pending fall cancelled: contradicted by {posture}" for a in r.audit)


@pytest.mark.parametrize("offset", EDGE)
def test_the_fall_window_counts_from_the_first_floor_report_not_the_last(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """More floor reports do not extend the window: it ends 10 s after the first evidence."""
    r = run(
        tmp_path,
        [
            ev(100, "normal", "optical", "fall"),
            ev(105, "normal", "optical", "on_floor"),
            ev(100 + FALL_CONFIRM + offset, "normal", "optical", "in_bathroom"),
        ],
        RULES,
        classifier=classifier,
    )
    expected = [("normal", "fall", at(100) + FALL_CONFIRM)] if offset > 0 else []
    assert reactions(r) == expected
    if expected:
        assert len(r.reaction("fall").events) == 2


def test_fall_confirm_is_at_most_14_s_so_a_fall_is_paged_within_15_s(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(rules({"room": "{fall_confirm: 14}"}))
    assert load_policy(path).room("zon", "room").fall_confirm == 14
    path.write_text(rules({"room": "{fall_confirm: 14.001}"}))
    with pytest.raises(RuleFileError, match="fall_confirm"):
        load_policy(path)


# -- bed_exit_confirm (the bed mat, where there is no camera) ---------------------------------


def test_a_vacated_mat_is_a_bed_exit_exactly_bed_exit_confirm_after_it(
    tmp_path: Path, classifier: ClassifierName
) -> None:
    r = run(
        tmp_path,
        [mat_in_bed("high-nocam"), ev(100, "high-nocam", "bed", "vacated")],
        RULES,
        classifier=classifier,
    )
    assert reactions(r) == [("high-nocam", "bed_exit", at(100) + BED_EXIT_CONFIRM)]


@pytest.mark.parametrize("offset", EDGE)
def test_a_mat_occupied_again_up_to_and_at_bed_exit_confirm_is_turning_over(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    r = run(
        tmp_path,
        [
            mat_in_bed("high-nocam"),
            ev(100, "high-nocam", "bed", "vacated"),
            ev(100 + BED_EXIT_CONFIRM + offset, "high-nocam", "bed", "occupied"),
        ],
        RULES,
        classifier=classifier,
    )
    expected = [("high-nocam", "bed_exit", at(100) + BED_EXIT_CONFIRM)] if offset > 0 else []
    assert reactions(r) == expected
    if not expected:
        assert any("turning over" in a["reason"] for a in r.audit)


@pytest.mark.parametrize("confirm", [0, 9])
def test_bed_exit_confirm_set_per_resident_is_the_mat_page_delay(
    tmp_path: Path, classifier: ClassifierName, confirm: int
) -> None:
    """bed_exit_confirm 0 s pages at the vacated event itself, 9 s (the highest) 9 s later."""
    r = run(
        tmp_path,
        [mat_in_bed("room"), ev(100, "room", "bed", "vacated")],
        rules({"room": f"{{resident: {{fall_risk: high, bed_exit_confirm: {confirm}s}}}}"}),
        classifier=classifier,
    )
    assert reactions(r) == [("room", "bed_exit", at(100) + confirm)]


# -- bathroom_grace: counted from the real exit time -------------------------------------------


def test_out_of_bed_past_grace_is_paged_exactly_grace_after_the_camera_exit(
    tmp_path: Path, classifier: ClassifierName
) -> None:
    r = run(
        tmp_path,
        [
            in_bed("normal"),
            ev(100, "normal", "optical", "out_of_bed"),
            ev(100 + GRACE + 100, "normal", "optical", "heartbeat"),
        ],
        RULES,
        classifier=classifier,
    )
    assert reactions(r) == [("normal", "absent_too_long", at(100) + GRACE)]


@pytest.mark.parametrize("offset", EDGE)
def test_back_in_bed_up_to_and_at_grace_is_not_paged_on_the_camera_path(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    r = run(
        tmp_path,
        [
            in_bed("normal"),
            ev(100, "normal", "optical", "out_of_bed"),
            ev(150, "normal", "optical", "in_bathroom"),
            ev(100 + GRACE + offset, "normal", "optical", "in_bed"),
            ev(100 + GRACE + 100, "normal", "optical", "heartbeat"),
        ],
        RULES,
        classifier=classifier,
    )
    expected = [("normal", "absent_too_long", at(100) + GRACE)] if offset > 0 else []
    assert reactions(r) == expected


def test_out_of_bed_past_grace_on_the_mat_is_paged_grace_after_vacated_not_after_the_decision(
    tmp_path: Path, classifier: ClassifierName
) -> None:
    """The mat decides the exit bed_exit_confirm (5 s) after `vacated`; the resident left the
    bed at `vacated`, so the grace period runs from there: the page is at vacated + grace."""
    r = run(
        tmp_path,
        [
            mat_in_bed("normal-nocam"),
            ev(100, "normal-nocam", "bed", "vacated"),
            ev(100 + GRACE + 100, "normal-nocam", "bed", "heartbeat"),
        ],
        RULES,
        classifier=classifier,
    )
    assert reactions(r) == [("normal-nocam", "absent_too_long", at(100) + GRACE)]


@pytest.mark.parametrize("offset", EDGE)
def test_back_on_the_mat_up_to_and_at_grace_after_vacated_is_not_paged(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """Grace from the exit time: back 1 ms after vacated + grace is paged (at vacated + grace),
    although it is within grace of the time the mat path decided the exit (vacated + 5 s)."""
    r = run(
        tmp_path,
        [
            mat_in_bed("normal-nocam"),
            ev(100, "normal-nocam", "bed", "vacated"),
            ev(100 + GRACE + offset, "normal-nocam", "bed", "occupied"),
            ev(100 + GRACE + 100, "normal-nocam", "bed", "heartbeat"),
        ],
        RULES,
        classifier=classifier,
    )
    expected = [("normal-nocam", "absent_too_long", at(100) + GRACE)] if offset > 0 else []
    assert reactions(r) == expected


@pytest.mark.parametrize("fall_risk", ["low", "normal"])
def test_bathroom_grace_set_per_resident_at_its_lowest_is_the_absence_page_delay(
    tmp_path: Path, classifier: ClassifierName, fall_risk: str
) -> None:
    """Low and normal fall risk alike: out of bed longer than grace (1 min, the lowest)."""
    r = run(
        tmp_path,
        [
            mat_in_bed("room"),
            ev(100, "room", "bed", "vacated"),
            ev(100 + 60 + TICK, "room", "bed", "occupied"),
        ],
        rules({"room": f"{{resident: {{fall_risk: {fall_risk}, bathroom_grace: 1m}}}}"}),
        classifier=classifier,
    )
    assert reactions(r) == [("room", "absent_too_long", at(100) + 60)]


# -- wandering_confirm ---------------------------------------------------------------------------


def wanderer_out_of_bed_without_camera() -> list[dict[str, Any]]:
    """A wanderer's bed mat vacated at +100 s; the room's motion sensor reports no motion."""
    return [
        mat_in_bed("wander-nocam"),
        ev(100, "wander-nocam", "bed", "vacated"),
        ev(110, "wander-nocam", "motion", "no_motion"),
    ]


def test_door_open_and_no_motion_is_wandering_exactly_wandering_confirm_after_the_door(
    tmp_path: Path, classifier: ClassifierName
) -> None:
    r = run(
        tmp_path,
        [*wanderer_out_of_bed_without_camera(), ev(130, "wander-nocam", "door", "open")],
        RULES,
        classifier=classifier,
    )
    assert reactions(r) == [("wander-nocam", "wandering", at(130) + WANDERING_CONFIRM)]


@pytest.mark.parametrize("offset", EDGE)
def test_motion_up_to_and_at_the_end_of_the_door_window_means_still_in_the_room(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    r = run(
        tmp_path,
        [
            *wanderer_out_of_bed_without_camera(),
            ev(130, "wander-nocam", "door", "open"),
            ev(130 + WANDERING_CONFIRM + offset, "wander-nocam", "motion", "motion"),
        ],
        RULES,
        classifier=classifier,
    )
    expected = [("wander-nocam", "wandering", at(130) + WANDERING_CONFIRM)] if offset > 0 else []
    assert reactions(r) == expected


@pytest.mark.parametrize(
    ("offset", "wandering"),
    [
        pytest.param(-TICK, True, id="tick-before"),
        pytest.param(0.0, True, id="exactly"),
        pytest.param(TICK, False, id="tick-after"),
    ],
)
def test_motion_in_the_first_second_after_the_door_opens_is_the_resident_leaving(
    tmp_path: Path, classifier: ClassifierName, offset: float, wandering: bool
) -> None:
    """Only motion more than 1 s after the door opened counts as someone still in the room."""
    r = run(
        tmp_path,
        [
            *wanderer_out_of_bed_without_camera(),
            ev(130, "wander-nocam", "door", "open"),
            ev(131 + offset, "wander-nocam", "motion", "motion"),
        ],
        RULES,
        classifier=classifier,
    )
    expected = [("wander-nocam", "wandering", at(130) + WANDERING_CONFIRM)] if wandering else []
    assert reactions(r) == expected


@pytest.mark.parametrize("offset", EDGE)
def test_camera_seeing_no_one_is_wandering_only_within_the_door_window(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """`no_person` up to and at 20 s after the door opened is wandering, paged at once; 1 ms
    later the window has closed (the camera saw no one leave) and it is not."""
    t = 130 + WANDERING_CONFIRM + offset
    r = run(
        tmp_path,
        [
            in_bed("wander"),
            ev(100, "wander", "optical", "out_of_bed"),
            ev(130, "wander", "door", "open"),
            ev(t, "wander", "optical", "no_person"),
        ],
        RULES,
        classifier=classifier,
    )
    assert reactions(r) == ([("wander", "wandering", at(t))] if offset <= 0 else [])


@pytest.mark.parametrize("confirm", [0, 29])
def test_wandering_confirm_set_per_resident_is_the_door_window(
    tmp_path: Path, classifier: ClassifierName, confirm: int
) -> None:
    """0 s (the lowest) decides at the door itself, 29 s (the highest) keeps within 30 s."""
    r = run(
        tmp_path,
        [
            mat_in_bed("room"),
            ev(100, "room", "bed", "vacated"),
            ev(110, "room", "motion", "no_motion"),
            ev(130, "room", "door", "open"),
        ],
        rules({"room": f"{{resident: {{wanders: true, wandering_confirm: {confirm}s}}}}"}),
        classifier=classifier,
    )
    assert reactions(r) == [("room", "wandering", at(130) + confirm)]


def test_door_open_with_the_mat_occupied_at_the_window_end_is_not_wandering(
    tmp_path: Path, classifier: ClassifierName
) -> None:
    """Back in bed exactly when the door window closes: the mat says in bed."""
    r = run(
        tmp_path,
        [
            *wanderer_out_of_bed_without_camera(),
            ev(130, "wander-nocam", "door", "open"),
            ev(130 + WANDERING_CONFIRM, "wander-nocam", "bed", "occupied"),
        ],
        RULES,
        classifier=classifier,
    )
    assert reactions(r) == []


# -- acoustic_duration, acoustic_gap, acoustic_threshold ----------------------------------------


def loud(room: str, times: Sequence[float], db: float = 72) -> list[dict[str, Any]]:
    return [ev(t, room, "acoustic", "sound", value=db) for t in times]


def test_loud_reports_exactly_acoustic_gap_apart_are_one_sustained_sound(
    tmp_path: Path, classifier: ClassifierName
) -> None:
    """Reports "at most 10 s apart": 10 s apart is one sound, paged when it has lasted 30 s."""
    times = [100 + ACOUSTIC_GAP * i for i in range(6)]
    r = run(tmp_path, loud("normal", times), RULES, classifier=classifier)
    assert reactions(r) == [("normal", "acoustic", at(100) + ACOUSTIC_DURATION)]


def test_loud_reports_a_tick_more_than_acoustic_gap_apart_are_separate_sounds(
    tmp_path: Path, classifier: ClassifierName
) -> None:
    times = [100 + (ACOUSTIC_GAP + TICK) * i for i in range(10)]
    r = run(tmp_path, loud("normal", times), RULES, classifier=classifier)
    assert reactions(r) == []


@pytest.mark.parametrize("offset", EDGE)
def test_a_gap_longer_than_acoustic_gap_restarts_the_sound_at_the_next_report(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """Reports at +100, +105, then every 5 s from +115 (+offset): a gap up to and of 10 s goes on
    with the sound started at +100 (paged at the first report 30 s in: +130, or +134.999 with
    the reports 1 ms early); 1 ms more and the sound starts again at +115.001, paged at +145.001."""
    after_gap = 105 + ACOUSTIC_GAP + offset
    times = [100, 105] + [after_gap + 5 * i for i in range(8)]
    r = run(tmp_path, loud("normal", times), RULES, classifier=classifier)
    start = 100 if offset <= 0 else after_gap
    paged_at = next(t for t in times if t - start >= ACOUSTIC_DURATION)
    assert paged_at == (130 if offset == 0 else 134.999 if offset < 0 else 145.001)
    assert reactions(r) == [("normal", "acoustic", at(paged_at))]


@pytest.mark.parametrize("offset", EDGE)
def test_loud_sound_is_paged_at_the_first_report_at_least_acoustic_duration_in(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    last = 100 + ACOUSTIC_DURATION + offset
    r = run(
        tmp_path,
        loud("normal", [100, 105, 110, 115, 120, 125, last]),
        RULES,
        classifier=classifier,
    )
    assert reactions(r) == ([("normal", "acoustic", at(last))] if offset >= 0 else [])


@pytest.mark.parametrize(("step", "paged"), [(3.0, True), (3.0 + TICK, False)])
def test_acoustic_gap_and_duration_set_per_room(
    tmp_path: Path, classifier: ClassifierName, step: float, paged: bool
) -> None:
    """acoustic_gap 3 s, acoustic_duration 12 s: reports 3 s apart paged at the 12th second."""
    times = [100 + step * i for i in range(8)]
    r = run(
        tmp_path,
        loud("room", times),
        rules({"room": "{acoustic_gap: 3s, acoustic_duration: 12s}"}),
        classifier=classifier,
    )
    assert reactions(r) == ([("room", "acoustic", at(112))] if paged else [])


@pytest.mark.parametrize(
    ("threshold", "db", "paged"),
    [(None, 65, True), (None, 64.999, False), (72, 72, True), (72, 71.999, False)],
)
def test_sound_at_exactly_acoustic_threshold_is_loud(
    tmp_path: Path, classifier: ClassifierName, threshold: int | None, db: float, paged: bool
) -> None:
    body = "{}" if threshold is None else f"{{acoustic_threshold: {threshold}}}"
    times = [100 + 5 * i for i in range(8)]
    r = run(tmp_path, loud("room", times, db), rules({"room": body}), classifier=classifier)
    assert reactions(r) == ([("room", "acoustic", at(100) + ACOUSTIC_DURATION)] if paged else [])


# -- staff_recent, staff_timeout --------------------------------------------------------------


@pytest.mark.parametrize("offset", EDGE)
def test_staff_seen_by_the_camera_count_as_present_up_to_and_at_staff_recent(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    t = 100 + STAFF_RECENT + offset
    r = run(
        tmp_path,
        [
            in_bed("high"),
            ev(100, "high", "optical", "staff_present"),
            ev(t, "high", "optical", "out_of_bed"),
        ],
        RULES,
        classifier=classifier,
    )
    assert reactions(r) == ([("high", "bed_exit", at(t))] if offset > 0 else [])


@pytest.mark.parametrize("offset", EDGE)
def test_staff_recent_set_per_room(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """staff_recent 2 m: a fall 2 m after staff were seen is not paged, 2 m + 1 ms after it is."""
    t = 100 + 120 + offset
    r = run(
        tmp_path,
        [
            ev(100, "room", "optical", "multiple_persons"),
            ev(t, "room", "optical", "fall"),
        ],
        rules({"room": "{staff_recent: 2m}"}),
        classifier=classifier,
    )
    assert reactions(r) == ([("room", "fall", at(t) + FALL_CONFIRM)] if offset > 0 else [])


@pytest.mark.parametrize("offset", EDGE)
def test_a_staff_in_without_staff_out_counts_up_to_and_at_staff_timeout(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    t = 100 + STAFF_TIMEOUT + offset
    r = run(
        tmp_path,
        [
            in_bed("high"),
            ev(100, "high", "presence", "staff_in"),
            ev(t, "high", "optical", "out_of_bed"),
        ],
        RULES,
        classifier=classifier,
    )
    assert reactions(r) == ([("high", "bed_exit", at(t))] if offset > 0 else [])


@pytest.mark.parametrize("offset", EDGE)
def test_staff_timeout_set_per_site(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """staff_timeout 1 m (the lowest): a staff_in counts up to and at 1 m, not 1 ms later."""
    t = 100 + 60 + offset
    r = run(
        tmp_path,
        [
            in_bed("room"),
            ev(100, "room", "presence", "staff_in"),
            ev(t, "room", "optical", "out_of_bed"),
        ],
        rules({"room": "{resident: {fall_risk: high}}"}, site="staff_timeout: 1m"),
        classifier=classifier,
    )
    assert reactions(r) == ([("room", "bed_exit", at(t))] if offset > 0 else [])


# -- incident_idle_close ------------------------------------------------------------------------


@pytest.mark.parametrize("offset", EDGE)
def test_a_call_pressed_again_up_to_and_at_idle_close_is_the_same_incident(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """Evidence exactly `incident_idle_close` after the last keeps the incident open; 1 ms later
    the incident was closed and the press is a new one, paged at once."""
    t = 100 + IDLE_CLOSE + offset
    r = run(
        tmp_path,
        [ev(100, "normal", "call", "pressed"), ev(t, "normal", "call", "pressed")],
        RULES,
        classifier=classifier,
    )
    expected = [("normal", "call", at(100))]
    if offset > 0:
        expected.append(("normal", "call", at(t)))
    assert reactions(r) == expected
    calls = [p for p in r.pages if p.kind == "call"]
    assert len({p.incident for p in calls}) == len(expected)


@pytest.mark.parametrize("offset", EDGE)
def test_a_fall_confirmed_again_up_to_and_at_idle_close_after_its_page_is_the_same_incident(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """The fall paged at +10 s is last evidence then; another floor report 600 s (+offset)
    later is confirmed 10 s after it, exactly idle_close (+offset) after that evidence."""
    t = 100 + IDLE_CLOSE + offset
    r = run(
        tmp_path,
        [ev(100, "normal", "optical", "fall"), ev(t, "normal", "optical", "on_floor")],
        RULES,
        classifier=classifier,
    )
    expected = [("normal", "fall", at(100) + FALL_CONFIRM)]
    if offset > 0:
        expected.append(("normal", "fall", at(t) + FALL_CONFIRM))
    assert reactions(r) == expected
    falls = [p for p in r.pages if p.kind == "fall"]
    assert len({p.incident for p in falls}) == len(expected)


@pytest.mark.parametrize("offset", EDGE)
def test_incident_idle_close_set_per_room(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """incident_idle_close 1 m (the lowest): a press 1 m after the last is the same call, one
    1 m + 1 ms after it a new call."""
    t = 100 + 60 + offset
    r = run(
        tmp_path,
        [ev(100, "room", "call", "pressed"), ev(t, "room", "call", "pressed")],
        rules({"room": "{incident_idle_close: 1m}"}),
        classifier=classifier,
    )
    assert len(reactions(r)) == (2 if offset > 0 else 1)
