"""Every codec test parses its own topics and recording lines.

``codec.payload`` caches each parsed topic and line location for the life of the process. A test
that decodes a topic an earlier test already decoded would then check the cache, not the
parsing. Under mutmut (docs/testing.md), which forks each mutant's tests from a process that has
already run them all on the unmutated code, every mutant of the parsing survived: the tests got
the unmutated code's answers from the cache.
"""

from __future__ import annotations

import pytest

from sensorhub.codec import payload


@pytest.fixture(autouse=True)
def _empty_location_caches() -> None:
    payload._topic_cache.clear()
    payload._line_cache.clear()
