"""The router's audit trail and page texts word for word, over one night that goes through every
decision: held, routed, re-sent, escalated, held mid-escalation, released, acknowledged, ignored
(unknown incident, acknowledgement too early or too late, not staff, already acknowledged or
resolved) and resolved.

The mutation run of routing/router.py (docs/testing.md) found that the other tests look at the
decisions but hardly at what the audit says: these pin it exactly, as an operator reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sensorhub.contract import Page
from sensorhub.core.types import Evidence, Opened, Resolved
from sensorhub.routing.acks import AckRecord
from sensorhub.routing.router import RETAIN, PendingStep, Router
from sensorhub.routing.silences import Silence, Silences
from sensorhub.rules import Policy, load_policy
from tests.routing.test_router import NIGHT, incident_opened, incident_page, mute, policy

__all__ = ["policy"]  # the rules of test_router, as a fixture here too

#: the incidents of the night, as the classifier names them
HELD = "zon/101/bed_exit/1736978400000"
FAULT = "zon/102/device_fault/cam-1/fault/1736978400000"
FALL = "zon/102/fall/1736978400000"
WEST = "zon/201/bed_exit/1736978400000"


def night(policy: Policy) -> tuple[list[dict[str, Any]], list[Page]]:
    """What the router audited (as JSON) and paged over the night."""
    silences = Silences()
    silences.add(mute(room="101", hours=2))
    camera = mute(device="cam-1", hours=2)
    silences.add(camera)
    router = Router(policy, silences=silences)
    fall = incident_page(policy, "fall", NIGHT, "102")
    pages = [
        *router.route(incident_page(policy, "bed_exit", NIGHT, "101")),
        *router.route(incident_page(policy, "device_fault", NIGHT, "102", device="cam-1")),
        *router.route(fall),
        *router.route(incident_page(policy, "bed_exit", NIGHT, "201")),
    ]
    assert [p.incident for p in pages] == [FALL, WEST]
    silences.add(
        Silence(
            site="zon", room="201", until=NIGHT + 150, reason="visit", by="jan", created=NIGHT + 10
        )
    )
    pages += router.advance(NIGHT + 60)
    router.acknowledge("zon/999/fall/1", "e1", NIGHT + 61)
    router.acknowledge(FALL, "e2", NIGHT - 3600)
    router.acknowledge(FALL, "mallory", NIGHT + 61)
    pages += router.advance(NIGHT + 120)
    silences.remove(camera.id, by="jan", at=NIGHT + 200)
    pages += router.advance(NIGHT + 205)
    router.acknowledge(FALL, "e1", NIGHT + 210)
    pages += router.advance(NIGHT + 210)
    router.acknowledge(FALL, "e2", NIGHT + 215)
    pages += router.advance(NIGHT + 215)
    router.resolve("zon/999/fall/1", NIGHT + 220, "fall incident resolved: staff arrived")
    router.resolve(HELD, NIGHT + 230, "bed exit resolved: back in bed")
    router.resolve(FALL, NIGHT + 240, "fall incident resolved: staff arrived")
    router.resolve(FAULT, NIGHT + 250, "device fault resolved: cam-1 reports again")
    router.acknowledge(FAULT, "t1", NIGHT + 260)
    router.acknowledge(WEST, "w1", NIGHT + RETAIN + 1)
    pages += router.advance(NIGHT + 3600)
    return [entry.to_json() for entry in router.take_audit()], pages


def test_the_audit_trail_of_a_night_says_what_was_decided_and_why_word_for_word(
    policy: Policy,
) -> None:
    audit, _ = night(policy)
    assert audit == [
        {
            "ts": NIGHT,
            "decision": "held",
            "reason": "room 101 of site zon is muted (sensor replaced)",
            "incident": HELD,
            "site": "zon",
            "room": "101",
        },
        {
            "ts": NIGHT,
            "decision": "held",
            "reason": (
                "device cam-1 of site zon is muted (sensor replaced); paged "
                "when the silence ends at 2025-01-15T23:59:00Z if still open"
            ),
            "incident": FAULT,
            "site": "zon",
            "room": "102",
        },
        {
            "ts": NIGHT,
            "decision": "routed",
            "reason": (
                "route 'east' to east-night (day-team off duty), escalation "
                "at +60 s to same, +120 s to night-team/day-team"
            ),
            "incident": FALL,
            "site": "zon",
            "room": "102",
            "page_ids": [f"{FALL}/0/east-night"],
        },
        {
            "ts": NIGHT,
            "decision": "routed",
            "reason": (
                "route 'west' to west-night (day-team off duty), escalation "
                "at +120 s to same, +300 s to team"
            ),
            "incident": WEST,
            "site": "zon",
            "room": "201",
            "page_ids": [f"{WEST}/0/west-night"],
        },
        {
            "ts": NIGHT + 60,
            "decision": "escalated",
            "reason": "not acknowledged: re-sent to east-night (escalation 1)",
            "incident": FALL,
            "site": "zon",
            "room": "102",
            "page_ids": [f"{FALL}/1/east-night"],
        },
        {
            "ts": NIGHT + 61,
            "decision": "ignored",
            "reason": (
                "acknowledgement by e1 of an incident the router does not "
                "know (never paged, or forgotten 24 h after it was)"
            ),
            "incident": "zon/999/fall/1",
            "by": "e1",
        },
        {
            "ts": NIGHT - 3600,
            "decision": "ignored",
            "reason": (
                "acknowledgement by e2 given at 2025-01-15T21:00:00Z, before "
                "the incident's first page at 2025-01-15T22:00:00Z: check the "
                "clock of the pager gateway, or leave out 'ts'"
            ),
            "incident": FALL,
            "site": "zon",
            "room": "102",
            "by": "e2",
        },
        {
            "ts": NIGHT + 61,
            "decision": "ignored",
            "reason": (
                "acknowledgement by 'mallory', who is none of the staff of "
                "site zon: acknowledge as one of its pagers or groups "
                "(staff.pagers, staff.groups; for a site without staff, one "
                "of its recipients)"
            ),
            "incident": FALL,
            "site": "zon",
            "room": "102",
            "by": "mallory",
        },
        {
            "ts": NIGHT + 120,
            "decision": "escalated",
            "reason": (
                "not acknowledged: escalated to night-team (escalation 2); "
                "day-team left out: off duty"
            ),
            "incident": FALL,
            "site": "zon",
            "room": "102",
            "page_ids": [f"{FALL}/2/night-team"],
        },
        {
            "ts": NIGHT + 120,
            "decision": "held",
            "reason": "escalation 1 not sent: room 201 of site zon is muted",
            "incident": WEST,
            "site": "zon",
            "room": "201",
        },
        {
            "ts": NIGHT + 205,
            "decision": "released",
            "reason": (
                "route 'faults' to technicians, escalation at +600 s to same, "
                "+1200 s to night-team, +1800 s to t1/e1"
            ),
            "incident": FAULT,
            "site": "zon",
            "room": "102",
            "page_ids": [f"{FAULT}/0/technicians"],
        },
        {
            "ts": NIGHT + 210,
            "decision": "acknowledged",
            "reason": "acknowledged by e1: no escalation was pending",
            "incident": FALL,
            "site": "zon",
            "room": "102",
            "by": "e1",
        },
        {
            "ts": NIGHT + 215,
            "decision": "ignored",
            "reason": (
                "acknowledgement by e2, but the incident was already "
                "acknowledged at 2025-01-15T22:03:30Z by e1"
            ),
            "incident": FALL,
            "site": "zon",
            "room": "102",
            "by": "e2",
        },
        {
            "ts": NIGHT + 220,
            "decision": "ignored",
            "reason": (
                "resolution of an incident the router does not know: fall "
                "incident resolved: staff arrived"
            ),
            "incident": "zon/999/fall/1",
        },
        {
            "ts": NIGHT + 230,
            "decision": "resolved",
            "reason": (
                "bed exit resolved: back in bed: it was held back by a "
                "silence and will not be paged"
            ),
            "incident": HELD,
            "site": "zon",
            "room": "101",
        },
        {
            "ts": NIGHT + 240,
            "decision": "ignored",
            "reason": (
                "fall incident resolved: staff arrived, but the incident was "
                "already acknowledged at 2025-01-15T22:03:30Z by e1"
            ),
            "incident": FALL,
            "site": "zon",
            "room": "102",
        },
        {
            "ts": NIGHT + 250,
            "decision": "resolved",
            "reason": (
                "device fault resolved: cam-1 reports again: 3 pending escalation steps cancelled"
            ),
            "incident": FAULT,
            "site": "zon",
            "room": "102",
        },
        {
            "ts": NIGHT + 260,
            "decision": "ignored",
            "reason": (
                "acknowledgement by t1, but the incident was already resolved at "
                "2025-01-15T22:04:10Z"
            ),
            "incident": FAULT,
            "site": "zon",
            "room": "102",
            "by": "t1",
        },
        {
            "ts": NIGHT + RETAIN + 1,
            "decision": "ignored",
            "reason": (
                "acknowledgement by w1 given at 2025-01-16T22:00:01Z, over 24 h after its "
                "first page at 2025-01-15T22:00:00Z: check the clock of the pager gateway, "
                "or leave out 'ts'"
            ),
            "incident": WEST,
            "site": "zon",
            "room": "201",
            "by": "w1",
        },
        {
            "ts": NIGHT + 300,
            "decision": "escalated",
            "reason": "not acknowledged: escalated to night-team (escalation 2)",
            "incident": WEST,
            "site": "zon",
            "room": "201",
            "page_ids": [f"{WEST}/2/night-team"],
        },
    ]


def test_the_pages_of_a_night_carry_their_ids_times_and_texts(policy: Policy) -> None:
    """The held device fault is paged when its silence is removed, with the device in its text;
    the held bed exit never is."""
    _, pages = night(policy)
    assert [(p.page_id, p.ts - NIGHT, p.text) for p in pages] == [
        (f"{FALL}/0/east-night", 0, "Room 102: FALL"),
        (f"{WEST}/0/west-night", 0, "Room 201: out of bed (fall risk)"),
        (f"{FALL}/1/east-night", 60, "Room 102: FALL (2nd call, 1 min)"),
        (f"{FALL}/2/night-team", 120, "Room 102: FALL (3rd call, 2 min)"),
        (f"{FAULT}/0/technicians", 205, "Room 102: device cam-1 reports a fault"),
        (f"{WEST}/2/night-team", 300, "Room 201: out of bed (fall risk) (3rd call, 5 min)"),
    ]


@pytest.mark.parametrize("retain", [0, -1.0])
def test_a_router_refuses_a_retention_that_is_not_positive(policy: Policy, retain: float) -> None:
    with pytest.raises(ValueError, match=r"^retain must be positive$"):
        Router(policy, retain=retain)


def test_a_router_takes_any_positive_retention_even_under_a_second(policy: Policy) -> None:
    assert Router(policy, retain=0.5).retain == 0.5
    assert Router(policy).retain == RETAIN


# -- escalations to a pager with its own language --------------------------------------------

TECHNICIAN_RULES = """
version: 1
sites:
  zon:
    language: en
    night: {start: "22:00", end: "07:00"}
    recipients: {care: night-team, technical: technicians}
    staff:
      pagers:
        e1: {address: "3101"}
        e2: {address: "3102", language: nl}
        t1: {address: "3900", language: nl}
        t2: {address: "3901"}
      groups:
        night-team: [e1]
        technicians: [t1, t2]
      routes:
        faults: {audience: technical, to: technicians}
        care: {rooms: [101, 102], to: night-team}
    escalation:
      low: [{after: 10m, to: [t1, t2]}]
      critical: [{after: 60s, to: [e1, e2]}]
