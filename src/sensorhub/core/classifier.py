"""The reference classifier: the care policy of CONTRACT.md section 4, in plain Python.

(Being written: interface fixed, implementation lands shortly.)
"""

from __future__ import annotations

from sensorhub.contract import MAX_LATENESS, Event
from sensorhub.core.types import Step
from sensorhub.rules.policy import Policy


class Classifier:
    """Feeds events in arrival order, decides in event-time order.

    - ``push(event)``: an event arrives. Returns what the event clock now allows to decide
      (the watermark is the latest event time seen minus ``lateness``). Resident calls are
      paged at once, on arrival.
    - ``tick(now)``: the wall clock says it is ``now``; the watermark moves to ``now - lateness``
      if that is later. ``serve`` calls it periodically on the wall clock.
    - ``drain()``: end of input; decides everything up to the latest event time seen.
    - ``raw_alarms``: how many alarms a conventional system would have sounded so far.
    """

    def __init__(self, policy: Policy, *, lateness: float = MAX_LATENESS) -> None:
        self.policy = policy
        self.lateness = lateness
        self.raw_alarms = 0

    def push(self, event: Event) -> Step:
        raise NotImplementedError

    def tick(self, now: float) -> Step:
        raise NotImplementedError

    def drain(self) -> Step:
        raise NotImplementedError
