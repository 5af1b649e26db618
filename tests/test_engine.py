"""The engine: one round at a time, the same pages whatever the batching, and rules reloaded
without losing anything."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from sensorhub.codec.acks import AckIn, recorded_ack
from sensorhub.contract import Ack
from sensorhub.engine import Engine, Round
from sensorhub.rules import Policy, load_policy
from tests.scenario import NIGHT, SITE, ev

RULES = """
version: 1
sites:
  zon:
    rooms:
      stays: {resident: {bathroom_grace: 2m}}
      changes: {resident: {bathroom_grace: 2m}}
"""
#: the same, but room "changes" gets a longer grace, and the site another care recipient
CHANGED = RULES.replace(
    "changes: {resident: {bathroom_grace: 2m}}", "changes: {resident: {bathroom_grace: 5m}}"
).replace("zon:\n", "zon:\n    recipients: {care: day-team, technical: technicians}\n")


@dataclass
class Message:
    topic: str
    payload: bytes
    received_at: float
    retained: bool = False


def messages(*events: dict[str, object]) -> list[Message]:
    out = []
    for event in events:
        body = {k: v for k, v in event.items() if k not in ("site", "room", "kind", "device")}
        topic = f"care/{event['site']}/{event['room']}/{event['kind']}/{event['device']}"
        out.append(Message(topic, json.dumps(body).encode(), 0.0))
    return out


def policy(tmp_path: Path, text: str, name: str = "rules.yaml") -> Policy:
    path = tmp_path / name
    path.write_text(text)
    return load_policy(path)


def pages(rounds: Sequence[Round]) -> list[tuple[str, str, int, float, str]]:
    return [
        (p.room, p.kind, p.escalation, p.ts, p.recipient) for work in rounds for p in work.pages
    ]


def test_rounds_cut_anywhere_give_the_same_pages_escalations_included(tmp_path: Path) -> None:
    stream = []
    for n in range(40):
        t = n * 30.0
        stream += messages(
            ev(t, "stays", "call", "pressed"),
            ev(t + 1, "stays", "optical", "out_of_bed" if n % 3 else "in_bed"),
        )
        if n % 5 == 0:
            stream += messages(ev(t + 2, "stays", "presence", "staff_in"))
    stream += messages(ev(3000, "stays", "motion", "heartbeat"))
    results = []
    for cut in (1, 7, len(stream)):
        engine = Engine(policy(tmp_path, RULES))
        rounds = [engine.round(stream[i : i + cut]) for i in range(0, len(stream), cut)]
        rounds.append(engine.round([], drain=True))
        results.append(sorted(pages(rounds)))
    assert results[0] == results[1] == results[2]
    assert any(escalation > 0 for _, _, escalation, _, _ in results[0])


def test_a_reload_keeps_open_incidents_escalations_and_unchanged_rooms_timers(
    tmp_path: Path,
) -> None:
    engine = Engine(policy(tmp_path, RULES))
    first = engine.round(
        messages(
            ev(0, "stays", "call", "pressed"),
            ev(1, "stays", "optical", "out_of_bed"),
            ev(2, "changes", "optical", "out_of_bed"),
            ev(20, "other", "motion", "heartbeat"),
        )
    )
    (call,) = first.pages
    reloaded = engine.reload(policy(tmp_path, CHANGED, "changed.yaml"))
    assert [(r.reload.room, r.reload.pending) for r in reloaded] == [
        ("changes", (("absent", NIGHT + 2 + 120),))
    ]
    (entry,) = [r.to_json() for r in reloaded]
    assert entry["decision"] == "reloaded"
    assert "bathroom_grace 120.0 -> 300.0" in entry["reason"]
    assert "keeps its due time" in entry["reason"]
    later = engine.round(messages(ev(200, "other", "motion", "heartbeat")))
    assert pages([later]) == [
        ("stays", "call", 1, NIGHT + 120, "night-team"),  # the call's escalation, as planned
        ("stays", "absent_too_long", 0, NIGHT + 1 + 120, "day-team"),  # the timer kept
        ("changes", "absent_too_long", 0, NIGHT + 2 + 120, "day-team"),  # its old due time
    ]
    assert call.recipient == "night-team"


def test_a_reload_with_the_same_rules_changes_no_room(tmp_path: Path) -> None:
    engine = Engine(policy(tmp_path, RULES))
    engine.round(messages(ev(1, "stays", "optical", "out_of_bed")))
    assert engine.reload(policy(tmp_path, RULES, "again.yaml")) == []


@pytest.mark.parametrize("classifier", ["fast", "reference"])
def test_a_recording_acknowledgement_stops_what_follows_it_in_event_time(
    tmp_path: Path, classifier: str
) -> None:
    engine = Engine(policy(tmp_path, RULES), classifier=classifier)  # type: ignore[arg-type]
    (call,) = engine.round(messages(ev(0, "stays", "call", "pressed"))).pages
    body = {"incident": call.incident, "by": "night-team", "ts": NIGHT + 100}
    ack = Message(f"sensorhub/ack/{SITE}", json.dumps(body).encode(), 0.0)
    work = engine.round([ack, *messages(ev(400, "other", "motion", "heartbeat"))])
    assert [a.by for a in work.acks] == ["night-team"]
    assert work.pages == []  # the escalation due at +120 comes after it: not sent


def _ack(incident: str, by: str, ts: float | None = None, received_at: float = 0.0) -> Message:
    body: dict[str, object] = {"incident": incident, "by": by}
    if ts is not None:
        body["ts"] = ts
    return Message(f"sensorhub/ack/{SITE}", json.dumps(body).encode(), received_at)


@pytest.mark.parametrize(
    ("by", "ts", "code", "reason"),
    [
        ("mallory (not staff)", NIGHT + 100, "not_staff", "none of the staff of site zon"),
        ("night-team", 946728000.0, "bad_time", "before the incident's first page"),  # 2000
    ],
)
def test_an_acknowledgement_not_by_staff_or_from_long_ago_is_dead_lettered_and_counted(
    tmp_path: Path, by: str, ts: float, code: str, reason: str
) -> None:
    """The escalation goes on; the dead letter says why; the round counts it by reason."""
    engine = Engine(policy(tmp_path, RULES))
    (call,) = engine.round(messages(ev(0, "stays", "call", "pressed"))).pages
    work = engine.round(
        [_ack(call.incident, by, ts), *messages(ev(400, "other", "motion", "heartbeat"))]
    )
    assert work.acks == []
    assert work.refused == {code: 1}
    (letter,) = work.dead_letters
    assert letter.topic == f"sensorhub/ack/{SITE}"
    assert reason in letter.error
    assert [(p.escalation, p.ts) for p in work.pages] == [(1, NIGHT + 120), (2, NIGHT + 300)]


def test_an_acknowledgement_of_an_unknown_or_closed_incident_is_dead_lettered_and_counted(
    tmp_path: Path,
) -> None:
    """A pager gateway's mistake shows: nothing is stopped, and the dead letter says why."""
    engine = Engine(policy(tmp_path, RULES))
    (call,) = engine.round(messages(ev(0, "stays", "call", "pressed"))).pages
    ack = _ack(call.incident, "night-team", NIGHT + 30)
    first = engine.round([ack, *messages(ev(50, "other", "motion", "heartbeat"))])
    assert [a.by for a in first.acks] == ["night-team"]
    unknown, closed = f"{SITE}/nowhere/fall/1", call.incident
    for at, incident, why in (
        (60, unknown, "an incident the router does not know"),
        (70, closed, "already acknowledged"),
    ):
        ack = _ack(incident, "night-team", NIGHT + at)
        work = engine.round([ack, *messages(ev(at + 5, "other", "motion", "heartbeat"))])
        assert (work.acks, work.refused) == ([], {"not_open": 1})
        (letter,) = work.dead_letters
        assert incident in letter.payload
        assert why in letter.error


