"""The redelivery check of the compiled core: which ``(device, id)`` pairs it has seen within
the dedup window, kept in the codec's compiled hash table (``codec.hashtable``) and checked for
a whole batch in one compiled pass."""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from sensorhub.codec.columns import IdColumn, Redeliveries
from sensorhub.codec.hashtable import (
    E_LENGTH,
    ByteTable,
    add,
    compact_store,
    empty_slots,
    find,
    key_hash_copy,
    move_entry,
    rehash,
)
from sensorhub.jit import jit

#: pruned ids' bytes are left in place until they are more than the live ones and this
SLACK: Final = 1 << 16


class SeenIds(ByteTable):
    """The ``(device, id)`` pairs seen within the dedup window: the reference ``Classifier``'s
    ``_seen_ids`` as arrays, checked and updated for a whole batch in one compiled pass.

    A :class:`~sensorhub.codec.hashtable.ByteTable` of the ids' bytes (UTF-8, lone surrogates
    passed through: one byte string per ``str``), tagged with their device, and the time each
    was seen (``_times``): a candidate counts only if device and bytes are equal, so the
    decisions are exactly the dict's. Pruning is the reference's: when an id'd event is at
    least ``window`` later than the last pruning, every entry older than ``window`` before it
    goes (the entries are compacted and the table rebuilt; the bytes are compacted once the
    pruned ones outweigh the rest by ``slack``).
    Plain arrays: it pickles as it is and decides the same in another process.
    """

    _PER_ENTRY = (*ByteTable._PER_ENTRY, "_times")

    def __init__(self, window: float, *, slack: int = SLACK) -> None:
        super().__init__(slots=64, store=1024)
        self.window = window
        self.slack = slack  # bytes of pruned ids left in place (compacted beyond)
        self._times = np.zeros(self._hashes.shape[0], dtype=np.float64)
        self._pruned_at = np.array([-math.inf])

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
            self._grow(1, 0)


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
    arrays have room for every event (``ByteTable._reserve``)."""
    n_entries = used[0]
    n_bytes = used[1]
    last_prune = pruned_at[0]
    for i in range(first, ts.shape[0]):
        if not has[i]:
            continue
        length = lengths[i]
        d = np.int64(device[i])
        # the bytes go to the end of the store as they are hashed (kept there if new)
        h = key_hash_copy(d, raw, starts[i], length, store, n_bytes)
        slot = find(
            slots,
            hashes,
            entries,
            store,
            h,
            d,
            raw,
            starts[i : i + 1],
            lengths[i : i + 1],
            1,
            length,
        )
        if slots[slot] >= 0:
            keep[i] = False
            continue
        if 2 * (n_entries + 1) > slots.shape[0]:
            used[0] = n_entries
            used[1] = n_bytes
            pruned_at[0] = last_prune
            return i
        t = ts[i]
        add(slots, hashes, entries, slot, n_entries, h, d, n_bytes, length)
        times[n_entries] = t
        n_bytes += length
        n_entries += 1
        if t - last_prune >= window:
            last_prune = t
            horizon = t - window
            empty_slots(slots, entries, n_entries)
            kept = 0
            kept_bytes = 0
            for e in range(n_entries):
                if times[e] >= horizon:
                    move_entry(hashes, entries, kept, e)
                    times[kept] = times[e]
                    kept += 1
                    kept_bytes += entries[e, E_LENGTH]
            n_entries = kept
            if n_bytes > 2 * kept_bytes + slack:  # the bytes of pruned ids: compacted now
                n_bytes = compact_store(entries, store, n_entries)
            rehash(slots, hashes, entries, n_entries)
    used[0] = n_entries
    used[1] = n_bytes
    pruned_at[0] = last_prune
    return int(ts.shape[0])
