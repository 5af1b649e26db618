"""The durable store, on both backends: SQLite in a real file, PostgreSQL in a private cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sensorhub.contract import Page
from sensorhub.store import (
    SCHEMA_VERSION,
    AckRecord,
    JournalEntry,
    Store,
    StoreError,
    open_store,
)
from sensorhub.store.base import SqlStore
from sensorhub.store.postgres import redact
from sensorhub.store.sqlite import SqliteStore
from tests import pg
from tests.pg import PostgresMissingError, PrivatePostgres

# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def opened(store_url: str) -> Iterator[Callable[[], Store]]:
    """``opened()``: a store on ``store_url``; every one opened is closed after the test."""
    stores: list[Store] = []

    def make() -> Store:
        store = open_store(store_url)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def store(opened: Callable[[], Store]) -> Store:
    return opened()


def page(incident: str = "zon/101/fall/1", escalation: int = 0, recipient: str = "oost") -> Page:
    return Page(
        page_id=f"{incident}/{escalation}/{recipient}",
        incident=incident,
        site="zon",
        room="101",
        kind="fall",
        priority="critical",
        audience="care",
        ts=1_700_000_000.0 + escalation * 60,
        escalation=escalation,
        recipient=recipient,
        text="Val kamer 101",
        events=["e1", "e2"],
    )


# -- opening ----------------------------------------------------------------------------------


def test_open_creates_the_schema_at_the_current_version(store: Store) -> None:
    assert store.schema_version() == SCHEMA_VERSION


def test_reopening_does_not_migrate_again(opened: Callable[[], Store]) -> None:
    first = opened()
    first.save_state("router", {"kept": True})
    first.close()
    again = opened()
    assert again.schema_version() == SCHEMA_VERSION
    assert again.load_state("router") == {"kept": True}


def test_no_url_opens_sqlite_at_the_default_path(tmp_path: Path) -> None:
    with open_store(None, default_path=tmp_path / "here.db") as store:
        store.save_state("x", {})
    assert (tmp_path / "here.db").exists()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://db/x", "sqlite:///path/to/file.db"),
        ("sqlite:///", "names no file"),
        ("sqlite:///:memory:", "names no file"),
        ("sqlite:////no/such/directory/x.db", "does not exist"),
    ],
)
def test_bad_urls_say_what_to_write(url: str, says: str) -> None:
    with pytest.raises(StoreError, match=says):
        open_store(url)


def test_sqlite_is_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    """WAL lets readers run beside the writer; synchronous=FULL makes each commit durable."""

    with SqliteStore(tmp_path / "s.db") as store:
        connection = store._connection
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_missing_postgres_binaries_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("glob.glob", lambda pattern: [])
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(PostgresMissingError, match="scripts/setup"):
        pg.find_bindir()


def test_a_password_never_shows_in_the_url() -> None:
    assert redact("postgresql://me:secret@db:5432/x") == "postgresql://me:***@db:5432/x"


def test_a_store_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    open_store(url).close()
    import sqlite3  # noqa: PLC0415

    with sqlite3.connect(tmp_path / "new.db") as connection:
        connection.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    connection.close()
    with pytest.raises(StoreError, match="newer than this sensorhub knows"):
        open_store(url)


def test_a_store_made_before_the_first_release_is_refused_with_what_to_do(
    tmp_path: Path,
) -> None:
    import sqlite3  # noqa: PLC0415

    path = tmp_path / "v2.db"
    with sqlite3.connect(path) as connection:  # as a development version wrote it
        connection.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        connection.execute("INSERT INTO schema_version VALUES (2, 0)")
    connection.close()
    with pytest.raises(StoreError, match=r"before its first release.*move it away"):
        open_store(f"sqlite:///{path}")


# -- the outbox -------------------------------------------------------------------------------


def test_enqueue_is_idempotent_per_page_and_channel(store: Store) -> None:
    first = store.enqueue(page(), "mqtt")
    assert store.enqueue(page(), "mqtt") == first
    other = store.enqueue(page(), "espa:main")
    assert other != first
    assert [i for i, _ in store.pending("mqtt")] == [first]
    assert [i for i, _ in store.pending("espa:main")] == [other]


def test_a_confirmed_page_is_not_queued_again(store: Store) -> None:
    """Replaying a step after a restart does not resend what was delivered."""
    outbox_id = store.enqueue(page(), "mqtt")
    assert store.confirm(outbox_id)
    assert store.enqueue(page(), "mqtt") == outbox_id
    assert store.pending("mqtt") == []


def test_pending_keeps_enqueue_order_and_the_whole_page(store: Store) -> None:
    pages = [page(f"zon/101/fall/{n}", escalation=n % 3, recipient=f"r{n}") for n in range(20)]
    for p in reversed(pages[10:]):
        store.enqueue(p, "mqtt")
    for p in pages[:10]:
        store.enqueue(p, "mqtt")
    got = store.pending("mqtt")
    assert [p for _, p in got] == [*reversed(pages[10:]), *pages[:10]]
    assert [i for i, _ in got] == sorted(i for i, _ in got)


def test_confirm_removes_from_pending_once(store: Store) -> None:
    ids = [store.enqueue(page(recipient=f"r{n}"), "mqtt") for n in range(3)]
    assert store.confirm(ids[1])
    assert not store.confirm(ids[1])
    assert not store.confirm(999_999)
    assert [i for i, _ in store.pending("mqtt")] == [ids[0], ids[2]]


def test_unknown_channels_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="espa:<name>"):
        store.enqueue(page(), "sms")
    with pytest.raises(ValueError, match="espa:<name>"):
        store.commit_step([(page(), "espa:")], {}, [])


def test_prune_forgets_confirmed_pages_only(store: Store) -> None:
    done = store.enqueue(page(recipient="a"), "mqtt")
    store.enqueue(page(recipient="b"), "mqtt")
    store.confirm(done)
    assert store.prune(time.time() + 1) == 1
    assert [p.recipient for _, p in store.pending("mqtt")] == ["b"]
    assert store.first_page_sent(page().incident)


# -- first pages ------------------------------------------------------------------------------


def test_first_page_sent_survives_reopen(opened: Callable[[], Store]) -> None:
    store = opened()
    assert not store.first_page_sent("zon/101/fall/1")
    store.enqueue(page(escalation=0), "mqtt")
    store.enqueue(page("zon/102/fall/9", escalation=1), "mqtt")
    store.close()
    again = opened()
    assert again.first_page_sent("zon/101/fall/1")
    assert not again.first_page_sent("zon/102/fall/9"), "an escalation is not a first page"


def test_commit_step_marks_first_pages(store: Store) -> None:
    store.commit_step([(page("zon/103/call/5"), "espa:main")], {}, [])
    assert store.first_page_sent("zon/103/call/5")


def test_commit_step_queues_hundreds_of_pages_at_once_with_their_ids_in_order(
    store: Store,
) -> None:
    """A burst of escalations (or those due after a restart): more pages than one statement
    looks up, some already queued (kept with their ids), on two channels."""
    known = store.enqueue(page("zon/1/fall/7", escalation=1), "mqtt")
    pages = [
        (page(f"zon/1/fall/{n}", escalation=n % 3), channel)
        for n in range(700)
        for channel in ("mqtt", "espa:main")
    ]
    ids = store.commit_step(pages, {}, [])
    assert len(set(ids)) == len(ids) == 1400
    assert ids[pages.index((page("zon/1/fall/7", escalation=1), "mqtt"))] == known
    assert store.commit_step(pages[::-1], {}, []) == ids[::-1]
    assert [i for i, _ in store.pending("espa:main")] == sorted(ids[1::2])
    assert store.first_page_sent("zon/1/fall/3")
    assert not store.first_page_sent("zon/1/fall/4")


# -- state and steps --------------------------------------------------------------------------


def test_state_round_trips(opened: Callable[[], Store]) -> None:
    state: dict[str, Any] = {
        "version": 1,
        "incidents": [{"page": page().model_dump(mode="json"), "due": 1.5e9 + 0.125}],
        "text": "Valpartij kamer 101 — ë",
        "none": None,
    }
    store = opened()
    assert store.load_state("router") is None
    store.save_state("router", state)
    store.save_state("silences", {"silences": []})
    store.save_state("router", {**state, "version": 1})
    store.close()
    again = opened()
    assert again.load_state("router") == state
    assert again.load_state("silences") == {"silences": []}


def test_state_that_is_not_json_is_refused_before_writing(store: Store) -> None:
    with pytest.raises(ValueError, match="not plain JSON"):
        store.commit_step([(page(), "mqtt")], {"router": {"bad": {1, 2}}}, [])
    with pytest.raises(ValueError, match="numeric 'ts'"):
        store.commit_step([(page(), "mqtt")], {}, [{"decision": "routed"}])
    assert store.pending("mqtt") == []
    assert not store.first_page_sent(page().incident)


def test_commit_step_writes_everything_together(store: Store) -> None:
    ids = store.commit_step(
        [(page(recipient="a"), "mqtt"), (page(recipient="a"), "espa:main")],
        {"router": {"n": 1}, "silences": {"silences": []}},
        [{"ts": 10.0, "decision": "routed"}, {"ts": 11.0, "decision": "held"}],
        acks=[AckRecord("zon/101/fall/1", "oost-1", 12.0)],
    )
    assert len(ids) == 2
    assert [i for i, _ in store.pending("mqtt")] == [ids[0]]
    assert store.load_state("router") == {"n": 1}
    assert [e["decision"] for e in store.audit_since(0)] == ["routed", "held"]
    assert store.acks("zon/101/fall/1") == [AckRecord("zon/101/fall/1", "oost-1", 12.0)]


def test_the_routers_incidents_are_kept_a_row_each_and_changed_one_by_one(
    opened: Callable[[], Store],
) -> None:
    store = opened()
    store.commit_step([], {}, [], incidents={"b": '{"n": 1}', "a": '{"n": 2}'})
    store.commit_step([], {}, [], incidents={"b": None, "c": '{"n": 3}', "gone": None})
    store.commit_step([], {}, [], incidents={"a": '{"n": 4}'})
    assert opened().incidents() == [{"n": 4}, {"n": 3}]
    store.commit_step([], {}, [], incidents={"a": "[1]"})
    with pytest.raises(StoreError, match=r"incident 'a' in .* is not a JSON object"):
        store.incidents()


def test_a_state_given_as_none_is_deleted(store: Store) -> None:
    store.commit_step([], {"router": {"n": 1}, "silences": {"n": 2}}, [])
    store.commit_step([], {"router": None}, [])
    assert store.load_state("router") is None
    assert store.load_state("silences") == {"n": 2}


def test_the_journal_keeps_rounds_in_order_until_a_snapshot_clears_it(
    opened: Callable[[], Store],
) -> None:
    store = opened()
    first = [
        JournalEntry("care/zon/101/call/b1", '{"ts": 1, "event": "pressed",\n "id": "é"}', 1.5),
        JournalEntry("", "tick", 2.0),
    ]
    store.commit_step([], {}, [], journal=first)
    store.commit_step([], {}, [], journal=[JournalEntry("care/zon/102/bed/m", "{}", 3.0)])
    assert opened().journal() == [*first, JournalEntry("care/zon/102/bed/m", "{}", 3.0)]
    assert [entry.is_tick for entry in store.journal()] == [False, True, False]

    later = [JournalEntry("care/zon/103/door/d", "{}", 4.0)]
    store.commit_step([], {"classifier": {"snapshot": 1}}, [], journal=later, clear_journal=True)
    assert store.journal() == later  # emptied first, then this round's entries
    store.commit_step([], {"classifier": {"snapshot": 2}}, [], clear_journal=True)
    assert store.journal() == []


def test_confirmations_ride_along_with_a_step(store: Store) -> None:
    (first,) = store.commit_step([(page(), "mqtt")], {}, [])
    (second,) = store.commit_step(
        [(page(escalation=1), "mqtt")], {}, [], confirmed=[first, first, 999]
    )
    assert [i for i, _ in store.pending("mqtt")] == [second]
    store.commit_step([], {}, [], confirmed=[second])
    assert store.pending("mqtt") == []


def test_change_state_reads_changes_and_audits_in_one_transaction(
    opened: Callable[[], Store],
) -> None:
    store, other = opened(), opened()

    def add(name: str) -> Callable[[dict[str, Any] | None], Any]:
        def change(state: dict[str, Any] | None) -> Any:
            names = [*(state or {}).get("names", []), name]
            return {"names": names}, [{"ts": float(len(names)), "added": name}]

        return change

    assert store.change_state("silences", add("a")) == {"names": ["a"]}
    assert other.change_state("silences", add("b")) == {"names": ["a", "b"]}
    assert store.load_state("silences") == {"names": ["a", "b"]}
    assert [entry["added"] for entry in store.audit_since(0)] == ["a", "b"]


def test_commit_step_is_atomic(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure inside the transaction, after pages and states were written, leaves nothing."""
    store.commit_step([], {"router": {"step": 0}}, [{"ts": 1.0, "step": 0}])

    def broken(*args: object) -> None:
        raise OSError("disk gone in the middle of the step")

    assert isinstance(store, SqlStore)
    monkeypatch.setattr(store, "_put_audit", broken)
    with pytest.raises(OSError, match="disk gone"):
        store.commit_step(
            [(page(recipient="a"), "mqtt"), (page("zon/9/fall/9"), "mqtt")],
            {"router": {"step": 1}},
            [{"ts": 2.0, "step": 1}],
            acks=[AckRecord("zon/101/fall/1", "x", 3.0)],
        )
    monkeypatch.undo()
    assert store.pending("mqtt") == []
    assert not store.first_page_sent("zon/101/fall/1")
    assert not store.first_page_sent("zon/9/fall/9")
    assert store.load_state("router") == {"step": 0}
    assert store.audit_since(0) == [{"ts": 1.0, "step": 0}]
    assert store.acks("zon/101/fall/1") == []
    # and the store is still usable afterwards
    store.commit_step([(page(), "mqtt")], {"router": {"step": 1}}, [])
    assert len(store.pending("mqtt")) == 1