"""


@pytest.fixture
def technicians(tmp_path: Path) -> Policy:
    path = tmp_path / "zon.yaml"
    path.write_text(TECHNICIAN_RULES.lstrip(), encoding="utf-8")
    return load_policy(path)


@pytest.mark.parametrize(
    ("reason", "dutch"),
    [
        ("battery_low", "Kamer 102: apparaat mat-7 batterij bijna leeg (2e oproep, 10 min)"),
        ("obstructed", "Kamer 102: apparaat mat-7 camera afgedekt (2e oproep, 10 min)"),
    ],
)
def test_an_escalated_device_fault_reads_in_the_language_of_each_pager(
    technicians: Policy, reason: str, dutch: str
) -> None:
    router = Router(technicians)
    page = incident_page(technicians, "device_fault", NIGHT, "102", device="mat-7", reason=reason)
    router.route(page)
    escalated = router.advance(NIGHT + 600)
    assert [(p.recipient, p.text) for p in escalated] == [
        ("t1", dutch),
        ("t2", f"{page.text} (2nd call, 10 min)"),
    ]


def test_an_escalated_fall_reads_in_the_language_of_each_pager(technicians: Policy) -> None:
    router = Router(technicians)
    router.route(incident_page(technicians, "fall", NIGHT, "102"))
    escalated = router.advance(NIGHT + 60)
    assert [(p.recipient, p.text) for p in escalated] == [
        ("e1", "Room 102: FALL (2nd call, 1 min)"),
        ("e2", "Kamer 102: VAL (2e oproep, 1 min)"),
    ]


@pytest.mark.parametrize(
    "incident",
    ["zon/102/device_fault/mat-7/humming/1", "zon/102/device_fault/1"],
    ids=["a fault the texts do not name", "an id without device and fault"],
)
def test_an_escalated_device_fault_the_texts_cannot_say_keeps_the_sites_text(
    technicians: Policy, incident: str
) -> None:
    """Rather than a wrong text in the pager's language."""
    page = incident_page(technicians, "device_fault", NIGHT, "102", device="mat-7")
    router = Router(technicians)
    router.route(page.model_copy(update={"incident": incident}))
    escalated = router.advance(NIGHT + 600)
    repeat = f"{page.text} (2nd call, 10 min)"  # the site's language, suffix included
    assert [(p.recipient, p.text) for p in escalated] == [("t1", repeat), ("t2", repeat)]


