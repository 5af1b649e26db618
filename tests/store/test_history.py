"""A room's history removed (``sensorhub purge``) and each site's history past its retention
forgotten (``serve``), in both backends: only that room's or site's, only what serve no longer
works with (docs/privacy.md)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensorhub.commands.retention import prune_history
from sensorhub.contract import Page
from sensorhub.core.types import JournalEntry
from sensorhub.routing.acks import AckRecord
from sensorhub.rules import load_policy
from sensorhub.store import Store, open_store
from sensorhub.store.history import forget

DAY = 86400.0


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A new, empty store of each backend (a private PostgreSQL, SQLite)."""
    with open_store(store_url) as opened:
        yield opened


def page(incident: str, ts: float) -> Page:
    site, room, kind, _ = incident.split("/", 3)
    return Page(
        page_id=f"{incident}/0/oost",
        incident=incident,
        site=site,
        room=room,
        kind=kind,
        priority="critical",
        audience="care",
        ts=ts,
        escalation=0,
        recipient="oost",
        text=f"Room {room}: fall",
        events=["e1"],
    )


def fill(store: Store, at: float) -> None:
    """Rooms 12 and 14 of zon, and room 1 of maan, each with a delivered page, an audit entry
    and an acknowledgement at ``at``; room 12 also with an open incident and a page not yet
    delivered, and its sensors' events in the journal."""
    done = [page(f"{place}/fall/1", at) for place in ("zon/12", "zon/14", "maan/1")]
    ids = store.commit_step(
        [(p, "mqtt") for p in done],
        {},
        [
            {"ts": at, "decision": "routed", "site": "zon", "room": "12", "reason": "r"},
            {"ts": at, "decision": "routed", "site": "zon", "room": "14", "reason": "r"},
            {"ts": at, "decision": "routed", "site": "maan", "room": "1", "reason": "r"},
            {"ts": at, "decision": "acknowledged", "incident": "zon/12/fall/1", "reason": "r"},
            {"ts": at, "decision": "muted", "silence": {"site": "zon", "room": "12"}},
            {"ts": at, "decision": "reloaded", "reason": "no site named"},
        ],
        acks=[AckRecord(f"{place}/fall/1", "oost", at) for place in ("zon/12", "zon/14")],
        journal=[
            JournalEntry("care/zon/12/optical/cam-12", '{"ts": 1, "event": "in_bed"}', at),
            JournalEntry("care/zon/14/optical/cam-14", '{"ts": 1, "event": "in_bed"}', at),
            JournalEntry("", "tick", at),
        ],
    )
    store.commit_step([], {}, [], confirmed=ids)
    store.commit_step(
        [(page("zon/12/call/2", at), "mqtt")],
        {},
        [],
        incidents={"zon/12/call/2": json.dumps({"open": True})},
    )


def test_purge_removes_one_rooms_history_and_leaves_what_serve_works_with(store: Store) -> None:
    fill(store, time.time() - DAY)
    now = time.time()  # after the pages were delivered
    done = forget(store, lambda _: now, now, site="zon", room="12")
    assert (done.audit, done.acks, done.pages, done.first_pages, done.journal) == (3, 1, 1, 1, 1)
    assert (done.open_incidents, done.pending_pages) == (1, 1)
    assert "1 open incidents and 1 pages not yet delivered" in done.describe()

    assert [e.get("room") for e in store.audit_since(0.0) if "room" in e] == ["14", "1"]
    assert store.acks("zon/12/fall/1") == []
    assert [a.by for a in store.acks("zon/14/fall/1")] == ["oost"]
    assert not store.first_page_sent("zon/12/fall/1")
    assert store.first_page_sent("zon/14/fall/1")
    assert store.first_page_sent("zon/12/call/2")  # open: serve still needs the mark
    assert [p.incident for _, p in store.pending("mqtt")] == ["zon/12/call/2"]
    assert [e.topic for e in store.journal()] == ["care/zon/14/optical/cam-14", ""]
    # once more: nothing left to remove
    assert forget(store, lambda _: now, now, site="zon", room="12").removed == 0


def test_purge_before_a_time_keeps_what_is_newer(store: Store) -> None:
    now = time.time()
    fill(store, now - DAY)
    assert forget(store, lambda _: now - 2 * DAY, now - 2 * DAY, site="zon", room="12").removed == 0
    assert len(store.audit_since(0.0)) == 6


def test_serve_forgets_each_sites_history_past_its_retention(store: Store, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nsites:\n  zon: {retention: 2d}\n")
    policy = load_policy(rules)
    now = time.time()
    fill(store, now - 3 * DAY)  # past zon's 2 days, within maan's 30 (the default)
    done, lines = prune_history(store, policy, now=now)
    assert lines == 0
    assert (done.audit, done.acks, done.first_pages, done.journal) == (4, 2, 2, 0)
    left = store.audit_since(0.0)
    assert [(e.get("site"), e["decision"]) for e in left] == [
        ("maan", "routed"),
        (None, "reloaded"),  # names no site: no one's history
    ]
    assert store.first_page_sent("maan/1/fall/1")
    assert store.first_page_sent("zon/12/call/2")  # still open
    assert len(store.journal()) == 3  # serve's working state: emptied at each snapshot
    # the pages were delivered just now (confirmed_at is the wall clock): kept for 2 days
    later, _ = prune_history(store, policy, now=now + 2 * DAY + 60)
    assert later.pages == 2


def test_serve_prunes_its_audit_file_and_goes_on_appending(store: Store, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nsites:\n  zon: {retention: 1h}\n")
    now = time.time()
    old, new = now - 7200, now - 60
    entries = [
        {"ts": old, "decision": "paged", "event": {"site": "zon", "room": "12"}},
        {"ts": old, "decision": "routed", "site": "maan", "room": "1"},
        {"ts": new, "decision": "paged", "timer": "grace", "site": "zon", "room": "12"},
    ]
    path = tmp_path / "audit.jsonl"
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(e) + "\n" for e in entries) + "not json\n")
        _, lines = prune_history(store, load_policy(rules), handle, path, now=now)
        handle.write('{"ts": 1, "after": true}\n')
    assert lines == 1
    kept = path.read_text().splitlines()
    assert [line[:40] for line in kept[:-1]] == [
        json.dumps(entries[1])[:40],
        json.dumps(entries[2])[:40],
        "not json",
    ]
    assert kept[-1] == '{"ts": 1, "after": true}'  # the open handle writes to the new file
    assert not (tmp_path / "audit.jsonl.pruning").exists()
