"""Every pending timer survives a restart of ``sensorhub serve`` in a new process.

Each test runs ``python -m sensorhub serve`` (event clock, lateness 1 s) as a process of its own
with one ``PYTHONHASHSEED``, publishes the events that start a timer, waits until the store
holds them, stops the process, and starts a new one with another hash seed on the same store.
Then event time moves past the timer's due time (heartbeats from a room nobody watches), and
the timer's page must come exactly once, with ``ts`` the time the timer fired (docs/contract.md
section 2), and no other first page of its incident.

Each is run twice: stopped with SIGTERM (serve saves a snapshot of the classifier on stopping:
the new process resumes from the snapshot alone, its journal empty) and killed with SIGKILL (no
snapshot: the new process resumes from the journal alone). A snapshot carries the fingerprint
of the rules it was made under, which must be equal in every process whatever the hash seed
(it once was the SHA-256 of pickle bytes, and every restart in a new process dropped the
classifier's pending timers).

The first process runs with a long idle flush: an idle flush runs event time on 30 s past the
latest event, which would fire the short timers (fall, bed mat, door) before the restart. The
second runs with the usual 1 s, so that whatever the idle flush decides after the restart is
checked too.
"""

from __future__ import annotations

import base64
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sensorhub.contract import ACK_TOPIC
from sensorhub.rules import load_policy
from sensorhub.store import CLASSIFIER_STATE, open_store
from tests.conftest import Names, Received, TestClient, wait_until

from .conftest import ServeProcess
from .test_serve import NIGHT, event

MakeClient = Callable[..., TestClient]

#: PYTHONHASHSEED of the first process, and of the process that takes over from it.
SEED_BEFORE, SEED_AFTER = 11, 4242
#: The first process's idle flush: never within a test (it would run event time on 30 s).
NO_IDLE_FLUSH = 600.0
#: How a process is stopped: gracefully (a snapshot is saved) or killed (the journal alone).
STOPS = ["sigterm", "kill-9"]

#: 23:00 local (NIGHT) is at night. Rooms as in tests/scenario.py, with short timers where a
#: test waits for one: a bathroom grace of 1 min, a silence of 1 min.
RULES = """\
version: 1
sites:
  {site}:
    rooms:
      normal: {{bathroom_grace: 1m}}
      normal-nocam: {{bathroom_grace: 1m}}
      high-nocam: {{resident: {{fall_risk: high}}}}
      wander-nocam: {{resident: {{wanders: true}}}}
      quiet: {{silent_after: 1m}}
"""

#: A room nobody watches: its heartbeats move event time. And the room of a last resident call,
#: paged at once, after which everything before it has been decided.
CLOCK_ROOM, LAST_ROOM = "99", "last"


def rules_file(folder: Path, site: str) -> Path:
    path = folder / "rules.yaml"
    path.write_text(RULES.format(site=site), encoding="utf-8")
    return path


# -- serve in a process with a hash seed of its own ------------------------------------------


@pytest.fixture
def serve_site(
    serve_process: Callable[..., ServeProcess], names: Names, tmp_path: Path
) -> Callable[[], ServeProcess]:
    """``serve`` as a process on this module's site (rules_file)."""
    return lambda: serve_process(rules_file(tmp_path, names.site))


# -- the store, read from the test ------------------------------------------------------------


def events_kept(store_url: str) -> int:
    """How many events the store holds for a restart: those taken into the last snapshot of
    the classifier, and those journalled since."""
    with open_store(store_url) as store:
        snapshot = store.load_state(CLASSIFIER_STATE)
        journal = store.journal()
    taken = 0
    if snapshot is not None:
        classifier = pickle.loads(base64.b64decode(snapshot["classifier"]))  # noqa: S301 - ours
        taken = classifier.next_seq
    return taken + sum(1 for entry in journal if not entry.is_tick)


def wait_until_kept(service: ServeProcess, count: int) -> None:
    wait_until(lambda: events_kept(service.store_url) >= count, f"{count} events in the store")


