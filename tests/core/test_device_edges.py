"""Device faults (technical pages) at the edges of `obstructed_after` and `silent_after`, and
the bed mat taking over from a silent camera, on both classifiers: exactly at the value, one
tick (1 ms) before and after, with the exact event time of every page."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensorhub.engine import ClassifierName
from tests.core.edges import EDGE, RULES, TICK, at, in_bed, mat_in_bed, reactions, rules, technical
from tests.scenario import ev, run

#: The shipped defaults (rules/default.yaml), in seconds.
BED_EXIT_CONFIRM = 5
OBSTRUCTED_AFTER = 60
SILENT_AFTER = 10 * 60


# -- obstructed_after, silent_after (technical pages) -------------------------------------------


@pytest.mark.parametrize("offset", EDGE)
def test_a_camera_obstructed_longer_than_obstructed_after_is_a_fault_at_exactly_that_time(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """Seeing again up to and at 60 s is no fault; 1 ms later the fault was paged at +60 s."""
    r = run(
        tmp_path,
        [
            in_bed("normal"),
            ev(100, "normal", "optical", "obstructed"),
            ev(100 + OBSTRUCTED_AFTER + offset, "normal", "optical", "in_bed"),
        ],
        RULES,
        classifier=classifier,
    )
    fault = ("normal", "Room normal: device normal-optical camera obstructed")
    expected = [(*fault, at(100) + OBSTRUCTED_AFTER)] if offset > 0 else []
    assert technical(r) == expected
    assert reactions(r) == []


def test_obstructed_after_set_per_room(tmp_path: Path, classifier: ClassifierName) -> None:
    """obstructed_after 5 m: the fault is paged exactly 5 m after `obstructed`."""
    r = run(
        tmp_path,
        [
            in_bed("room"),
            ev(100, "room", "optical", "obstructed"),
            ev(100 + 300 + TICK, "room", "optical", "in_bed"),
        ],
        rules({"room": "{obstructed_after: 5m}"}),
        classifier=classifier,
    )
    assert [ts for *_, ts in technical(r)] == [at(100) + 300]


@pytest.mark.parametrize("offset", EDGE)
def test_a_device_heard_again_up_to_and_at_silent_after_is_not_silent(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """Heard again up to and at 10 min: no fault; 1 ms later the fault was paged at +10 min."""
    r = run(
        tmp_path,
        [
            ev(100, "normal", "bed", "heartbeat"),
            ev(100 + SILENT_AFTER + offset, "normal", "bed", "heartbeat"),
        ],
        RULES,
        classifier=classifier,
    )
    fault = ("normal", "Room normal: device normal-bed silent")
    assert technical(r) == ([(*fault, at(100) + SILENT_AFTER)] if offset > 0 else [])


@pytest.mark.parametrize("offset", EDGE)
def test_the_bed_mat_decides_once_the_camera_has_been_silent_longer_than_silent_after(
    tmp_path: Path, classifier: ClassifierName, offset: float
) -> None:
    """The camera last heard at 0 works up to and at +600 s (the mat is ignored); 1 ms later
    it is silent, the mat decides, and a vacated mat is a high-risk bed exit 5 s later."""
    t = SILENT_AFTER + offset
    r = run(
        tmp_path,
        [in_bed("high"), mat_in_bed("high", 10), ev(t, "high", "bed", "vacated")],
        RULES,
        classifier=classifier,
    )
    expected = [("high", "bed_exit", at(t) + BED_EXIT_CONFIRM)] if offset > 0 else []
    assert reactions(r) == expected
    assert technical(r)[0] == ("high", "Room high: device high-optical silent", at(SILENT_AFTER))


def test_silent_after_set_per_site(tmp_path: Path, classifier: ClassifierName) -> None:
    """silent_after 1 m (the lowest): the fault is paged exactly 1 m after the last report."""
    r = run(
        tmp_path,
        [ev(100, "room", "call", "heartbeat"), ev(100 + 60 + TICK, "room", "call", "heartbeat")],
        rules({"room": "{}"}, site="silent_after: 1m"),
        classifier=classifier,
    )
    assert technical(r) == [("room", "Room room: device room-call silent", at(100) + 60)]
