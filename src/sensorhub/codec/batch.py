"""JSONL recordings to ``EventColumns``: the batch decoder of ``replay``.

``read_chunks`` reads a recording (``.jsonl`` or ``.jsonl.gz``) in blocks of whole lines (one
buffer per block; the lines are split from it only if someone asks for ``LineChunk.lines``):
the *read* stage of :mod:`sensorhub.codec.stages`. ``LineDecoder.decode`` turns a block into a
``DecodedBatch``: the columns the compiled core takes (but for the registry's places, which
``DecodedBatch.placed`` adds) and the dead letters of its bad lines. Three tiers, each deciding
what the one before left:

1. The compiled scanner (:mod:`sensorhub.codec.scan`): the block's bytes straight to columns, with
   no Python object per line, for the lines in the ordinary shape (one flat object of the
   contract's keys, plain ASCII strings, numbers it converts exactly as ``float()``); the ids
   stay bytes of the block (``IdColumn``). The five names of a line are found in a compiled
   table of the combinations seen; a new combination is judged here once, with the code that
   judges msgspec's (``_combo_row``: the names, and the event of its kind), and a line whose
   combination is not valid goes to the codec for its dead letter.
2. msgspec, for the lines the scanner left: they are decoded into typed structs (``_Line``)
   that already check most of the contract in C: ``ts`` a number, ``kind`` and ``event`` from
   the vocabulary, ``id`` a string of 1-128 characters, ``confidence`` a number in [0, 1], no
   unknown field, every place field given. Rather than one call per line, runs of lines are
   decoded a few hundred at a time in one call, as a JSON array made of them (``_Segments``:
   why that decodes each line exactly as decoding it alone would is explained there); a run
   holding a line msgspec refuses is decoded again around that line. What is left is checked a
   column at a time: ``ts`` in range, and, once per distinct (site, room, kind, device, event),
   the names and the event of its kind.
3. A line neither vouches for, for whatever reason (bad input, but also what they do not take
   although the contract allows it: an RFC 3339 ``ts``, ``null`` for an optional field, unknown
   fields, a byte order mark), goes to :func:`sensorhub.codec.payload.decode_line`, the one
   definition of what is valid: its event is taken as the codec made it, or its dead letter is
   written with the codec's reason.

The events of the three are merged in line order. So for every line the result is the codec's,
and a dead letter reads exactly as it does in ``serve``. ``tests/test_decode_batch.py`` checks
both against each other on random lines, and on lines one rule away from the scanner's.
"""

from __future__ import annotations

import gzip
import io
import math
import re
import time
from bisect import bisect_right
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, TypeVar, cast

import msgspec
import numpy as np
import numpy.typing as npt
from pydantic_core import from_json

from sensorhub.codec.acks import AckIn, is_ack_line, recorded_ack
from sensorhub.codec.payload import decode_line
from sensorhub.codec.scan import BLANK, REST, NameTable
from sensorhub.codec.stages import DecodedBatch, DecodedEvents, Place, Places
from sensorhub.contract import (
    EVENT_CODES,
    HEALTH_EVENTS,
    KINDS,
    MAX_PAYLOAD,
    NAME_RE,
    TS_MAX,
    TS_MIN,
    VOCABULARY,
    DeadLetter,
    Event,
)
from sensorhub.core.columns import IdColumn, nones

__all__ = [
    "BLOCK_BYTES",
    "LineChunk",
    "LineDecoder",
    "decode_events",
    "read_chunks",
    "read_events",
    "read_recording",
]

#: Bytes of a recording read per block (whole lines; a line longer than this is read whole):
#: about 64k lines of a typical recording.
BLOCK_BYTES: Final = 8 << 20

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


class _Line(msgspec.Struct, forbid_unknown_fields=True, gc=False):
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


