"""The store in PostgreSQL, for sites that run one: ``postgresql://user@host:port/db``.

Same schema and semantics as the SQLite store (the SQL is shared, see ``base.py``), through
psycopg 3. A transaction is durable when ``COMMIT`` returns (the server's ``fsync`` and
``synchronous_commit`` must be left on). Migrations take an advisory lock, so two services
starting at once do not migrate twice. A connection lost with the server (restart, failover)
fails the call that noticed it with a :class:`StoreError`; the next call connects again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import psycopg

from sensorhub.store.base import SqlStore, StoreError, Tx

logger = logging.getLogger(__name__)

#: The advisory lock key under which the schema is migrated ("sensorhb" in ASCII).
SCHEMA_LOCK: Final = 0x73656E736F726862
CONNECT_TIMEOUT: Final = 10

_PASSWORD = re.compile(r"(//[^:/@]+:)[^@]*@")


def redact(url: str) -> str:
    """``url`` without its password, for logs and error messages."""
    return _PASSWORD.sub(r"\1***@", url)


class _PgTx:
    def __init__(self, cursor: psycopg.Cursor[tuple[Any, ...]]) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        # the shared SQL uses ? placeholders; none of it has a literal ? or %
        self._cursor.execute(sql.replace("?", "%s"), tuple(params))

    def one(self) -> tuple[Any, ...] | None:
        return self._cursor.fetchone()

    def all(self) -> list[tuple[Any, ...]]:
        return self._cursor.fetchall()

    def execute_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._cursor.executemany(sql.replace("?", "%s"), rows)


class PostgresStore(SqlStore):
    """A :class:`~sensorhub.store.base.Store` in the PostgreSQL database at ``url``."""

    ID_COLUMN = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"

    def __init__(self, url: str) -> None:
        self._dsn = url
        self._connection: psycopg.Connection[tuple[Any, ...]] | None = None
        self._connect()
        super().__init__(redact(url))

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._connection is not None and not self._connection.closed:
            if not self._connection.broken:
                return self._connection
            self._connection.close()
        try:
            self._connection = psycopg.connect(
                self._dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT
            )
        except psycopg.Error as error:
            raise StoreError(
                f"cannot connect to the store {redact(self._dsn)}: {error}; check that the "
                "server runs, the database exists and the user may log in"
            ) from error
        return self._connection

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Tx]:
        connection = self._connect()
        try:
            with connection.transaction(), connection.cursor() as cursor:
                yield _PgTx(cursor)
        except psycopg.Error as error:
            raise StoreError(
                f"store {self.url}: {error}; nothing of the transaction was written"
            ) from error

    def _lock_schema(self, tx: Tx) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
        tx.one()

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