def check_stopped(service: ServeProcess, how: str, count: int) -> None:
    """What the next process resumes from: a snapshot alone (SIGTERM) or the journal alone."""
    with open_store(service.store_url) as store:
        snapshot = store.load_state(CLASSIFIER_STATE)
        journalled = sum(1 for entry in store.journal() if not entry.is_tick)
    if how == "sigterm":
        assert snapshot is not None, "serve saves a snapshot when it stops"
        # the same rules have the same fingerprint in this process, whatever its hash seed
        assert snapshot["rules"] == load_policy(service.rules).fingerprint
        assert journalled == 0
        assert events_kept(service.store_url) == count
    else:
        assert snapshot is None, "a snapshot was saved before the kill: the test is too slow"
        assert journalled == count


# -- events and pages -------------------------------------------------------------------------


@dataclass(frozen=True)
class At:
    """An event ``t`` s after NIGHT from the room's device of ``kind`` (with an id, as a
    redelivery after a kill must be recognised)."""

    t: float
    room: str
    kind: str
    name: str
    value: float | None = None

    def publish(self, client: TestClient, names: Names) -> None:
        extra: dict[str, Any] = {} if self.value is None else {"value": self.value}
        payload = event(self.t, self.name, id=f"{self.name}@{self.t:g}", **extra)
        client.publish(names.topic(self.room, self.kind), payload)


def advance(client: TestClient, names: Names, t: float) -> None:
    At(t, CLOCK_ROOM, "motion", "heartbeat").publish(client, names)


def settle(client: TestClient, names: Names, service: ServeProcess, t: float) -> None:
    """Everything up to event time ``t`` decided and paged, and the idle flush after it done.

    A resident call at ``t`` is paged on arrival, after everything the events before it
    decided. It stays buffered (inside the lateness) until the idle flush decides it, which
    serve logs: anything the flush decides is paged by then too."""
    log_before = len(service.text())
    At(t, LAST_ROOM, "call", "pressed").publish(client, names)
    client.wait_for(lambda m: m.json()["room"] == LAST_ROOM)
    wait_until(lambda: "no message for" in service.text()[log_before:], "the idle flush")
    time.sleep(0.2)  # the flush's pages are logged as they are published
    assert "not taken up" not in service.text()  # a snapshot is resumed from, never dropped


def pages(client: TestClient) -> list[dict[str, Any]]:
    """The pages of every room but LAST_ROOM, once each (a page sent again after a kill, not
    yet confirmed by the broker then, has the same page_id)."""
    seen: dict[str, dict[str, Any]] = {}
    for message in client.matching(lambda _: True):
        page = message.json()
        if page["room"] != LAST_ROOM:
            seen.setdefault(page["page_id"], page)
    return list(seen.values())


def is_room_page(room: str, escalation: int) -> Callable[[Received], bool]:
    def match(message: Received) -> bool:
        page = message.json()
        return page["room"] == room and page["escalation"] == escalation

    return match


# -- every kind of pending timer of the classifier ---------------------------------------------


@dataclass(frozen=True)
class Timer:
    """Events that leave a timer pending (published to the first process), events for the
    second, how far event time then moves, and the page the timer must give."""

    before: tuple[At, ...]
    after: tuple[At, ...]
    advance_to: float
    room: str
    kind: str
    audience: str
    ts: float  # of the page, after NIGHT: when the timer fires


