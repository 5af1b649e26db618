"""One compiled hash table of byte strings, for whoever looks byte strings up in compiled code:
the redelivery check (``core.seen.SeenIds``: the ``(device, id)`` seen) and the JSONL scanner
(``codec.scan.NameTable``: the combinations of names seen).

A key is a byte string, or several (*pieces*: a scanned line's five names, kept with a
``SEPARATOR`` between them), with a *tag*, an integer that is part of the key (the device of an
id; 0 where there is none). The table is open addressing with linear probing over a power of
two of *slots* (an entry's number, or -1: empty), at most half full; per entry (numbered in the
order they came) its 64-bit hash, its tag, where its bytes are in the *store* (the entries'
bytes end to end) and its slot. A key is hashed where it is, with one hash function however
its bytes come: from a buffer (``key_hash``, or ``key_hash_copy``, copying them to the end of
the store on the way), or, for a key of several pieces, from each piece's state
(``fold_pieces`` of ``piece_state`` s, or of states taken a byte at a time as the bytes are
read: ``absorb_byte``); and looked up there (``find``: a candidate counts only if hash, tag,
length and bytes are equal, so a collision changes nothing); a new key's bytes go to the end of
the store (``store_pieces``, unless ``key_hash_copy`` put them there) and it is added (``add``). A
compiled pass that would fill the slots more than half stops before that key; the owner grows
the table (``ByteTable._grow``: twice the slots, the entries put in again from their hashes)
and goes on from there.

The helpers are compiled into their callers (``hot``): a call that takes arrays costs more
than a probe. Plain arrays throughout: a table pickles as it is (``ByteTable.__getstate__``
leaves out the room to grow and the slots, which are made again from the entries).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from sensorhub.jit import hot, jit

__all__ = [
    "ENTRY_COLUMNS",
    "E_LENGTH",
    "E_OFFSET",
    "E_SLOT",
    "E_TAG",
    "SEPARATOR",
    "ByteTable",
    "absorb_byte",
    "add",
    "compact_store",
    "empty_slots",
    "find",
    "fold_pieces",
    "key_hash",
    "key_hash_copy",
    "mix32",
    "move_entry",
    "piece_state",
    "power",
    "rehash",
    "resized",
    "store_pieces",
]

# the hash: a polynomial of the bytes in a 32-bit state, ``state * B + byte`` for each byte in
# turn (the state starting from the tag), finished twice with murmur3's mixer (once with the
# length). A polynomial, so the same state comes of the bytes taken one at a time as they are
# read, four at a time from a buffer, or piece by piece (a piece's own state and ``B`` to the
# power of its length). All of it in uint64 without overflowing (the same under
# NUMBA_DISABLE_JIT, where numpy would warn)
_M32: Final = np.uint64(0xFFFFFFFF)
_OFFSET: Final = np.uint64(0x811C9DC5)
_B_INT: Final = 0x01000193
_B: Final = np.uint64(_B_INT)  # odd: every power of it is odd, so no byte cancels out
_B2: Final = np.uint64(_B_INT**2 & 0xFFFFFFFF)
_B3: Final = np.uint64(_B_INT**3 & 0xFFFFFFFF)
_B4: Final = np.uint64(_B_INT**4 & 0xFFFFFFFF)
_MIX_1: Final = np.uint64(0x85EBCA6B)
_MIX_2: Final = np.uint64(0xC2B2AE35)
_S13: Final = np.uint64(13)
_S16: Final = np.uint64(16)
_S32: Final = np.uint64(32)
_ONE: Final = np.uint64(1)
#: What stands between the pieces of a key made of several (``fold_pieces``)
SEPARATOR: Final = 0
_SEPARATOR_BYTE: Final = np.uint64(SEPARATOR)

#: The columns of an entry (``ByteTable._entries``): its tag, the offset and length of its
#: bytes in the store, its slot
E_TAG: Final = 0
E_OFFSET: Final = 1
E_LENGTH: Final = 2
E_SLOT: Final = 3
ENTRY_COLUMNS: Final = 4


def resized(array: Any, rows: int) -> Any:
    """A copy of ``array`` with ``rows`` rows: cut, or grown with zeros."""
    out = np.zeros((rows, *array.shape[1:]), dtype=array.dtype)
    count = min(rows, array.shape[0])
    out[:count] = array[:count]
    return out


class ByteTable:
    """A table's arrays (see the module), and growing them; what looks keys up and adds them
    is the compiled pass of its owner (a subclass), with the helpers of this module.

    ``_slots`` (a power of two), ``_hashes`` and ``_entries`` (a row per entry), ``_bytes``
    (the store) and ``_used`` (entries, bytes of the store used). An owner that keeps more
    arrays of a row per entry names them in ``_PER_ENTRY`` too: they grow and pickle alike."""

    #: The attributes that hold a row per entry
    _PER_ENTRY: tuple[str, ...] = ("_hashes", "_entries")

    def __init__(self, *, slots: int, store: int) -> None:
        self._slots = np.full(slots, -1, dtype=np.int64)
        self._hashes = np.zeros(slots // 2, dtype=np.uint64)
        self._entries = np.zeros((slots // 2, ENTRY_COLUMNS), dtype=np.int64)
        self._bytes = np.zeros(store, dtype=np.uint8)
        self._used = np.zeros(2, dtype=np.int64)

    def __len__(self) -> int:
        return int(self._used[0])

    def __getstate__(self) -> dict[str, Any]:
        """The entries and their bytes without the room left to grow, and of the slots only
        their number (they are made again from the entries): about half the pickle."""
        n, used = int(self._used[0]), int(self._used[1])
        state = dict(self.__dict__)
        for name in self._PER_ENTRY:
            state[name] = state[name][:n]
        state["_bytes"] = self._bytes[:used]
        state["_slots"] = self._slots.shape[0]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """The slots are made again (a pickle of an older version may hold them whole)."""
        self.__dict__.update(state)
        if isinstance(self._slots, int):
            self._rehash(self._slots)

    def key(self, e: int) -> bytes:
        """The bytes of entry ``e``."""
        offset, length = self._entries[e, E_OFFSET], self._entries[e, E_LENGTH]
        return self._bytes[offset : offset + length].tobytes()

    def clear(self) -> None:
        """No entries."""
        self._slots[:] = -1
        self._used[:] = 0

    def _reserve(self, entries: int, size: int) -> None:
        """Room for ``entries`` more entries and ``size`` more bytes (the slots aside)."""
        n, used = int(self._used[0]), int(self._used[1])
        if self._hashes.shape[0] < n + entries:
            rows = max(n + entries, 2 * self._hashes.shape[0])
            for name in self._PER_ENTRY:
                setattr(self, name, resized(getattr(self, name), rows))
        if self._bytes.shape[0] < used + size:
            self._bytes = resized(self._bytes, max(used + size, 2 * self._bytes.shape[0]))

    def _rehash(self, slots: int) -> None:
        """``slots`` slots, the entries put in again."""
        self._slots = np.full(slots, -1, dtype=np.int64)
        rehash(self._slots, self._hashes, self._entries, int(self._used[0]))

    def _grow(self, entries: int, size: int) -> None:
        """Room for ``entries`` more entries with the slots at most half full, and for ``size``
        more bytes."""
        slots = self._slots.shape[0]
        while 2 * (len(self) + entries) > slots:
            slots *= 2
        if slots > self._slots.shape[0]:
            self._rehash(slots)
        self._reserve(entries, size)


@hot
def mix32(h: Any) -> Any:
    """murmur3's finishing mix of a 32-bit hash (held in a uint64)."""
    h ^= h >> _S16
    h = (h * _MIX_1) & _M32
    h ^= h >> _S13
    h = (h * _MIX_2) & _M32
    h ^= h >> _S16
    return h


