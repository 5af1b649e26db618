"""The night window as sorted UTC instants, so a kernel can ask "is it night?" by bisection.

``RoomPolicy.is_night`` converts an event time to the site's local wall clock (zoneinfo,
daylight saving included) and compares the local minute with the window. That minute changes
only on whole UTC minutes (every offset since 2000 is a whole number of minutes), so the
answer is constant on each UTC minute: a table computes it for every minute of a range of
days, vectorised per offset, and keeps the instants where it flips. The kernel finds the
number of flips at or before ``ts``; an odd number means night.

Tables are shared by every room with the same time zone and window, and extended a month at a
time as event time moves on; zoneinfo is only ever called here, in Python. The flips of a
(time zone, window, range of days) are computed once per process (``night_flips`` is cached:
a new classifier for the same policy and days asks zoneinfo nothing) and handed out read-only.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from sensorhub.rules.policy import RoomPolicy

DAY: Final = 86400
#: how far ahead of the latest time asked for a table is extended
AHEAD_DAYS: Final = 32

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def _offsets(zone: ZoneInfo, a: int, b: int) -> I64:
    """The UTC offset in whole minutes of every UTC minute in [a, b) (a, b whole hours)."""
    hours = np.arange(a // 3600, b // 3600 + 1, dtype=np.int64)
    per_hour = np.array(
        [_offset(zone, int(h) * 3600) for h in hours.tolist()],
        dtype=np.int64,
    )
    minutes = np.repeat(per_hour[:-1], 60)
    for i in np.flatnonzero(per_hour[:-1] != per_hour[1:]).tolist():
        start = int(hours[i]) * 3600
        minutes[i * 60 : (i + 1) * 60] = [_offset(zone, start + 60 * m) for m in range(60)]
    return minutes


def _offset(zone: ZoneInfo, ts: int) -> int:
    delta = datetime.fromtimestamp(ts, UTC).astimezone(zone).utcoffset()
    seconds = int(delta.total_seconds()) if delta is not None else 0
    if seconds % 60:
        raise ValueError(f"time zone {zone.key} has an offset of {seconds} s, not whole minutes")
    return seconds // 60


@lru_cache(maxsize=256)
def night_flips(timezone: str, start: int, end: int, a: int, b: int) -> F64:
    """Instants in [a, b) (whole days) where night begins and ends, alternating, starting with a
    beginning; a night running past ``b`` ends at ``b``. Cached (a pure function of its
    arguments): the array is read-only, shared by every caller."""
    zone = ZoneInfo(timezone)
    utc_minutes = np.arange(a // 60, b // 60, dtype=np.int64)
    local = (utc_minutes + _offsets(zone, a, b)) % 1440
    # as RoomPolicy.is_night: a window that does not wrap midnight, or one that does
    inside = (local >= start) & (local < end)
    night = inside if start < end else (local >= start) | (local < end)
    step = np.diff(night.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    flips = np.flatnonzero(step != 0)  # alternating: begins, ends
    instants = (a + flips * 60).astype(np.float64)
    instants.flags.writeable = False
    return instants


class NightTables:
    """Night tables of every (time zone, window) in use, over one common range of days."""

    def __init__(self) -> None:
        self._numbers: dict[tuple[str, int, int], int] = {}
        self._flips: list[F64] = []
        self.start = 0  # covered range [start, end), whole UTC days
        self.end = 0
        self.flips: F64 = np.zeros(0, dtype=np.float64)
        self.offsets: I64 = np.zeros(1, dtype=np.int64)

    def table(self, policy: RoomPolicy) -> int:
        """The number of ``policy``'s table (made on first use, over the covered range)."""
        key = (policy.timezone, policy.night_start, policy.night_end)
        number = self._numbers.get(key)
        if number is None:
            number = self._numbers[key] = len(self._flips)
            flips = (
                night_flips(*key, self.start, self.end)
                if self.end > self.start
                else np.zeros(0, dtype=np.float64)
            )
            self._flips.append(flips)
            self._pack()
        return number

    def cover(self, lo: float, hi: float) -> None:
        """Make every table answer for every time in [lo, hi]."""
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("night tables cover finite times only")
        if self.end > self.start and self.start <= lo and hi < self.end:
            return
        if self.end <= self.start:
            self.start = (math.floor(lo) // DAY - 1) * DAY
            self.end = self.start
        new_start = min(self.start, (math.floor(lo) // DAY - 1) * DAY)
        new_end = max(self.end, (math.floor(hi) // DAY + AHEAD_DAYS) * DAY)
        for key, number in self._numbers.items():
            parts = []
            if new_start < self.start:
                parts.append(night_flips(*key, new_start, self.start))
            parts.append(self._flips[number])
            if self.end < new_end:
                parts.append(night_flips(*key, max(self.end, new_start), new_end))
            self._flips[number] = _join(parts)
        self.start, self.end = new_start, new_end
        self._pack()

    def _pack(self) -> None:
        self.flips = np.concatenate(self._flips) if self._flips else np.zeros(0, dtype=np.float64)
        self.offsets = np.concatenate(
            [[0], np.cumsum([len(f) for f in self._flips], dtype=np.int64)]
        ).astype(np.int64)


def _join(parts: list[F64]) -> F64:
    """Flips of adjacent ranges as one: a night ending where the next range begins goes on."""
    out: list[float] = []
    for part in parts:
        values = part.tolist()
        if out and values and out[-1] == values[0] and len(out) % 2 == 0:
            out.pop()
            values = values[1:]
        out.extend(values)
    return np.array(out, dtype=np.float64)
