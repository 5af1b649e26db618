"""JSONL recordings to columns: the batch decoder of ``replay``.

``lines.read_chunks`` reads a recording in blocks of whole lines (``LineChunk``: the *read*
stage of :mod:`sensorhub.codec.stages`). ``LineDecoder.decode`` turns a block into a
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
2. msgspec, for the lines the scanner left (:mod:`sensorhub.codec.segments`): they are decoded
   into typed structs (``Line``) that already check most of the contract in C: ``ts`` a number,
   ``kind`` and ``event`` from the vocabulary, ``id`` a string of 1-128 characters,
   ``confidence`` a number in [0, 1], no unknown field, every place field given. Rather than one
   call per line, runs of lines are decoded a few hundred at a time in one call, as a JSON array
   made of them (``Segments``: why that decodes each line exactly as decoding it alone would is
   explained there); a run holding a line msgspec refuses is decoded again around that line.
   What is left is checked a column at a time: ``ts`` in range, and, once per distinct (site,
   room, kind, device, event), the names and the event of its kind.
3. A line neither vouches for, for whatever reason (bad input, but also what they do not take
   although the contract allows it: an RFC 3339 ``ts``, ``null`` for an optional field, unknown
   fields, a byte order mark), goes to :func:`sensorhub.codec.payload.decode_line`, the one
   definition of what is valid: its event is taken as the codec made it, or its dead letter is
   written with the codec's reason.

The events of the three are merged in line order. So for every line the result is the codec's,
and a dead letter reads exactly as it does in ``serve``. ``tests/codec/test_decode_batch.py`` checks
both against each other on random lines, and on lines one rule away from the scanner's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic_core import from_json

from sensorhub.codec.acks import AckIn, is_ack_line, recorded_ack
from sensorhub.codec.columns import IdColumn, event_values, nones
from sensorhub.codec.lines import LineChunk, is_blank
from sensorhub.codec.payload import decode_line
from sensorhub.codec.scan import BLANK, REST, NameTable
from sensorhub.codec.segments import DecodeLines, Line, Segments, known_lines
from sensorhub.codec.stages import DecodedBatch, Place, Places
from sensorhub.contract import EVENT_CODES, NAME_RE, TS_MAX, TS_MIN, DeadLetter, Event

__all__ = ["LineDecoder"]

_TS: Final = attrgetter("ts")
#: What a line's place and event code follow from: one dict lookup per line (``_combos``).
_KEY: Final = attrgetter("site", "room", "kind", "device", "event")
_ID: Final = attrgetter("id")
_CONFIDENCE: Final = attrgetter("confidence")
_VALUE: Final = attrgetter("value")
#: Distinct (site, room, kind, device, event) remembered per decoder (a bounded cache: it
#: starts again empty when full).
_PLACES_MAX: Final = 65_536


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
        self._known: DecodeLines | None = None
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

    def _combo_rows(self, structs: list[Line]) -> npt.NDArray[np.intp]:
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

    def _known_lines(self) -> DecodeLines | None:
        """The decoder of runs of the names known (made again when places were added)."""
        if self._known_places != len(self.places):
            keys = self.places.keys
            self._known_places = len(keys)
            self._known = known_lines(
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
        block = chunk.block()
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
        chunk.counted(n)
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
        split = chunk.split
        if split is not None:
            line_of = split.__getitem__
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
        structs: list[Line] = []
        taken = np.zeros(len(lines), dtype=np.bool_)
        if lines:
            parsed = Segments(lines, None, self._known_lines())
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
            if is_blank(line):
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
            made_ts, made_code, made_value, made_confidence = event_values(made)
            fast_at = np.concatenate([fast_at, np.array(made_at, dtype=np.int64)])
            ts = np.concatenate([ts, made_ts])
            place = np.concatenate(
                [place, self._place_numbers([(e.site, e.room, e.kind, e.device) for e in made])]
            )
            code = np.concatenate([code, made_code])
            value = np.concatenate([value, made_value])
            confidence = np.concatenate([confidence, made_confidence])
            ids += [e.id for e in made]
            if raw is not None:
                raw += [e.raw for e in made]
        return _Later(fast_at, ts, place, code, value, confidence, ids, raw, dead, blank, acks)


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
