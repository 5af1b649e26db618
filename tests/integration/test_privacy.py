"""Residents' privacy in ``sensorhub serve`` on a real broker and store, across a restart in a
new process with another hash seed: a camera's snapshot and a resident's name sent in a payload
reach neither the journal nor the audit (the store's, and the --audit file) nor a dead letter;
an allow-listed field does; the journal, minimised, still gives the same pages after a kill;
the resident's name in the rule file is on no output (docs/privacy.md)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sensorhub.contract import DEADLETTER_TOPIC
from sensorhub.routing.acks import AckRecord
from sensorhub.store import open_store
from tests.conftest import Names, Received, TestClient, wait_until
from tests.store.test_history import DAY
from tests.test_privacy import DROPPED, PRIVATE, RESIDENT, SNAPSHOT

from .conftest import ServeProcess
from .test_restart import (
    NO_IDLE_FLUSH,
    SEED_AFTER,
    SEED_BEFORE,
    advance,
    is_room_page,
    pages,
    settle,
    wait_until_kept,
)
from .test_serve import NIGHT, event

MakeClient = Callable[..., TestClient]

RULES = """\
version: 1
sites:
  {site}:
    keep_fields: [note]
    rooms:
      normal: {{resident: {{name: {resident}}}}}
"""


def sensitive(t: float, name: str, **extra: Any) -> dict[str, Any]:
    return event(
        t,
        name,
        id=f"{name}@{t:g}",
        snapshot_jpeg=SNAPSHOT,
        resident_name="Mevr. A.",
        note="seen by the bed",
        **extra,
    )


def is_dead_letter(message: Received) -> bool:
    return message.topic == DEADLETTER_TOPIC


@pytest.mark.mqtt
def test_a_snapshot_and_a_name_are_kept_nowhere_and_the_journal_still_restarts(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.format(site=names.site, resident=RESIDENT), encoding="utf-8")
    audit_file = tmp_path / "audit.jsonl"
    service = serve_process(rules)
    service.command += ["--audit", str(audit_file)]
    client = mqtt_client([names.pages])
    dead = mqtt_client([DEADLETTER_TOPIC])

    service.start(SEED_BEFORE, idle_flush=NO_IDLE_FLUSH)
    camera = names.topic("normal", "optical")
    client.publish(camera, sensitive(-60, "in_bed"))
    client.publish(camera, sensitive(0, "fall"))
    client.publish(camera, sensitive(1, "no_person", confidence=85))  # refused
    (letter,) = dead.wait_for(is_dead_letter)
    wait_until_kept(service, 2)
    service.kill()  # no snapshot: the new process resumes from the journal alone

    with open_store(service.store_url) as store:
        journal = [entry.payload for entry in store.journal() if not entry.is_tick]
    assert journal  # (what came before may be in a snapshot already)
    assert all(json.loads(payload)["note"] == "seen by the bed" for payload in journal)

    service.start(SEED_AFTER)
    advance(client, names, 12)  # the fall's confirmation (10 s) runs out
    (message,) = client.wait_for(is_room_page("normal", 0))
    settle(client, names, service, 13)
    assert message.json()["kind"] == "fall"
    assert message.json()["ts"] == NIGHT + 10
    assert len(pages(client)) == 1
    service.stop()

    with open_store(service.store_url) as store:
        stored = json.dumps(store.audit_since(0.0)) + "".join(
            entry.payload for entry in store.journal()
        )
    audit = audit_file.read_text(encoding="utf-8")
    assert '"note": "seen by the bed"' in audit
    sent = "".join(m.payload.decode() for c in (client, dead) for m in c.matching(lambda _: True))
    for kept in (*journal, stored, audit, sent, service.text()):
        assert not any(text in kept for text in PRIVATE), kept[:300]
        assert RESIDENT not in kept
    for kept in (*journal, stored, audit):
        assert not any(name in kept for name in DROPPED)
    assert json.loads(letter.json()["payload"])["confidence"] == 85


@pytest.mark.mqtt
def test_serve_forgets_the_history_past_a_sites_retention_when_it_starts(
    serve_process: Callable[..., ServeProcess], names: Names, tmp_path: Path
) -> None:
    """A store and an audit file with entries of two days ago: serve, its site's retention one
    day, forgets them at start, and keeps another site's (30 days by default)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"version: 1\nsites:\n  {names.site}: {{retention: 1d}}\n", encoding="utf-8")
    old = time.time() - 2 * DAY
    entries = [
        {"ts": old, "decision": "routed", "site": names.site, "room": "12", "reason": "r"},
        {"ts": old, "decision": "routed", "site": "elsewhere", "room": "1", "reason": "r"},
    ]
    service = serve_process(rules)
    audit_file = tmp_path / "audit.jsonl"
    audit_file.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    service.command += ["--audit", str(audit_file)]
    with open_store(service.store_url) as store:
        store.commit_step([], {}, entries, acks=[AckRecord(f"{names.site}/12/call/1", "x", old)])

    service.start(SEED_BEFORE)
    wait_until(lambda: "retention: forgot" in service.text(), "the retention at start")
    service.stop()
    with open_store(service.store_url) as store:
        assert [entry["site"] for entry in store.audit_since(0.0)] == ["elsewhere"]
        assert store.acks(f"{names.site}/12/call/1") == []
    assert [json.loads(line)["site"] for line in audit_file.read_text().splitlines()] == [
        "elsewhere"
    ]
    assert "1 audit entries, 1 acknowledgements" in service.text()
