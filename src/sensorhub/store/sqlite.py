"""The default store: one SQLite file, no server.

The file is opened in WAL mode with ``synchronous=FULL``: a transaction is on disk when
``COMMIT`` returns, so a ``kill -9`` (or a power cut) loses nothing committed, and readers in
other threads or processes never wait for the writer. Writes take the write lock at ``BEGIN
IMMEDIATE``, so two writers queue (up to ``busy_timeout``) instead of failing half-way.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from sensorhub.store.base import SqlStore, StoreError, Tx

logger = logging.getLogger(__name__)

#: How long a writer waits for another writer's transaction before giving up, in seconds.
BUSY_TIMEOUT: Final = 30.0


class _SqliteTx:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        self._cursor.execute(sql, tuple(params))

    def one(self) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._cursor.fetchone()
        return row

    def all(self) -> list[tuple[Any, ...]]:
        return list(self._cursor.fetchall())

    def execute_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._cursor.executemany(sql, rows)


class SqliteStore(SqlStore):
    """A :class:`~sensorhub.store.base.Store` in the SQLite file ``path``."""

    ID_COLUMN = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise StoreError(
                f"cannot open the store {self.path}: directory {self.path.parent} does not "
                "exist; create it, or give --store sqlite:///<path> of a directory that does"
            )
        try:
            # isolation_level None: no implicit transactions, we BEGIN and COMMIT ourselves
            self._connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            mode = self._connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._connection.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as error:
            raise StoreError(
                f"cannot open the store {self.path}: {error}; check that the file is a SQLite "
                "database and that sensorhub may write to it and its directory"
            ) from error
        if str(mode).lower() != "wal":
            logger.warning(
                "store %s: SQLite refused WAL mode (journal mode %s), so readers wait for the "
                "writer; put the file on a local disk",
                self.path,
                mode,
            )
        super().__init__(f"sqlite:///{self.path}")

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Tx]:
        connection = self._connection
        try:
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as error:
            raise StoreError(f"store {self.path}: cannot begin a transaction: {error}") from error
        cursor = connection.cursor()
        try:
            yield _SqliteTx(cursor)
        except sqlite3.Error as error:
            self._rollback()
            raise StoreError(f"store {self.path}: {error}; nothing of it was written") from error
        except BaseException:
            self._rollback()
            raise
        finally:
            cursor.close()
        try:
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            self._rollback()
            raise StoreError(f"store {self.path}: commit failed: {error}") from error

    def _rollback(self) -> None:
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")

    def _lock_schema(self, tx: Tx) -> None:
        """``BEGIN IMMEDIATE`` already holds the only write lock there is."""

    def _close(self) -> None:
        self._connection.close()
