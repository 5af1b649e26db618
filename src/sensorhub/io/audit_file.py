"""``serve --audit FILE``: the audit file pruned after each site's ``retention``, in place.

The file is rewritten without the entries older than their site's retention (placed as the
store's, :func:`sensorhub.store.history.entry_place`) into a file beside it, which then takes its
name in one step (a crash leaves the old file or the new, never half of one); serve's open
handle is moved onto the new file, so that it appends there. Lines that are no JSON object, or
name no site, are kept.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO

from sensorhub.store.history import Cutoff, entry_place

__all__ = ["prune_audit_file"]


def prune_audit_file(handle: IO[str], path: Path, cutoff: Cutoff, latest: float) -> int:
    """Remove the entries of ``path`` (open for appending as ``handle``) older than
    ``cutoff(site)``; ``latest`` is the latest cutoff of any site. Returns how many."""
    handle.flush()
    fresh = path.with_name(path.name + ".pruning")
    removed = 0
    with path.open(encoding="utf-8") as old, fresh.open("w", encoding="utf-8") as new:
        for line in old:
            if _expired(line, cutoff, latest):
                removed += 1
            else:
                new.write(line)
        new.flush()
        os.fsync(new.fileno())
    if not removed:
        fresh.unlink()
        return 0
    fresh.replace(path)
    appending = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.dup2(appending, handle.fileno())  # the handle now writes to the new file
    finally:
        os.close(appending)
    return removed


def _expired(line: str, cutoff: Cutoff, latest: float) -> bool:
    try:
        entry = json.loads(line)
    except ValueError:
        return False
    if not isinstance(entry, dict):
        return False
    ts = entry.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float) or ts >= latest:
        return False
    place = entry_place(entry)
    return place is not None and ts < cutoff(place[0])
