"""The first tier of replay's JSONL decoder: a block of lines straight to columns, compiled.

:class:`NameTable.scan` reads the bytes of a block of JSONL lines (``np.frombuffer`` of the
block, no Python object per line) in one compiled pass, finding the line breaks as it goes, and
*takes* the lines that :func:`sensorhub.codec.payload.decode_line` certainly accepts, with the
values the codec would give them; every other line it leaves to the tiers behind it
(:mod:`sensorhub.codec.batch`: msgspec, then the codec), which decide it as before. So it may leave
a valid line to them (it is slower then, not different), but it must never take a line the
codec refuses nor give a value the codec would not. It takes a line only if:

- the line is one JSON object: ``{``, ``"key": value`` pairs separated by ``,``, ``}``, with
  JSON white space (space, tab, carriage return) around the tokens and at either end; at most
  ``max_line`` bytes (the codec's size limit, ``contract.MAX_PAYLOAD``);
- its keys are among ``ts event id confidence value site room kind device``, each at most
  once, written plainly (no escape);
- ``ts``, ``confidence`` and ``value`` are JSON numbers (strict grammar: no leading zero, no
  ``+``, no ``.5`` or ``1.``) that convert exactly by the fast path below; ``ts`` within
  ``[ts_min, ts_max)`` (``contract.TS_MIN <= ts < TS_MAX``, as the codec compares),
  ``confidence`` within [0, 1] (1.0 if absent; its column is float32, rounded from the float64
  as numpy rounds), ``value`` NaN if absent;
- the strings (``event id site room kind device``) hold only printable ASCII (0x20-0x7f) and no
  escape, so a string's bytes are its characters; ``id`` 1-128 of them;
- ``ts event site room kind device`` are all given.

``true``, ``false``, ``null``, strings for numbers (an RFC 3339 ``ts``), unknown keys, escapes,
non-ASCII or control bytes, or anything else: left to the tiers behind.

Numbers are converted as Python's ``float()`` converts their text (correctly rounded) by
Clinger's fast path: the decimal digits as an integer ``M <= 2**53`` and a decimal exponent
``e`` with ``|e| <= 22``; ``M`` and ``10**e`` are then both exact doubles, and ``M * 10.0**e``
(or ``M / 10.0**-e``) is one correctly rounded operation, so it is ``float(text)`` exactly.
More digits or a larger exponent: the line is left to the codec. An integer (no fraction, no
exponent) becomes a Python ``int`` in the codec and then a float: ``-0`` is ``0.0`` there, and
here.

Whether the names are valid and the event is one of its kind's is not the scanner's to know:
the five strings ``site room kind device event`` of a taken line are looked up, as a whole (the
five with a NUL byte between them, which no name of a taken line holds), in the compiled hash
table of byte strings (:mod:`sensorhub.codec.hashtable`: a hit is confirmed byte for byte, so a
hash collision changes nothing), which gives the line's *entry*: a number per distinct
combination, in order of first appearance. A combination not in the table yet is added to it
by the scanner itself; the caller then judges each new entry once (``batch.LineDecoder``:
the contract's names and vocabulary) and sends the lines of a bad one to the codec, for its
dead letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from sensorhub.codec.hashtable import (
    E_LENGTH,
    E_OFFSET,
    SEPARATOR,
    ByteTable,
    absorb_byte,
    add,
    find,
    fold_pieces,
    store_pieces,
)
from sensorhub.contract import MAX_PAYLOAD, TS_MAX, TS_MIN
from sensorhub.jit import jit

__all__ = ["BLANK", "FIELDS", "REST", "TAKEN", "NameTable", "Scan"]


#: What the scanner made of a line: left to the tiers behind, taken, or blank (white space
#: only, as ``bytes.strip`` sees it: not a row).
REST: Final = 0
TAKEN: Final = 1
BLANK: Final = 2

#: The keys of a line, by number: the five of the combination first (in the order of
#: ``batch``'s combination key), then the id and the three numbers.
FIELDS: Final = ("site", "room", "kind", "device", "event", "id", "ts", "confidence", "value")
_NAMES: Final = 5  # site room kind device event
_ID: Final = 5
_NUMBERS: Final = 6  # ts confidence value: 6, 7, 8
_KEY_BYTES: Final = np.frombuffer("".join(FIELDS).encode("ascii"), dtype=np.uint8).copy()
_KEY_LENGTH: Final = np.array([len(key) for key in FIELDS], dtype=np.int64)
_KEY_START: Final = np.concatenate([[0], np.cumsum(_KEY_LENGTH)[:-1]]).astype(np.int64)
#: a key's number by its first byte (their first letters differ), -1 for none
_KEY_BY_FIRST: Final = np.full(256, -1, dtype=np.int64)
for _field, _name in enumerate(FIELDS):
    _KEY_BY_FIRST[ord(_name[0])] = _field
#: keys a line must give: ts, event, site, room, kind, device
_REQUIRED: Final = sum(
    1 << FIELDS.index(key) for key in ("ts", "event", "site", "room", "kind", "device")
)
_ID_MAX: Final = 128

#: 10**0 .. 10**22, every one an exact double
_POW10: Final = np.array([float(10**e) for e in range(23)], dtype=np.float64)
_EXACT: Final = 1 << 53  # the largest significand taken: every integer up to it is a double
_EXPONENT_MAX: Final = 22

# bytes
_TAB, _NL, _CR, _SPACE, _QUOTE = 9, 10, 13, 32, 34
_COMMA, _MINUS, _DOT, _ZERO, _ONE, _NINE, _COLON = 44, 45, 46, 48, 49, 57, 58
_PLUS, _UPPER_E, _LOWER_E, _BACKSLASH, _OPEN, _CLOSE = 43, 69, 101, 92, 123, 125
_DEL = 127
_TS, _CONFIDENCE = FIELDS.index("ts"), FIELDS.index("confidence")
#: bytes a string may hold here: printable ASCII and DEL, but the quote and the backslash
_PLAIN: Final = np.zeros(256, dtype=np.bool_)
_PLAIN[_SPACE : _DEL + 1] = True
_PLAIN[[_QUOTE, _BACKSLASH]] = False
_DIGIT: Final = np.zeros(256, dtype=np.bool_)
_DIGIT[_ZERO : _NINE + 1] = True
#: JSON's white space (but the line break, which ends a line); what ``bytes.strip`` strips
_WHITE: Final = np.zeros(256, dtype=np.bool_)
_WHITE[[_SPACE, _TAB, _CR]] = True
_STRIPPED: Final = np.zeros(256, dtype=np.bool_)
_STRIPPED[list(b" \t\r\x0b\x0c")] = True

_SEPARATOR_TEXT: Final = chr(SEPARATOR)

# what ``_scan`` stopped for
_DONE: Final = 0
_LINES_FULL: Final = 1
_TABLE_FULL: Final = 2
# ``_scan``'s state (``NameTable._state``): where it is in the block, and what it has filled
_S_POS, _S_LINE, _S_TAKEN = range(3)


@dataclass(slots=True)
class Scan:
    """What :meth:`NameTable.scan` made of a block of ``lines`` lines: per line, its
    ``status`` (``REST``, ``TAKEN`` or ``BLANK``) and where it is in the block (``starts`` to
    ``ends``, the line break excluded); per taken line (``taken`` of them, in line order), its
    number in the block (``line``), its values and its entry in the table. Arrays may be
    longer than the lines or taken lines they hold: slice them."""

    lines: int
    taken: int
    status: npt.NDArray[np.int8]
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    line: npt.NDArray[np.int64]
    entry: npt.NDArray[np.int64]
    ts: npt.NDArray[np.float64]
    value: npt.NDArray[np.float64]
    confidence: npt.NDArray[np.float32]
    id_start: npt.NDArray[np.int64]
    id_length: npt.NDArray[np.int64]
    id_has: npt.NDArray[np.bool_]


class NameTable(ByteTable):
    """The distinct (site, room, kind, device, event) byte strings of taken lines, numbered in
    order of first appearance (the *entries*), as a compiled hash table of byte strings
    (:class:`~sensorhub.codec.hashtable.ByteTable`) that the scanner reads and adds to; and the
    scanner itself (:meth:`scan`).

    ``names(since)`` gives the five strings of the entries from ``since`` on; ``clear``
    forgets them all (a bounded cache: its owner clears it when it holds too many)."""

    def __init__(self, *, slots: int = 1024) -> None:
        super().__init__(slots=slots, store=16 * slots)
        self._state = np.zeros(3, dtype=np.int64)

    def names(self, since: int = 0) -> list[tuple[str, str, str, str, str]]:
        """The five strings (site, room, kind, device, event) of each entry from ``since`` on."""
        n = len(self)
        if since >= n:
            return []
        first = int(self._entries[since, E_OFFSET])
        text = self._bytes[first : self._used[1]].tobytes().decode("ascii")
        out: list[tuple[str, str, str, str, str]] = []
        for offset, length in self._entries[since:n, E_OFFSET : E_LENGTH + 1].tolist():
            start = offset - first
            site, room, kind, device, event = text[start : start + length].split(_SEPARATOR_TEXT)
            out.append((site, room, kind, device, event))
        return out

    def scan(
        self,
        chars: npt.NDArray[np.uint8],
        limit: int,
        *,
        lines_hint: int | None = None,
        max_line: int = MAX_PAYLOAD,
    ) -> Scan:
        """The lines of ``chars[:limit]`` (at least one: the bytes up to each line break, and
        after the last one), with what the scanner took of them. ``chars[limit]`` must be a
        line break (where every line's scan stops). New combinations of taken lines are added
        to the table. ``lines_hint``: room made for that many lines at first (grown when
        short)."""
        if not 0 <= limit < chars.shape[0] or chars[limit] != _NL:
            raise ValueError("the scanner needs a line break at chars[limit]")
        capacity = limit // 64 + 64 if lines_hint is None else max(lines_hint, 1)
        out = _outputs(capacity)
        state = self._state
        state[_S_POS] = state[_S_LINE] = state[_S_TAKEN] = 0
        while True:
            stopped = _scan(
                chars,
                limit,
                TS_MIN,
                TS_MAX,
                max_line,
                state,
                self._slots,
                self._hashes,
                self._entries,
                self._bytes,
                self._used,
                *out,
            )
            if stopped == _DONE:
                break
            if stopped == _LINES_FULL:
                out = _grown(out, 2 * out[0].shape[0], int(state[_S_LINE]), int(state[_S_TAKEN]))
            else:  # room for one more entry, of up to a line's bytes (its names are shorter)
                self._grow(1, max_line)
        status, starts, ends, line, entry, ts, value, confidence, id_start, id_length, id_has = out
        return Scan(
            int(state[_S_LINE]),
            int(state[_S_TAKEN]),
            status,
            starts,
            ends,
            line,
            entry,
            ts,
            value,
            confidence,
            id_start,
            id_length,
            id_has,
        )


def _outputs(capacity: int) -> tuple[Any, ...]:
    """The scanner's output arrays for ``capacity`` lines, in ``_scan``'s order."""
    return (
        np.zeros(capacity, dtype=np.int8),  # status
        np.empty(capacity, dtype=np.int64),  # starts
        np.empty(capacity, dtype=np.int64),  # ends
        np.empty(capacity, dtype=np.int64),  # line
        np.empty(capacity, dtype=np.int64),  # entry
        np.empty(capacity, dtype=np.float64),  # ts
        np.empty(capacity, dtype=np.float64),  # value
        np.empty(capacity, dtype=np.float32),  # confidence
        np.empty(capacity, dtype=np.int64),  # id_start
        np.empty(capacity, dtype=np.int64),  # id_length
        np.empty(capacity, dtype=np.bool_),  # id_has
    )


def _grown(out: tuple[Any, ...], capacity: int, lines: int, taken: int) -> tuple[Any, ...]:
    """``out`` with room for ``capacity`` lines, the first ``lines`` lines' and ``taken``
    taken lines' values kept."""
    new = _outputs(capacity)
    for i, (old, array) in enumerate(zip(out, new, strict=True)):
        done = lines if i < 3 else taken  # status, starts, ends: per line
        array[:done] = old[:done]
    return new


@jit
def _scan(  # noqa: PLR0917 - numba takes its state positionally
    chars: Any,
    limit: int,
    ts_min: float,
    ts_max: float,
    max_line: int,
    state: Any,
    slots: Any,
    hashes: Any,
    entries: Any,
    store: Any,
    used: Any,
    status: Any,
    starts: Any,
    ends: Any,
    line: Any,
    entry: Any,
    ts: Any,
    value: Any,
    confidence: Any,
    id_start: Any,
    id_length: Any,
    id_has: Any,
) -> int:
    """The lines of ``chars[:limit]`` (``chars[limit]`` a line break) from where ``state``
    says on: each line's status and place, and the values and entry of each taken line (new
    combinations added to the table). Returns ``_DONE``, or what it stopped for before a line:
    no room for the line in the outputs (``_LINES_FULL``) or for its new entry in the table
    (``_TABLE_FULL``): grow it and call again.

    One function without calls: numba would count references to the arrays at every call.
    Every test of a byte below fails on a line break, so no test reads past the end of its
    line, nor past ``chars[limit]``."""
    pos = state[_S_POS]
    i = state[_S_LINE]
    k = state[_S_TAKEN]
    n_entries = used[0]
    n_bytes = used[1]
    capacity = status.shape[0]
    stopped = _DONE
    # where the five names are, their lengths and their hash states (site room kind device
    # event)
    name_start = np.zeros(_NAMES, dtype=np.int64)
    name_length = np.zeros(_NAMES, dtype=np.int64)
    name_state = np.zeros(_NAMES, dtype=np.uint64)
    while True:
        if i >= capacity:
            stopped = _LINES_FULL
            break
        start = pos
        p = pos
        parsed = False
        t = 0.0
        c = 1.0
        v = np.nan
        seen = 0
        the_id = 0
        id_len = -1
        # the line as one JSON object: a loop run once, left where the line fails
        while True:
            while _WHITE[chars[p]]:
                p += 1
            if chars[p] != _OPEN:
                break
            p += 1
            while _WHITE[chars[p]]:
                p += 1
            failed = False
            while True:  # the pairs
                # the key: one of FIELDS, told by its first byte
                if chars[p] != _QUOTE:
                    failed = True
                    break
                p += 1
                key = _KEY_BY_FIRST[chars[p]]
                if key < 0:
                    failed = True
                    break
                at = _KEY_START[key]
                for j in range(_KEY_LENGTH[key]):
                    if chars[p] != _KEY_BYTES[at + j]:
                        failed = True
                        break
                    p += 1
                if failed or chars[p] != _QUOTE:
                    failed = True
                    break
                p += 1
                bit = 1 << key
                if seen & bit:
                    failed = True
                    break
                seen |= bit
                while _WHITE[chars[p]]:
                    p += 1
                if chars[p] != _COLON:
                    failed = True
                    break
                p += 1
                while _WHITE[chars[p]]:
                    p += 1
                if key >= _NUMBERS:
                    # a JSON number, exactly as float() of its text (Clinger's fast path)
                    negative = chars[p] == _MINUS
                    if negative:
                        p += 1
                    significand = 0
                    if chars[p] == _ZERO:
                        p += 1
                    elif _DIGIT[chars[p]]:
                        while _DIGIT[chars[p]]:
                            significand = significand * 10 + (int(chars[p]) - _ZERO)
                            if significand > _EXACT:
                                failed = True
                                break
                            p += 1
                        if failed:
                            break
                    else:
                        failed = True
                        break
                    exponent = 0
                    integer = True
                    if chars[p] == _DOT:
                        integer = False
                        p += 1
                        if not _DIGIT[chars[p]]:
                            failed = True
                            break
                        while _DIGIT[chars[p]]:
                            significand = significand * 10 + (int(chars[p]) - _ZERO)
                            if significand > _EXACT:
                                failed = True
                                break
                            exponent -= 1
                            p += 1
                        if failed:
                            break
                    if chars[p] == _LOWER_E or chars[p] == _UPPER_E:
                        integer = False
                        p += 1
                        below = chars[p] == _MINUS
                        if below or chars[p] == _PLUS:
                            p += 1
                        if not _DIGIT[chars[p]]:
                            failed = True
                            break
                        written = 0
                        while _DIGIT[chars[p]]:
                            written = written * 10 + (int(chars[p]) - _ZERO)
                            if written > 999:  # far outside the fast path; no overflow
                                failed = True
                                break
                            p += 1
                        if failed:
                            break
                        exponent += -written if below else written
                    if exponent > _EXPONENT_MAX or exponent < -_EXPONENT_MAX:
                        failed = True
                        break
                    # one correctly rounded operation on two exact doubles
                    number = np.float64(significand)
                    if exponent >= 0:
                        number = number * _POW10[exponent]
                    else:
                        number = number / _POW10[-exponent]
                    if negative and not (integer and significand == 0):  # the int -0 is 0
                        number = -number
                    if key == _TS:
                        t = number
                    elif key == _CONFIDENCE:
                        c = number
                    else:
                        v = number
                else:
                    # a string of printable ASCII, no escape
                    if chars[p] != _QUOTE:
                        failed = True
                        break
                    p += 1
                    at = p
                    if key < _NAMES:
                        # its part of the combination's hash, taken as its bytes are read
                        piece = np.uint64(0)
                        while _PLAIN[chars[p]]:
                            piece = absorb_byte(piece, chars[p])
                            p += 1
                        name_start[key] = at
                        name_length[key] = p - at
                        name_state[key] = piece
                    else:
                        while _PLAIN[chars[p]]:
                            p += 1
                        the_id = at
                        id_len = p - at
                    if chars[p] != _QUOTE:
                        failed = True
                        break
                    p += 1
                # what follows: another pair, or the end of the object
                while _WHITE[chars[p]]:
                    p += 1
                if chars[p] == _COMMA:
                    p += 1
                    while _WHITE[chars[p]]:
                        p += 1
                elif chars[p] == _CLOSE:
                    break
                else:
                    failed = True
                    break
            if failed:
                break
            p += 1
            while _WHITE[chars[p]]:
                p += 1
            parsed = chars[p] == _NL  # the end of the line, or more after the object
            break
        end = p
        while chars[end] != _NL:
            end += 1
        taken = (
            parsed
            and end - start <= max_line
            and (seen & _REQUIRED) == _REQUIRED
            and ts_min <= t < ts_max
            and 0.0 <= c <= 1.0
            and (id_len < 0 or 1 <= id_len <= _ID_MAX)
        )
        if taken:
            # the combination's entry: its key (the five names, a separator between them),
            # hashed from the names' states and found where the names are, or kept at the end
            # of the store as a new entry
            h = fold_pieces(0, name_state, name_length, _NAMES)
            size = _NAMES - 1
            for f in range(_NAMES):
                size += name_length[f]
            slot = find(
                slots, hashes, entries, store, h, 0, chars, name_start, name_length, _NAMES, size
            )
            found = slots[slot]
            if found < 0:
                if (
                    2 * (n_entries + 1) > slots.shape[0]
                    or n_entries >= hashes.shape[0]
                    or n_bytes + size > store.shape[0]
                ):
                    stopped = _TABLE_FULL
                    break
                found = n_entries
                store_pieces(store, n_bytes, chars, name_start, name_length, _NAMES)
                add(slots, hashes, entries, slot, found, h, 0, n_bytes, size)
                n_entries += 1
                n_bytes += size
            line[k] = i
            entry[k] = found
            ts[k] = t
            value[k] = v
            confidence[k] = c
            id_start[k] = the_id
            id_length[k] = max(id_len, 0)
            id_has[k] = id_len >= 0
            k += 1
            status[i] = TAKEN
        else:
            # white space only, as bytes.strip sees it: not a row
            blank = start
            while _STRIPPED[chars[blank]]:
                blank += 1
            status[i] = BLANK if blank == end else REST
        starts[i] = start
        ends[i] = end
        i += 1
        if end >= limit:
            break
        pos = end + 1
    state[_S_POS] = pos
    state[_S_LINE] = i
    state[_S_TAKEN] = k
    used[0] = n_entries
    used[1] = n_bytes
    return stopped
