"""The second tier of the JSONL decoder: runs of lines into msgspec's typed structs.

``Line`` is the shape of almost every line of a recording, checked by msgspec in C: ``ts`` a
number, ``kind`` and ``event`` from the vocabulary, ``id`` a string of 1-128 characters,
``confidence`` a number in [0, 1], no unknown field, every place field given. ``Segments``
decodes the lines the scanner left a few hundred at a time, in one msgspec call per run, and
says which lines it took; ``known_lines`` makes the decoder of runs whose names are all known.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, cast

import msgspec
import numpy as np

from sensorhub.codec.lines import lines_of
from sensorhub.contract import HEALTH_EVENTS, KINDS, MAX_PAYLOAD, VOCABULARY

__all__ = ["DecodeLines", "Line", "Segments", "known_lines"]

_EVENT_NAMES: Final = tuple(
    sorted({name for names in VOCABULARY.values() for name in names} | set(HEALTH_EVENTS))
)

if TYPE_CHECKING:
    _Kind = str
    _EventName = str
else:  # built from the vocabulary: msgspec checks them in C
    _Kind = Literal[KINDS]
    _EventName = Literal[_EVENT_NAMES]

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_Confidence = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class Line(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The shape of almost every line of a recording. ``gc=False``: made by the million and
    never part of a cycle (measured: half the decoding time of a tracked struct)."""

    ts: float
    event: _EventName
    site: str
    room: str
    kind: _Kind
    device: str
    id: _Id | None = None
    confidence: _Confidence = 1.0
    value: float = math.nan


_DECODE: Final = msgspec.json.Decoder(Line).decode
DecodeLines = Callable[[memoryview], list[Line]]
_DECODE_LINES: Final[DecodeLines] = msgspec.json.Decoder(Line).decode_lines
_ERRORS: Final = (msgspec.ValidationError, msgspec.DecodeError)
#: Lines decoded per msgspec call. Smaller costs more calls; larger decodes more again around a
#: refused line (everything before it in its segment).
_SEGMENT: Final = 256
#: Names per place field (site, room, device) up to which runs are decoded first with a struct
#: that takes only the names already seen (``known_lines``), as ``Literal`` values: msgspec then
#: hands out the same string object for a name every time, whose hash is kept, where it would
#: make a new string per line (measured: about 0.15 us a line less, decoding and looking up the
#: place together). Beyond it, only the plain struct.
_KNOWN_MAX: Final = 4096
#: Where msgspec says it stopped: a value of the run, or a byte of the text.
_AT_VALUE: Final = re.compile(r" - at `\$\[(\d+)\]")
_AT_BYTE: Final = re.compile(r"\(byte (\d+)\)")
_RETURN, _BRACE, _END_BRACE = b"\r{}"


