"""Durations as people write them: one grammar, one parser and one formatter for all of sensorhub.

Rule files (every duration parameter, escalation ``after``, a paging system's timeouts),
``sensorhub mute --for``, ``sensorhub fallback --grace``, ``sensorhub reload --wait`` and the
``--lateness`` and ``--idle-flush`` of serve and replay all read durations with
:func:`parse_duration`, and write them with :func:`format_duration`. The grammar is documented
once, in rules/README.md (section "Durations"); in short:

- a number of seconds: ``90``, ``0.5``;
- or numbers with units ``d`` ``h`` ``m`` ``s``, largest first, each unit at most once:
  ``90s``, ``15m``, ``2h``, ``1d``, ``1h30m``, ``1d12h``, ``1.5h``;
- spaces around and between the parts and upper-case units are fine (``1h 30m``, ``2H``);
- ``0`` and ``0s`` are durations (each use says whether it allows them); nothing is negative.

Refused: no number (``m``, ``""``), another unit or a word (``2x``, ``15 minutes``), units out of
order or twice (``30m1h``, ``1h1h``), a bare number after a unit (``1h30``), signs, exponents,
``.5`` or ``5.``, ``inf``, ``nan``, and a yes/no.

The bounds are not the grammar's: each use checks its own (a rule parameter's range, mute's
maxima), after parsing. This module needs the standard library only: the light commands
(``mute``, ``silences``) use it without loading the rule files' models, numba or pyarrow.
"""

from __future__ import annotations

import argparse
import math
import re
import string
from typing import Final

__all__ = [
    "DURATION_EXAMPLES",
    "DURATION_GUIDE",
    "DurationError",
    "duration_argument",
    "format_duration",
    "parse_duration",
]

#: What a duration looks like, for error messages and --help.
DURATION_EXAMPLES: Final = "90s, 15m, 2h, 1d or 1h30m"
#: Where the grammar is written down, for --help.
DURATION_GUIDE: Final = "rules/README.md, Durations"

_UNITS: Final = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_ORDER: Final = tuple(_UNITS)
_PLAIN: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")
#: One part: a number, its unit and the spaces after it (parts are matched one after the other,
#: so that a long string of spaces costs linear time, not a regex's backtracking).
_PART: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([dhms])\s*", re.IGNORECASE | re.ASCII)


class DurationError(ValueError):
    """``value`` is not a duration; the message names it and shows how to write one."""

    def __init__(self, value: object) -> None:
        self.value = value
        super().__init__(
            f"{_shown(value)} is not a duration: write e.g. {DURATION_EXAMPLES} (units d, h, "
            "m, s, largest first), or seconds as a number, e.g. 90"
        )


def parse_duration(value: str | float) -> float:
    """Seconds in ``value``: a string of the grammar above, or a number (not a yes/no).

    Raises :class:`DurationError` for anything else, negative and infinite numbers included.
    """
    if isinstance(value, str):
        seconds = _parse_text(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise DurationError(value)
    if not (math.isfinite(seconds) and seconds >= 0):
        raise DurationError(value)
    return seconds


def duration_argument(text: str) -> float:
    """An argparse ``type=`` for options that take a duration (their bounds are their own)."""
    try:
        return parse_duration(text)
    except DurationError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def format_duration(seconds: float) -> str:
    """``5400`` -> ``1h30m``, ``90`` -> ``1m30s``, ``86400`` -> ``1d``, ``0.5`` -> ``0.5s``.

    Whole seconds are written with units, largest first, and a fraction as seconds: what
    :func:`parse_duration` reads back. Negative numbers are shown as ``-5s`` (in messages that
    say a value is out of bounds), which the grammar refuses.
    """
    if not math.isfinite(seconds) or seconds != int(seconds) or seconds < 0:
        return f"{seconds:g}s"
    rest = int(seconds)
    text = ""
    for unit, size in _UNITS.items():
        count, rest = divmod(rest, int(size))
        if count:
            text += f"{count}{unit}"
    return text or "0s"


def _parse_text(text: str) -> float:
    compact = text.strip(string.whitespace)
    if _PLAIN.fullmatch(compact):
        return float(compact)
    seconds, position, last = 0.0, 0, -1
    while position < len(compact):
        part = _PART.match(compact, position)
        if part is None:
            raise DurationError(text)
        order = _ORDER.index(part[2].lower())
        if order <= last:  # a unit twice, or after a smaller one
            raise DurationError(text)
        seconds += float(part[1]) * _UNITS[_ORDER[order]]
        position, last = part.end(), order
    if last < 0:  # nothing at all
        raise DurationError(text)
    return seconds


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}"
    text = value if isinstance(value, str) else str(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return repr(text) if isinstance(value, str) else text
