"""The SQLite store's own promises, beside the behaviour test_store.py checks on both backends:
how long a writer waits for another, what it says when it cannot open a file or keep it in WAL
mode, and the URL it reports.

The mutation run of store/sqlite.py (docs/testing.md) found each of these unpinned: the
busy timeout could fall back to SQLite's 5 s, the warning could be logged for every store or
for none, and the reasons could lose their advice, and every store test still passed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sensorhub.store.base import StoreError
from sensorhub.store.sqlite import BUSY_TIMEOUT, SqliteStore


def test_a_writer_waits_30_s_for_another_and_the_store_names_its_url(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.db") as store:
        waits = store._connection.execute("PRAGMA busy_timeout").fetchone()[0]
        assert waits == BUSY_TIMEOUT * 1000 == 30_000
        assert store.url == f"sqlite:///{tmp_path / 's.db'}"


def test_a_store_in_wal_mode_logs_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), SqliteStore(tmp_path / "s.db"):
        pass
    assert caplog.records == []


def test_a_store_sqlite_keeps_out_of_wal_mode_says_so_and_where_to_put_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An in-memory database has no WAL (nor has a file on some network disks)."""
    with caplog.at_level(logging.WARNING), SqliteStore(Path(":memory:")):
        pass
    assert [record.getMessage() for record in caplog.records] == [
        "store :memory:: SQLite refused WAL mode (journal mode memory), so readers wait for the "
        "writer; put the file on a local disk"
    ]


def test_a_file_that_is_no_sqlite_database_is_refused_with_what_to_check(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"not a database " * 400)
    with pytest.raises(StoreError) as refused:
        SqliteStore(path)
    assert str(refused.value) == (
        f"cannot open the store {path}: file is not a database; check that the file is a SQLite "
        "database and that sensorhub may write to it and its directory"
    )