# -- the core's incident changes --------------------------------------------------------------


def test_new_evidence_after_a_silence_ends_pages_a_held_care_incident_from_then(
    policy: Policy,
) -> None:
    """Evidence while the room is muted pages nothing; evidence after it does, at its own time,
    and the router remembers the incident 24 h from then."""
    silences = Silences()
    silences.add(
        Silence(site="zon", room="101", until=NIGHT + 90, reason="care", by="jan", created=NIGHT)
    )
    router = Router(policy, silences=silences)
    opened = incident_opened("bed_exit", NIGHT)
    assert router.open(opened) == []
    assert router.evidence(Evidence(opened.incident, NIGHT + 60)) == []
    (page,) = router.evidence(Evidence(opened.incident, NIGHT + 100))
    assert (page.page_id, page.ts) == (f"{HELD}/0/east-night", NIGHT + 100)
    assert router.status(HELD) == "open"
    released = router.take_audit()[-1].to_json()
    assert released == {
        "ts": NIGHT + 100,
        "decision": "released",
        "reason": (
            "route 'east' to east-night (day-team off duty), escalation at +120 s to same, "
            "+300 s to team"
        ),
        "incident": HELD,
        "site": "zon",
        "room": "101",
        "page_ids": [f"{HELD}/0/east-night"],
    }
    router.resolve(HELD, NIGHT + 150, "bed exit resolved: back in bed")
    router.advance(NIGHT + 100 + RETAIN - 1)
    assert router.status(HELD) == "resolved"
    router.advance(NIGHT + 100 + RETAIN)
    assert router.status(HELD) is None


