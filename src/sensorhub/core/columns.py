"""Events as columns: what the compiled core takes instead of one ``Event`` object per event.

Names become small integers once, in a ``Registry`` shared by whoever builds the columns (the
decoder, a Parquet reader) and the ``FastClassifier`` that decides them: a room index per
``(site, room)``, a device index per ``(site, room, kind, device)``. The ids travel as bytes
(``IdColumn``: no Python object per event) and the payloads, when the audit needs them, as a
list (``raw``), beside the arrays for redelivery checks, page evidence and the audit trail; the
kernel never sees them.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt

from sensorhub.contract import EVENT_CODES, Event
from sensorhub.core.jit import hot, jit


class Registry:
    """Room and device names and their indices, in order of first appearance."""

    def __init__(self) -> None:
        self.rooms: dict[tuple[str, str], int] = {}
        self.room_keys: list[tuple[str, str]] = []
        self.devices: dict[tuple[str, str, str, str], int] = {}
        self.device_keys: list[tuple[str, str, str, str]] = []
        self.device_room: list[int] = []

    def room(self, site: str, room: str) -> int:
        key = (site, room)
        index = self.rooms.get(key)
        if index is None:
            index = self.rooms[key] = len(self.room_keys)
            self.room_keys.append(key)
        return index

    def device(self, site: str, room: str, kind: str, device: str) -> int:
        key = (site, room, kind, device)
        index = self.devices.get(key)
        if index is None:
            index = self.devices[key] = len(self.device_keys)
            self.device_keys.append(key)
            self.device_room.append(self.room(site, room))
        return index


def nones(items: list[int | None]) -> Generator[int, None, None]:
    """The positions of None in ``items`` (scanned in C: there are few)."""
    i = -1
    while True:
        try:
            i = items.index(None, i + 1)
        except ValueError:
            return
        yield i


_ENCODING: Final = "utf-8"
#: ``str`` <-> bytes of an id: lone surrogates (a JSON ``"\\ud800"``) pass through, so every
#: ``str`` has its own byte string
_ERRORS: Final = "surrogatepass"
#: Bytes of a buffer beyond its ids' own (twice theirs) that ``IdColumn.compact`` leaves.
COMPACT_SLACK: Final = 1 << 16


@dataclass(slots=True, eq=False)
class IdColumn:
    """The ids of a batch of events as bytes: id ``i`` is ``data[starts[i]:starts[i] +
    lengths[i]]`` (UTF-8) where ``has[i]``, else the event has none. ``data`` may be shared
    with other columns (``take`` copies no bytes) and hold bytes that are no id's: a decoder
    hands over the block it read, a Parquet reader its column's buffer."""

    data: npt.NDArray[np.uint8]
    starts: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int64]
    has: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.has.shape[0])

    def __getitem__(self, i: int) -> str | None:
        if not self.has[i]:
            return None
        start = int(self.starts[i])
        return self.data[start : start + int(self.lengths[i])].tobytes().decode(_ENCODING, _ERRORS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdColumn) and self.tolist() == other.tolist()

    __hash__ = None  # type: ignore[assignment]

    def tolist(self) -> list[str | None]:
        return [self[i] for i in range(len(self))]

    @classmethod
    def from_strings(cls, ids: Sequence[str | None]) -> IdColumn:
        n = len(ids)
        try:  # every event with an id (the usual case): one string, ids between NULs
            data = "\x00".join(cast("list[str]", ids)).encode(_ENCODING, _ERRORS)
        except TypeError:
            data = None
        if data is not None:
            raw = np.frombuffer(data, dtype=np.uint8)
            # UTF-8 has no zero byte but NUL's: n - 1 of them, and the split is exact
            ends = np.flatnonzero(raw == 0)
            if ends.shape[0] == n - 1:
                starts = np.empty(n, dtype=np.int64)
                starts[:1] = 0
                starts[1:] = ends + 1
                lengths = np.empty(n, dtype=np.int64)
                lengths[:-1] = ends - starts[:-1]
                lengths[-1:] = raw.shape[0] - starts[-1:]
                return cls(raw, starts, lengths, np.ones(n, dtype=np.bool_))
        encoded = [b"" if i is None else i.encode(_ENCODING, _ERRORS) for i in ids]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
        starts = np.zeros(n, dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        return cls(
            np.frombuffer(b"".join(encoded), dtype=np.uint8),
            starts,
            lengths,
            np.fromiter((i is not None for i in ids), dtype=np.bool_, count=n),
        )

    @classmethod
    def none(cls, n: int) -> IdColumn:
        """``n`` events without an id."""
        zeros = np.zeros(n, dtype=np.int64)
        return cls(np.zeros(0, dtype=np.uint8), zeros, zeros, np.zeros(n, dtype=np.bool_))

    @classmethod
    def from_offsets(
        cls,
        data: npt.NDArray[np.uint8],
        offsets: npt.NDArray[np.int32] | npt.NDArray[np.int64],
        has: npt.NDArray[np.bool_] | None = None,
    ) -> IdColumn:
        """Ids laid out as Arrow lays out strings: id ``i`` is ``data[offsets[i]:offsets[i +
        1]]`` (``len(offsets) - 1`` ids), where ``has[i]`` (None: every one). No byte is
        copied."""
        n = offsets.shape[0] - 1
        if n <= 0:
            return cls.none(0)
        starts = offsets[:-1].astype(np.int64)
        lengths = offsets[1:] - starts
        if has is None:
            has = np.ones(n, dtype=np.bool_)
        return cls(data, starts, lengths, has)

    def take(self, index: npt.NDArray[np.int64]) -> IdColumn:
        return IdColumn(self.data, self.starts[index], self.lengths[index], self.has[index])

    def compact(self) -> IdColumn:
        """The same ids in a buffer of their own bytes, if ``data`` holds many more: a column
        kept and joined batch after batch (the reorder buffer) would otherwise keep every
        buffer it was taken from, and copy it again at each join."""
        lengths = np.where(self.has, self.lengths, 0)
        size = int(lengths.sum())
        if self.data.shape[0] <= 2 * size + COMPACT_SLACK:
            return self
        starts = np.cumsum(lengths) - lengths
        at = np.repeat(self.starts - starts, lengths) + np.arange(size, dtype=np.int64)
        return IdColumn(self.data[at], starts, lengths, self.has.copy())

    def replaced(self, index: Sequence[int], ids: Sequence[str | None]) -> IdColumn:
        """The same ids but those at ``index``, which become ``ids`` (their bytes are appended
        to a copy of ``data``)."""
        if not len(index):
            return self
        new = IdColumn.from_strings(ids)
        at = np.asarray(index, dtype=np.int64)
        starts = self.starts.copy()
        lengths = self.lengths.copy()
        has = self.has.copy()
        starts[at] = new.starts + self.data.shape[0]
        lengths[at] = new.lengths
        has[at] = new.has
        return IdColumn(np.concatenate([self.data, new.data]), starts, lengths, has)

    @classmethod
    def joined(cls, parts: Sequence[IdColumn]) -> IdColumn:
        """The ids of ``parts`` one after the other: their bytes copied once, into one buffer,
        unless they all point into the same one."""
        if not parts:
            return cls.none(0)
        if len(parts) == 1:
            return parts[0]
        first = parts[0].data
        if all(part.data is first for part in parts):
            data, shift = first, [0] * len(parts)
        else:
            sizes = np.array([part.data.shape[0] for part in parts], dtype=np.int64)
            offsets = np.zeros(len(parts), dtype=np.int64)
            np.cumsum(sizes[:-1], out=offsets[1:])
            data, shift = np.concatenate([part.data for part in parts]), offsets.tolist()
        return cls(
            data,
            np.concatenate([part.starts + s for part, s in zip(parts, shift, strict=True)]),
            np.concatenate([part.lengths for part in parts]),
            np.concatenate([part.has for part in parts]),
        )


@dataclass(slots=True)
class EventColumns:
    """A batch of events in arrival order, as columns.

    ``code`` is ``contract.EVENT_CODES[(kind, event)]``; ``value`` is NaN where the event has
    none. ``ids`` and ``raw`` (the payloads, for the audit) may be left out: without ids there
    is no redelivery check.
    """

    ts: npt.NDArray[np.float64]
    room: npt.NDArray[np.int32]
    device: npt.NDArray[np.int32]
    code: npt.NDArray[np.int16]
    value: npt.NDArray[np.float64]
    confidence: npt.NDArray[np.float32]
    ids: IdColumn | None = None
    raw: list[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def from_events(cls, events: Sequence[Event], registry: Registry) -> EventColumns:
        """Columns of ``events`` (one Python step per event, a list per column: for ``serve``'s
        rounds, ``push`` and tests)."""
        known = registry.devices
        places = [(e.site, e.room, e.kind, e.device) for e in events]
        device = [known.get(place) for place in places]
        for i in nones(device):  # a device not seen before: registered with its room
            device[i] = registry.device(*places[i])
        devices = np.array(device, dtype=np.int32)
        return cls(
            np.array([e.ts for e in events], dtype=np.float64),
            np.array(registry.device_room, dtype=np.int32)[devices],
            devices,
            np.array([EVENT_CODES[(e.kind, e.event)] for e in events], dtype=np.int16),
            np.array([math.nan if e.value is None else e.value for e in events], np.float64),
            np.array([e.confidence for e in events], dtype=np.float32),
            ids=IdColumn.from_strings([e.id for e in events]),
            raw=[e.raw for e in events],
        )

    def take(self, index: npt.NDArray[np.int64]) -> EventColumns:
        """The events at ``index``, in that order."""
        return EventColumns(
            self.ts[index],
            self.room[index],
            self.device[index],
            self.code[index],
            self.value[index],
            self.confidence[index],
            ids=None if self.ids is None else self.ids.take(index),
            raw=None if self.raw is None else [self.raw[i] for i in index.tolist()],
        )

    def kept(self, index: npt.NDArray[np.int64]) -> EventColumns:
        """``take(index)`` for columns kept from batch to batch (the reorder buffer), their ids
        in a buffer of their own (``IdColumn.compact``)."""
        taken = self.take(index)
        if taken.ids is not None:
            taken.ids = taken.ids.compact()
        return taken


def empty_columns() -> EventColumns:
    return EventColumns(
        np.zeros(0, dtype=np.float64),
        np.zeros(0, dtype=np.int32),
        np.zeros(0, dtype=np.int32),
        np.zeros(0, dtype=np.int16),
        np.zeros(0, dtype=np.float64),
        np.zeros(0, dtype=np.float32),
        ids=IdColumn.none(0),
        raw=[],
    )


# -- redelivery check -------------------------------------------------------------------------

#: Which events of a batch are new, not redeliveries (None: every one): ``SeenIds.check``'s
Redeliveries = npt.NDArray[np.bool_] | None

# the hash: two 32-bit FNV-1a-like halves, each finished with murmur3's mixer, all of it in
# uint64 without overflowing (the same under NUMBA_DISABLE_JIT, where numpy would warn)
_M32: Final = np.uint64(0xFFFFFFFF)
_OFFSET_A: Final = np.uint64(0x811C9DC5)
_PRIME: Final = np.uint64(0x9E3779B1)
_MIX_1: Final = np.uint64(0x85EBCA6B)
_MIX_2: Final = np.uint64(0xC2B2AE35)
_S8: Final = np.uint64(8)
_S13: Final = np.uint64(13)
_S15: Final = np.uint64(15)
_S16: Final = np.uint64(16)
_S24: Final = np.uint64(24)
_S32: Final = np.uint64(32)
# entry columns (``SeenIds._entries``)
_E_DEVICE: Final = 0
_E_OFFSET: Final = 1
_E_LENGTH: Final = 2
_E_SLOT: Final = 3
#: which ``_hash`` a ``SeenIds`` was filled with (a snapshot of another is hashed again)
HASHING: Final = 2
#: pruned ids' bytes are left in place until they are more than the live ones and this
SLACK: Final = 1 << 16


class SeenIds:
    """The ``(device, id)`` pairs seen within the dedup window: the reference ``Classifier``'s
    ``_seen_ids`` as arrays, checked and updated for a whole batch in one compiled pass.

    Every entry keeps its id's bytes (UTF-8, lone surrogates passed through: one byte string
    per ``str``), its device and the time it was seen; a table of 64-bit hashes of
    ``(device, id)`` finds the candidates and a candidate counts only if device and bytes are
    equal, so the decisions are exactly the dict's. Pruning is the reference's: when an id'd
    event is at least ``window`` later than the last pruning, every entry older than
    ``window`` before it goes (the entries are compacted and the table rebuilt; the bytes are
    compacted once the pruned ones outweigh the rest by ``slack``).
    Plain arrays: it pickles as it is and decides the same in another process.
    """

    def __init__(self, window: float, *, slack: int = SLACK) -> None:
        self.window = window
        self.slack = slack  # bytes of pruned ids left in place (compacted beyond)
        self._slots = np.full(64, -1, dtype=np.int64)  # open addressing: entry index or -1
        self._hashes = np.zeros(32, dtype=np.uint64)
        # per entry: device, offset and length of its bytes in _bytes, slot in _slots
        self._entries = np.zeros((32, 4), dtype=np.int64)
        self._times = np.zeros(32, dtype=np.float64)
        self._bytes = np.zeros(1024, dtype=np.uint8)
        self._used = np.zeros(2, dtype=np.int64)  # entries, bytes
        self._pruned_at = np.array([-math.inf])
        self._hashing = HASHING

    def __getstate__(self) -> dict[str, Any]:
        """The entries and their bytes, without the room left to grow, and of the hash table
        only its size (it is built again from the entries): about half the pickle, which
        ``serve`` writes in every snapshot of its classifier."""
        n, used = int(self._used[0]), int(self._used[1])
        state = dict(self.__dict__)
        state["_hashes"] = self._hashes[:n]
        state["_entries"] = self._entries[:n]
        state["_times"] = self._times[:n]
        state["_bytes"] = self._bytes[:used]
        state["_slots"] = self._slots.shape[0]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """The hash table is built again (a snapshot of an older version holds it whole); one
        taken with another hash function is hashed again from its entries' devices and bytes,
        so its decisions stay the same."""
        self.__dict__.update(state)
        if isinstance(self._slots, int):
            self._rehash(self._slots)
        if state.get("_hashing") != HASHING:
            _rehash_entries(self._hashes, self._entries, self._bytes, int(self._used[0]))
            self._rehash(self._slots.shape[0])
            self._hashing = HASHING

    def __len__(self) -> int:
        return int(self._used[0])

    def check(
        self, device: npt.NDArray[np.int32], ts: npt.NDArray[np.float64], ids: IdColumn
    ) -> Redeliveries:
        """Which events of a batch (arrival order) are new (None: all of them, or no ids at
        all); remembers the new ones' ids as the reference's ``push`` of each would."""
        with_id = int(np.count_nonzero(ids.has))
        if not with_id:
            return None
        size = ids.lengths.sum() if with_id == len(ids) else ids.lengths[ids.has].sum()
        self._reserve(with_id, int(size))
        keep = self._run(
            device, ts, raw=ids.data, starts=ids.starts, lengths=ids.lengths, has=ids.has
        )
        return None if keep.all() else keep

    def _run(
        self,
        device: npt.NDArray[np.int32],
        ts: npt.NDArray[np.float64],
        *,
        raw: npt.NDArray[np.uint8],
        starts: npt.NDArray[np.int64],
        lengths: npt.NDArray[np.int64],
        has: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.bool_]:
        """Check and remember the ids; the table stays small (a window's ids) and is grown
        when it fills up, then the check goes on where it stopped."""
        n = lengths.shape[0]
        keep = np.ones(n, dtype=np.bool_)
        i = 0
        while True:
            i = _check_ids(
                self._slots,
                self._hashes,
                self._entries,
                self._times,
                self._bytes,
                self._used,
                self._pruned_at,
                self.window,
                self.slack,
                device,
                ts,
                raw,
                starts,
                lengths,
                has,
                keep,
                i,
            )
            if i >= n:
                return keep
            self._rehash(2 * self._slots.shape[0])

    def _reserve(self, entries: int, size: int) -> None:
        """Room for ``entries`` more entries of ``size`` bytes in all (none pruned meanwhile)."""
        n, used = int(self._used[0]), int(self._used[1])
        if self._hashes.shape[0] < n + entries:
            rows = max(n + entries, 2 * self._hashes.shape[0])
            self._hashes = resized(self._hashes, rows)
            self._entries = resized(self._entries, rows)
            self._times = resized(self._times, rows)
        if self._bytes.shape[0] < used + size:
            self._bytes = resized(self._bytes, max(used + size, 2 * self._bytes.shape[0]))

    def _rehash(self, slots: int) -> None:
        self._slots = np.full(slots, -1, dtype=np.int64)
        _rehash(self._slots, self._hashes, self._entries, int(self._used[0]), False)


def resized(array: Any, rows: int) -> Any:
    """A copy of ``array`` with ``rows`` rows: cut, or grown with zeros."""
    out = np.zeros((rows, *array.shape[1:]), dtype=array.dtype)
    count = min(rows, array.shape[0])
    out[:count] = array[:count]
    return out


@hot
def mix32(h: Any) -> Any:
    """murmur3's finishing mix of a 32-bit hash (held in a uint64); compiled into the caller."""
    h ^= h >> _S16
    h = (h * _MIX_1) & _M32
    h ^= h >> _S13
    h = (h * _MIX_2) & _M32
    h ^= h >> _S16
    return h


@hot
def _step(a: Any, w: Any) -> Any:
    """One word (up to 32 bits) into the 32-bit state: xor, multiply, fold the high bits
    down (all in uint64 without overflowing)."""
    a = ((a ^ w) * _PRIME) & _M32
    return a ^ (a >> _S15)


@hot
def _word(raw: Any, j: int) -> Any:
    """The four bytes ``raw[j:j + 4]`` as one little-endian 32-bit word."""
    return (
        np.uint64(raw[j])
        | (np.uint64(raw[j + 1]) << _S8)
        | (np.uint64(raw[j + 2]) << _S16)
        | (np.uint64(raw[j + 3]) << _S24)
    )


@hot
def _finish(a: Any, length: int) -> Any:
    return (mix32(a) << _S32) | mix32(a ^ (np.uint64(length) & _M32))


@hot
def _hash(device: Any, raw: Any, start: int, length: int) -> Any:
    """64 bits of ``(device, raw[start:start + length])``: a 32-bit state (from the device)
    taking the bytes four at a time, finished twice with murmur3's mixer (once with the
    length). Equal hashes are only candidates (the bytes decide), so 32 bits of state are
    plenty."""
    a = _OFFSET_A ^ (np.uint64(device) & _M32)
    end = start + length
    j = start
    while j + 4 <= end:
        a = _step(a, _word(raw, j))
        j += 4
    while j < end:
        a = _step(a, np.uint64(raw[j]))
        j += 1
    return _finish(a, length)


@hot
def _hash_copy(  # noqa: PLR0917 - numba takes its arguments positionally
    device: Any, raw: Any, start: int, length: int, store: Any, at: int
) -> Any:
    """``_hash`` of the id, copying its bytes to ``store[at:at + length]`` on the way (one
    pass over them: an id that is new is kept there, one seen before is written over)."""
    a = _OFFSET_A ^ (np.uint64(device) & _M32)
    end = start + length
    j = start
    k = at
    while j + 4 <= end:
        store[k] = raw[j]
        store[k + 1] = raw[j + 1]
        store[k + 2] = raw[j + 2]
        store[k + 3] = raw[j + 3]
        a = _step(a, _word(raw, j))
        j += 4
        k += 4
    while j < end:
        store[k] = raw[j]
        a = _step(a, np.uint64(raw[j]))
        j += 1
        k += 1
    return _finish(a, length)


@jit
def _rehash_entries(hashes: Any, entries: Any, store: Any, n: int) -> None:
    """The hashes of entries ``0..n-1`` computed again from their device and bytes."""
    for e in range(n):
        hashes[e] = _hash(
            entries[e, _E_DEVICE], store, entries[e, _E_OFFSET], entries[e, _E_LENGTH]
        )


@jit
def _rehash(slots: Any, hashes: Any, entries: Any, n: int, clear: bool) -> None:
    """Entries ``0..n-1`` into the table (``clear``: empty it first)."""
    mask = np.uint64(slots.shape[0] - 1)
    if clear:
        slots[:] = -1
    for e in range(n):
        slot = np.int64(hashes[e] & mask)
        while slots[slot] >= 0:
            slot = np.int64((np.uint64(slot) + np.uint64(1)) & mask)
        slots[slot] = e
        entries[e, _E_SLOT] = slot


@jit
def _check_ids(  # noqa: PLR0917 - numba takes its state positionally
    slots: Any,
    hashes: Any,
    entries: Any,
    times: Any,
    store: Any,
    used: Any,
    pruned_at: Any,
    window: float,
    slack: int,
    device: Any,
    ts: Any,
    raw: Any,
    starts: Any,
    lengths: Any,
    has: Any,
    keep: Any,
    first: int,
) -> int:
    """The reference's redelivery check of each event in turn from event ``first`` on:
    ``keep[i] = False`` for a redelivery; the new ones remembered, pruned as the reference
    prunes. Returns where it stopped: ``ts.shape[0]``, or an event it could not remember
    without filling ``slots`` more than half (grow it and call again from there). The other
    arrays have room for every event (``SeenIds._reserve``)."""
    mask = np.uint64(slots.shape[0] - 1)
    n_entries = used[0]
    n_bytes = used[1]
    last_prune = pruned_at[0]
    for i in range(first, ts.shape[0]):
        length = lengths[i]
        begin = starts[i]
        if not has[i]:
            continue
        d = np.int64(device[i])
        # the bytes go to the end of the store as they are hashed (kept there if new)
        h = _hash_copy(d, raw, begin, length, store, n_bytes)
        slot = np.int64(h & mask)
        seen = False
        while slots[slot] >= 0:
            e = slots[slot]
            if hashes[e] == h and entries[e, _E_DEVICE] == d and entries[e, _E_LENGTH] == length:
                offset = entries[e, _E_OFFSET]
                seen = True
                for j in range(length):
                    if store[offset + j] != store[n_bytes + j]:
                        seen = False
                        break
                if seen:
                    break
            slot = np.int64((np.uint64(slot) + np.uint64(1)) & mask)
        if seen:
            keep[i] = False
            continue
        if 2 * (n_entries + 1) > slots.shape[0]:
            used[0] = n_entries
            used[1] = n_bytes
            pruned_at[0] = last_prune
            return i
        t = ts[i]
        slots[slot] = n_entries
        hashes[n_entries] = h
        entries[n_entries, _E_DEVICE] = d
        entries[n_entries, _E_OFFSET] = n_bytes
        entries[n_entries, _E_LENGTH] = length
        entries[n_entries, _E_SLOT] = slot
        times[n_entries] = t
        n_bytes += length
        n_entries += 1
        if t - last_prune >= window:
            last_prune = t
            horizon = t - window
            kept = 0
            kept_bytes = 0
            for e in range(n_entries):
                slots[entries[e, _E_SLOT]] = -1  # every entry's slot: the table is empty after
                if times[e] >= horizon:
                    hashes[kept] = hashes[e]
                    entries[kept, _E_DEVICE] = entries[e, _E_DEVICE]
                    entries[kept, _E_OFFSET] = entries[e, _E_OFFSET]
                    entries[kept, _E_LENGTH] = entries[e, _E_LENGTH]
                    times[kept] = times[e]
                    kept += 1
                    kept_bytes += entries[e, _E_LENGTH]
            n_entries = kept
            if n_bytes > 2 * kept_bytes + slack:  # the bytes of pruned ids: compacted now
                n_bytes = 0
                for e in range(n_entries):  # in order of offset: forward copies
                    offset = entries[e, _E_OFFSET]
                    size = entries[e, _E_LENGTH]
                    for j in range(size):
                        store[n_bytes + j] = store[offset + j]
                    entries[e, _E_OFFSET] = n_bytes
                    n_bytes += size
            _rehash(slots, hashes, entries, n_entries, False)
    used[0] = n_entries
    used[1] = n_bytes
    pruned_at[0] = last_prune
    return int(ts.shape[0])
