"""The durable store's protocol, its schema, and the SQL both backends share.

A :class:`Store` keeps what must survive a ``kill -9``: the outbox of pages not yet confirmed
delivered, which incidents have had their first page, the router's and the silences' state,
acknowledgements, and the append-only audit trail. The composition root writes each decided
step with one :meth:`Store.commit_step`: its pages, the states after it and its audit entries go
in together or not at all, so a restart finds the state and the pages of the same step.

:class:`SqlStore` holds the SQL; the backends (``sqlite.py``, ``postgres.py``) give it a
connection and a transaction. The SQL is written once, with ``?`` placeholders, in the subset
that SQLite (3.24 or newer) and PostgreSQL share; DDL differs only in how an id is generated.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Final, Protocol, Self

import msgspec

from sensorhub.contract import Page
from sensorhub.core.types import JournalEntry
from sensorhub.routing.acks import AckRecord

logger = logging.getLogger(__name__)

#: The schema this code writes; a store opened by it is migrated up to this version.
SCHEMA_VERSION: Final = 3
#: The schema of the first release: a new store is made at it, and a store of an earlier
#: version (made by a development version before that release) is refused.
FIRST_RELEASE: Final = 3

#: Outbox channels: the broker, or one ESPA 4.4.4 paging system by name.
MQTT_CHANNEL: Final = "mqtt"
ESPA_PREFIX: Final = "espa:"
#: Page ids looked up at a time (placeholders in one statement; SQLite allows 32,766).
ID_QUERY: Final = 500


class StoreError(RuntimeError):
    """The store could not be opened, read or written; the message says what to do."""


def check_channel(channel: str) -> str:
    """``channel`` if it names an outbox channel (``mqtt`` or ``espa:<name>``), else ValueError."""
    if channel == MQTT_CHANNEL or (
        channel.startswith(ESPA_PREFIX) and len(channel) > len(ESPA_PREFIX)
    ):
        return channel
    raise ValueError(
        f"outbox channel {channel!r} is neither 'mqtt' nor 'espa:<name>' (the paging system's "
        "name in the rule file)"
    )


class Store(Protocol):
    """What the service keeps across restarts. Every method is one transaction.

    Thread-safe: one writer at a time per store object; other store objects (threads or
    processes) on the same database may read while it writes.
    """

    @property
    def url(self) -> str:
        """Where the store is, without a password."""
        ...

    def schema_version(self) -> int:
        """The schema version the database is at."""
        ...

    # -- the outbox ----------------------------------------------------------------------------

    def enqueue(self, page: Page, channel: str) -> int:
        """Queue ``page`` for ``channel`` and return its outbox id.

        Idempotent: a page already queued with the same ``(page_id, channel)`` (pending or
        confirmed) is not queued again and keeps its id. A first page (``escalation`` 0) marks
        its incident as paged in the same transaction.
        """
        ...

    def pending(self, channel: str) -> list[tuple[int, Page]]:
        """The pages of ``channel`` not yet confirmed, as ``(outbox_id, page)``, oldest first."""
        ...

    def confirm(self, outbox_id: int) -> bool:
        """The page was delivered: it leaves the outbox. False if it was not pending."""
        ...

    def first_page_sent(self, incident: str) -> bool:
        """Whether ``incident`` has had a first page (``escalation`` 0) queued."""
        ...

    # -- state, audit, acknowledgements ---------------------------------------------------------

    def save_state(self, name: str, state: Mapping[str, Any]) -> None:
        """Keep the JSON-able ``state`` under ``name`` (``router``, ``silences``), replacing it."""
        ...

    def load_state(self, name: str) -> dict[str, Any] | None:
        """The state last saved under ``name``, or None if none was."""
        ...

    def commit_step(
        self,
        pages: Sequence[tuple[Page, str]],
        states: Mapping[str, Mapping[str, Any] | str | None],
        audit: Sequence[Mapping[str, Any]],
        *,
        incidents: Mapping[str, str | None] | None = None,
        acks: Sequence[AckRecord] = (),
        journal: Sequence[JournalEntry] = (),
        clear_journal: bool = False,
        confirmed: Sequence[int] = (),
    ) -> list[int]:
        """Write one decided step in one transaction: all of it, or (on an error) none of it.

        ``pages`` as ``(page, channel)`` are enqueued (see :meth:`enqueue`), ``states`` saved (a
        state given as text is a JSON object the caller has encoded; one given as None is
        deleted), the router's ``incidents`` that changed saved by name (each a JSON object as
        text, as ``Router.take_changes`` makes them; None: forgotten), ``audit`` entries (JSON
        objects with a numeric ``ts``) appended, ``acks`` recorded, ``journal`` entries
        appended, the outbox entries ``confirmed`` delivered (see :meth:`confirm`).
        ``clear_journal`` empties the journal first (``states`` then holds a snapshot of the
        classifier that covers it). Returns the outbox ids of ``pages``, in order.
        """
        ...

    def incidents(self) -> list[dict[str, Any]]:
        """The router's incidents as last saved by :meth:`commit_step`, in the order of their
        names."""
        ...

    def journal(self) -> list[JournalEntry]:
        """The journal, in the order it was written."""
        ...

    def change_state(
        self,
        name: str,
        change: Callable[
            [dict[str, Any] | None], tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]
        ],
    ) -> dict[str, Any]:
        """Read, change and save the state ``name`` in one transaction, with audit entries.

        ``change`` gets the state last saved (or None) and returns the new state and the audit
        entries that say what changed; they are written together. Two processes changing the
        same state one after the other each see the other's change. Returns the new state.
        """
        ...

    def audit_since(self, ts: float) -> list[dict[str, Any]]:
        """The audit entries with ``ts`` at or after ``ts``, in the order they were appended."""
        ...

    def record_ack(self, incident: str, by: str, at: float) -> None:
        """Keep an acknowledgement (idempotent for the same incident, person and time)."""
        ...

    def acks(self, incident: str) -> list[AckRecord]:
        """The acknowledgements of ``incident``, earliest first."""
        ...

    # -- upkeep ----------------------------------------------------------------------------------

    def prune(self, before: float) -> int:
        """Forget confirmed pages confirmed before ``before`` (Unix seconds); the count removed.

        Pending pages, first-page marks, states, acknowledgements and the audit trail stay.
        """
        ...

    def close(self) -> None:
        """Close the connection; the store object is unusable afterwards."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Tx(Protocol):
    """One open transaction, as a backend gives it to :class:`SqlStore`."""

    def execute(self, sql: str, params: Sequence[object] = ()) -> None: ...

    def one(self) -> tuple[Any, ...] | None: ...

    def all(self) -> list[tuple[Any, ...]]: ...

    def execute_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...


