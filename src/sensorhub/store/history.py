"""A site's or a room's history in the store, forgotten: after the site's ``retention``
(``serve`` prunes at start and every hour) or when a resident leaves (``sensorhub purge``).

The history is what the store keeps of what happened: the audit trail, the acknowledgements,
the pages delivered (the outbox's confirmed entries) and the marks of first pages sent, and (for
a room purged) the journal's events from its sensors. What ``serve`` still works with stays:
open incidents and their marks, pages not yet delivered, the classifier's snapshot (a room's
current state, no history), the silences. docs/privacy.md says the same for users.

Every entry is placed by what it names: an audit entry by its ``site`` and ``room`` (or its
silence's, or its event's; else by its ``incident``), an acknowledgement, a page and a first-page
mark by their incident (``<site>/<room>/<kind>/...``), a journal entry by its topic
(``<prefix>/<site>/<room>/<kind>/<device>``). Entries that name no site (the clock's ticks in the
journal) are no one's history and stay. Each call is one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sensorhub.store.base import SqlStore, Store, StoreError, Tx

__all__ = ["Cutoff", "Forgotten", "entry_place", "forget"]

#: Rows deleted per statement.
_CHUNK: Final = 500


@dataclass(slots=True)
class Forgotten:
    """What :func:`forget` removed, and what it left because ``serve`` still works with it."""

    audit: int = 0
    acks: int = 0
    pages: int = 0  # delivered pages
    first_pages: int = 0
    journal: int = 0  # events of the journal
    open_incidents: int = 0  # left: still open
    pending_pages: int = 0  # left: not yet delivered

    @property
    def removed(self) -> int:
        return self.audit + self.acks + self.pages + self.first_pages + self.journal

    def describe(self) -> str:
        """What was removed (and left), in one sentence for a log line or a terminal."""
        text = (
            f"{self.audit} audit entries, {self.acks} acknowledgements, {self.pages} delivered "
            f"pages, {self.first_pages} first-page marks and {self.journal} journalled events"
        )
        left = []
        if self.open_incidents:
            left.append(f"{self.open_incidents} open incidents")
        if self.pending_pages:
            left.append(f"{self.pending_pages} pages not yet delivered")
        if left:
            text += " (left, as serve still works with them: " + " and ".join(left) + ")"
        return text


#: ``cutoff(site)``: entries of ``site`` before this time (Unix seconds) are forgotten.
Cutoff = Callable[[str], float]


def forget(
    store: Store,
    cutoff: Cutoff,
    latest: float,
    *,
    site: str | None = None,
    room: str | None = None,
) -> Forgotten:
    """Forget the history before ``cutoff(site)`` of every site (``site`` None), or of one site
    or one of its rooms. ``latest`` is the latest cutoff of any site (only entries before it
    are read). Returns what was removed."""
    if not isinstance(store, SqlStore):  # pragma: no cover - both backends are SqlStores
        raise StoreError(f"the store {store.url} cannot forget history")

    def wanted(place: tuple[str, str] | None, at: float) -> bool:
        if place is None:
            return False
        if site is not None and place[0] != site:
            return False
        if room is not None and place[1] != room:
            return False
        return at < cutoff(place[0])

    done = Forgotten()
    with store._tx(write=True) as tx:  # the store package's own transaction
        tx.execute("SELECT incident FROM incidents")
        open_incidents = {str(row[0]) for row in tx.all()}
        done.audit = _forget_audit(tx, latest, wanted)
        done.acks = _forget_rows(
            tx,
            "SELECT incident, by_whom, at FROM acks WHERE at < ?",
            latest,
            wanted,
            "DELETE FROM acks WHERE incident = ? AND by_whom = ? AND at = ?",
        )
        done.pages = _forget_rows(
            tx,
            "SELECT incident, outbox_id, confirmed_at FROM outbox "
            "WHERE confirmed_at IS NOT NULL AND confirmed_at < ?",
            latest,
            wanted,
            "DELETE FROM outbox WHERE outbox_id = ?",
            key=slice(1, 2),
        )
        done.first_pages = _forget_rows(
            tx,
            "SELECT incident, ts FROM first_pages WHERE ts < ?",
            latest,
            wanted,
            "DELETE FROM first_pages WHERE incident = ?",
            key=slice(0, 1),
            skip=open_incidents,
        )
        if room is not None:  # a room purged: its sensors' events in the journal too
            done.journal = _forget_journal(tx, latest, wanted)
            done.open_incidents = sum(
                1 for name in open_incidents if _incident_place(name) == (site, room)
            )
            tx.execute("SELECT incident FROM outbox WHERE confirmed_at IS NULL")
            done.pending_pages = sum(
                1 for row in tx.all() if _incident_place(str(row[0])) == (site, room)
            )
    return done


def _incident_place(incident: str) -> tuple[str, str] | None:
    parts = incident.split("/", 2)
    return (parts[0], parts[1]) if len(parts) == 3 else None


def entry_place(entry: Mapping[str, Any]) -> tuple[str, str] | None:
    """The site and room an audit entry is about (its own, its silence's or its event's, or
    its incident's), or None."""
    for named in (entry, entry.get("silence"), entry.get("event")):
        if isinstance(named, Mapping):
            site, room = named.get("site"), named.get("room")
            if isinstance(site, str) and isinstance(room, str):
                return site, room
    incident = entry.get("incident")
    return _incident_place(incident) if isinstance(incident, str) else None


def _delete(tx: Tx, sql: str, keys: list[tuple[Any, ...]]) -> int:
    for at in range(0, len(keys), _CHUNK):
        tx.execute_many(sql, keys[at : at + _CHUNK])
    return len(keys)


def _forget_audit(
    tx: Tx, latest: float, wanted: Callable[[tuple[str, str] | None, float], bool]
) -> int:
    tx.execute("SELECT audit_id, ts, entry FROM audit WHERE ts < ?", (latest,))
    keys = []
    for audit_id, ts, text in tx.all():
        entry = json.loads(text)
        if wanted(entry_place(entry) if isinstance(entry, dict) else None, float(ts)):
            keys.append((audit_id,))
    return _delete(tx, "DELETE FROM audit WHERE audit_id = ?", keys)


def _forget_rows(
    tx: Tx,
    select: str,
    latest: float,
    wanted: Callable[[tuple[str, str] | None, float], bool],
    delete: str,
    *,
    key: slice = slice(None),
    skip: set[str] | frozenset[str] = frozenset(),
) -> int:
    """Rows ``select`` finds (its first column an incident, its last a time) that are
    ``wanted``, deleted by ``delete`` with the row's ``key`` columns."""
    tx.execute(select, (latest,))
    keys = [
        tuple(row[key])
        for row in tx.all()
        if str(row[0]) not in skip and wanted(_incident_place(str(row[0])), float(row[-1]))
    ]
    return _delete(tx, delete, keys)


def _topic_place(topic: str) -> tuple[str, str] | None:
    levels = topic.split("/")
    return (levels[-4], levels[-3]) if len(levels) >= 5 else None


def _forget_journal(
    tx: Tx, latest: float, wanted: Callable[[tuple[str, str] | None, float], bool]
) -> int:
    tx.execute("SELECT journal_id, entries FROM journal ORDER BY journal_id")
    removed = 0
    for journal_id, text in tx.all():
        entries = json.loads(text)
        kept = [
            entry
            for entry in entries
            if not (float(entry[2]) < latest and wanted(_topic_place(str(entry[0])), entry[2]))
        ]
        if len(kept) == len(entries):
            continue
        removed += len(entries) - len(kept)
        if kept:
            tx.execute(
                "UPDATE journal SET entries = ? WHERE journal_id = ?",
                (json.dumps(kept, separators=(",", ":")), journal_id),
            )
        else:
            tx.execute("DELETE FROM journal WHERE journal_id = ?", (journal_id,))
    return removed
