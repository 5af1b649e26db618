"""The reference care policy (docs/contract.md section 4): every incident and every look-alike,
each a small scenario run through ``replay``, on both classifiers."""

from __future__ import annotations

import functools
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests import scenario
from tests.scenario import AMS, NIGHT, Result, ev, run

# deadlines from docs/contract.md section 4: page by (event time after its first evidence)
FALL_BY, CALL_BY, BED_EXIT_BY, WANDER_BY, ACOUSTIC_BY = 15, 2, 10, 30, 45
GRACE = 15 * 60


@pytest.fixture(autouse=True, params=["fast", "reference"])
def _both_classifiers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every scenario on the numba core, then on its pure-Python twin."""
    both = functools.partial(scenario.run, classifier=request.param)
    monkeypatch.setattr(sys.modules[__name__], "run", both)


def in_bed(room: str, t: float = 0) -> dict[str, Any]:
    return ev(t, room, "optical", "in_bed")


def sound(
    room: str, start: float, seconds: int, every: int = 5, db: float = 72
) -> list[dict[str, Any]]:
    return [ev(start + s, room, "acoustic", "sound", value=db) for s in range(0, seconds, every)]


# -- fall ---------------------------------------------------------------------------------


def test_fall_not_contradicted_is_paged_within_15_s(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            in_bed("normal"),
            ev(100, "normal", "optical", "fall"),
            ev(103, "normal", "optical", "on_floor"),
        ],
    )
    assert r.reactions == [("normal", "fall")]
    page = r.reaction("fall")
    assert (page.priority, page.audience) == ("critical", "care")
    assert 100 < page.ts - NIGHT <= FALL_BY + 100
    assert len(page.events) == 2


def test_on_floor_alone_is_a_fall(tmp_path: Path) -> None:
    r = run(tmp_path, [ev(100, "normal", "optical", "on_floor")])
    assert r.reactions == [("normal", "fall")]


@pytest.mark.parametrize(
    "posture", ["in_bed", "sitting_on_edge", "out_of_bed", "in_bathroom", "left_room"]
)
def test_fall_contradicted_within_10_s_is_not_paged(tmp_path: Path, posture: str) -> None:
    """Look-alikes: a blanket falling, kneeling to pick something up."""
    r = run(
        tmp_path,
        [
            in_bed("normal"),
            ev(100, "normal", "optical", "fall"),
            ev(109, "normal", "optical", posture),
        ],
    )
    assert r.reactions == []
    assert any("contradicted" in a["reason"] for a in r.audit)


def test_fall_contradicted_after_10_s_is_still_paged(tmp_path: Path) -> None:
    r = run(
        tmp_path, [ev(100, "normal", "optical", "fall"), ev(111, "normal", "optical", "out_of_bed")]
    )
    assert r.reactions == [("normal", "fall")]


def test_fall_with_staff_present_is_not_paged(tmp_path: Path) -> None:
    r = run(
        tmp_path, [ev(90, "normal", "presence", "staff_in"), ev(100, "normal", "optical", "fall")]
    )
    assert r.reactions == []


def test_fall_with_staff_seen_by_camera_in_last_60_s_is_not_paged(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [ev(50, "normal", "optical", "multiple_persons"), ev(100, "normal", "optical", "fall")],
    )
    assert r.reactions == []


def test_fall_after_staff_seen_more_than_60_s_ago_is_paged(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [ev(30, "normal", "optical", "staff_present"), ev(100, "normal", "optical", "fall")],
    )
    assert r.reactions == [("normal", "fall")]


def test_fall_after_staff_left_is_paged(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            ev(50, "normal", "presence", "staff_in"),
            ev(80, "normal", "presence", "staff_out"),
            ev(100, "normal", "optical", "fall"),
        ],
    )
    assert r.reactions == [("normal", "fall")]


def test_staff_arriving_during_the_fall_window_resolves_it(tmp_path: Path) -> None:
    r = run(
        tmp_path, [ev(100, "normal", "optical", "fall"), ev(105, "normal", "presence", "staff_in")]
    )
    assert r.reactions == []


def test_a_forgotten_staff_in_expires_and_does_not_hide_a_fall(tmp_path: Path) -> None:
    r = run(
        tmp_path, [ev(0, "normal", "presence", "staff_in"), ev(3600, "normal", "optical", "fall")]
    )
    assert r.reactions == [("normal", "fall")]


def test_falls_are_paged_in_the_daytime_too(tmp_path: Path) -> None:
    noon = datetime(2026, 11, 21, 12, 0, tzinfo=AMS).timestamp()
    r = run(tmp_path, [ev(noon, "normal", "optical", "fall")])
    assert r.reactions == [("normal", "fall")]


def test_repeated_floor_reports_of_one_fall_are_one_incident(tmp_path: Path) -> None:
    """Look-alike: a duplicate of an alarm already paged."""
    events = [ev(100 + 20 * i, "normal", "optical", "on_floor") for i in range(10)]
    r = run(tmp_path, events)
    assert r.reactions == [("normal", "fall")]


# -- resident call -------------------------------------------------------------------------


def test_call_is_paged_at_once(tmp_path: Path) -> None:
    r = run(tmp_path, [ev(100, "normal", "call", "pressed")])
    assert r.reactions == [("normal", "call")]
    assert r.reaction("call").ts - NIGHT - 100 <= CALL_BY


def test_repeated_presses_of_an_open_call_are_one_incident(tmp_path: Path) -> None:
    r = run(tmp_path, [ev(100 + 15 * i, "normal", "call", "pressed") for i in range(5)])
    assert r.reactions == [("normal", "call")]


def test_call_with_staff_present_is_paged(tmp_path: Path) -> None:
    """A call pressed while staff are there asks for a second pair of hands."""
    r = run(
        tmp_path, [ev(90, "normal", "presence", "staff_in"), ev(100, "normal", "call", "pressed")]
    )
    assert r.reactions == [("normal", "call")]


def test_call_in_the_daytime_is_paged(tmp_path: Path) -> None:
    noon = datetime(2026, 11, 21, 12, 0, tzinfo=AMS).timestamp()
    r = run(tmp_path, [ev(noon, "normal", "call", "pressed")])
    assert r.reactions == [("normal", "call")]


def test_a_call_after_a_cancelled_call_is_a_new_incident(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            ev(100, "normal", "call", "pressed"),
            ev(110, "normal", "call", "cancelled"),
            ev(200, "normal", "call", "pressed"),
        ],
    )
    assert r.reactions == [("normal", "call"), ("normal", "call")]
    assert len({p.incident for p in r.pages}) == 2


def test_a_call_after_staff_came_is_a_new_incident(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            ev(100, "normal", "call", "pressed"),
            ev(160, "normal", "presence", "staff_in"),
            ev(300, "normal", "presence", "staff_out"),
            ev(400, "normal", "call", "pressed"),
        ],
    )
    assert r.reactions == [("normal", "call"), ("normal", "call")]


# -- bed exit, high fall risk -------------------------------------------------------------


def test_high_risk_bed_exit_at_night_is_paged_within_10_s(tmp_path: Path) -> None:
    r = run(tmp_path, [in_bed("high"), ev(100, "high", "optical", "out_of_bed")])
    assert r.reactions == [("high", "bed_exit")]
    assert r.reaction("bed_exit").ts - NIGHT - 100 <= BED_EXIT_BY


def test_high_risk_bed_exit_in_the_daytime_is_not_paged(tmp_path: Path) -> None:
    morning = datetime(2026, 11, 21, 9, 0, tzinfo=AMS).timestamp()
    r = run(
        tmp_path,
        [
            ev(morning, "high", "optical", "in_bed"),
            ev(morning + 60, "high", "optical", "out_of_bed"),
        ],
    )
    assert r.reactions == []
    assert any("outside the night window" in a["reason"] for a in r.audit)


def test_sitting_on_the_bed_edge_and_lying_back_is_not_paged(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            in_bed("high"),
            ev(100, "high", "optical", "sitting_on_edge"),
            ev(160, "high", "optical", "in_bed"),
        ],
    )
    assert r.reactions == []


def test_high_risk_bed_exit_with_staff_present_is_not_paged(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            in_bed("high"),
            ev(90, "high", "presence", "staff_in"),
            ev(100, "high", "optical", "out_of_bed"),
        ],
    )
    assert r.reactions == []


def test_bed_mat_is_ignored_where_the_camera_works(tmp_path: Path) -> None:
    """Look-alike: a bed mat lifting while the resident turns."""
    r = run(
        tmp_path,
        [
            in_bed("high"),
            ev(100, "high", "bed", "vacated"),
            ev(140, "high", "bed", "occupied"),
            ev(150, "high", "optical", "in_bed"),
        ],
    )
    assert r.reactions == []


def test_bed_mat_decides_where_there_is_no_camera(tmp_path: Path) -> None:
    r = run(
        tmp_path, [ev(0, "high-nocam", "bed", "occupied"), ev(100, "high-nocam", "bed", "vacated")]
    )
    assert r.reactions == [("high-nocam", "bed_exit")]
    assert r.reaction("bed_exit").ts - NIGHT - 100 <= BED_EXIT_BY


def test_turning_over_on_a_bed_mat_is_not_a_bed_exit(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            ev(0, "high-nocam", "bed", "occupied"),
            ev(100, "high-nocam", "bed", "vacated"),
            ev(102, "high-nocam", "bed", "occupied"),
        ],
    )
    assert r.reactions == []


def test_bed_mat_decides_while_the_camera_is_obstructed(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            in_bed("high"),
            ev(10, "high", "bed", "occupied"),
            ev(50, "high", "optical", "obstructed"),
            ev(100, "high", "bed", "vacated"),
        ],
    )
    assert r.reactions == [("high", "bed_exit")]
    assert [p.audience for p in r.pages if p.kind == "device_fault"] == ["technical"]


def test_bed_mat_decides_when_the_camera_is_silent(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [in_bed("high"), ev(10, "high", "bed", "occupied"), ev(700, "high", "bed", "vacated")],
    )
    assert ("high", "bed_exit") in r.reactions


def test_a_more_severe_incident_in_a_room_with_an_open_one_is_new(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            in_bed("high"),
            ev(100, "high", "optical", "out_of_bed"),
            ev(130, "high", "optical", "fall"),
        ],
    )
    assert r.reactions == [("high", "bed_exit"), ("high", "fall")]


def test_moving_about_after_a_paged_bed_exit_is_one_incident(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            in_bed("high"),
            ev(100, "high", "optical", "out_of_bed"),
            ev(130, "high", "optical", "in_bathroom"),
            ev(200, "high", "optical", "out_of_bed"),
        ],
    )
    assert r.reactions == [("high", "bed_exit")]


# -- absent too long --------------------------------------------------------------------------


def test_toilet_visit_within_grace_is_not_paged(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            in_bed("normal"),
            ev(100, "normal", "optical", "out_of_bed"),
            ev(120, "normal", "optical", "in_bathroom"),
            ev(600, "normal", "optical", "out_of_bed"),
            ev(640, "normal", "optical", "in_bed"),
        ],
    )
    assert r.reactions == []
    assert any("back in bed within the grace period" in a["reason"] for a in r.audit)


def test_out_of_bed_longer_than_grace_is_paged(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            in_bed("normal"),
            ev(100, "normal", "optical", "out_of_bed"),
            ev(120, "normal", "optical", "in_bathroom"),
            ev(100 + GRACE + 200, "normal", "optical", "heartbeat"),
        ],
    )
    assert r.reactions == [("normal", "absent_too_long")]
    page = r.reaction("absent_too_long")
    assert GRACE <= page.ts - NIGHT - 100 <= GRACE + 60


def test_sitting_on_the_edge_is_not_back_in_bed(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            in_bed("normal"),
            ev(100, "normal", "optical", "out_of_bed"),
            ev(500, "normal", "optical", "sitting_on_edge"),
            ev(100 + GRACE + 200, "normal", "optical", "heartbeat"),
        ],
    )
    assert r.reactions == [("normal", "absent_too_long")]


def test_staff_arriving_within_grace_cancels_absent_too_long(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            in_bed("normal"),
            ev(100, "normal", "optical", "out_of_bed"),
            ev(400, "normal", "presence", "staff_in"),
            ev(100 + GRACE + 200, "normal", "optical", "heartbeat"),
        ],
    )
    assert r.reactions == []


def test_bathroom_grace_is_set_per_resident(tmp_path: Path) -> None:
    rules = """