@hot
def _finish(a: Any, length: int) -> Any:
    return (mix32(a) << _S32) | mix32(a ^ (np.uint64(length) & _M32))


@hot
def _seed(tag: Any) -> Any:
    """The state a key starts from: its tag's."""
    return _OFFSET ^ (np.uint64(tag) & _M32)


@hot
def _four(raw: Any, j: int) -> Any:
    """The bytes ``raw[j:j + 4]`` as the polynomial of them (less than 2**43)."""
    return (
        np.uint64(raw[j]) * _B3
        + np.uint64(raw[j + 1]) * _B2
        + np.uint64(raw[j + 2]) * _B
        + np.uint64(raw[j + 3])
    )


@hot
def _absorb(a: Any, raw: Any, start: int, end: int) -> Any:
    """The bytes ``raw[start:end]`` into the state ``a``, four at a time."""
    j = start
    while j + 4 <= end:
        a = (((a * _B4) & _M32) + _four(raw, j)) & _M32
        j += 4
    while j < end:
        a = (a * _B + np.uint64(raw[j])) & _M32
        j += 1
    return a


@hot
def absorb_byte(state: Any, byte: Any) -> Any:
    """One more byte of a piece read a byte at a time: its state (start from 0)."""
    return (state * _B + np.uint64(byte)) & _M32


