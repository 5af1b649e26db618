"""The compiled hash table of byte strings (``codec/hashtable.py``) that the redelivery check
(``core.seen.SeenIds``) and the JSONL scanner (``codec.scan.NameTable``) share: its hash, its
keys of one piece or of several, and its growing."""

from __future__ import annotations

import math
import pickle

import numpy as np

from sensorhub.codec import hashtable
from sensorhub.codec.hashtable import ByteTable


def _joined(pieces: list[bytes]) -> tuple[np.ndarray, int, int]:
    joined = b"\x00".join(pieces)
    return np.frombuffer(joined + b"\x00", dtype=np.uint8), 0, len(joined)


def _hash(tag: int, pieces: list[bytes]) -> np.uint64:
    """The key's hash from its pieces' states: the bytes taken a byte at a time as the scanner
    reads them for one half of the pieces, from the buffer for the other."""
    states = np.zeros(len(pieces), dtype=np.uint64)
    for p, piece in enumerate(pieces):
        if p % 2:
            state = np.uint64(0)
            for byte in piece:
                state = np.uint64(hashtable.absorb_byte(state, byte))
        else:
            raw = np.frombuffer(piece + b"\x00", dtype=np.uint8)
            state = hashtable.piece_state(raw, 0, len(piece))
        states[p] = state
    lengths = np.array([len(piece) for piece in pieces], dtype=np.int64)
    return np.uint64(hashtable.fold_pieces(tag, states, lengths, len(pieces)))


class _Keys(ByteTable):
    """Keys of pieces added one at a time through the table's helpers, as its owners do in
    their compiled passes (here called from Python)."""

    def __init__(self) -> None:
        super().__init__(slots=4, store=8)

    def put(self, tag: int, pieces: list[bytes]) -> tuple[int, bool]:
        """The entry of the key, and whether it was new."""
        data = np.frombuffer(b"".join(pieces) or b"\x00", dtype=np.uint8)
        lengths = np.array([len(piece) for piece in pieces], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        n = len(pieces)
        size = int(lengths.sum()) + n - 1
        h = _hash(tag, pieces)
        assert h == hashtable.key_hash(tag, *_joined(pieces))
        args = (self._slots, self._hashes, self._entries, self._bytes, h, tag, data)
        slot = hashtable.find(*args, starts, lengths, n, size)
        found = int(self._slots[slot])
        if found >= 0:
            return found, False
        self._grow(1, size)
        slot = hashtable.find(self._slots, *args[1:], starts, lengths, n, size)
        e, at = len(self), int(self._used[1])
        hashtable.store_pieces(self._bytes, at, data, starts, lengths, n)
        hashtable.add(self._slots, self._hashes, self._entries, slot, e, h, tag, at, size)
        self._used += (1, size)
        return e, True


def test_the_hash_copies_what_it_hashes_and_one_piece_hashes_alike() -> None:
    raw = np.frombuffer("zonnehof-é-\U0001f6cf-12345".encode(), dtype=np.uint8)
    store = np.zeros(64, dtype=np.uint8)
    for length in range(raw.shape[0] + 1):
        store[:] = 0
        h = hashtable.key_hash_copy(3, raw, 0, length, store, 5)
        assert h == hashtable.key_hash(3, raw, 0, length)
        assert h == _hash(3, [raw[:length].tobytes()])
        assert store[5 : 5 + length].tobytes() == raw[:length].tobytes()
        assert not store[:5].any()
        assert not store[5 + length :].any()
    assert hashtable.key_hash(1, raw, 0, 8) != hashtable.key_hash(2, raw, 0, 8)
    assert not math.isnan(float(hashtable.key_hash(0, raw, 0, 0)))


def test_keys_of_pieces_are_found_again_and_told_apart_by_where_they_split() -> None:
    rng = np.random.default_rng(4)
    table = _Keys()
    model: dict[tuple[int, tuple[bytes, ...]], int] = {}
    alphabet = [b"a", b"b", b"ab", b"", b"\xc3\xa9", b"abcd", b"abcde", b"x" * 63, b"y" * 100]
    for _ in range(2000):
        tag = int(rng.integers(0, 3))
        pieces = tuple(alphabet[i] for i in rng.integers(0, len(alphabet), rng.integers(1, 4)))
        entry, new = table.put(tag, list(pieces))
        if (tag, pieces) in model:
            assert (entry, new) == (model[(tag, pieces)], False)
        else:
            assert (entry, new) == (len(model), True)
            model[(tag, pieces)] = entry
    assert len(table) == len(model)
    assert table._slots.shape[0] >= 2 * len(model)
    for (_, pieces), entry in model.items():
        assert table.key(entry) == b"\x00".join(pieces)
    copy = pickle.loads(pickle.dumps(table))  # noqa: S301 - our own bytes
    assert copy._hashes.shape[0] == len(model)  # no room to grow in the pickle
    for (tag, pieces), entry in model.items():
        assert copy.put(tag, list(pieces)) == (entry, False)
    copy.clear()
    assert len(copy) == 0
    assert copy.put(0, [b"a", b"b"]) == (0, True)