def test_an_opened_device_fault_is_paged_with_its_device_and_fault(policy: Policy) -> None:
    opened = Opened(
        "zon/101/device_fault/mat-7/battery_low/1", "device_fault", "zon", "101", NIGHT, ("e",),
        device="mat-7", fault="battery_low",
    )  # fmt: skip
    assert [p.text for p in Router(policy).open(opened)] == ["Room 101: device mat-7 battery low"]


def test_run_sends_the_steps_due_up_to_each_change_before_it_then_keeps_the_changes_order(
    policy: Policy,
) -> None:
    """A step due at the very time of a resolution still goes out (the clock gets there
    first), even when that time is ``until``; changes at the same time keep their order."""
    router = Router(policy)
    router.open(incident_opened("fall", NIGHT))
    router.take_audit()
    later = incident_opened("fall", NIGHT + 60, "102")
    resolution = Resolved(f"zon/101/fall/{round(NIGHT * 1000)}", NIGHT + 60, "staff arrived")
    pages = router.run([resolution, later], until=NIGHT + 60)
    assert [(p.page_id, p.ts) for p in pages] == [
        (f"{resolution.incident}/1/east-night", NIGHT + 60),
        (f"{later.incident}/0/east-night", NIGHT + 60),
    ]
    assert [(a.ts, a.decision, a.incident, a.reason) for a in router.take_audit()] == [
        (
            NIGHT + 60,
            "escalated",
            resolution.incident,
            "not acknowledged: re-sent to east-night (escalation 1)",
        ),
        (
            NIGHT + 60,
            "resolved",
            resolution.incident,
            "staff arrived: 1 pending escalation step cancelled",
        ),
        (
            NIGHT + 60,
            "routed",
            later.incident,
            "route 'east' to east-night (day-team off duty), escalation at +60 s to same, "
            "+120 s to night-team/day-team",
        ),
    ]


