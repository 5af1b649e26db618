"""JSONL recordings read: the *read* stage of :mod:`sensorhub.codec.stages` for JSONL.

``read_chunks`` reads a recording (``.jsonl`` or ``.jsonl.gz``) in blocks of whole lines
(``LineChunk``: one buffer per block; the lines are split from it only if someone asks for
``LineChunk.lines``), which ``batch.LineDecoder`` decodes into columns. ``decode_events``
decodes a chunk with the codec alone, line by line, into ``Event`` objects (what the
pure-Python twin takes); ``read_events`` reads and decodes a whole recording so.
"""

from __future__ import annotations

import gzip
import io
import time
from collections.abc import Generator
from contextlib import closing
from pathlib import Path
from typing import Final, cast

import numpy as np
import numpy.typing as npt

from sensorhub.codec.acks import AckIn, is_ack_line, recorded_ack
from sensorhub.codec.payload import decode_line
from sensorhub.codec.stages import DecodedEvents
from sensorhub.contract import DeadLetter, Event

__all__ = [
    "BLOCK_BYTES",
    "LineChunk",
    "decode_events",
    "is_blank",
    "lines_of",
    "open_recording",
    "read_chunks",
    "read_events",
    "read_recording",
]

#: Bytes of a recording read per block (whole lines; a line longer than this is read whole):
#: about 64k lines of a typical recording.
BLOCK_BYTES: Final = 8 << 20

_NEWLINE: Final = ord(b"\n")


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

    @property
    def split(self) -> list[bytes] | None:
        """The lines if they were split from the text already (or given), else None."""
        return self._lines

    def counted(self, count: int) -> None:
        """The number of lines, as a decoder counted them in the text (``read_chunks`` numbers
        the next chunk's lines with it)."""
        if self._lines is None:
            self._count = count

    def block(self) -> tuple[bytes | bytearray, int] | None:
        """The bytes holding the chunk's lines, a line break after each, and where the last line
        ends in them (None: no lines). The scanner's input: the line break after the last line
        stops it (added if the text has none)."""
        lines = self._lines
        if lines is None:
            text: bytes | bytearray = cast(bytes, self.text)
            limit = cast(int, self.limit)
        elif not lines:
            return None
        else:
            sizes = np.fromiter(map(len, lines), np.int64, len(lines))
            ends = np.cumsum(sizes + 1) - 1  # where each line ends, a line break after each
            text = self.text or b""
            if not lines_of(text, ends):
                text = b"\n".join(lines)
            limit = int(ends[-1])
        if limit == len(text):
            text = text + b"\n"
        return text, limit

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


def is_blank(line: bytes) -> bool:
    """Whether ``line`` is white space only (not a row)."""
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
        if is_blank(text):
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


def lines_of(text: bytes | bytearray, ends: npt.NDArray[np.int64]) -> bool:
    """Whether ``text`` may hold lines ending at ``ends``: long enough, and a line break after
    each of them (after the last one, a line break or the end of the text)."""
    if not ends.shape[0]:
        return True
    size = len(text)
    if size < ends[-1] or (size > ends[-1] and text[ends[-1]] != _NEWLINE):
        return False
    chars = np.frombuffer(text, dtype=np.uint8)
    return bool((chars[ends[:-1]] == _NEWLINE).all())
