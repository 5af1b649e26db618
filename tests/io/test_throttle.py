"""LogThrottle: a flood of warnings written as a few lines and one count."""

from __future__ import annotations

import logging

import pytest

from sensorhub.io.throttle import LogThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_first_of_a_period_are_written_the_rest_counted_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.throttle")
    clock = Clock()
    throttle = LogThrottle(logger, "see the metric", burst=3, period=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.throttle"):
        for n in range(1000):
            throttle.warning("bad %d", n)
        assert [r.getMessage() for r in caplog.records] == ["bad 0", "bad 1", "bad 2"]
        clock.now += 9.9
        throttle.flush(clock.now)  # the period is not over yet
        assert len(caplog.records) == 3
        clock.now += 0.1
        throttle.flush(clock.now)
        assert caplog.records[-1].getMessage() == (
            "997 more like these in the last 10 s were not logged one by one: see the metric"
        )
        throttle.warning("bad again")  # a new period: written at once
        assert caplog.records[-1].getMessage() == "bad again"
        clock.now += 10
        throttle.flush(clock.now)  # nothing left out: nothing said
        assert len(caplog.records) == 5