# -- acknowledgements on a site's topic -------------------------------------------------------


def test_an_acknowledgement_on_another_sites_topic_is_refused_as_not_open_and_audited(
    policy: Policy,
) -> None:
    """night-team may acknowledge on the topic of site elders (which has no staff: its
    recipients do), but the incident is zon's."""
    router = Router(policy)
    router.route(incident_page(policy, "fall", NIGHT, "102"))
    router.take_audit()
    refused = router.acknowledge(FALL, "night-team", NIGHT + 5, site="elders")
    assert refused is not None
    assert refused.code == "not_open"
    assert refused.reason == (
        "acknowledgement by night-team on the topic of site elders, but the incident is of site zon"
    )
    (audit,) = router.take_audit()
    assert audit.to_json() == {
        "ts": NIGHT + 5,
        "decision": "ignored",
        "reason": refused.reason,
        "incident": FALL,
        "site": "zon",
        "room": "102",
        "by": "night-team",
    }
    assert router.status(FALL) == "open"


@pytest.mark.parametrize(
    ("by", "code"), [("mallory", "not_staff"), ("e1", "not_open")], ids=["not staff", "staff"]
)
def test_an_acknowledgement_of_an_unknown_incident_on_a_sites_topic_checks_that_sites_staff(
    policy: Policy, by: str, code: str
) -> None:
    """The site of the topic is all there is to check the acknowledger against, and the audit
    keeps it."""
    router = Router(policy)
    refused = router.acknowledge("zon/999/fall/1", by, NIGHT + 5, site="zon")
    assert refused is not None
    assert refused.code == code
    (audit,) = router.take_audit()
    assert audit.to_json() == {
        "ts": NIGHT + 5,
        "decision": "ignored",
        "reason": refused.reason,
        "incident": "zon/999/fall/1",
        "site": "zon",
        "by": by,
    }


