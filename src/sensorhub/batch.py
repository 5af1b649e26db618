"""JSONL recordings to ``EventColumns``: the batch decoder of ``replay``.

``read_chunks`` reads a recording (``.jsonl`` or ``.jsonl.gz``) in blocks of whole lines;
``ColumnDecoder.decode`` turns a block into the columns the compiled core takes
(:class:`~sensorhub.core.columns.EventColumns`, indices of the classifier's registry) and the
dead letters of its bad lines.

The per-line work is msgspec's: each line is decoded into a typed struct (``_Line``) that
already checks most of the contract in C: ``ts`` a number, ``kind`` and ``event`` from the
vocabulary, ``id`` a string of 1-128 characters, ``confidence`` a number in [0, 1], no unknown
field, every place field given. What is left is checked a column at a time: ``ts`` in range,
``event`` allowed for its ``kind`` (one lookup per line), names valid (once per distinct place).

A line the fast path does not vouch for, for whatever reason (bad input, but also what it does
not take although the contract allows it: an RFC 3339 ``ts``, ``null`` for an optional field,
unknown fields, a byte order mark), goes to :func:`sensorhub.codec.decode_line`, the one
definition of what is valid: its event is taken as the codec made it, or its dead letter is
written with the codec's reason. So for every line the result is the codec's, and a dead
letter reads exactly as it does in ``serve``. ``tests/test_decode_batch.py`` checks both
against each other on random lines.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Generator
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter, is_
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, Final, Literal, cast

import msgspec
import numpy as np
import numpy.typing as npt
from pydantic_core import from_json

from sensorhub.codec import decode_line
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
from sensorhub.core.columns import EventColumns, Registry

__all__ = [
    "BLOCK_BYTES",
    "ColumnBatch",
    "ColumnDecoder",
    "LineChunk",
    "decode_events",
    "read_chunks",
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
_ERRORS: Final = (msgspec.ValidationError, msgspec.DecodeError)
_TS: Final = attrgetter("ts")
_PLACE: Final = attrgetter("site", "room", "kind", "device")
_CODE_KEY: Final = attrgetter("kind", "event")
_ID: Final = attrgetter("id")
_CONFIDENCE: Final = attrgetter("confidence")
_VALUE: Final = attrgetter("value")
#: Distinct places remembered per decoder (a bounded cache: it starts again empty when full).
_PLACES_MAX: Final = 65_536


@dataclass(slots=True)
class LineChunk:
    """Whole lines of a recording: ``lines`` (without their line break), the first of which is
    line ``first`` (counting from 1) of the file ``name``."""

    name: str
    first: int
    lines: list[bytes]


def open_recording(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


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
            block = stream.read(block_bytes)
            if not block:
                break
            lines = (carry + block).split(b"\n")
            carry = lines.pop()
            if lines:
                yield LineChunk(name, number, lines)
                number += len(lines)
        if carry:
            yield LineChunk(name, number, [carry])


def _blank(line: bytes) -> bool:
    return not line.strip()


def decode_events(
    chunk: LineChunk, received_at: float
) -> tuple[int, list[Event], list[DeadLetter]]:
    """(rows, events, dead letters) of a chunk with the codec alone, line by line: what the
    reference classifier takes. Blank lines are no rows."""
    events: list[Event] = []
    dead: list[DeadLetter] = []
    rows = 0
    for n, line in enumerate(chunk.lines, start=chunk.first):
        if _blank(line):
            continue
        rows += 1
        item = decode_line(line.rstrip(b"\r"), received_at, f"{chunk.name}:{n}")
        if isinstance(item, DeadLetter):
            dead.append(item)
        else:
            events.append(item)
    return rows, events, dead


@dataclass(slots=True)
class ColumnBatch:
    """A decoded chunk: ``rows`` lines that were not blank, ``columns`` the valid events among
    them in file order, ``dead_letters`` the rest."""

    rows: int
    columns: EventColumns
    dead_letters: list[DeadLetter]


class ColumnDecoder:
    """Decodes chunks of a JSONL recording into ``EventColumns`` against ``registry`` (the
    classifier's). With ``keep_raw`` each event carries its payload object (for the audit
    trail), parsed as the codec parses it.

    Places are registered in the order their first valid event comes, as ``EventColumns
    .from_events`` does: the classifier knows a room or device once an event of it came."""

    def __init__(self, registry: Registry, *, keep_raw: bool = False) -> None:
        self.registry = registry
        self.keep_raw = keep_raw
        #: (site, room, kind, device) -> its number here, or -1 if a name is not valid
        self._places: dict[tuple[str, str, str, str], int] = {}
        self._place_keys: list[tuple[str, str, str, str]] = []
        #: number here -> the registry's device index (-1: not registered yet)
        self._device = np.zeros(0, dtype=np.int32)

    def _new_place(self, key: tuple[str, str, str, str]) -> int:
        site, room, _, device = key
        if not (NAME_RE.fullmatch(site) and NAME_RE.fullmatch(room) and NAME_RE.fullmatch(device)):
            return -1
        self._place_keys.append(key)
        return len(self._place_keys) - 1

    def _place_numbers(self, keys: list[tuple[str, str, str, str]]) -> npt.NDArray[np.int32]:
        places = self._places
        found = list(map(places.get, keys))
        if None in found:
            for i, key in enumerate(keys):
                if found[i] is None:
                    number = places.get(key)
                    if number is None:
                        number = places[key] = self._new_place(key)
                    found[i] = number
        return np.array(found, dtype=np.int32) if found else np.zeros(0, dtype=np.int32)

    def _devices(self, place: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
        """The registry's device index of each place number, registering new ones in order of
        their first event."""
        if self._device.shape[0] < len(self._place_keys):
            grown = np.full(2 * len(self._place_keys), -1, dtype=np.int32)
            grown[: self._device.shape[0]] = self._device
            self._device = grown
        device = self._device[place]
        new = device < 0
        if new.any():
            numbers, first = np.unique(place[new], return_index=True)
            for number in numbers[np.argsort(first, kind="stable")].tolist():
                self._device[number] = self.registry.device(*self._place_keys[number])
            device = self._device[place]
        return device

    def decode(self, chunk: LineChunk, received_at: float) -> ColumnBatch:
        """The chunk's events as columns, and the dead letters of its bad lines."""
        lines = chunk.lines
        decode = _DECODE
        errors = _ERRORS
        parsed: list[_Line | None] = []
        append = parsed.append
        for line in lines:
            try:
                append(decode(line))
            except errors:
                append(None)
        n = len(lines)
        structs = cast(list[_Line], parsed)
        if None in parsed:
            slow = np.fromiter(map(is_, parsed, repeat(None)), np.bool_, n)
            structs = list(filter(None, structs))  # a struct is always true
        else:
            slow = np.zeros(n, dtype=np.bool_)
        fast_at = np.flatnonzero(~slow)
        m = len(structs)

        ts = np.fromiter(map(_TS, structs), np.float64, m)
        code = np.fromiter(map(EVENT_CODES.get, map(_CODE_KEY, structs), [-1] * m), np.int16, m)
        place = self._place_numbers(list(map(_PLACE, structs)))
        # what the struct did not check: ts in range, the event of its kind, names, size
        bad = ~((ts >= TS_MIN) & (ts < TS_MAX)) | (code < 0) | (place < 0)
        if m and max(map(len, lines)) > MAX_PAYLOAD:
            sizes = np.fromiter((len(lines[i]) for i in fast_at.tolist()), np.int64, m)
            bad |= sizes > MAX_PAYLOAD
        if bad.any():
            slow[fast_at[bad]] = True
            keep = np.flatnonzero(~bad)
            fast_at, ts, code, place = fast_at[keep], ts[keep], code[keep], place[keep]
            structs = [structs[i] for i in keep.tolist()]
            m = len(structs)
        value = np.fromiter(map(_VALUE, structs), np.float64, m)
        confidence = np.fromiter(map(_CONFIDENCE, structs), np.float32, m)
        ids: list[str | None] = list(map(_ID, structs))
        raw: list[dict[str, Any]] | None = None
        if self.keep_raw:
            raw = [from_json(lines[i]) for i in fast_at.tolist()]

        dead: list[DeadLetter] = []
        rows = n
        if slow.any():
            # the codec decides every line the fast path did not take
            made: list[Event] = []
            at: list[int] = []
            for i in np.flatnonzero(slow).tolist():
                line = lines[i]
                if _blank(line):
                    rows -= 1
                    continue
                source = f"{chunk.name}:{chunk.first + i}"
                item = decode_line(line.rstrip(b"\r"), received_at, source)
                if isinstance(item, DeadLetter):
                    dead.append(item)
                else:
                    made.append(item)
                    at.append(i)
            if made:
                order = np.argsort(np.concatenate([fast_at, np.array(at, dtype=np.int64)]))
                ts = np.concatenate([ts, [e.ts for e in made]])[order]
                code = np.concatenate(
                    [code, np.array([EVENT_CODES[(e.kind, e.event)] for e in made], np.int16)]
                )[order]
                place = np.concatenate(
                    [place, self._place_numbers([(e.site, e.room, e.kind, e.device) for e in made])]
                )[order]
                value = np.concatenate(
                    [value, [math.nan if e.value is None else e.value for e in made]]
                )[order]
                confidence = np.concatenate(
                    [confidence, np.array([e.confidence for e in made], np.float32)]
                )[order]
                positions = order.tolist()
                all_ids = ids + [e.id for e in made]
                ids = [all_ids[i] for i in positions]
                if raw is not None:
                    all_raw = raw + [e.raw for e in made]
                    raw = [all_raw[i] for i in positions]
        device = self._devices(place)
        room = np.asarray(self.registry.device_room, dtype=np.int32)[device]
        columns = EventColumns(ts, room, device, code, value, confidence, ids=ids, raw=raw)
        return ColumnBatch(rows, columns, dead)