version: 1
sites:
  zon:
    rooms:
      normal: {resident: {bathroom_grace: 5m}}
"""
    r = run(
        tmp_path,
        [
            in_bed("normal"),
            ev(100, "normal", "optical", "out_of_bed"),
            ev(100 + 400, "normal", "optical", "in_bathroom"),
        ],
        rules,
    )
    assert r.reactions == [("normal", "absent_too_long")]
    assert r.reaction("absent_too_long").ts == NIGHT + 100 + 300


# -- wandering ----------------------------------------------------------------------------------


def test_wanderer_leaving_the_room_at_night_is_paged(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            in_bed("wander"),
            ev(100, "wander", "optical", "out_of_bed"),
            ev(130, "wander", "door", "open"),
            ev(135, "wander", "optical", "left_room"),
            ev(400, "wander", "optical", "entered_room"),
            ev(420, "wander", "optical", "in_bed"),
        ],
    )
    assert r.reactions == [("wander", "wandering")]
    assert r.reaction("wandering").ts - NIGHT - 130 <= WANDER_BY


def test_door_open_and_camera_sees_the_room_empty_is_wandering(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            in_bed("wander"),
            ev(100, "wander", "optical", "out_of_bed"),
            ev(130, "wander", "door", "open"),
            ev(140, "wander", "optical", "no_person"),
        ],
    )
    assert ("wander", "wandering") in r.reactions


def test_door_open_with_no_person_left_where_there_is_no_camera(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            ev(0, "wander-nocam", "bed", "occupied"),
            ev(100, "wander-nocam", "bed", "vacated"),
            ev(110, "wander-nocam", "motion", "motion"),
            ev(130, "wander-nocam", "door", "open"),
            ev(133, "wander-nocam", "door", "closed"),
            ev(160, "wander-nocam", "motion", "no_motion"),
        ],
    )
    assert r.reactions == [("wander-nocam", "wandering")]
    assert r.reaction("wandering").ts - NIGHT - 130 <= WANDER_BY


def test_door_opened_by_staff_is_not_wandering(tmp_path: Path) -> None:
    """Look-alike: a door opened by staff."""
    r = run(
        tmp_path,
        [
            ev(0, "wander-nocam", "bed", "occupied"),
            ev(100, "wander-nocam", "presence", "staff_in"),
            ev(101, "wander-nocam", "door", "open"),
        ],
    )
    assert r.reactions == []


def test_door_opened_while_the_resident_is_in_bed_is_not_wandering(tmp_path: Path) -> None:
    """Look-alike: staff looking in without pressing the presence button."""
    r = run(
        tmp_path,
        [
            ev(0, "wander-nocam", "bed", "occupied"),
            ev(100, "wander-nocam", "door", "open"),
            ev(110, "wander-nocam", "door", "closed"),
        ],
    )
    assert r.reactions == []


def test_door_open_with_motion_still_in_the_room_is_not_wandering(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            ev(0, "wander-nocam", "bed", "occupied"),
            ev(90, "wander-nocam", "bed", "vacated"),
            ev(100, "wander-nocam", "door", "open"),
            ev(112, "wander-nocam", "motion", "motion"),
        ],
    )
    assert ("wander-nocam", "wandering") not in r.reactions


def test_door_open_with_camera_seeing_the_resident_is_not_wandering(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [in_bed("wander"), ev(100, "wander", "door", "open"), ev(110, "wander", "door", "closed")],
    )
    assert r.reactions == []


def test_a_resident_who_does_not_wander_leaving_the_room_is_not_wandering(
    tmp_path: Path,
) -> None:
    r = run(
        tmp_path,
        [
            in_bed("normal"),
            ev(100, "normal", "optical", "out_of_bed"),
            ev(130, "normal", "optical", "left_room"),
            ev(300, "normal", "optical", "in_bed"),
        ],
    )
    assert r.reactions == []


def test_wanderer_leaving_in_the_daytime_is_not_paged(tmp_path: Path) -> None:
    day = datetime(2026, 11, 21, 14, 0, tzinfo=AMS).timestamp()
    r = run(tmp_path, [ev(day, "wander", "optical", "left_room")])
    assert r.reactions == []


# -- acoustic --------------------------------------------------------------------------------


def test_sustained_loud_sound_is_paged_within_45_s(tmp_path: Path) -> None:
    r = run(tmp_path, sound("normal", 100, 60))
    assert r.reactions == [("normal", "acoustic")]
    page = r.reaction("acoustic")
    assert 30 <= page.ts - NIGHT - 100 <= ACOUSTIC_BY


def test_a_cough_is_not_paged(tmp_path: Path) -> None:
    """Look-alike: a cough."""
    r = run(
        tmp_path,
        [ev(100, "normal", "acoustic", "sound", value=85), ev(104, "normal", "acoustic", "quiet")],
    )
    assert r.reactions == []


def test_loud_reports_more_than_10_s_apart_are_not_sustained(tmp_path: Path) -> None:
    r = run(tmp_path, sound("normal", 100, 120, every=12))
    assert r.reactions == []


def test_sound_below_the_threshold_is_not_paged(tmp_path: Path) -> None:
    r = run(tmp_path, sound("normal", 100, 120, db=64.9))
    assert r.reactions == []


def test_quiet_breaks_a_loud_run(tmp_path: Path) -> None:
    events = [
        *sound("normal", 100, 25),
        ev(126, "normal", "acoustic", "quiet"),
        *sound("normal", 127, 25),
    ]
    r = run(tmp_path, events)
    assert r.reactions == []


def test_acoustic_threshold_is_set_per_room(tmp_path: Path) -> None:
    rules = """
