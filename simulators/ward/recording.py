"""Recordings as files (CONTRACT.md section 3): one JSON object a line, JSONL or gzipped JSONL,
written the same byte for byte every time; read back with malformed lines kept as they are.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from simulators.ward.model import RecordingEntry

#: One encoder for every line: ``json.dumps`` with options builds a new one per call.
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"))


def compact(value: Any) -> str:
    """``value`` as JSON on one line, without spaces."""
    return _ENCODER.encode(value)


def to_line(entry: RecordingEntry) -> str:
    """One recording line (without the newline)."""
    if isinstance(entry, str):
        return entry
    return compact(entry)


def write_recording(events: Iterable[RecordingEntry], path: str | Path) -> int:
    """Write a recording as JSONL, gzipped if ``path`` ends in .gz. Returns the lines written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    if path.suffix == ".gz":
        # mtime=0: the same night gives the same bytes
        with (
            path.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as stream,
        ):
            batch: list[str] = []
            for entry in events:
                batch.append(to_line(entry))
                if len(batch) == 4096:
                    stream.write(("\n".join(batch) + "\n").encode("utf-8"))
                    lines += len(batch)
                    batch.clear()
            if batch:
                stream.write(("\n".join(batch) + "\n").encode("utf-8"))
                lines += len(batch)
        return lines
    with path.open("w", encoding="utf-8", newline="\n") as text:
        for entry in events:
            text.write(to_line(entry) + "\n")
            lines += 1
    return lines


def iter_recording(path: str | Path) -> Iterator[RecordingEntry | bytes]:
    """The entries of a recording (.jsonl or .jsonl.gz): objects as dicts, every other
    non-blank line as a str (or as bytes, if it is not UTF-8)."""
    path = Path(path)
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as stream:
        for raw in stream:
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                yield line
                continue
            try:
                value = json.loads(text)
            except ValueError:
                yield text
                continue
            yield value if isinstance(value, dict) else text


def read_recording(path: str | Path) -> list[RecordingEntry | bytes]:
    """All entries of a recording, as ``iter_recording`` gives them."""
    return list(iter_recording(path))
