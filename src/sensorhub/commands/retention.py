"""``serve``'s retention: each site's history older than its ``retention`` (default 30 days)
forgotten, at start and every hour, from the store and from the ``--audit`` file
(docs/privacy.md)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import IO, Final

from sensorhub.io.audit_file import prune_audit_file
from sensorhub.rules.policy import Policy
from sensorhub.store import Store
from sensorhub.store.history import Forgotten, forget

__all__ = ["HISTORY_INTERVAL", "prune_history"]

logger = logging.getLogger(__name__)

#: How often serve prunes the history (s of the monotonic clock); it also does at start.
HISTORY_INTERVAL: Final = 3600.0


def prune_history(
    store: Store,
    policy: Policy,
    audit_out: IO[str] | None = None,
    audit_path: Path | None = None,
    now: float | None = None,
) -> tuple[Forgotten, int]:
    """Forget what each site keeps no longer: from the store, and from the audit file
    (``audit_path``, open as ``audit_out``). Returns what the store forgot, and how many
    entries the audit file lost."""
    at = time.time() if now is None else now
    latest = at - policy.shortest_retention()

    def cutoff(site: str) -> float:
        return at - policy.retention(site)

    done = forget(store, cutoff, latest)
    lines = 0
    if audit_out is not None and audit_path is not None:
        lines = prune_audit_file(audit_out, audit_path, cutoff, latest)
    if done.removed or lines:
        logger.info(
            "retention: forgot %s from the store%s",
            done.describe(),
            f", and {lines} entries of {audit_path}" if lines else "",
        )
    return done, lines