TIMERS = {
    # an optical fall not contradicted within fall_confirm (10 s): paged when the window ends
    "fall_confirmation": Timer(
        (At(-60, "normal", "optical", "in_bed"), At(0, "normal", "optical", "fall")),
        (),
        12,
        "normal",
        "fall",
        "care",
        10,
    ),
    # a normal-risk resident out of bed at night (the camera decides): bathroom_grace 1 min
    "bathroom_grace_camera": Timer(
        (
            At(-60, "normal", "optical", "in_bed"),
            At(0, "normal", "optical", "out_of_bed"),
            At(20, "normal", "optical", "in_bathroom"),
        ),
        (),
        62,
        "normal",
        "absent_too_long",
        "care",
        60,
    ),
    # no camera: the bed mat's bed_exit_confirm (5 s) is pending at the restart; when it
    # fires the resident has left the bed at the vacated time, and the grace runs from then
    "bed_mat_confirmation_then_grace": Timer(
        (At(-60, "normal-nocam", "bed", "occupied"), At(0, "normal-nocam", "bed", "vacated")),
        (),
        62,
        "normal-nocam",
        "absent_too_long",
        "care",
        60,
    ),
    # no camera, high fall risk: the bed exit is paged when bed_exit_confirm (5 s) fires
    "bed_mat_confirmation_high_risk": Timer(
        (At(-60, "high-nocam", "bed", "occupied"), At(0, "high-nocam", "bed", "vacated")),
        (),
        7,
        "high-nocam",
        "bed_exit",
        "care",
        5,
    ),
    # 70 dB(A) every 5 s from 0 to 15 s, a restart, then on to 30 s: paged by the report at
    # 30 s (a run's start survives the restart; the page is decided by an event, not a timer)
    "sustained_sound": Timer(
        tuple(At(t, "normal", "acoustic", "sound", 70) for t in range(0, 20, 5)),
        tuple(At(t, "normal", "acoustic", "sound", 70) for t in range(20, 35, 5)),
        32,
        "normal",
        "acoustic",
        "care",
        30,
    ),
    # a wanderer's door opens with the bed mat vacated and no camera: the room is looked at
    # for wandering_confirm (20 s), then it is wandering
    "wandering_door_window": Timer(
        (
            At(-60, "wander-nocam", "bed", "occupied"),
            At(-30, "wander-nocam", "bed", "vacated"),
            At(0, "wander-nocam", "door", "open"),
        ),
        (),
        22,
        "wander-nocam",
        "wandering",
        "care",
        20,
    ),
    # a camera obstructed for obstructed_after (60 s) is a device fault, for technicians
    "obstructed_camera": Timer(
        (At(-60, "normal", "optical", "in_bed"), At(0, "normal", "optical", "obstructed")),
        (),
        62,
        "normal",
        "device_fault",
        "technical",
        60,
    ),
    # a device heard last at 0 with silent_after 1 min is a device fault at 60 s
    "silent_device": Timer(
        (At(0, "quiet", "bed", "heartbeat"),),
        (),
        62,
        "quiet",
        "device_fault",
        "technical",
        60,
    ),
}