def _schema(id_column: str) -> list[str]:
    """The schema of the first release (``FIRST_RELEASE``); ``id_column`` is the dialect's
    generated id."""
    return [
        f"""CREATE TABLE outbox (
            outbox_id {id_column},
            page_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            incident TEXT NOT NULL,
            escalation INTEGER NOT NULL,
            page TEXT NOT NULL,
            enqueued_at DOUBLE PRECISION NOT NULL,
            confirmed_at DOUBLE PRECISION,
            UNIQUE (page_id, channel)
        )""",
        "CREATE INDEX outbox_pending ON outbox (channel, outbox_id) WHERE confirmed_at IS NULL",
        """CREATE TABLE first_pages (
            incident TEXT PRIMARY KEY,
            page_id TEXT NOT NULL,
            ts DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE state (
            name TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            saved_at DOUBLE PRECISION NOT NULL
        )""",
        f"""CREATE TABLE audit (
            audit_id {id_column},
            ts DOUBLE PRECISION NOT NULL,
            entry TEXT NOT NULL
        )""",
        "CREATE INDEX audit_ts ON audit (ts)",
        """CREATE TABLE acks (
            incident TEXT NOT NULL,
            by_whom TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (incident, by_whom, at)
        )""",
        # what the classifier was given since its last snapshot
        f"""CREATE TABLE journal (
            journal_id {id_column},
            entries TEXT NOT NULL
        )""",
        # the router's incidents, one row each: a round writes only those it changed
        """CREATE TABLE incidents (
            incident TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            saved_at DOUBLE PRECISION NOT NULL
        )""",
    ]


#: Migrations after the first release: the statements of version FIRST_RELEASE + 1, + 2, ...
MIGRATIONS: Final[list[list[str]]] = []


def _json(value: Mapping[str, Any], what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} is not plain JSON data ({error}); nothing was written") from None


