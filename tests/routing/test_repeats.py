"""Repeat pages say which call they are and how old the incident is, within the display width."""

from __future__ import annotations

import pytest

from sensorhub.espa.profiles import display_text
from sensorhub.routing.repeats import age, ordinal, repeat_text


def test_the_first_page_keeps_its_text() -> None:
    assert repeat_text("Kamer 16: VAL", 0, 100.0, 100.0, "nl") == "Kamer 16: VAL"


@pytest.mark.parametrize(
    ("escalation", "seconds", "language", "text"),
    [
        (1, 60, "nl", "Kamer 16: VAL (2e oproep, 1 min)"),
        (1, 60, "en", "Kamer 16: VAL (2nd call, 1 min)"),
        (2, 45, "en", "Kamer 16: VAL (3rd call, 45 s)"),
        (3, 7500, "nl", "Kamer 16: VAL (4e oproep, 2 h 5 min)"),
        (10, 7200, "en", "Kamer 16: VAL (11th call, 2 h)"),
    ],
)
def test_a_repeat_says_its_call_and_the_incidents_age(
    escalation: int, seconds: int, language: str, text: str
) -> None:
    assert repeat_text("Kamer 16: VAL", escalation, 1000.0, 1000.0 + seconds, language) == text


def test_ordinals_and_ages() -> None:
    assert [ordinal(n, "en") for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "111th",
    ]  # fmt: skip
    assert [age(s) for s in (-1, 0, 59.9, 60, 3599, 3600, 3660)] == [
        "0 s", "0 s", "59 s", "1 min", "59 min", "1 h", "1 h 1 min",
    ]  # fmt: skip


def test_a_pager_too_narrow_for_the_whole_text_still_shows_that_it_is_a_repeat() -> None:
    text = "Kamer 16: bewoner heeft kamer verlaten (2e oproep, 1 min)"
    assert display_text(text, 40) == "Kamer 16: bewoner hee (2e oproep, 1 min)"
    assert len(display_text(text, 40)) <= 40
    assert display_text(text, 80) == text
    # a note longer than half the display is cut like any other text
    assert display_text(text, 20) == "Kamer 16: bewoner he"