@pytest.mark.mqtt
@pytest.mark.parametrize("how", STOPS)
@pytest.mark.parametrize("timer", list(TIMERS.values()), ids=list(TIMERS))
def test_a_pending_timer_fires_once_at_its_due_time_in_a_new_process_with_another_hash_seed(
    serve_site: Callable[[], ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    timer: Timer,
    how: str,
) -> None:
    client = mqtt_client([names.pages])
    service = serve_site()
    service.start(SEED_BEFORE, idle_flush=NO_IDLE_FLUSH)
    for item in timer.before:
        item.publish(client, names)
    wait_until_kept(service, len(timer.before))
    service.stop_by(how)
    check_stopped(service, how, len(timer.before))
    assert pages(client) == []  # nothing was due before the restart

    service.start(SEED_AFTER)
    for item in timer.after:
        item.publish(client, names)
    advance(client, names, timer.advance_to)
    (message,) = client.wait_for(is_room_page(timer.room, 0))
    settle(client, names, service, timer.advance_to + 1)

    page = message.json()
    assert (page["kind"], page["audience"]) == (timer.kind, timer.audience)
    assert page["ts"] == NIGHT + timer.ts  # when the timer fired
    assert [p["page_id"] for p in pages(client)] == [page["page_id"]]  # nothing else ...
    assert len(client.matching(lambda m: m.json()["room"] != LAST_ROOM)) == 1  # ... sent once


# -- a pending escalation step of the router ------------------------------------------------


def call_paged(client: TestClient, names: Names) -> dict[str, Any]:
    """A resident call at NIGHT in room 12, paged at once (high: re-sent after 2 min, to the
    team after 5 min, by the shipped rules)."""
    At(0, "12", "call", "pressed").publish(client, names)
    (first,) = client.wait_for(is_room_page("12", 0))
    page: dict[str, Any] = first.json()
    return page


@pytest.mark.mqtt
@pytest.mark.parametrize("how", STOPS)
def test_a_pending_escalation_step_is_sent_once_at_its_due_time_in_a_new_process(
    serve_site: Callable[[], ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    how: str,
) -> None:
    """A call paged at 0 s (escalation 0) by the first process; the re-send to the same
    recipients (escalation 1, due at 2 min) is sent by the new one at exactly 120 s, once, and
    the first page is not sent again as a new one (a re-send after a kill has its page_id)."""
    client = mqtt_client([names.pages])
    service = serve_site()
    service.start(SEED_BEFORE, idle_flush=NO_IDLE_FLUSH)
    first = call_paged(client, names)  # in the store before it is published
    service.stop_by(how)
    check_stopped(service, how, 1)

    service.start(SEED_AFTER)
    advance(client, names, 110)
    advance(client, names, 122)
    (message,) = client.wait_for(is_room_page("12", 1))
    settle(client, names, service, 123)

    again = message.json()
    assert again["incident"] == first["incident"]
    assert again["ts"] == NIGHT + 120
    assert again["recipient"] == first["recipient"]  # to: same
    assert [(p["escalation"], p["ts"] - NIGHT) for p in pages(client)] == [(0, 0), (1, 120)]


def acknowledged(store_url: str, incident: str) -> tuple[list[str], list[str]]:
    """Who acknowledged ``incident`` in the store: in effect (the store's acks), and held (an
    acknowledgement ahead of the event clock waits in the router's row of the incident)."""
    with open_store(store_url) as store:
        taken = [ack.by for ack in store.acks(incident)]
        states = [s for s in store.incidents() if s["page"]["incident"] == incident]
    return taken, [ack["by"] for state in states for ack in state["acks"]]


@pytest.mark.mqtt
@pytest.mark.parametrize("how", STOPS)
@pytest.mark.parametrize("ack", ["held", "in_effect"])
def test_an_acknowledgement_given_before_a_restart_still_stops_the_escalation(
    serve_site: Callable[[], ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    ack: str,
    how: str,
) -> None:
    """The acknowledgement takes effect at the latest event time (0 s), ahead of the event
    clock (-1 s, the lateness): ``held``, the process stops with it waiting in the incident's
    row and it takes effect in the new process; ``in_effect``, event time moved on first.
    Either way neither the re-send (2 min) nor the escalation to the team (5 min) is sent."""
    client = mqtt_client([names.pages])
    service = serve_site()
    service.start(SEED_BEFORE, idle_flush=NO_IDLE_FLUSH)
    first = call_paged(client, names)
    incident = first["incident"]
    client.publish(f"{ACK_TOPIC}/{names.site}", {"incident": incident, "by": "night-team"})
    if ack == "in_effect":
        advance(client, names, 5)
    where = ([], ["night-team"]) if ack == "held" else (["night-team"], [])
    wait_until(
        lambda: acknowledged(service.store_url, incident) == where,
        f"the acknowledgement {ack} in the store",
    )
    service.stop_by(how)
    check_stopped(service, how, 1 if ack == "held" else 2)

    service.start(SEED_AFTER)
    advance(client, names, 122)  # past the re-send (2 min) ...
    advance(client, names, 302)  # ... and the escalation to the team (5 min)
    settle(client, names, service, 303)
    assert [(p["escalation"], p["incident"]) for p in pages(client)] == [(0, incident)]
    with open_store(service.store_url) as store:
        assert [(a.by, a.at) for a in store.acks(incident)] == [("night-team", NIGHT)]


#: Timers due more than 30 s after their events: still pending after an idle flush.
LONG_TIMERS = ["bathroom_grace_camera", "obstructed_camera", "silent_device"]


@pytest.mark.mqtt
@pytest.mark.parametrize("how", STOPS)
@pytest.mark.parametrize("name", LONG_TIMERS)
def test_a_timer_still_pending_after_an_idle_flush_fires_once_after_a_restart(
    serve_site: Callable[[], ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    name: str,
    how: str,
) -> None:
    """As serve runs by default: the idle flush decided everything and ran event time on 30 s
    before the stop (SIGTERM: into the snapshot; kill -9: the flush is lost with the process,
    as it wrote nothing), and the timer still fires at its due time, once."""
    timer = TIMERS[name]
    client = mqtt_client([names.pages])
    service = serve_site()
    service.start(SEED_BEFORE)
    for item in timer.before:
        item.publish(client, names)
    wait_until_kept(service, len(timer.before))
    wait_until(lambda: "no message for" in service.text(), "the idle flush")
    service.stop_by(how)
    assert pages(client) == []

    service.start(SEED_AFTER)
    advance(client, names, timer.advance_to)
    (message,) = client.wait_for(is_room_page(timer.room, 0))
    settle(client, names, service, timer.advance_to + 1)

    page = message.json()
    assert (page["kind"], page["ts"]) == (timer.kind, NIGHT + timer.ts)
    assert [p["page_id"] for p in pages(client)] == [page["page_id"]]