_DECODE: Final = msgspec.json.Decoder(_Line).decode
_DecodeLines = Callable[[memoryview], list[_Line]]
_DECODE_LINES: Final[_DecodeLines] = msgspec.json.Decoder(_Line).decode_lines
_ERRORS: Final = (msgspec.ValidationError, msgspec.DecodeError)
_TS: Final = attrgetter("ts")
#: What a line's place and event code follow from: one dict lookup per line (``_combos``).
_KEY: Final = attrgetter("site", "room", "kind", "device", "event")
_ID: Final = attrgetter("id")
_CONFIDENCE: Final = attrgetter("confidence")
_VALUE: Final = attrgetter("value")
#: Distinct (site, room, kind, device, event) remembered per decoder (a bounded cache: it
#: starts again empty when full).
_PLACES_MAX: Final = 65_536
#: Lines decoded per msgspec call. Smaller costs more calls; larger decodes more again around a
#: refused line (everything before it in its segment).
_SEGMENT: Final = 256
#: Names per place field (site, room, device) up to which runs are decoded first with a struct
#: that takes only the names already seen (``_known_lines``), as ``Literal`` values: msgspec then
#: hands out the same string object for a name every time, whose hash is kept, where it would
#: make a new string per line (measured: about 0.15 us a line less, decoding and looking up the
#: place together). Beyond it, only the plain struct.
_KNOWN_MAX: Final = 4096
#: Where msgspec says it stopped: a value of the run, or a byte of the text.
_AT_VALUE: Final = re.compile(r" - at `\$\[(\d+)\]")
_AT_BYTE: Final = re.compile(r"\(byte (\d+)\)")
_NEWLINE, _RETURN, _BRACE, _END_BRACE = b"\n\r{}"


class LineChunk:
    """Whole lines of a recording: ``lines`` (without their line break), the first of which is
    line ``first`` (counting from 1) of the file ``name``.

    Made of the lines, with ``text`` if at hand: the bytes the lines were split from, each line
    followed by a line break (the last one perhaps not), and perhaps more after them (it saves
    the decoder joining them). Or made of ``text`` and ``limit`` alone, as ``read_chunks``
    makes them: the lines are ``text[:limit].split(b"\\n")`` (``text[limit]``, if there, is a
    line break), and ``lines`` is split from the text only when asked for: the decoder reads
    the text itself."""

    __slots__ = ("_count", "_lines", "first", "limit", "name", "text")

    def __init__(
        self,
        name: str,
        first: int,
        lines: list[bytes] | None = None,
        text: bytes | bytearray | None = None,
        *,
        limit: int | None = None,
    ) -> None:
        if lines is None and (text is None or limit is None):
            raise TypeError("a LineChunk needs its lines, or its text and limit")
        self.name = name
        self.first = first
        self.text = text
        self.limit = limit
        self._lines = lines
        self._count: int | None = None  # the number of lines, once known

    @property
    def lines(self) -> list[bytes]:
        if self._lines is None:
            self._lines = bytes(memoryview(cast(bytes, self.text))[: self.limit]).split(b"\n")
        return self._lines

    @property
    def count(self) -> int:
        """The number of lines (counted in the text if the decoder has not seen them)."""
        if self._lines is not None:
            return len(self._lines)
        if self._count is None:
            self._count = cast(bytes, self.text).count(b"\n", 0, self.limit) + 1
        return self._count

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, LineChunk)
            and (self.name, self.first) == (other.name, other.first)
            and self.lines == other.lines
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LineChunk(name={self.name!r}, first={self.first!r}, lines={self.lines!r})"


def open_recording(path: Path) -> io.BufferedIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return cast(io.BufferedIOBase, path.open("rb"))