#: ``B`` to the powers 0 .. 63 (for ``power``: a piece is rarely longer)
_POWERS: Final = np.array([_B_INT**k & 0xFFFFFFFF for k in range(64)], dtype=np.uint64)


@hot
def power(length: int) -> Any:
    """``B`` to the power ``length``: what a piece of that length multiplies the state before
    it by."""
    if length < 64:
        return _POWERS[length]
    result = _POWERS[63]
    for _ in range(length - 63):
        result = (result * _B) & _M32
    return result


@hot
def key_hash(tag: Any, raw: Any, start: int, length: int) -> Any:
    """64 bits of the key ``(tag, raw[start:start + length])``. Equal hashes are only
    candidates (the bytes decide), so 32 bits of state are plenty."""
    return _finish(_absorb(_seed(tag), raw, start, start + length), length)


@hot
def piece_state(data: Any, start: int, length: int) -> Any:
    """The state of the piece ``data[start:start + length]`` of a key (as if it started a key
    whose state was 0): what ``fold_pieces`` takes."""
    return _absorb(np.uint64(0), data, start, start + length)


@hot
def fold_pieces(tag: Any, states: Any, lengths: Any, n: int) -> Any:
    """``key_hash`` of the key of ``n`` pieces joined with a ``SEPARATOR`` between them, from
    the pieces' states (``piece_state``, or ``absorb_byte`` as they were read) and lengths:
    none of their bytes is read again."""
    a = _seed(tag)
    size = n - 1
    for p in range(n):
        length = lengths[p]
        if p:  # the separator and the piece: a * B ** (length + 1) + separator * B ** length
            scale = power(length + 1)
            piece = ((_SEPARATOR_BYTE * power(length)) & _M32) + states[p]
        else:
            scale = power(length)
            piece = states[p]
        a = (((a * scale) & _M32) + piece) & _M32  # one product a piece on the state's path
        size += length
    return _finish(a, size)


@hot
def key_hash_copy(  # noqa: PLR0917 - numba takes its arguments positionally
    tag: Any, raw: Any, start: int, length: int, store: Any, at: int
) -> Any:
    """``key_hash`` of the key, copying its bytes to ``store[at:at + length]`` on the way (one
    pass over them)."""
    a = _seed(tag)
    end = start + length
    j = start
    k = at
    while j + 4 <= end:
        store[k] = raw[j]
        store[k + 1] = raw[j + 1]
        store[k + 2] = raw[j + 2]
        store[k + 3] = raw[j + 3]
        a = (((a * _B4) & _M32) + _four(raw, j)) & _M32
        j += 4
        k += 4
    while j < end:
        store[k] = raw[j]
        a = (a * _B + np.uint64(raw[j])) & _M32
        j += 1
        k += 1
    return _finish(a, length)