# -- audit and acknowledgements ---------------------------------------------------------------


def test_audit_is_appended_and_read_from_a_time(store: Store) -> None:
    for ts in (5.0, 1.0, 7.0, 3.0):
        store.commit_step([], {}, [{"ts": ts, "decision": "silence_added", "by": "tech"}])
    assert [e["ts"] for e in store.audit_since(3.0)] == [5.0, 7.0, 3.0]
    assert store.audit_since(8.0) == []


def test_acks_are_kept_once_each(opened: Callable[[], Store]) -> None:
    store = opened()
    store.record_ack("inc", "oost-2", 20.0)
    store.record_ack("inc", "oost-1", 10.0)
    store.record_ack("inc", "oost-1", 10.0)
    store.close()
    assert opened().acks("inc") == [
        AckRecord("inc", "oost-1", 10.0),
        AckRecord("inc", "oost-2", 20.0),
    ]
    assert opened().acks("other") == []


# -- concurrency and crashes ------------------------------------------------------------------


def test_readers_see_whole_steps_while_a_writer_commits(opened: Callable[[], Store]) -> None:
    """Readers on the writer's store and on stores of their own never see half a step."""
    writer = opened()
    readers = [writer, opened(), opened()]
    steps = 60
    done = threading.Event()
    problems: list[str] = []

    def write() -> None:
        try:
            for n in range(steps):
                writer.commit_step(
                    [(page(f"zon/1/fall/{n}", recipient=r), "mqtt") for r in ("a", "b")],
                    {"router": {"step": n}},
                    [{"ts": float(n)}],
                )
        finally:
            done.set()

    def read(store: Store) -> None:
        last = -1
        while not done.is_set():
            count = len(store.pending("mqtt"))
            if count % 2:
                problems.append(f"half a step: {count} pages pending")
            state = store.load_state("router")
            step = -1 if state is None else int(state["step"])
            if step < last:
                problems.append(f"state went back from {last} to {step}")
            last = step

    threads = [threading.Thread(target=read, args=(r,)) for r in readers for _ in range(2)]
    threads.append(threading.Thread(target=write))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert problems == []
    assert len(writer.pending("mqtt")) == 2 * steps


