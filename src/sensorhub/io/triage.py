"""Bad input kept out of good input's way: which messages can only be dead letters, told on
paho's network thread in well under a microsecond, without decoding them.

Under a flood of bad input serve used to decide every message in the order the broker sent it,
and a 16 KiB bad message costs it 140-200 µs in all (reading it, decoding it, making and
publishing its dead letter): a flood faster than that queued at the broker, and a resident's
call behind it waited seconds. Now ``Inbox`` sends a message that ``hopeless`` says can only be
dead-lettered to a bounded lane of its own, acknowledged to the broker at once (a dead letter is
no state to keep), and serve's rounds take a few of those after the good messages
(``mqtt.LOW_PER_TAKE``). What overflows the lane is counted, not dead-lettered one by one.

``hopeless`` is sure, never guessing: a message it lets through is decided as ever, and one it
holds back is one the decoder would have dead-lettered too (a payload over the contract's
64 KiB, or one on a native or acknowledgement topic that does not start like a JSON object).
A source's topics (``sources:``) carry the source's own formats (plain ``online``, ``on``) and
are never held back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from sensorhub.contract import ACK_TOPIC, DEADLETTER_TOPIC, MAX_PAYLOAD

__all__ = ["FloodReport", "hopeless"]

#: How often a flood's dropped messages are said in the log at most (s).
REPORT_EVERY: Final = 10.0
_BLANK: Final = b" \t\r\n"


def hopeless(prefix: str) -> Callable[[str, bytes], bool]:
    """A test of ``(topic, payload)``: True only for a message the decoder can only dead-letter
    (see the module's docstring), for native events under ``prefix``."""
    native = prefix + "/"
    acks = ACK_TOPIC + "/"

    def test(topic: str, payload: bytes) -> bool:
        if payload[:1] == b"{":  # every good message, at once
            return len(payload) > MAX_PAYLOAD and topic.startswith((native, acks))
        if not topic.startswith((native, acks)):
            return False
        return len(payload) > MAX_PAYLOAD or payload.lstrip(_BLANK)[:1] != b"{"

    return test


class FloodReport:
    """Says in the log, at most every ``REPORT_EVERY`` s, how many bad messages were dropped
    without a dead letter since it last said so (``dropped`` reads the running count)."""

    def __init__(
        self,
        logger: logging.Logger,
        dropped: Callable[[], int],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._dropped = dropped
        self._clock = clock
        self._said = 0
        self._due = -float("inf")

    def flush(self) -> None:
        now = self._clock()
        dropped = self._dropped()
        if dropped == self._said or now < self._due:
            return
        self._logger.warning(
            "flood of bad input: %d message(s) were dropped without a dead letter on %s "
            "(more came than serve dead-letters; good input goes first); see the metric "
            "sensorhub_deadletters_dropped_total",
            dropped - self._said,
            DEADLETTER_TOPIC,
        )
        self._said = dropped
        self._due = now + REPORT_EVERY
