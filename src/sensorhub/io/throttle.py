"""Log lines that a flood of input could multiply, held to a few per period.

A flood of bad input (thousands of messages a second) would otherwise write a log line for
each: megabytes a minute to a disk that serve needs for its store, and lines nobody reads.
:class:`LogThrottle` writes the first ``burst`` lines of each ``period`` and counts the rest;
when the period is over, one line says how many were left out and where to see them all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

__all__ = ["LogThrottle"]

#: Lines written per period at most, and the period (s).
BURST: Final = 20
PERIOD: Final = 10.0


class LogThrottle:
    """At most ``burst`` warnings per ``period`` seconds to ``logger``; the rest counted and
    said in one line (``left_out`` tells where to see them) when the period is over: at the
    next warning or the next ``flush(now)``, whichever comes first."""

    def __init__(
        self,
        logger: logging.Logger,
        left_out: str,
        *,
        burst: int = BURST,
        period: float = PERIOD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._left_out = left_out
        self._burst = burst
        self._period = period
        self._clock = clock
        self._ends = -float("inf")
        self._written = 0
        self._held = 0

    def warning(self, message: str, *args: object) -> None:
        self.flush(self._clock())
        if self._written < self._burst:
            self._written += 1
            self._logger.warning(message, *args)
        else:
            self._held += 1

    def flush(self, now: float) -> None:
        """A new period, if the last is over: say how many lines it left out."""
        if now < self._ends:
            return
        if self._held:
            self._logger.warning(
                "%d more like these in the last %g s were not logged one by one: %s",
                self._held,
                self._period,
                self._left_out,
            )
        self._ends = now + self._period
        self._written = self._held = 0
