"""Which format a recording is in, by its name, and the error of a file that is not a recording.

Apart from ``codec.columnar`` (which imports pyarrow, a slow import) so that a command can tell
a Parquet recording by its name, and catch ``RecordingError``, before it knows that it needs
pyarrow at all: ``sensorhub replay night.jsonl`` never imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

#: The suffixes of a Parquet recording.
PARQUET_SUFFIXES: Final = (".parquet", ".parq", ".pq")


class RecordingError(Exception):
    """The file is not a sensorhub Parquet recording; the message says what to do."""


def is_parquet(path: Path) -> bool:
    """Whether ``path`` names a Parquet recording (by its suffix)."""
    return path.suffix.lower() in PARQUET_SUFFIXES
