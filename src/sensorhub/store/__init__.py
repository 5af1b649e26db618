"""Durable state: the outbox, first pages, router and silences state, acknowledgements, audit.

``open_store(url)`` picks the backend by URL:

- ``None`` -> SQLite in ``default_path`` (``./sensorhub.db`` unless the caller says otherwise);
- ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` -> SQLite in that file;
- ``postgresql://user@host:port/db`` (or ``postgres://``) -> PostgreSQL, through psycopg 3.

See docs/store.md for what is kept and how a restart resumes from it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from sensorhub.core.types import JournalEntry
from sensorhub.routing.acks import AckRecord
from sensorhub.store.base import (
    ESPA_PREFIX,
    MQTT_CHANNEL,
    SCHEMA_VERSION,
    Store,
    StoreError,
    check_channel,
)

#: Names of the states ``serve`` keeps: the classifier's snapshot (``Engine.snapshot``), and
#: the last ``sensorhub reload`` asked for (and ``serve``'s answer).
CLASSIFIER_STATE: Final = "classifier"
RELOAD_STATE: Final = "reload"
#: Where the store is when no URL is given.
DEFAULT_PATH: Final = "sensorhub.db"
#: The store of the commands (serve, mute, unmute, silences) when neither --store nor
#: $SENSORHUB_STORE says otherwise: SQLite in the working directory.
DEFAULT_STORE_URL: Final = f"sqlite:///{DEFAULT_PATH}"
#: The environment variable that sets the store of every command.
STORE_ENV: Final = "SENSORHUB_STORE"
#: The help of ``--store`` of the commands that read or write a running serve's store.
STORE_HELP: Final = (
    f"the store of sensorhub serve (default ${STORE_ENV}, or {DEFAULT_STORE_URL} in the "
    "working directory)"
)

_SQLITE: Final = "sqlite:///"
_POSTGRES: Final = ("postgresql://", "postgres://")


def store_url_default() -> str:
    """The default of ``--store``: ``$SENSORHUB_STORE`` if set, else ``DEFAULT_STORE_URL``."""
    return os.environ.get(STORE_ENV) or DEFAULT_STORE_URL


def open_store(url: str | None, *, default_path: str | Path = DEFAULT_PATH) -> Store:
    """Open (creating and migrating as needed) the store at ``url``; see the module doc."""
    if url is None:
        from sensorhub.store.sqlite import SqliteStore  # noqa: PLC0415 - the backend asked for

        return SqliteStore(default_path)
    if url.startswith(_SQLITE):
        path = url[len(_SQLITE) :]
        if not path or path.startswith("?") or ":memory:" in path:
            raise StoreError(
                f"store URL {url!r} names no file: write sqlite:///relative/path.db or "
                "sqlite:////absolute/path.db (an in-memory store would keep nothing)"
            )
        from sensorhub.store.sqlite import SqliteStore  # noqa: PLC0415

        return SqliteStore(path)
    if url.startswith(_POSTGRES):
        try:
            from sensorhub.store.postgres import PostgresStore  # noqa: PLC0415
        except ImportError as error:
            raise StoreError(
                f"store URL {url.split('@')[-1]!r} is PostgreSQL, but psycopg is not installed: "
                "pip install 'psycopg[binary]' (it is a dependency of sensorhub; reinstall it)"
            ) from error
        return PostgresStore(url)
    raise StoreError(
        f"store URL {url.split('@')[-1]!r} is not one sensorhub knows: use "
        "sqlite:///path/to/file.db (the default, one file) or postgresql://user@host:port/db"
    )


def open_existing_store(url: str | None) -> Store:
    """The store at ``url`` (default: ``store_url_default()``), which must exist already: what
    the commands beside ``serve`` use (``mute``, ``reload`` ...), so that a mistyped path does
    not quietly create a new, empty store that the service never reads."""
    url = url or store_url_default()
    if url.startswith(_SQLITE):
        path = Path(url[len(_SQLITE) :])
        if url[len(_SQLITE) :] and not path.is_file():
            raise StoreError(
                f"there is no store at {path}: give the --store of sensorhub serve (or set "
                f"${STORE_ENV}); the service creates its store when it first starts"
            )
    return open_store(url)


__all__ = [
    "CLASSIFIER_STATE",
    "DEFAULT_PATH",
    "DEFAULT_STORE_URL",
    "ESPA_PREFIX",
    "MQTT_CHANNEL",
    "RELOAD_STATE",
    "SCHEMA_VERSION",
    "STORE_ENV",
    "STORE_HELP",
    "AckRecord",
    "JournalEntry",
    "Store",
    "StoreError",
    "check_channel",
    "open_existing_store",
    "open_store",
    "store_url_default",
]
