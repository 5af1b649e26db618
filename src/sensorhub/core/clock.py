"""The event clock both twins keep alike: ``tick``, ``drain`` and the ``Step`` handed over.

Each twin (the reference ``Classifier``, ``classifier.py``; ``FastClassifier``, ``fast.py``)
buffers and decides in its own way (``_advance(watermark)``); what the watermark is, when a
``Step`` is handed over and how long a redelivered id is remembered is the same for both, and
is here.
"""

from __future__ import annotations

import math
from typing import Final

from sensorhub.core.types import Step

#: How long a redelivered ``(device, id)`` is remembered, in event time.
DEDUP_WINDOW: Final = 3600.0
#: At the end of input, time runs on this long with nothing more heard: long enough to decide
#: every confirmation window (fall, bed mat, door), not the long grace and silence timers.
END_OF_INPUT_RUN_ON: Final = 30.0


class EventClock:
    """What both twins do alike around their event clock: ``tick``, ``drain`` and handing
    over the ``Step`` of what was decided. Each twin has its own ``_advance(watermark)``."""

    lateness: float
    late_events: int
    duplicates: int
    _clock: float
    _max_ts: float
    _step: Step

    def __init__(self, lateness: float) -> None:
        if lateness < 0:
            raise ValueError("lateness must not be negative")
        self.lateness = lateness
        self.late_events = 0
        self.duplicates = 0
        self._clock = -math.inf  # event time of the last decision: never goes back
        self._max_ts = -math.inf
        self._step = Step()

    def _advance(self, watermark: float) -> None:
        raise NotImplementedError

    @property
    def clock(self) -> float:
        """The event clock: everything at or before it is decided (-inf before the first
        event). It never goes back."""
        return self._clock

    @property
    def max_ts(self) -> float:
        """The latest event time pushed (-inf before the first event)."""
        return self._max_ts

    def tick(self, now: float) -> Step:
        """The wall clock says it is ``now``: decide what a watermark of ``now - lateness``
        (or of the latest event time seen, if later) allows."""
        self._advance(max(now, self._max_ts) - self.lateness)
        return self._take()

    def drain(self) -> Step:
        """End of input: decide everything, time running on ``END_OF_INPUT_RUN_ON`` seconds."""
        self._advance(self._max_ts + END_OF_INPUT_RUN_ON)
        return self._take()

    def _take(self) -> Step:
        step, self._step = self._step, Step()
        return step