def read_chunks(path: Path, *, block_bytes: int | None = None) -> Generator[LineChunk, None, None]:
    """The lines of a JSONL recording, a block of whole lines at a time (of about
    ``block_bytes``, by default ``BLOCK_BYTES``)."""
    if block_bytes is None:
        block_bytes = BLOCK_BYTES
    name = path.name
    number = 1
    with open_recording(path) as stream:
        carry = b""
        while True:
            # the part line carried over and the next block, read into one buffer (joining
            # them would copy the block once more)
            text = bytearray(len(carry) + block_bytes)
            text[: len(carry)] = carry
            with memoryview(text) as view:
                got = stream.readinto(view[len(carry) :])
            if not got:
                break
            del text[len(carry) + got :]
            last = text.rfind(b"\n")
            if last < 0:
                carry = bytes(text)
                continue
            chunk = LineChunk(name, number, text=text, limit=last)
            yield chunk
            number += chunk.count  # the decoder counted them, or they are counted now
            carry = bytes(text[last + 1 :])
        if carry:  # the last line, without its line break: the scanner wants one
            yield LineChunk(name, number, text=carry + b"\n", limit=len(carry))


def read_recording(path: Path) -> Generator[tuple[int, bytes], None, None]:
    """(line number, line) for every non-blank line of a recording, one line at a time."""
    with open_recording(path) as stream:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, line.rstrip(b"\r\n")


def _blank(line: bytes) -> bool:
    return not line.strip()


def read_events(
    path: Path, *, block_bytes: int | None = None, acks: bool = False
) -> Generator[DecodedEvents, None, None]:
    """The lines of a JSONL recording decoded with the codec alone, a block of ``block_bytes``
    (``read_chunks``) at a time, one clock reading per block for the dead letters'
    ``received_at`` (``decode_events``)."""
    with closing(read_chunks(path, block_bytes=block_bytes)) as chunks:
        for chunk in chunks:
            yield decode_events(chunk, time.time(), acks=acks)


def decode_events(chunk: LineChunk, received_at: float, *, acks: bool = True) -> DecodedEvents:
    """The chunk decoded with the codec alone, line by line, as ``Event`` objects: what the
    reference classifier takes. Blank lines are no rows. ``acks``: acknowledgement lines are
    taken as such (else they are lines like any other, and dead letters)."""
    events: list[Event] = []
    dead: list[DeadLetter] = []
    taken: list[AckIn] = []
    rows = 0
    for n, text in enumerate(chunk.lines, start=chunk.first):
        if _blank(text):
            continue
        rows += 1
        line = text.rstrip(b"\r")
        source = f"{chunk.name}:{n}"
        item: Event | DeadLetter | AckIn
        if acks and is_ack_line(line):
            item = recorded_ack(line, len(events), received_at, source)
        else:
            item = decode_line(line, received_at, source)
        if isinstance(item, DeadLetter):
            dead.append(item)
        elif isinstance(item, AckIn):
            taken.append(item)
        else:
            events.append(item)
    return DecodedEvents(rows, dead, taken, events)