class Segments:
    """The lines of a block decoded into ``Line`` structs, many lines per msgspec call.

    The lines are decoded straight from the text they were split from (``LineChunk.text``, or
    the lines joined again), a run of them per call of msgspec's ``decode_lines``, which reads
    whitespace-separated JSON values. Only lines that start with ``{`` and end with ``}`` (or
    ``}`` and a carriage return) are decoded so (``shaped``; the others, rare, one at a time).
    For such lines, a successful decode with exactly one value per line gives each line's own
    struct, as decoding the line alone would:

    - a ``Line`` holds only scalars (numbers, strings, null; unknown fields are refused), so
      its braces are the only structural braces of a value;
    - a JSON string cannot hold a raw line break or carriage return, so the ``}`` ending a line
      is outside every string (a string open there would run into the line break, or into the
      end of the text), and so is the ``{`` starting a line (right after a line break, or at
      the start of the text). So every line closes a value at its end and opens one at its
      start, and no value spans two lines;
    - every line thus holds at least one whole value; as many values as lines means each line
      is exactly one JSON object (and white space), decoded as it would be alone: msgspec's
      decoding of a value does not depend on what surrounds it.

    When msgspec refuses a run, the line it stopped at (from its message: the value, or the
    byte) is decoded alone, and the lines before and after it as runs again. If the message
    names no place, or names it wrongly (a line holding two objects shifts the values), nothing
    is lost but time: every struct kept comes from a check above or from decoding its line
    alone.
    """

    __slots__ = ("known", "lines", "starts", "structs", "taken", "view")

    def __init__(
        self, lines: list[bytes], text: bytes | None, known: DecodeLines | None = None
    ) -> None:
        self.lines = lines
        self.known = known
        self.structs: list[Line] = []
        n = len(lines)
        #: True for the lines whose struct is in ``structs`` (in line order)
        self.taken = np.zeros(n, dtype=np.bool_)
        sizes = np.fromiter(map(len, lines), np.int64, n)
        #: where each line starts in the text (a line break after each line)
        starts = np.zeros(n, dtype=np.int64)
        np.cumsum(sizes[:-1] + 1, out=starts[1:])
        ends = starts + sizes
        if text is None or not lines_of(text, ends):
            text = b"\n".join(lines)
        self.view = memoryview(text)
        self.starts: list[int] = starts.tolist()
        shaped = (sizes >= 2) & (sizes <= MAX_PAYLOAD)
        if shaped.any():
            chars = np.frombuffer(text, dtype=np.uint8)
            first, last = starts[shaped], ends[shaped] - 1
            last -= chars[last] == _RETURN  # a line of "{...}\r" is decoded as "{...}"
            shaped[shaped] = (chars[first] == _BRACE) & (chars[last] == _END_BRACE) & (last > first)
        position = 0
        for odd in [*np.flatnonzero(~shaped).tolist(), n]:
            for a in range(position, odd, _SEGMENT):
                self._run(a, min(a + _SEGMENT, odd))
            if odd < n and sizes[odd] <= MAX_PAYLOAD:  # too large: left to the codec
                self._alone(odd, odd + 1)
            position = odd + 1

    def _alone(self, a: int, b: int) -> None:
        """Lines a..b-1, one msgspec call each."""
        lines, structs, taken = self.lines, self.structs, self.taken
        for i in range(a, b):
            try:
                structs.append(_DECODE(lines[i]))
            except _ERRORS:
                continue
            taken[i] = True

    def _try(self, a: int, b: int) -> list[Line] | int | None:
        """Lines a..b-1 in one call: their structs, or else the line msgspec stopped at (None
        if it does not say, or made a different number of values)."""
        starts = self.starts
        start = starts[a]
        run = self.view[start : starts[b - 1] + len(self.lines[b - 1])]
        if self.known is not None:
            try:
                got = self.known(run)
            except _ERRORS:
                pass  # a name it does not know, or a bad line: the plain struct decides
            else:
                if len(got) == b - a:
                    return got
        try:
            got = _DECODE_LINES(run)
        except msgspec.ValidationError as exc:
            at = _AT_VALUE.search(str(exc))
            return None if at is None else min(a + int(at[1]), b - 1)
        except msgspec.DecodeError as exc:
            at = _AT_BYTE.search(str(exc))
            if at is None:  # "Input data was truncated": a string ran to the end
                return b - 1
            return min(max(bisect_right(starts, start + int(at[1])) - 1, a), b - 1)
        return got if len(got) == b - a else None

    def _run(self, a: int, b: int) -> None:
        """Lines a..b-1, all shaped, in as few msgspec calls as their refused lines allow."""
        while a < b:
            got = self._try(a, b)
            if isinstance(got, list):
                self.structs += got
                self.taken[a:b] = True
                return
            if got is None:
                self._alone(a, b)
                return
            if got > a:  # the lines before the refused one: fine, unless it was misplaced
                before = self._try(a, got)
                if isinstance(before, list):
                    self.structs += before
                    self.taken[a:got] = True
                else:
                    self._alone(a, got)
            self._alone(got, got + 1)
            a = got + 1


def known_lines(sites: set[str], rooms: set[str], devices: set[str]) -> DecodeLines | None:
    """``decode_lines`` of a ``Line`` that takes only these names (None if there are too
    many). What it decodes, ``Line`` decodes to equal structs: it only refuses more."""
    if max(len(sites), len(rooms), len(devices)) > _KNOWN_MAX:
        return None
    literal = cast(Any, Literal)
    known = msgspec.defstruct(
        "_KnownLine",
        [
            ("site", literal[tuple(sorted(sites))]),
            ("room", literal[tuple(sorted(rooms))]),
            ("device", literal[tuple(sorted(devices))]),
        ],
        bases=(Line,),
        forbid_unknown_fields=True,
        gc=False,
    )
    return cast(DecodeLines, msgspec.json.Decoder(known).decode_lines)
