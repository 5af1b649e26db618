"""Night tables are computed once per (time zone, window, range of days): a second classifier
for the same policy asks zoneinfo nothing and decides the same, and nobody can change the
tables shared through the cache."""

from __future__ import annotations

import numpy as np
import pytest

from sensorhub.codec.columns import EventColumns
from sensorhub.core import night
from sensorhub.core.fast import FastClassifier
from sensorhub.core.night import DAY, NightTables, night_flips
from tests.core.test_event_time import _policy, _stream

AMSTERDAM = ("Europe/Amsterdam", 22 * 60, 7 * 60)
MARCH = 1_774_000_000 // DAY * DAY  # the change to summer time within the range


def test_flips_are_computed_once_and_read_only() -> None:
    first = night_flips(*AMSTERDAM, MARCH, MARCH + 40 * DAY)
    again = night_flips(*AMSTERDAM, MARCH, MARCH + 40 * DAY)
    assert again is first
    assert not first.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 0.0
    fresh = night_flips.__wrapped__(*AMSTERDAM, MARCH, MARCH + 40 * DAY)
    assert np.array_equal(fresh, first)


def test_tables_made_of_cached_flips_are_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two tables over the same days, one extended further: the cached flips are not changed
    by either, and the second asks zoneinfo only for the days the first did not cover."""
    room = _policy().room("zon", "normal")
    tables = NightTables()
    tables.table(room)
    tables.cover(MARCH, MARCH + 2 * DAY)
    covered = (tables.start, tables.end)
    before = tables.flips.copy()
    asked: list[int] = []
    offset = night._offset
    monkeypatch.setattr(night, "_offset", lambda zone, ts: asked.append(ts) or offset(zone, ts))
    other = NightTables()
    other.table(room)
    other.cover(MARCH, MARCH + 2 * DAY)
    assert asked == []
    assert np.array_equal(other.flips, before)
    other.cover(MARCH, covered[1] + DAY)
    assert asked
    assert min(asked) >= covered[1]
    assert np.array_equal(tables.flips, before)
    assert np.array_equal(other.flips[: len(before) - 1], before[:-1])


def test_a_second_classifier_asks_zoneinfo_nothing_and_decides_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = _policy()
    events = _stream(3, 2000)
    asked: list[int] = []
    offset = night._offset
    monkeypatch.setattr(night, "_offset", lambda zone, ts: asked.append(ts) or offset(zone, ts))

    def pages() -> list[str]:
        classifier = FastClassifier(policy, audit=False)
        step = classifier.push_batch(EventColumns.from_events(events, classifier.registry))
        done = classifier.drain()
        return [repr(change) for change in [*step.incidents, *done.incidents]]

    night_flips.cache_clear()
    first = pages()
    assert first
    assert asked
    asked.clear()
    assert pages() == first
    assert asked == []