def test_on_the_wall_clock_an_acknowledgement_far_ahead_of_its_receipt_is_refused(
    tmp_path: Path,
) -> None:
    """A ``ts`` over ACK_SKEW ahead of when it came is a gateway's wrong clock: refused, not
    capped; within it, the acknowledgement takes effect when it was received."""
    engine = Engine(policy(tmp_path, RULES), clock="wall")
    (call,) = engine.round(messages(ev(0, "stays", "call", "pressed"))).pages
    ahead = engine.round([_ack(call.incident, "night-team", NIGHT + 90, NIGHT + 20)])
    assert ahead.refused == {"bad_time": 1}
    (letter,) = ahead.dead_letters
    assert "70 s after sensorhub received it" in letter.error
    close = engine.round(
        [_ack(call.incident, "night-team", NIGHT + 50, NIGHT + 20)], tick=NIGHT + 40
    )
    assert (close.refused, [(a.by, a.at) for a in close.acks]) == ({}, [("night-team", NIGHT + 20)])


def test_a_malformed_acknowledgement_is_counted_as_such(tmp_path: Path) -> None:
    engine = Engine(policy(tmp_path, RULES))
    bad = Message(f"sensorhub/ack/{SITE}", b'{"by": "night-team"}', 0.0)
    work = engine.round([bad])
    assert work.refused == {"malformed": 1}
    assert len(work.dead_letters) == 1