def _audit_ts(entry: Mapping[str, Any]) -> float:
    ts = entry.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise ValueError(
            f"audit entry {entry!r} has no numeric 'ts': give each entry its time in Unix "
            "seconds; nothing was written"
        )
    return float(ts)


class SqlStore(ABC):
    """The :class:`Store` in SQL; a backend supplies connections and transactions."""

    #: The dialect's column definition of a generated integer primary key.
    ID_COLUMN: str = ""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.RLock()
        self._migrate()

    # -- what a backend provides ---------------------------------------------------------------

    @abstractmethod
    def _transaction(self, *, write: bool) -> AbstractContextManager[Tx]:
        """A transaction that commits when the block ends and rolls back if it raises."""

    @abstractmethod
    def _lock_schema(self, tx: Tx) -> None:
        """Keep other processes from migrating at the same time, until ``tx`` ends."""

    @abstractmethod
    def _close(self) -> None: ...

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._url

    def close(self) -> None:
        with self._lock:
            self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def schema_version(self) -> int:
        with self._tx(write=False) as tx:
            return self._version(tx)

    def _migrate(self) -> None:
        with self._tx(write=True) as tx:
            self._lock_schema(tx)
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
            )
            found = self._version(tx)
            if found > SCHEMA_VERSION:
                raise StoreError(
                    f"the store at {self.url} has schema version {found}, newer than this "
                    f"sensorhub knows ({SCHEMA_VERSION}): upgrade sensorhub, or point it at "
                    "another store"
                )
            if 0 < found < FIRST_RELEASE:
                raise StoreError(
                    f"the store at {self.url} was made by a development version of sensorhub "
                    f"before its first release (schema version {found}): move it away and "
                    "start again with a new store"
                )
            if found == 0:
                for statement in _schema(self.ID_COLUMN):
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (FIRST_RELEASE, time.time()),
                )
                found = FIRST_RELEASE
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version - FIRST_RELEASE - 1]:
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (version, time.time()),
                )
                logger.info("store %s migrated to schema version %d", self.url, version)

    @staticmethod
    def _version(tx: Tx) -> int:
        tx.execute("SELECT MAX(version) FROM schema_version")
        row = tx.one()
        return 0 if row is None or row[0] is None else int(row[0])

    # -- the outbox ----------------------------------------------------------------------------

    def enqueue(self, page: Page, channel: str) -> int:
        check_channel(channel)
        with self._tx(write=True) as tx:
            return self._put_pages(tx, [(page, channel)], time.time())[0]

    def pending(self, channel: str) -> list[tuple[int, Page]]:
        with self._tx(write=False) as tx:
            tx.execute(
                "SELECT outbox_id, page FROM outbox WHERE channel = ? AND confirmed_at IS NULL "
                "ORDER BY outbox_id",
                (channel,),
            )
            return [(int(row[0]), Page.model_validate_json(row[1])) for row in tx.all()]

    def confirm(self, outbox_id: int) -> bool:
        with self._tx(write=True) as tx:
            tx.execute(
                "SELECT 1 FROM outbox WHERE outbox_id = ? AND confirmed_at IS NULL", (outbox_id,)
            )
            if tx.one() is None:
                return False
            tx.execute(
                "UPDATE outbox SET confirmed_at = ? WHERE outbox_id = ?", (time.time(), outbox_id)
            )
            return True

    def first_page_sent(self, incident: str) -> bool:
        with self._tx(write=False) as tx:
            tx.execute("SELECT 1 FROM first_pages WHERE incident = ?", (incident,))
            return tx.one() is not None

    # -- state, audit, acknowledgements ---------------------------------------------------------

    def save_state(self, name: str, state: Mapping[str, Any]) -> None:
        text = _json(state, f"state {name!r}")
        with self._tx(write=True) as tx:
            self._put_state(tx, name, text, time.time())

    def load_state(self, name: str) -> dict[str, Any] | None:
        with self._tx(write=False) as tx:
            tx.execute("SELECT state FROM state WHERE name = ?", (name,))
            row = tx.one()
        return None if row is None else self._state_of(f"state {name!r}", row[0])

    def _state_of(self, what: str, text: str) -> dict[str, Any]:
        value = json.loads(text)
        if not isinstance(value, dict):
            raise StoreError(f"{what} in {self.url} is not a JSON object")
        return value

    def commit_step(
        self,
        pages: Sequence[tuple[Page, str]],
        states: Mapping[str, Mapping[str, Any] | str | None],
        audit: Sequence[Mapping[str, Any]],
        *,
        incidents: Mapping[str, str | None] | None = None,
        acks: Sequence[AckRecord] = (),
        journal: Sequence[JournalEntry] = (),
        clear_journal: bool = False,
        confirmed: Sequence[int] = (),
    ) -> list[int]:
        # everything that can be refused is checked before the transaction begins
        for _, channel in pages:
            check_channel(channel)
        texts = {
            name: state
            if state is None or isinstance(state, str)
            else _json(state, f"state {name!r}")
            for name, state in states.items()
        }
        entries = [(_audit_ts(entry), _json(entry, "audit entry")) for entry in audit]
        entries_text = msgspec.json.encode(journal).decode("utf-8") if journal else ""
        now = time.time()
        with self._tx(write=True) as tx:
            if clear_journal:
                tx.execute("DELETE FROM journal")
            if journal:  # one row a round: [[topic, payload, at], ...]
                tx.execute("INSERT INTO journal (entries) VALUES (?)", (entries_text,))
            ids = self._put_pages(tx, pages, now)
            if confirmed:
                tx.execute_many(
                    "UPDATE outbox SET confirmed_at = ? "
                    "WHERE outbox_id = ? AND confirmed_at IS NULL",
                    [(now, outbox_id) for outbox_id in confirmed],
                )
            for name, text in texts.items():
                if text is None:
                    tx.execute("DELETE FROM state WHERE name = ?", (name,))
                else:
                    self._put_state(tx, name, text, now)
            if incidents:
                self._put_incidents(tx, incidents, now)
            self._put_audit(tx, entries)
            for ack in acks:
                self._put_ack(tx, ack)
            return ids

    def incidents(self) -> list[dict[str, Any]]:
        with self._tx(write=False) as tx:
            tx.execute("SELECT incident, state FROM incidents ORDER BY incident")
            rows = tx.all()
        return [self._state_of(f"incident {row[0]!r}", row[1]) for row in rows]

    def journal(self) -> list[JournalEntry]:
        with self._tx(write=False) as tx:
            tx.execute("SELECT entries FROM journal ORDER BY journal_id")
            rows = tx.all()
        return [
            JournalEntry(str(topic), str(payload), float(at))
            for row in rows
            for topic, payload, at in json.loads(row[0])
        ]

    def change_state(
        self,
        name: str,
        change: Callable[
            [dict[str, Any] | None], tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]
        ],
    ) -> dict[str, Any]:
        with self._tx(write=True) as tx:
            self._lock_schema(tx)  # PostgreSQL: one changer at a time (SQLite: BEGIN IMMEDIATE)
            tx.execute("SELECT state FROM state WHERE name = ?", (name,))
            row = tx.one()
            before = None if row is None else self._state_of(f"state {name!r}", row[0])
            after, audit = change(before)
            text = _json(after, f"state {name!r}")
            entries = [(_audit_ts(entry), _json(entry, "audit entry")) for entry in audit]
            self._put_state(tx, name, text, time.time())
            self._put_audit(tx, entries)
        return json.loads(text)  # type: ignore[no-any-return]

    def audit_since(self, ts: float) -> list[dict[str, Any]]:
        with self._tx(write=False) as tx:
            tx.execute("SELECT entry FROM audit WHERE ts >= ? ORDER BY audit_id", (ts,))
            rows = tx.all()
        return [json.loads(row[0]) for row in rows]

    def record_ack(self, incident: str, by: str, at: float) -> None:
        with self._tx(write=True) as tx:
            self._put_ack(tx, AckRecord(incident, by, at))

    def acks(self, incident: str) -> list[AckRecord]:
        with self._tx(write=False) as tx:
            tx.execute(
                "SELECT by_whom, at FROM acks WHERE incident = ? ORDER BY at, by_whom", (incident,)
            )
            return [AckRecord(incident, str(row[0]), float(row[1])) for row in tx.all()]

    def prune(self, before: float) -> int:
        with self._tx(write=True) as tx:
            tx.execute(
                "SELECT COUNT(*) FROM outbox WHERE confirmed_at IS NOT NULL AND confirmed_at < ?",
                (before,),
            )
            row = tx.one()
            tx.execute(
                "DELETE FROM outbox WHERE confirmed_at IS NOT NULL AND confirmed_at < ?", (before,)
            )
            return 0 if row is None else int(row[0])

    # -- inside ---------------------------------------------------------------------------------

    def _tx(self, *, write: bool) -> AbstractContextManager[Tx]:
        return _Locked(self._lock, self._transaction(write=write))

    def _put_pages(self, tx: Tx, pages: Sequence[tuple[Page, str]], now: float) -> list[int]:
        """Enqueue ``pages`` (``(page, channel)``) with one statement per table, however many
        there are (the escalations that come due together after a restart, or in a burst, are
        hundreds); their outbox ids, in order."""
        if not pages:
            return []
        tx.execute_many(
            "INSERT INTO outbox (page_id, channel, incident, escalation, page, enqueued_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (page_id, channel) DO NOTHING",
            [
                (page.page_id, channel, page.incident, page.escalation, page.model_dump_json(), now)
                for page, channel in pages
            ],
        )
        first = [(p.incident, p.page_id, p.ts) for p, _ in pages if p.escalation == 0]
        if first:
            tx.execute_many(
                "INSERT INTO first_pages (incident, page_id, ts) VALUES (?, ?, ?) "
                "ON CONFLICT (incident) DO NOTHING",
                first,
            )
        page_ids = list(dict.fromkeys(page.page_id for page, _ in pages))
        found: dict[tuple[str, str], int] = {}
        for at in range(0, len(page_ids), ID_QUERY):
            chunk = page_ids[at : at + ID_QUERY]
            marks = ", ".join("?" * len(chunk))  # placeholders only: the ids are parameters
            tx.execute(
                f"SELECT page_id, channel, outbox_id FROM outbox WHERE page_id IN ({marks})",  # noqa: S608
                chunk,
            )
            found.update(((row[0], row[1]), int(row[2])) for row in tx.all())
        try:
            return [found[page.page_id, channel] for page, channel in pages]
        except KeyError as missing:  # pragma: no cover - the rows were just written
            raise StoreError(f"page {missing} vanished from the outbox of {self.url}") from None

    def _put_state(self, tx: Tx, name: str, text: str, now: float) -> None:
        tx.execute(
            "INSERT INTO state (name, state, saved_at) VALUES (?, ?, ?) ON CONFLICT (name) "
            "DO UPDATE SET state = excluded.state, saved_at = excluded.saved_at",
            (name, text, now),
        )

    def _put_incidents(self, tx: Tx, incidents: Mapping[str, str | None], now: float) -> None:
        forgotten = [(name,) for name, text in incidents.items() if text is None]
        kept = [(name, text, now) for name, text in incidents.items() if text is not None]
        if forgotten:
            tx.execute_many("DELETE FROM incidents WHERE incident = ?", forgotten)
        if kept:
            tx.execute_many(
                "INSERT INTO incidents (incident, state, saved_at) VALUES (?, ?, ?) "
                "ON CONFLICT (incident) "
                "DO UPDATE SET state = excluded.state, saved_at = excluded.saved_at",
                kept,
            )

    def _put_audit(self, tx: Tx, entries: Sequence[tuple[float, str]]) -> None:
        """``(ts, entry as JSON text)`` appended to the audit trail."""
        if entries:
            tx.execute_many("INSERT INTO audit (ts, entry) VALUES (?, ?)", entries)

    def _put_ack(self, tx: Tx, ack: AckRecord) -> None:
        tx.execute(
            "INSERT INTO acks (incident, by_whom, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (ack.incident, ack.by, ack.at),
        )


class _Locked(AbstractContextManager[Tx]):
    """A backend transaction entered under the store's lock (one user of the connection)."""

    def __init__(self, lock: threading.RLock, inner: AbstractContextManager[Tx]) -> None:
        self._lock = lock
        self._inner = inner

    def __enter__(self) -> Tx:
        self._lock.acquire()
        try:
            return self._inner.__enter__()
        except BaseException:
            self._lock.release()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        try:
            return self._inner.__exit__(exc_type, exc, tb)
        finally:
            self._lock.release()


__all__ = [
    "ESPA_PREFIX",
    "MQTT_CHANNEL",
    "SCHEMA_VERSION",
    "AckRecord",
    "SqlStore",
    "Store",
    "StoreError",
    "Tx",
    "check_channel",
]
