"""Data minimisation in the engine and in replay: fields outside the contract never reach the
journal or the audit unless the site allow-lists them, blobs never; residents' names never
leave the rule file (contract v1.1 section 1, docs/privacy.md)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from sensorhub import cli
from sensorhub.codec.payload import decode_mqtt
from sensorhub.contract import Event
from sensorhub.engine import Engine
from sensorhub.rules import load_policy
from tests.scenario import NIGHT, SITE
from tests.test_engine import Message

SNAPSHOT = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 60).decode("ascii")
RESIDENT = "Mevr. Jansen-de Vries"
RULES = f"""
version: 1
sites:
  {SITE}:
    keep_fields: [note, frame]
    rooms:
      "12":
        resident: {{name: {RESIDENT}, fall_risk: high}}
  other: {{}}
"""
#: what must not be kept: the values (a dead letter's reason names the fields it left out)
PRIVATE = (SNAPSHOT[:40], "Mevr", "data:image")
DROPPED = ("snapshot_jpeg", "resident_name", "frame")


def sensitive(t: float, event: str, **extra: object) -> dict[str, object]:
    """A camera's payload with what must not be kept, and an allow-listed note."""
    return {
        "ts": NIGHT + t,
        "event": event,
        "id": f"{event}@{t:g}",
        "snapshot_jpeg": SNAPSHOT,
        "resident_name": "Mevr. A.",
        "note": "seen by the bed",
        "frame": "data:image/png;base64,iVBORw0KGgo=",  # allow-listed, but a blob
        **extra,
    }


def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return path


def message(t: float, event: str, site: str = SITE) -> Message:
    body = json.dumps(sensitive(t, event)).encode()
    return Message(f"care/{site}/12/optical/cam-12", body, NIGHT + t)


def test_serve_journals_and_audits_only_the_contract_and_allow_listed_fields(
    tmp_path: Path,
) -> None:
    engine = Engine(load_policy(rules(tmp_path)), audit=True)
    taken = [message(0, "in_bed"), message(30, "out_of_bed"), message(60, "in_bed", "other")]
    work = engine.round(taken, drain=True)

    journal = [entry for entry in work.journal if not entry.is_tick]
    audit = json.dumps([record.to_json() for record in work.audit])
    assert len(journal) == 3
    assert work.pages  # the bed exit of a high-risk resident
    for kept in (*[entry.payload for entry in journal], audit):
        assert not any(text in kept for text in PRIVATE + DROPPED), kept[:300]
    first, _, other = (json.loads(entry.payload) for entry in journal)
    assert first == {"ts": NIGHT, "event": "in_bed", "id": "in_bed@0", "note": "seen by the bed"}
    assert "note" not in other  # site "other" keeps nothing outside the contract
    assert '"note": "seen by the bed"' in audit

    # what is journalled decodes to the same event (a restart gives the journal back)
    for entry, sent in zip(journal, taken, strict=True):
        again = decode_mqtt(entry.topic, entry.payload.encode(), entry.at)
        original = decode_mqtt(sent.topic, sent.payload, sent.received_at)
        assert isinstance(again, Event)
        assert isinstance(original, Event)
        assert again.raw == engine._kept(original.raw, original.site)
        original.raw = again.raw
        assert again == original


def test_a_payload_of_contract_fields_is_journalled_as_it_came(tmp_path: Path) -> None:
    engine = Engine(load_policy(rules(tmp_path)))
    body = b'{"event": "in_bed",   "ts": %r}' % NIGHT
    work = engine.round([Message(f"care/{SITE}/12/optical/cam-12", body, NIGHT)])
    assert [entry.payload for entry in work.journal] == [body.decode()]


def recording(tmp_path: Path) -> Path:
    where = {"site": SITE, "room": "12", "kind": "optical", "device": "cam-12"}
    lines = [
        sensitive(-60, "in_bed") | where,
        sensitive(0, "out_of_bed") | where,
        sensitive(1, "no_person", confidence=85) | where,  # refused: a dead letter
    ]
    path = tmp_path / "night.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.mark.parametrize("classifier", ["fast", "reference"])
def test_replay_audit_and_dead_letters_keep_no_snapshot_and_no_name(
    tmp_path: Path, classifier: str
) -> None:
    """Replay's --audit obeys the site's keep_fields as serve does; its dead letters keep the
    contract's fields only; the resident's name in the rule file is on no output."""
    out = tmp_path / "out"
    out.mkdir()
    code = cli.main(
        [
            "replay",
            str(recording(tmp_path)),
            "--rules",
            str(rules(tmp_path)),
            "--pages",
            str(out / "pages.jsonl"),
            "--audit",
            str(out / "audit.jsonl"),
            "--deadletter",
            str(out / "dead.jsonl"),
            "--classifier",
            classifier,
        ]
    )
    assert code == 0
    pages = (out / "pages.jsonl").read_text()
    audit = (out / "audit.jsonl").read_text()
    dead = (out / "dead.jsonl").read_text()
    assert json.loads(pages.splitlines()[0])["kind"] == "bed_exit"
    assert '"note": "seen by the bed"' in audit
    assert json.loads(dead)["error"].startswith("field 'confidence'")
    for text in (pages, audit, dead):
        assert not any(private in text for private in PRIVATE)
        assert RESIDENT not in text
    assert not any(name in pages + audit for name in DROPPED)
    # left out, as its reason says: a dead letter keeps no allow-listed field either
    assert "'snapshot_jpeg', 'resident_name', 'note', 'frame'" in dead