@pytest.mark.parametrize("classifier", ["fast", "reference"])
def test_a_recordings_acknowledgement_by_someone_not_on_the_staff_stops_nothing(
    tmp_path: Path, classifier: str
) -> None:
    """Replay honours the staff check as serve does: the line is a dead letter with its
    source, and the escalation it would have stopped is paged."""
    engine = Engine(policy(tmp_path, RULES), classifier=classifier)  # type: ignore[arg-type]
    (call,) = engine.round(messages(ev(0, "stays", "call", "pressed"))).pages
    line = {"ts": NIGHT + 100, "site": SITE, "ack": {"incident": call.incident, "by": "mallory"}}
    ack = recorded_ack(json.dumps(line).encode(), 0, 0.0, "rec.jsonl:7")
    assert isinstance(ack, AckIn)
    work = engine.feed_events([], [ack])
    (letter,) = work.dead_letters
    assert (letter.source, "none of the staff" in letter.error) == ("rec.jsonl:7", True)
    later = engine.round(messages(ev(400, "other", "motion", "heartbeat")))
    assert [(p.escalation, p.ts) for p in later.pages] == [(1, NIGHT + 120), (2, NIGHT + 300)]


def test_a_paging_systems_acknowledgement_is_checked_as_one_over_mqtt(tmp_path: Path) -> None:
    """The recipient a pager's call address answers for (``EspaChannel``) must be staff too."""
    engine = Engine(policy(tmp_path, RULES), clock="wall")
    (call,) = engine.round(messages(ev(0, "stays", "call", "pressed"))).pages
    stranger = AckIn(Ack(SITE, call.incident, "dect-7"), 0, "espa:dect", b"", NIGHT + 20)
    work = engine.round([], acks=[stranger], tick=NIGHT + 40)
    assert (work.refused, work.acks) == ({"not_staff": 1}, [])
    staff = AckIn(Ack(SITE, call.incident, "night-team"), 0, "espa:dect", b"", NIGHT + 50)
    work = engine.round([], acks=[staff], tick=NIGHT + 70)
    assert [(a.by, a.at) for a in work.acks] == [("night-team", NIGHT + 50)]


DECLARED = """
version: 1
sites:
  zon:
    rooms:
      stays: {devices: [cam-1, stays-call]}
"""


def test_a_room_that_declares_its_devices_dead_letters_any_other_and_never_watches_it(
    tmp_path: Path,
) -> None:
    """Heartbeats on made-up device names become dead letters, not devices paged silent later;
    a room that declares nothing learns its devices as before."""
    engine = Engine(policy(tmp_path, DECLARED))
    made_up = [ev(n, "stays", "motion", "heartbeat", f"fake-{n}") for n in range(5)]
    work = engine.round(
        messages(
            ev(0, "stays", "optical", "heartbeat", "cam-1"),
            *made_up,
            ev(6, "stays", "optical", "heartbeat", "cam-l"),
            ev(7, "other", "motion", "heartbeat", "pir-1"),
        )
    )
    assert work.events == {"optical": 1, "motion": 1}
    assert len(work.dead_letters) == 6
    fake, typo = work.dead_letters[0], work.dead_letters[-1]
    assert fake.topic == "care/zon/stays/motion/fake-0"
    assert "device 'fake-0' is not one of the devices the rule file declares for room" in fake.error
    assert "(cam-1, stays-call)" in fake.error
    assert "did you mean 'cam-1'?" in typo.error
    later = engine.round(messages(ev(1300, "other", "motion", "heartbeat", "pir-1")))
    silent = {p.incident.split("/")[3] for p in later.pages if p.kind == "device_fault"}
    assert silent == {"cam-1", "pir-1"}  # the devices taken: never the made-up ones