@hot
def find(  # noqa: PLR0917 - numba takes its arguments positionally
    slots: Any,
    hashes: Any,
    entries: Any,
    store: Any,
    h: Any,
    tag: Any,
    data: Any,
    starts: Any,
    lengths: Any,
    n: int,
    size: int,
) -> Any:
    """The slot of the key ``tag`` and the ``n`` pieces ``data[starts[p]:starts[p] +
    lengths[p]]`` (``size`` bytes with a ``SEPARATOR`` between them; hashed ``h``): the slot of
    its entry if it has one (``slots[slot] >= 0``), else the empty slot where ``add`` puts it.
    The key is compared where it is, piece by piece."""
    mask = np.uint64(slots.shape[0] - 1)
    slot = np.int64(h & mask)
    while slots[slot] >= 0:
        e = slots[slot]
        if hashes[e] == h and entries[e, E_TAG] == tag and entries[e, E_LENGTH] == size:
            at = entries[e, E_OFFSET]
            same = True
            for p in range(n):
                if p:
                    if store[at] != SEPARATOR:
                        same = False
                        break
                    at += 1
                start = starts[p]
                length = lengths[p]
                for j in range(length):
                    if store[at + j] != data[start + j]:
                        same = False
                        break
                if not same:
                    break
                at += length
            if same:
                return slot
        slot = np.int64((np.uint64(slot) + _ONE) & mask)
    return slot


@hot
def store_pieces(  # noqa: PLR0917 - numba takes its arguments positionally
    store: Any, at: int, data: Any, starts: Any, lengths: Any, n: int
) -> None:
    """The ``n`` pieces copied to ``store[at:]``, a ``SEPARATOR`` between them (a new key's
    bytes, for ``add``)."""
    for p in range(n):
        if p:
            store[at] = SEPARATOR
            at += 1
        start = starts[p]
        for j in range(lengths[p]):
            store[at + j] = data[start + j]
        at += lengths[p]


@hot
def add(  # noqa: PLR0917 - numba takes its arguments positionally
    slots: Any, hashes: Any, entries: Any, slot: int, e: int, h: Any, tag: Any, at: int, length: int
) -> None:
    """Entry ``e``: the key ``(tag, store[at:at + length])`` hashed ``h``, in the empty
    ``slot`` ``find`` gave."""
    slots[slot] = e
    hashes[e] = h
    entries[e, E_TAG] = tag
    entries[e, E_OFFSET] = at
    entries[e, E_LENGTH] = length
    entries[e, E_SLOT] = slot


@hot
def empty_slots(slots: Any, entries: Any, n: int) -> None:
    """The slots of entries ``0..n-1`` emptied (all of them, if those are all the entries)."""
    for e in range(n):
        slots[entries[e, E_SLOT]] = -1


@hot
def move_entry(hashes: Any, entries: Any, to: int, e: int) -> None:
    """Entry ``e`` as entry ``to`` (its slot aside: rehash after)."""
    hashes[to] = hashes[e]
    entries[to, E_TAG] = entries[e, E_TAG]
    entries[to, E_OFFSET] = entries[e, E_OFFSET]
    entries[to, E_LENGTH] = entries[e, E_LENGTH]


@hot
def compact_store(entries: Any, store: Any, n: int) -> int:
    """The bytes of entries ``0..n-1`` moved to the start of the store, end to end (they are
    in order of their offsets: the copies go forward); the bytes used."""
    used = 0
    for e in range(n):
        offset = entries[e, E_OFFSET]
        size = entries[e, E_LENGTH]
        for j in range(size):
            store[used + j] = store[offset + j]
        entries[e, E_OFFSET] = used
        used += size
    return used


@jit
def rehash(slots: Any, hashes: Any, entries: Any, n: int) -> None:
    """Entries ``0..n-1`` into the empty ``slots``."""
    mask = np.uint64(slots.shape[0] - 1)
    for e in range(n):
        slot = np.int64(hashes[e] & mask)
        while slots[slot] >= 0:
            slot = np.int64((np.uint64(slot) + _ONE) & mask)
        slots[slot] = e
        entries[e, E_SLOT] = slot