version: 1
sites:
  zon:
    rooms:
      normal: {acoustic_threshold: 75}
"""
    r = run(tmp_path, sound("normal", 100, 60, db=72), rules)
    assert r.reactions == []


def test_sustained_sound_with_staff_present_is_not_paged(tmp_path: Path) -> None:
    r = run(tmp_path, [ev(90, "normal", "presence", "staff_in"), *sound("normal", 100, 60)])
    assert r.reactions == []


# -- device faults (technical) ----------------------------------------------------------------


@pytest.mark.parametrize("health", ["fault", "battery_low"])
def test_device_fault_goes_to_technicians_only(tmp_path: Path, health: str) -> None:
    r = run(tmp_path, [ev(100, "normal", "bed", health)])
    assert r.reactions == []
    (page,) = r.pages
    assert (page.kind, page.audience, page.recipient) == (
        "device_fault",
        "technical",
        "technicians",
    )


def test_repeated_battery_low_is_one_technical_page(tmp_path: Path) -> None:
    r = run(tmp_path, [ev(100 + 300 * i, "normal", "bed", "battery_low") for i in range(6)])
    assert len(r.technical) == 1


def test_camera_obstructed_for_60_s_is_a_device_fault(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            in_bed("normal"),
            ev(100, "normal", "optical", "obstructed"),
            ev(200, "normal", "optical", "heartbeat"),
        ],
    )
    assert [p.ts - NIGHT for p in r.pages] == [160]
    assert r.pages[0].audience == "technical"


def test_camera_obstructed_briefly_is_not_a_fault(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        [
            in_bed("normal"),
            ev(100, "normal", "optical", "obstructed"),
            ev(130, "normal", "optical", "in_bed"),
            ev(300, "normal", "optical", "heartbeat"),
        ],
    )
    assert r.pages == []


def test_a_device_silent_for_10_min_is_a_device_fault(tmp_path: Path) -> None:
    events = [ev(0, "normal", "bed", "heartbeat")] + [
        ev(60 * i, "normal", "optical", "heartbeat") for i in range(20)
    ]
    r = run(tmp_path, events)
    assert [(p.kind, p.audience, p.ts - NIGHT) for p in r.pages] == [
        ("device_fault", "technical", 600)
    ]
    assert "silent" in r.pages[0].text


def test_a_device_reporting_regularly_is_not_silent(tmp_path: Path) -> None:
    events = [ev(300 * i, "normal", k, "heartbeat") for i in range(12) for k in ("bed", "call")]
    r = run(tmp_path, events)
    assert r.pages == []


# -- event time, late and out-of-order events ----------------------------------------------------


def test_a_late_contradiction_still_cancels_a_fall(tmp_path: Path) -> None:
    """in_bed at +5 s arrives after an event at +12 s: still placed before the fall deadline."""
    events: list[dict[str, Any] | str] = [
        ev(100, "normal", "optical", "fall"),
        ev(112, "normal", "call", "heartbeat"),
        ev(105, "normal", "optical", "in_bed"),
    ]
    r = _run_in_given_order(tmp_path, events)
    assert r.reactions == []


def test_an_event_beyond_the_lateness_bound_is_decided_not_lost(tmp_path: Path) -> None:
    events: list[dict[str, Any] | str] = [
        ev(100, "normal", "optical", "heartbeat"),
        ev(200, "normal", "optical", "heartbeat"),
        ev(150, "normal", "call", "pressed"),
    ]
    r = _run_in_given_order(tmp_path, events)
    assert r.reactions == [("normal", "call")]
    assert r.summary.late_events == 1
    assert any("late" in a["reason"] for a in r.audit)


def test_a_redelivered_event_is_processed_once(tmp_path: Path) -> None:
    press = ev(100, "normal", "call", "pressed")
    r = _run_in_given_order(tmp_path, [press, ev(110, "normal", "call", "cancelled"), press])
    assert r.reactions == [("normal", "call")]
    assert r.summary.duplicates == 1


def _run_in_given_order(tmp_path: Path, events: list[dict[str, Any] | str]) -> Result:
    """Run with the recording in exactly the given (arrival) order."""
    as_text: list[dict[str, Any] | str] = [json.dumps(e) for e in events if isinstance(e, dict)]
    return run(tmp_path, as_text)


# -- daylight saving --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "paged"),
    [
        # end of daylight saving, 25 Oct 2026: 03:00 CEST becomes 02:00 CET
        (datetime(2026, 10, 24, 22, 15, tzinfo=AMS), True),
        (datetime(2026, 10, 25, 2, 30, fold=0, tzinfo=AMS), True),  # first 02:30 (CEST)
        (datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=AMS), True),  # second 02:30 (CET)
        (datetime(2026, 10, 25, 6, 45, tzinfo=AMS), True),  # a fixed +02:00 would say 07:45
        (datetime(2026, 10, 25, 7, 15, tzinfo=AMS), False),
        (datetime(2026, 10, 24, 21, 45, tzinfo=AMS), False),
        # start of daylight saving, 29 Mar 2026: 02:00 CET becomes 03:00 CEST
        (datetime(2026, 3, 29, 6, 50, tzinfo=AMS), True),
        (datetime(2026, 3, 29, 7, 10, tzinfo=AMS), False),  # a fixed +01:00 would say 06:10
    ],
)
def test_night_window_follows_daylight_saving(tmp_path: Path, local: datetime, paged: bool) -> None:
    t = local.timestamp()
    r = run(
        tmp_path, [ev(t - 300, "high", "optical", "in_bed"), ev(t, "high", "optical", "out_of_bed")]
    )
    assert r.reactions == ([("high", "bed_exit")] if paged else [])


def test_a_whole_night_across_the_end_of_daylight_saving(tmp_path: Path) -> None:
    """A toilet visit and a fall in the repeated hour are placed correctly, in UTC order."""
    first = datetime(2026, 10, 25, 2, 10, fold=0, tzinfo=AMS).timestamp()
    second = datetime(2026, 10, 25, 2, 5, fold=1, tzinfo=AMS).timestamp()
    assert second > first
    r = run(
        tmp_path,
        [
            ev(first - 60, "normal", "optical", "in_bed"),
            ev(first, "normal", "optical", "out_of_bed"),
            ev(first + 300, "normal", "optical", "in_bed"),
            ev(second, "normal", "optical", "fall"),
        ],
        jitter=8,
        seed=3,
    )
    assert r.reactions == [("normal", "fall")]