class _Segments:
    """The lines of a block decoded into ``_Line`` structs, many lines per msgspec call.

    The lines are decoded straight from the text they were split from (``LineChunk.text``, or
    the lines joined again), a run of them per call of msgspec's ``decode_lines``, which reads
    whitespace-separated JSON values. Only lines that start with ``{`` and end with ``}`` (or
    ``}`` and a carriage return) are decoded so (``shaped``; the others, rare, one at a time).
    For such lines, a successful decode with exactly one value per line gives each line's own
    struct, as decoding the line alone would:

    - a ``_Line`` holds only scalars (numbers, strings, null; unknown fields are refused), so
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
        self, lines: list[bytes], text: bytes | None, known: _DecodeLines | None = None
    ) -> None:
        self.lines = lines
        self.known = known
        self.structs: list[_Line] = []
        n = len(lines)
        #: True for the lines whose struct is in ``structs`` (in line order)
        self.taken = np.zeros(n, dtype=np.bool_)
        sizes = np.fromiter(map(len, lines), np.int64, n)
        #: where each line starts in the text (a line break after each line)
        starts = np.zeros(n, dtype=np.int64)
        np.cumsum(sizes[:-1] + 1, out=starts[1:])
        ends = starts + sizes
        if text is None or not _lines_of(text, ends):
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

    def _try(self, a: int, b: int) -> list[_Line] | int | None:
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


_N = TypeVar("_N", bound=np.generic)


def _placed(
    mine: npt.NDArray[_N],
    theirs: npt.NDArray[Any],
    at: npt.NDArray[np.intp],
    into: npt.NDArray[np.intp],
) -> npt.NDArray[_N]:
    """``mine`` at the positions ``at``, ``theirs`` at the positions ``into`` (all the others)."""
    out = np.empty(at.shape[0] + into.shape[0], dtype=mine.dtype)
    out[at] = mine
    out[into] = theirs
    return out


def _known_lines(sites: set[str], rooms: set[str], devices: set[str]) -> _DecodeLines | None:
    """``decode_lines`` of a ``_Line`` that takes only these names (None if there are too
    many). What it decodes, ``_Line`` decodes to equal structs: it only refuses more."""
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
        bases=(_Line,),
        forbid_unknown_fields=True,
        gc=False,
    )
    return cast(_DecodeLines, msgspec.json.Decoder(known).decode_lines)


def _lines_of(text: bytes | bytearray, ends: npt.NDArray[np.int64]) -> bool:
    """Whether ``text`` may hold lines ending at ``ends``: long enough, and a line break after
    each of them (after the last one, a line break or the end of the text)."""
    if not ends.shape[0]:
        return True
    size = len(text)
    if size < ends[-1] or (size > ends[-1] and text[ends[-1]] != _NEWLINE):
        return False
    chars = np.frombuffer(text, dtype=np.uint8)
    return bool((chars[ends[:-1]] == _NEWLINE).all())


def _block(chunk: LineChunk) -> tuple[bytes | bytearray, int] | None:
    """The bytes holding the chunk's lines, a line break after each, and where the last line
    ends in them (None: no lines). The scanner's input: the line break after the last line
    stops it (added if the text has none)."""
    lines = chunk._lines
    if lines is None:
        text: bytes | bytearray = cast(bytes, chunk.text)
        limit = cast(int, chunk.limit)
    elif not lines:
        return None
    else:
        sizes = np.fromiter(map(len, lines), np.int64, len(lines))
        ends = np.cumsum(sizes + 1) - 1  # where each line ends, a line break after each
        text = chunk.text or b""
        if not _lines_of(text, ends):
            text = b"\n".join(lines)
        limit = int(ends[-1])
    if limit == len(text):
        text = text + b"\n"
    return text, limit


@dataclass(slots=True)
class _Later:
    """What the tiers behind the scanner made of the lines it left: their events (the lines
    ``at``, in no particular order, and their columns), the dead letters in line order, and
    how many of the lines were blank."""

    at: npt.NDArray[np.int64]
    ts: npt.NDArray[np.float64]
    place: npt.NDArray[np.int32]
    code: npt.NDArray[np.int16]
    value: npt.NDArray[np.float64]
    confidence: npt.NDArray[np.float32]
    ids: list[str | None]
    raw: list[dict[str, Any]] | None
    dead: list[DeadLetter]
    blank: int
    #: acknowledgement lines: (line, its text)
    acks: list[tuple[int, bytes]]


class LineDecoder:
    """Decodes chunks of a JSONL recording (``LineChunk``) into ``DecodedBatch`` es: the events
    as columns, their places numbered in ``places``. With ``keep_raw`` each event carries its
    payload object (for the audit trail), parsed as the codec parses it.

    ``decode`` reads and writes only the decoder's own tables, never a registry: it may run on
    a thread of its own (``replay`` decodes ahead while the classifier decides), one chunk at a
    time, while the batches it made are placed (``DecodedBatch.placed``) on another, in the
    order they were decoded (see ``Places``)."""

    def __init__(self, *, keep_raw: bool = False) -> None:
        self.keep_raw = keep_raw
        #: the valid (site, room, kind, device) met, numbered
        self.places = Places()
        #: (site, room, kind, device, event) -> a row of the tables below; a bounded cache
        self._combos: dict[tuple[str, str, str, str, str], int] = {}
        self._combo_place: list[int] = []  # the place's number, -1 if a name is not valid
        self._combo_code: list[int] = []  # EVENT_CODES[(kind, event)], -1 if not allowed
        self._tables = (np.zeros(0, np.int32), np.zeros(0, np.int16), np.zeros(0, np.bool_))
        #: the scanner's table of combinations (cleared with ``_combos``), and per entry of it
        #: its row's place and code
        self._names = NameTable()
        self._entry_place = np.zeros(0, dtype=np.int32)
        self._entry_code = np.zeros(0, dtype=np.int16)
        #: the decoder of runs of known names, and how many places it was made for
        self._known: _DecodeLines | None = None
        self._known_places = 0

    def _place_number(self, key: Place) -> int:
        """The number of the place ``key``, -1 if a name of it is not valid."""
        site, room, _, device = key
        if not (NAME_RE.fullmatch(site) and NAME_RE.fullmatch(room) and NAME_RE.fullmatch(device)):
            return -1
        return self.places.number(key)

    def _place_numbers(self, keys: list[Place]) -> npt.NDArray[np.int32]:
        return np.array([self._place_number(key) for key in keys], dtype=np.int32)

    def _combo_row(self, key: tuple[str, str, str, str, str]) -> int:
        """The row of ``key`` in the combination tables, adding it (its names and its event
        judged here, once); ``_update_tables`` makes the arrays of the rows added."""
        found = self._combos.get(key)
        if found is None:
            site, room, kind, device, event = key
            found = self._combos[key] = len(self._combo_place)
            self._combo_place.append(self._place_number((site, room, kind, device)))
            self._combo_code.append(EVENT_CODES.get((kind, event), -1))
        return found

    def _update_tables(self) -> None:
        place = np.array(self._combo_place, dtype=np.int32)
        code = np.array(self._combo_code, dtype=np.int16)
        self._tables = (place, code, (place < 0) | (code < 0))

    def _combo_rows(self, structs: list[_Line]) -> npt.NDArray[np.intp]:
        """The row of the combination tables of each struct, adding the new ones."""
        rows = list(map(self._combos.get, map(_KEY, structs)))
        if None in rows:
            for i in nones(rows):
                rows[i] = self._combo_row(_KEY(structs[i]))
            self._update_tables()
        return np.array(rows, dtype=np.intp)

    def _judge(self, since: int) -> None:
        """The place and code of the scanner's new entries, ``since`` on."""
        rows = len(self._combo_place)
        found = [self._combo_row(key) for key in self._names.names(since)]
        if len(self._combo_place) > rows:
            self._update_tables()
        count = len(self._names)
        if self._entry_place.shape[0] < count:
            size = max(count, 2 * self._entry_place.shape[0])
            self._entry_place = np.resize(self._entry_place, size)
            self._entry_code = np.resize(self._entry_code, size)
        combo_place, combo_code, _ = self._tables
        self._entry_place[since:count] = combo_place[found]
        self._entry_code[since:count] = combo_code[found]

    def _known_lines(self) -> _DecodeLines | None:
        """The decoder of runs of the names known (made again when places were added)."""
        if self._known_places != len(self.places):
            keys = self.places.keys
            self._known_places = len(keys)
            self._known = _known_lines(
                {k[0] for k in keys}, {k[1] for k in keys}, {k[3] for k in keys}
            )
        return self._known

    def decode(self, chunk: LineChunk, received_at: float) -> DecodedBatch:
        """The chunk's events, their places numbered in ``places`` (no registry touched), and
        the dead letters of its bad lines."""
        if len(self._combos) >= _PLACES_MAX:  # a flood of distinct places: start again
            self._combos.clear()
            self._combo_place.clear()
            self._combo_code.clear()
            self._names.clear()
        block = _block(chunk)
        if block is None:
            return DecodedBatch(
                0,
                [],
                [],
                ts=np.zeros(0, dtype=np.float64),
                code=np.zeros(0, dtype=np.int16),
                value=np.zeros(0, dtype=np.float64),
                confidence=np.zeros(0, dtype=np.float32),
                ids=IdColumn.none(0),
                raw=[] if self.keep_raw else None,
                place=np.zeros(0, dtype=np.int32),
                places=self.places,
            )
        text, limit = block
        chars = np.frombuffer(text, dtype=np.uint8)
        chars.flags.writeable = False  # the ids point into it

        # the first tier: the compiled scanner, on the bytes
        entries = len(self._names)
        scan = self._names.scan(chars, limit)
        n = scan.lines
        if chunk._lines is None:
            chunk._count = n  # read_chunks numbers the next chunk's lines with it
        if len(self._names) > entries:
            self._judge(entries)
        m = scan.taken
        at = scan.line[:m]
        entry = scan.entry[:m]
        place = self._entry_place[entry]
        code = self._entry_code[entry]
        ts, value, confidence = scan.ts[:m], scan.value[:m], scan.confidence[:m]
        ids = IdColumn(chars, scan.id_start[:m], scan.id_length[:m], scan.id_has[:m])
        # the names not valid, or the event not of its kind: the codec says why
        bad = (place < 0) | (code < 0)
        to_codec = at[bad]
        if to_codec.shape[0]:
            keep = np.flatnonzero(~bad)
            at, place, code = at[keep], place[keep], code[keep]
            ts, value, confidence = ts[keep], value[keep], confidence[keep]
            ids = ids.take(keep)
        status = scan.status[:n]
        rest = np.flatnonzero(status == REST)
        rows = n - int(np.count_nonzero(status == BLANK))

        line_of: Callable[[int], bytes]
        if chunk._lines is not None:
            line_of = chunk._lines.__getitem__
        else:
            starts, ends = scan.starts, scan.ends

            def line_of(i: int) -> bytes:
                return bytes(text[starts[i] : ends[i]])

        raw = [from_json(line_of(i)) for i in at.tolist()] if self.keep_raw else None
        dead: list[DeadLetter] = []
        acks: list[AckIn] = []
        if rest.shape[0] or to_codec.shape[0]:
            # the tiers behind it: msgspec, then the codec
            later = self._later(chunk, line_of, rest, to_codec, received_at)
            rows -= later.blank
            dead = later.dead
            if later.acks:  # each after the events of the lines before it
                lines = np.sort(np.concatenate([at, later.at]))
                for i, line in later.acks:
                    source = f"{chunk.name}:{chunk.first + i}"
                    before = int(np.searchsorted(lines, i))
                    item = recorded_ack(line, before, received_at, source)
                    if isinstance(item, DeadLetter):
                        dead.append(item)
                    else:
                        acks.append(item)
            if later.at.shape[0]:
                # their events among the scanner's, in line order
                event = np.zeros(n, dtype=np.bool_)
                event[at] = True
                event[later.at] = True
                position = np.cumsum(event) - 1
                mine, theirs = position[at], position[later.at]
                ts = _placed(ts, later.ts, mine, theirs)
                place = _placed(place, later.place, mine, theirs)
                code = _placed(code, later.code, mine, theirs)
                value = _placed(value, later.value, mine, theirs)
                confidence = _placed(confidence, later.confidence, mine, theirs)
                order = _placed(
                    np.arange(mine.shape[0]),
                    np.arange(mine.shape[0], mine.shape[0] + theirs.shape[0]),
                    mine,
                    theirs,
                )
                ids = IdColumn.joined([ids, IdColumn.from_strings(later.ids)]).take(order)
                if raw is not None and later.raw is not None:
                    both = raw + later.raw
                    raw = [both[j] for j in order.tolist()]
        return DecodedBatch(
            rows,
            dead,
            acks,
            ts=ts,
            code=code,
            value=value,
            confidence=confidence,
            ids=ids,
            raw=raw,
            place=place,
            places=self.places,
        )

    def _later(
        self,
        chunk: LineChunk,
        line_of: Callable[[int], bytes],
        rest: npt.NDArray[np.intp],
        to_codec: npt.NDArray[np.int64],
        received_at: float,
    ) -> _Later:
        """The lines ``rest`` (which the scanner did not take) through msgspec and what it
        does not vouch for, and the lines ``to_codec``, through the codec."""
        lines = [line_of(i) for i in rest.tolist()]
        structs: list[_Line] = []
        taken = np.zeros(len(lines), dtype=np.bool_)
        if lines:
            parsed = _Segments(lines, None, self._known_lines())
            structs, taken = parsed.structs, parsed.taken
            del parsed
        fast_at = rest[taken].astype(np.int64)
        slow = [rest[~taken].astype(np.int64), to_codec]

        combo = self._combo_rows(structs)
        combo_place, combo_code, combo_bad = self._tables
        ts = np.fromiter(map(_TS, structs), np.float64, len(structs))
        # what the struct did not check: ts in range, the names, the event of its kind
        bad = combo_bad[combo] | ~((ts >= TS_MIN) & (ts < TS_MAX))
        if bad.any():
            slow.append(fast_at[bad])
            keep = np.flatnonzero(~bad)
            fast_at, ts, combo = fast_at[keep], ts[keep], combo[keep]
            structs = list(compress(structs, (~bad).tolist()))
        m = len(structs)
        place = combo_place[combo]
        code = combo_code[combo]
        value = np.fromiter(map(_VALUE, structs), np.float64, m)
        confidence = np.fromiter(map(_CONFIDENCE, structs), np.float32, m)
        ids: list[str | None] = list(map(_ID, structs))
        raw = [from_json(line_of(i)) for i in fast_at.tolist()] if self.keep_raw else None

        # the codec decides every line the tiers before did not take, in line order
        dead: list[DeadLetter] = []
        made: list[Event] = []
        made_at: list[int] = []
        acks: list[tuple[int, bytes]] = []
        blank = 0
        for i in np.sort(np.concatenate(slow)).tolist():
            line = line_of(i)
            if _blank(line):
                blank += 1
                continue
            if is_ack_line(line):
                acks.append((i, line.rstrip(b"\r")))
                continue
            item = decode_line(line.rstrip(b"\r"), received_at, f"{chunk.name}:{chunk.first + i}")
            if isinstance(item, DeadLetter):
                dead.append(item)
            else:
                made.append(item)
                made_at.append(i)
        if made:
            fast_at = np.concatenate([fast_at, np.array(made_at, dtype=np.int64)])
            ts = np.concatenate([ts, np.array([e.ts for e in made], dtype=np.float64)])
            place = np.concatenate(
                [place, self._place_numbers([(e.site, e.room, e.kind, e.device) for e in made])]
            )
            code = np.concatenate(
                [code, np.array([EVENT_CODES[(e.kind, e.event)] for e in made], dtype=np.int16)]
            )
            value = np.concatenate(
                [
                    value,
                    np.array(
                        [math.nan if e.value is None else e.value for e in made], dtype=np.float64
                    ),
                ]
            )
            confidence = np.concatenate(
                [confidence, np.array([e.confidence for e in made], dtype=np.float32)]
            )
            ids += [e.id for e in made]
            if raw is not None:
                raw += [e.raw for e in made]
        return _Later(fast_at, ts, place, code, value, confidence, ids, raw, dead, blank, acks)