def test_two_writers_queue_instead_of_failing(opened: Callable[[], Store]) -> None:
    """Two store objects writing at once (two threads): every step of both is kept."""
    stores = [opened(), opened()]
    errors: list[BaseException] = []

    def write(k: int) -> None:
        try:
            for n in range(40):
                stores[k].commit_step(
                    [(page(f"zon/{k}/fall/{n}"), "mqtt")], {f"w{k}": {"n": n}}, [{"ts": 1.0}]
                )
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(k,)) for k in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(stores[0].pending("mqtt")) == 80
    assert stores[1].load_state("w0") == {"n": 39}
    assert len(stores[1].audit_since(0)) == 80


def test_postgres_store_connects_again_after_a_server_restart(postgres: PrivatePostgres) -> None:
    """The call that finds the connection gone fails clearly; the next one reconnects."""
    with open_store(postgres.create_database()) as store:
        store.enqueue(page(), "mqtt")
        postgres.restart()
        with pytest.raises(StoreError, match="nothing of the transaction was written"):
            store.enqueue(page(recipient="b"), "mqtt")
        store.enqueue(page(recipient="c"), "mqtt")
        assert [p.recipient for _, p in store.pending("mqtt")] == ["oost", "c"]


CRASHER = """
import sys
from sensorhub.contract import Page
from sensorhub.store import open_store

store = open_store(sys.argv[1])
n = 0
while True:
    pages = [
        Page(page_id=f"inc-{n}/0/{r}", incident=f"inc-{n}", site="zon", room="1", kind="fall",
             priority="critical", audience="care", ts=float(n), escalation=0, recipient=r,
             text="x" * 200, events=["e"])
        for r in ("a", "b", "c")
    ]
    store.commit_step(
        [(p, "mqtt") for p in pages],
        {"router": {"step": n, "pad": "y" * 2000}, "silences": {"step": n}},
        [{"ts": float(n), "step": n, "i": i} for i in range(3)],
    )
    print(n, flush=True)
    n += 1
"""


def test_a_killed_writer_leaves_only_whole_steps(store_url: str, tmp_path: Path) -> None:
    """kill -9 in the middle of writing: every step reported committed is there, and whole."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    with subprocess.Popen(
        [sys.executable, "-c", CRASHER, store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        reported = -1
        try:
            for line in process.stdout:
                reported = int(line)
                if reported >= 150:
                    break
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(30)
        errors = process.stderr.read()
    assert reported >= 150, errors
    assert process.returncode == -signal.SIGKILL

    with open_store(store_url) as store:
        state = store.load_state("router")
        assert state is not None
        last = state["step"]
        assert last >= reported, "a step reported committed was lost"
        assert store.load_state("silences") == {"step": last}
        pending = store.pending("mqtt")
        assert [p.page_id for _, p in pending] == [
            f"inc-{n}/0/{r}" for n in range(last + 1) for r in ("a", "b", "c")
        ]
        assert [(e["step"], e["i"]) for e in store.audit_since(0)] == [
            (n, i) for n in range(last + 1) for i in range(3)
        ]
        assert store.first_page_sent(f"inc-{last}")
        assert not store.first_page_sent(f"inc-{last + 1}")