# -- edges of the clock -----------------------------------------------------------------------


def test_an_acknowledgement_at_the_routers_clock_takes_effect_at_once(policy: Policy) -> None:
    router = Router(policy)
    router.route(incident_page(policy, "fall", NIGHT, "102"))
    router.advance(NIGHT + 30)
    assert router.acknowledge(FALL, "e1", NIGHT + 30) is None
    assert router.status(FALL) == "acknowledged"  # no advance() needed
    assert router.take_audit()[-1].to_json() == {
        "ts": NIGHT + 30,
        "decision": "acknowledged",
        "reason": "acknowledged by e1: 2 pending escalation steps cancelled",
        "incident": FALL,
        "site": "zon",
        "room": "102",
        "by": "e1",
    }


def test_an_acknowledgement_is_taken_up_to_exactly_retain_after_the_first_page(
    policy: Policy,
) -> None:
    router = Router(policy)
    router.route(incident_page(policy, "fall", NIGHT, "102"))
    assert router.acknowledge(FALL, "e1", NIGHT + RETAIN) is None
    refused = router.acknowledge(FALL, "e1", NIGHT + RETAIN + 0.001)
    assert refused is not None
    assert refused.code == "bad_time"


def test_a_second_first_page_of_an_incident_is_audited_at_its_time_with_the_status(
    policy: Policy,
) -> None:
    router = Router(policy)
    fall = incident_page(policy, "fall", NIGHT, "102")
    router.route(fall)
    assert router.route(fall) == []
    assert router.take_audit()[-1].to_json() == {
        "ts": NIGHT,
        "decision": "ignored",
        "reason": "incident already routed (open): no second first page",
        "incident": FALL,
        "site": "zon",
        "room": "102",
    }


def test_next_due_skips_held_care_incidents_and_is_none_with_nothing_to_do(
    policy: Policy,
) -> None:
    silences = Silences()
    silences.add(mute(room="101"))
    router = Router(policy, silences=silences)
    assert router.next_due() is None
    router.route(incident_page(policy, "bed_exit", NIGHT, "101"))
    assert router.next_due() is None  # held for good: nothing to do but forget it
    router.route(incident_page(policy, "fall", NIGHT, "102"))
    assert router.next_due() == NIGHT + 60


def test_a_held_care_incident_is_forgotten_unpaged_after_its_silence_ended(policy: Policy) -> None:
    silences = Silences()
    silences.add(mute(room="101"))
    router = Router(policy, silences=silences)
    router.route(incident_page(policy, "bed_exit", NIGHT, "101"))
    assert router.advance(NIGHT + RETAIN + 1) == []
    assert router.status(HELD) is None


def test_an_escalation_held_by_a_silence_is_named_by_its_page_id_in_the_silences_audit(
    policy: Policy,
) -> None:
    silences = Silences()
    router = Router(policy, silences=silences)
    router.route(incident_page(policy, "bed_exit", NIGHT, "201"))
    silences.add(
        Silence(site="zon", room="201", until=NIGHT + 150, reason="visit", by="jan", created=NIGHT)
    )
    silences.take_audit()
    assert router.advance(NIGHT + 120) == []
    (held,) = silences.take_audit()
    assert (held.decision, held.ts, held.incident, held.page_id) == (
        "silenced",
        NIGHT + 120,
        WEST,
        f"{WEST}/1",
    )


# -- state ------------------------------------------------------------------------------------


def test_pending_names_each_steps_targets_and_changes_carry_the_time_of_the_first_pages(
    policy: Policy,
) -> None:
    router = Router(policy)
    router.route(incident_page(policy, "fall", NIGHT, "102"))
    assert router.pending() == [
        PendingStep(FALL, 1, NIGHT + 60, ("same",)),
        PendingStep(FALL, 2, NIGHT + 120, ("night-team", "day-team")),
    ]
    changes = router.take_changes()
    assert json.loads(changes[FALL] or "null")["paged_at"] == NIGHT
    assert router.take_changes() == {}
    assert router.take_changes(everything=True) == changes


def test_acknowledgements_waiting_for_the_clock_survive_a_restore_in_time_order(
    policy: Policy,
) -> None:
    router = Router(policy)
    router.route(incident_page(policy, "fall", NIGHT, "102"))
    router.acknowledge(FALL, "e1", NIGHT + 100)
    router.acknowledge(FALL, "e2", NIGHT + 50)
    restored = Router(policy)
    restored.restore(router.snapshot())
    assert restored.advance(NIGHT + 3600) == []  # e2's came before the first step, at 60 s
    assert [(a.decision, a.by, a.ts) for a in restored.take_audit()] == [
        ("acknowledged", "e2", NIGHT + 50)
    ]


def test_run_sends_no_step_due_after_until_for_a_change_ahead_of_it(policy: Policy) -> None:
    """A call is opened at its arrival, ahead of the event clock: the steps due between the
    clock and the call wait for the clock."""
    router = Router(policy)
    router.route(incident_page(policy, "fall", NIGHT, "102"))
    call = incident_opened("call", NIGHT + 100, "101")
    pages = router.run([call], until=NIGHT + 50)
    assert [(p.page_id, p.ts) for p in pages] == [(f"{call.incident}/0/east-night", NIGHT + 100)]


# -- closing and forgetting -------------------------------------------------------------------


def test_a_second_resolution_is_ignored_and_the_incident_forgotten_a_day_on_audited(
    policy: Policy,
) -> None:
    router = Router(policy)
    router.route(incident_page(policy, "fall", NIGHT, "102"))
    router.resolve(FALL, NIGHT + 10, "fall incident resolved: staff arrived")
    router.resolve(FALL, NIGHT + 20, "fall incident resolved: call cancelled")
    router.advance(NIGHT + RETAIN + 5)
    assert [entry.to_json() for entry in router.take_audit()[2:]] == [
        {
            "ts": NIGHT + 20,
            "decision": "ignored",
            "reason": (
                "fall incident resolved: call cancelled, but the incident was already "
                "resolved at 2025-01-15T22:00:10Z"
            ),
            "incident": FALL,
            "site": "zon",
            "room": "102",
        },
        {
            "ts": NIGHT + RETAIN + 5,
            "decision": "forgotten",
            "reason": "24 h after its first page (resolved)",
            "incident": FALL,
            "site": "zon",
            "room": "102",
        },
    ]


def test_an_acknowledgement_that_took_effect_is_recorded_with_its_incident(
    policy: Policy,
) -> None:
    router = Router(policy)
    router.route(incident_page(policy, "fall", NIGHT, "102"))
    router.advance(NIGHT + 30)
    router.acknowledge(FALL, "e1", NIGHT + 30)
    assert router.take_acks() == [AckRecord(FALL, "e1", NIGHT + 30)]


def test_without_an_audit_a_second_first_page_still_marks_its_incident_changed(
    policy: Policy,
) -> None:
    router = Router(policy, audit=False)
    fall = incident_page(policy, "fall", NIGHT, "102")
    router.route(fall)
    router.take_changes()
    router.route(fall)
    assert list(router.take_changes()) == [FALL]


def test_a_released_device_fault_is_remembered_a_day_from_its_release(policy: Policy) -> None:
    silences = Silences()
    camera = mute(device="cam-1", hours=2)
    silences.add(camera)
    router = Router(policy, silences=silences)
    router.route(incident_page(policy, "device_fault", NIGHT, "102", device="cam-1"))
    silences.remove(camera.id, by="jan", at=NIGHT + 3600)
    assert len(router.advance(NIGHT + 3600)) == 1
    router.advance(NIGHT + 3600 + RETAIN - 1)
    assert router.status(FAULT) == "open"
    router.advance(NIGHT + 3600 + RETAIN)
    assert router.status(FAULT) is None
