"""Routing: recipients by route and shift, escalation, acknowledgement, silences, restarts."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sensorhub.codec.acks import parse_ack
from sensorhub.contract import Ack, Event, IncidentKind, Page
from sensorhub.core.classifier import Classifier
from sensorhub.core.types import Evidence, Opened, Resolved
from sensorhub.routing.pages import make_page
from sensorhub.routing.router import Router, RoutingAudit
from sensorhub.routing.silences import Silence, Silences, device_fault_of
from sensorhub.rules import Policy, load_policy

AMS = ZoneInfo("Europe/Amsterdam")
#: 23:00 local on a January night (CET).
NIGHT = datetime(2025, 1, 15, 23, 0, tzinfo=AMS).timestamp()
#: 10:00 local on a January day.
DAY = datetime(2025, 1, 16, 10, 0, tzinfo=AMS).timestamp()

RULES = """
version: 1
sites:
  zon:
    language: en
    night: {start: "22:00", end: "07:00"}
    recipients: {care: night-team, technical: technicians}
    staff:
      pagers:
        e1: {address: "3101"}
        e2: {address: "3102"}
        w1: {address: "3201"}
        d1: {address: "3301"}
        solo: {address: "3500", language: nl}
        t1: {address: "3900"}
      groups:
        east-night: [e1, e2]
        west-night: [w1]
        night-team: [east-night, west-night]
        day-team: [d1]
        technicians: [t1]
      wings:
        east: [101, 102]
        west: [201]
      schedules:
        night: {start: "22:00", end: "07:00", on_duty: [east-night, west-night, night-team]}
        day: {start: "07:00", end: "22:00", on_duty: day-team}
      routes:
        faults: {audience: technical, to: technicians}
        single: {rooms: 301, to: solo}
        east: {wings: east, to: [east-night, day-team]}
        west: {wings: west, to: [west-night, day-team]}
    escalation:
      critical: [{after: 60s, to: same}, {after: 2m, to: [night-team, day-team]}]
      high: [{after: 2m, to: same}, {after: 5m, to: team}]
      low: [{after: 10m, to: same}, {after: 20m, to: night-team}, {after: 30m, to: [t1, e1]}]
"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    path = tmp_path_factory.mktemp("rules") / "zon.yaml"
    path.write_text(textwrap.dedent(RULES).lstrip(), encoding="utf-8")
    return load_policy(path)


def incident_page(
    policy: Policy,
    kind: IncidentKind,
    ts: float,
    room: str = "101",
    *,
    device: str = "cam-1",
    reason: str = "fault",
) -> Page:
    """The first page of an incident as the classifier makes it (its id format included)."""
    suffix = f"/{device}/{reason}" if kind == "device_fault" else ""
    return make_page(
        policy.room("zon", room),
        incident=f"zon/{room}/{kind}{suffix}/{round(ts * 1000)}",
        kind=kind,
        ts=ts,
        events=["ev-1"],
        device=device if kind == "device_fault" else None,
        reason=reason if kind == "device_fault" else None,
    )


def incident_opened(kind: IncidentKind, ts: float, room: str = "101") -> Opened:
    """An incident as the classifier opens it (its id format included)."""
    return Opened(f"zon/{room}/{kind}/{round(ts * 1000)}", kind, "zon", room, ts, ("ev-1",))


def recipients(pages: list[Page]) -> list[tuple[int, str, float]]:
    return [(p.escalation, p.recipient, p.ts) for p in pages]


def acknowledged(
    router: Router, incident: str, by: str, at: float, *, site: str | None = None
) -> list[RoutingAudit]:
    """Acknowledge at ``at`` and let the router's clock get there: what it audited (an
    acknowledgement ahead of the clock waits for it)."""
    router.take_audit()
    router.acknowledge(incident, by, at, site=site)
    router.advance(at)
    return router.take_audit()


def resolved(router: Router, incident: str, at: float, reason: str) -> list[RoutingAudit]:
    router.take_audit()
    router.resolve(incident, at, reason)
    return router.take_audit()


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


# -- first pages: routes and shifts ---------------------------------------------------------------


def test_first_page_goes_to_the_wing_group_on_duty_at_night(policy: Policy) -> None:
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    (routed,) = router.route(page)
    assert (routed.recipient, routed.escalation, routed.ts) == ("east-night", 0, NIGHT)
    assert routed.incident == page.incident
    assert routed.page_id == f"{page.incident}/0/east-night"
    assert routed.topic == "sensorhub/pages/zon/east-night"
    assert (routed.text, routed.kind, routed.priority) == (page.text, "fall", "critical")
    assert routed.is_reaction
    (audit,) = router.take_audit()
    assert (audit.decision, audit.page_ids) == ("routed", (routed.page_id,))
    assert "route 'east'" in audit.reason
    assert "day-team off duty" in audit.reason


def test_by_day_the_same_route_pages_the_day_team(policy: Policy) -> None:
    router = Router(policy)
    assert [p.recipient for p in router.route(incident_page(policy, "call", DAY, "201"))] == [
        "day-team"
    ]


def test_west_wing_goes_to_the_west_night_nurse(policy: Policy) -> None:
    router = Router(policy)
    pages = router.route(incident_page(policy, "bed_exit", NIGHT, "201"))
    assert [p.recipient for p in pages] == ["west-night"]


@pytest.mark.parametrize(
    ("ts", "expected", "why"),
    [
        (utc(2025, 3, 29, 5, 30), "east-night", "06:30 CET, the morning before the change"),
        (utc(2025, 3, 30, 4, 30), "east-night", "06:30 CEST, after clocks went forward"),
        (utc(2025, 3, 30, 5, 30), "day-team", "07:30 CEST: same UTC time as the first, but day"),
        (utc(2025, 10, 25, 5, 30), "day-team", "07:30 CEST, the morning before clocks go back"),
        (utc(2025, 10, 26, 5, 30), "east-night", "06:30 CET: same UTC time, but still night"),
        (utc(2025, 10, 26, 6, 0), "day-team", "07:00 CET: the day shift starts"),
    ],
)
def test_shift_boundary_follows_daylight_saving(
    policy: Policy, ts: float, expected: str, why: str
) -> None:
    """The 07:00 shift change is local time, so in UTC it moves with daylight saving."""
    pages = Router(policy).route(incident_page(policy, "fall", ts))
    assert [p.recipient for p in pages] == [expected], why


def test_room_no_route_fits_goes_to_the_sites_recipients(policy: Policy) -> None:
    router = Router(policy)
    assert [p.recipient for p in router.route(incident_page(policy, "fall", NIGHT, "999"))] == [
        "night-team"
    ]
    (audit,) = router.take_audit()
    assert "no route fits" in audit.reason


def test_site_without_staff_pages_its_recipients_and_escalates_by_the_shipped_rules(
    policy: Policy,
) -> None:
    """A site that describes no staff gets exactly the classifier's recipient; unanswered, a
    fall is re-sent after 60 s and sent to the team (the same recipient here) after 2 minutes."""
    page = make_page(
        policy.room("elsewhere", "1"), incident="elsewhere/1/fall/1", kind="fall", ts=NIGHT,
        events=["e"],
    )  # fmt: skip
    router = Router(policy)
    (routed,) = router.route(page)
    assert routed.recipient == page.recipient == "night-team"
    assert [(step.escalation, step.due - NIGHT) for step in router.pending()] == [
        (1, 60),
        (2, 120),
    ]
    again, team = router.advance(NIGHT + 86400)
    assert (again.escalation, again.recipient, again.ts) == (1, "night-team", NIGHT + 60)
    assert (team.escalation, team.recipient, team.ts) == (2, "night-team", NIGHT + 120)


def test_a_pager_with_its_own_language_gets_its_text_in_that_language(policy: Policy) -> None:
    (page,) = Router(policy).route(incident_page(policy, "fall", NIGHT, "301"))
    assert (page.recipient, page.text) == ("solo", "Kamer 301: VAL")


GROUP_LANGUAGES = """
version: 1
sites:
  zon:
    language: nl
    recipients: {care: zorg, technical: techniek}
    staff:
      pagers:
        tech-1: {address: "3900", language: en}
        tech-2: {address: "3901", language: en}
        app: {}
        zorg-1: {address: "3101"}
      groups:
        techniek: [tech-1, tech-2]
        gemengd: [tech-1, app]
        zorg: [zorg-1]
      routes:
        storingen: {audience: technical, rooms: 101, to: techniek}
        gemengd: {audience: technical, rooms: 102, to: gemengd}
"""


@pytest.mark.parametrize(
    ("room", "recipient", "text"),
    [
        ("101", "techniek", "Room 101: device cam-1 silent"),
        ("102", "gemengd", "Kamer 102: apparaat cam-1 geeft geen signaal"),
    ],
)
def test_a_groups_pages_are_in_its_members_language_or_the_sites_where_they_differ(
    tmp_path: Path, room: str, recipient: str, text: str
) -> None:
    path = tmp_path / "zon.yaml"
    path.write_text(textwrap.dedent(GROUP_LANGUAGES).lstrip(), encoding="utf-8")
    policy = load_policy(path)
    page = make_page(
        policy.room("zon", room), incident=f"zon/{room}/device_fault/cam-1/silent/1",
        kind="device_fault", ts=NIGHT, events=[], device="cam-1", reason="silent",
    )  # fmt: skip
    (routed,) = Router(policy).route(page)
    assert (routed.recipient, routed.text) == (recipient, text)


def test_an_incident_is_routed_once_no_second_first_page(policy: Policy) -> None:
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    assert len(router.route(page)) == 1
    assert router.route(page) == []
    assert [a.decision for a in router.take_audit()] == ["routed", "ignored"]


def test_route_takes_only_first_pages(policy: Policy) -> None:
    page = incident_page(policy, "fall", NIGHT).model_copy(update={"escalation": 1})
    with pytest.raises(ValueError, match="first page"):
        Router(policy).route(page)


# -- escalation -------------------------------------------------------------------------------


def test_unacknowledged_fall_is_resent_after_60s_then_goes_to_the_night_team_after_2m(
    policy: Policy,
) -> None:
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    router.route(page)
    assert router.advance(NIGHT + 59.9) == []
    resent = router.advance(NIGHT + 60)
    assert recipients(resent) == [(1, "east-night", NIGHT + 60)]
    assert resent[0].incident == page.incident
    assert resent[0].page_id == f"{page.incident}/1/east-night"
    assert not resent[0].is_reaction
    assert router.advance(NIGHT + 119) == []
    escalated = router.advance(NIGHT + 120)
    assert recipients(escalated) == [(2, "night-team", NIGHT + 120)]  # day-team is off duty
    assert router.advance(NIGHT + 3600) == []
    assert router.pending() == []
    decisions = [(a.decision, a.ts) for a in router.take_audit()]
    assert decisions == [("routed", NIGHT), ("escalated", NIGHT + 60), ("escalated", NIGHT + 120)]


def test_a_late_tick_sends_every_step_due_with_its_own_due_time(policy: Policy) -> None:
    router = Router(policy)
    router.route(incident_page(policy, "fall", NIGHT))
    assert recipients(router.advance(NIGHT + 600)) == [
        (1, "east-night", NIGHT + 60),
        (2, "night-team", NIGHT + 120),
    ]


def test_bed_exit_is_resent_after_2_minutes_by_its_priority(policy: Policy) -> None:
    """high: the same recipients after 2 min, the whole team (recipients.care) after 5 min."""
    router = Router(policy)
    router.route(incident_page(policy, "bed_exit", NIGHT, "102"))
    assert router.advance(NIGHT + 119) == []
    assert recipients(router.advance(NIGHT + 120)) == [(1, "east-night", NIGHT + 120)]
    assert recipients(router.advance(NIGHT + 300)) == [(2, "night-team", NIGHT + 300)]


def test_acknowledgement_stops_escalation(policy: Policy) -> None:
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    router.route(page)
    assert len(router.advance(NIGHT + 60)) == 1
    (audit,) = acknowledged(router, page.incident, "e1", NIGHT + 75)
    assert (audit.decision, audit.by, audit.ts) == ("acknowledged", "e1", NIGHT + 75)
    assert "1 pending escalation step cancelled" in audit.reason
    assert router.advance(NIGHT + 3600) == []
    assert router.status(page.incident) == "acknowledged"
    (again,) = acknowledged(router, page.incident, "e2", NIGHT + 80)
    assert again.decision == "ignored"
    assert "already acknowledged" in again.reason
    assert "by e1" in again.reason


def test_resolution_stops_escalation(policy: Policy) -> None:
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    router.route(page)
    (audit,) = resolved(router, page.incident, NIGHT + 30, "fall incident resolved: staff arrived")
    assert audit.decision == "resolved"
    assert "2 pending escalation steps cancelled" in audit.reason
    assert router.advance(NIGHT + 3600) == []


def test_acknowledgements_of_unknown_incidents_or_other_sites_change_nothing(
    policy: Policy,
) -> None:
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    router.route(page)
    (unknown,) = acknowledged(router, "zon/101/fall/1", "e1", NIGHT)
    assert unknown.decision == "ignored"
    assert "does not know" in unknown.reason
    (other,) = acknowledged(router, page.incident, "e1", NIGHT, site="elders")
    assert other.decision == "ignored"
    assert router.acknowledge(page.incident, "e1", NIGHT, site="elders") is not None
    assert len(router.advance(NIGHT + 60)) == 1


def test_technical_pages_never_escalate_to_care_staff(policy: Policy) -> None:
    router = Router(policy)
    fault = incident_page(policy, "device_fault", NIGHT, "101")
    first = router.route(fault)
    later = router.advance(NIGHT + 3600)
    assert recipients(first + later) == [
        (0, "technicians", NIGHT),
        (1, "technicians", NIGHT + 600),
        (2, "technicians", NIGHT + 1200),  # the step names night-team: left out
        (3, "t1", NIGHT + 1800),  # a technician's own pager, but not the nurse's e1
    ]
    audit = router.take_audit()
    assert "night-team left out: technical pages never go to care staff" in audit[-2].reason
    assert "e1 left out: technical pages never go to care staff" in audit[-1].reason


def test_technical_pages_of_a_site_without_staff_escalate_only_to_its_technicians(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "defaults:\n  escalation:\n    low: [{after: 10m, to: [night-team, team]}]\n",
        encoding="utf-8",
    )
    policy = load_policy(path)
    router = Router(policy)
    page = make_page(
        policy.room("a", "1"), incident="a/1/device_fault/d/fault/1", kind="device_fault",
        ts=NIGHT, events=[], device="d", reason="fault",
    )  # fmt: skip
    router.route(page)
    assert recipients(router.advance(NIGHT + 600)) == [(1, "technicians", NIGHT + 600)]


# -- the classifier's steps -------------------------------------------------------------------


def event(ts: float, room: str, kind: str, name: str, device: str) -> Event:
    return Event(ts=ts, site="zon", room=room, kind=kind, device=device, event=name, id=f"{ts}")


def test_run_routes_the_classifiers_incidents_and_staff_arrival_stops_escalation(
    policy: Policy,
) -> None:
    classifier = Classifier(policy, lateness=0)
    router = Router(policy)
    step = classifier.push(event(NIGHT, "101", "call", "pressed", "btn"))
    pages = router.run(step.incidents, classifier.clock)
    assert recipients(pages) == [(0, "east-night", NIGHT)]
    step = classifier.push(event(NIGHT + 90, "101", "presence", "staff_in", "badge"))
    assert [type(change).__name__ for change in step.incidents] == ["Resolved"]
    assert router.run(step.incidents, NIGHT + 90) == []
    assert router.advance(NIGHT + 3600) == []
    assert [a.decision for a in router.take_audit()] == ["routed", "resolved"]


def test_run_takes_an_incident_and_its_resolution_in_order(policy: Policy) -> None:
    opened = incident_opened("fall", NIGHT)
    changes = [opened, Resolved(opened.incident, NIGHT + 1, "staff arrived")]
    router = Router(policy)
    assert len(router.run(changes, NIGHT + 1)) == 1
    assert router.pending() == []


def test_a_call_paged_on_arrival_and_resolved_by_a_late_event_at_an_earlier_time(
    policy: Policy,
) -> None:
    """A call paged on arrival opens at its own time, ahead of the event clock; a late event may
    resolve it at the clock, before that time: the resolution still comes after the opening,
    in one round or in two."""
    opened = incident_opened("call", NIGHT + 9)
    resolution = Resolved(opened.incident, NIGHT, "call cancelled")
    together = Router(policy)
    assert len(together.run([opened, resolution], NIGHT)) == 1
    apart = Router(policy)
    assert len(apart.run([opened], NIGHT - 5)) == 1
    assert apart.run([resolution], NIGHT) == []
    for router in (together, apart):
        assert router.status(opened.incident) == "resolved"
        assert router.advance(NIGHT + 3600) == []


def test_an_acknowledgement_ahead_of_the_clock_lets_an_escalation_due_before_it_go_out(
    policy: Policy,
) -> None:
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    router.route(page)
    assert router.acknowledge(page.incident, "e1", NIGHT + 65) is None
    assert router.status(page.incident) == "open"  # not yet: the clock is not there
    assert recipients(router.advance(NIGHT + 59)) == []
    assert recipients(router.advance(NIGHT + 3600)) == [(1, "east-night", NIGHT + 60)]
    assert router.status(page.incident) == "acknowledged"


def test_an_acknowledgement_at_the_very_time_of_a_step_does_not_stop_it(policy: Policy) -> None:
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    router.route(page)
    router.acknowledge(page.incident, "e1", NIGHT + 60)
    assert recipients(router.advance(NIGHT + 3600)) == [(1, "east-night", NIGHT + 60)]


def test_device_fault_of_reads_the_classifiers_incident_ids(policy: Policy) -> None:
    classifier = Classifier(policy, lateness=0)
    step = classifier.push(event(NIGHT, "101", "bed", "fault", "mat-7"))
    (page,) = step.opened
    assert device_fault_of(page.incident) == ("mat-7", "fault")
    assert device_fault_of(incident_page(policy, "fall", NIGHT).incident) is None


# -- silences ---------------------------------------------------------------------------------


def mute(room: str | None = None, device: str | None = None, hours: float = 1.0) -> Silence:
    return Silence(
        site="zon",
        room=room,
        device=device,
        until=NIGHT - 60 + hours * 3600,
        reason="sensor replaced",
        by="jan",
        created=NIGHT - 60,
    )


def test_a_muted_rooms_bed_exit_is_held_back_and_never_escalated(policy: Policy) -> None:
    silences = Silences()
    silences.add(mute(room="101"))
    router = Router(policy, silences=silences)
    page = incident_page(policy, "bed_exit", NIGHT, "101")
    assert router.route(page) == []
    assert router.advance(NIGHT + 3000) == []
    assert [a.decision for a in router.take_audit()] == ["held"]
    assert router.status(page.incident) == "held"
    assert router.route(incident_page(policy, "bed_exit", NIGHT, "102")) != []


def test_a_call_in_a_muted_room_is_still_paged(policy: Policy) -> None:
    silences = Silences()
    silences.add(mute(room="101"))
    router = Router(policy, silences=silences)
    assert [p.recipient for p in router.route(incident_page(policy, "call", NIGHT))] == [
        "east-night"
    ]
    assert silences.applies(incident_page(policy, "call", NIGHT), NIGHT) is None


def test_a_muted_devices_fault_is_held_back_but_not_another_devices(policy: Policy) -> None:
    silences = Silences()
    silences.add(mute(device="cam-1"))
    router = Router(policy, silences=silences)
    assert router.route(incident_page(policy, "device_fault", NIGHT, device="cam-1")) == []
    other = incident_page(policy, "device_fault", NIGHT, device="mat-2")
    assert [p.recipient for p in router.route(other)] == ["technicians"]
    # a muted device does not mute its room's care pages
    assert router.route(incident_page(policy, "fall", NIGHT, "101")) != []


def test_expiry_restores_paging(policy: Policy) -> None:
    silences = Silences()
    silence = mute(room="101", hours=1)
    silences.add(silence)
    router = Router(policy, silences=silences)
    assert router.route(incident_page(policy, "fall", silence.until - 1)) == []
    assert router.route(incident_page(policy, "fall", silence.until)) != []
    router.advance(silence.until + 5)
    assert silences.active(silence.until + 5) == []


def test_a_held_technical_page_is_sent_when_its_silence_ends_if_still_open(
    policy: Policy,
) -> None:
    silences = Silences()
    silence = mute(device="cam-1", hours=2)
    silences.add(silence)
    router = Router(policy, silences=silences)
    open_fault = incident_page(policy, "device_fault", NIGHT, device="cam-1", reason="fault")
    fixed = incident_page(policy, "device_fault", NIGHT, device="cam-1", reason="silent")
    router.route(open_fault)
    router.route(fixed)
    router.resolve(fixed.incident, NIGHT + 600, "device heard from again")
    assert router.next_due() == silence.until
    assert router.advance(silence.until - 1) == []
    released = router.advance(silence.until + 30)
    assert recipients(released) == [(0, "technicians", silence.until)]
    assert released[0].incident == open_fault.incident
    assert recipients(router.advance(silence.until + 600)) == [
        (1, "technicians", silence.until + 600)
    ]


def test_a_held_technical_page_is_sent_at_once_when_its_silence_is_removed_early(
    policy: Policy,
) -> None:
    silences = Silences()
    silence = mute(device="cam-1", hours=2)
    silences.add(silence)
    router = Router(policy, silences=silences)
    router.route(incident_page(policy, "device_fault", NIGHT, device="cam-1"))
    assert router.advance(NIGHT + 100) == []
    silences.remove(silence.id, by="jan", at=NIGHT + 200)
    assert recipients(router.advance(NIGHT + 205)) == [(0, "technicians", NIGHT + 205)]


def test_a_silence_set_mid_escalation_holds_the_steps_while_it_lasts(policy: Policy) -> None:
    silences = Silences()
    router = Router(policy, silences=silences)
    router.route(incident_page(policy, "fall", NIGHT))
    silences.add(
        Silence(site="zon", room="101", until=NIGHT + 90, reason="r", by="jan", created=NIGHT + 10)
    )
    assert router.advance(NIGHT + 60) == []
    assert recipients(router.advance(NIGHT + 120)) == [(2, "night-team", NIGHT + 120)]


def test_silences_keep_an_audit_trail(policy: Policy) -> None:
    silences = Silences()
    silence = mute(room="101")
    silences.add(silence)
    device = mute(device="cam-1")
    silences.add(device)
    page = incident_page(policy, "bed_exit", NIGHT)
    assert silences.hold(page, NIGHT) == silence
    assert silences.remove(device.id, by="piet", at=NIGHT + 100) == device
    assert silences.remove("nope", by="piet", at=NIGHT) is None
    silences.expire(silence.until)
    trail = [(e.decision, e.ts, e.silence.id) for e in silences.take_audit()]
    assert trail == [
        ("silence_added", silence.created, silence.id),
        ("silence_added", device.created, device.id),
        ("silenced", NIGHT, silence.id),
        ("silence_removed", NIGHT + 100, device.id),
        ("silence_expired", silence.until, silence.id),
    ]
    assert silences.take_audit() == []
    assert silences.hold(incident_page(policy, "call", NIGHT), NIGHT) is None
    assert silences.take_audit() == []  # nothing held, nothing recorded


def test_silence_audit_renders_as_json(policy: Policy) -> None:
    silences = Silences()
    entry = silences.add(mute(room="101"))
    data = json.loads(json.dumps(entry.to_json()))
    assert data["decision"] == "silence_added"
    assert data["silence"]["room"] == "101"
    assert "sensor replaced" in data["reason"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "mutes a room or a device"),
        ({"room": "101", "until": NIGHT + 2 * 86400}, "at most 24 h"),
        ({"device": "cam-1", "until": NIGHT + 8 * 86400}, "at most 168 h"),
        ({"room": "101", "until": NIGHT - 10}, "ends before it starts"),
        ({"room": "kamer 1"}, "not a site, room or device name"),
        ({"room": "101", "reason": "  "}, "must not be empty"),
    ],
)
def test_silences_that_make_no_sense_are_refused(fields: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {
        "site": "zon",
        "until": NIGHT + 3600,
        "reason": "r",
        "by": "jan",
        "created": NIGHT,
        **fields,
    }
    with pytest.raises(ValidationError, match=message):
        Silence(**values)


def test_silences_snapshot_and_restore(policy: Policy) -> None:
    silences = Silences()
    silences.add(mute(room="101"))
    silences.add(mute(device="cam-1", hours=30))
    snapshot = json.loads(json.dumps(silences.snapshot()))
    again = Silences()
    again.restore(snapshot)
    assert again.active(NIGHT) == silences.active(NIGHT)
    assert again.applies(incident_page(policy, "fall", NIGHT), NIGHT) is not None
    with pytest.raises(ValueError, match="not a silences snapshot"):
        again.restore({"version": 2})


# -- restarts ---------------------------------------------------------------------------------


def restarted(router: Router, policy: Policy) -> Router:
    """A new router from the JSON text of each of the old one's incidents, as serve's store
    keeps them."""
    rows = [json.loads(text) for text in router.take_changes(everything=True).values() if text]
    fresh = Router(policy)
    fresh.restore_incidents(rows)
    assert fresh.snapshot() == router.snapshot()
    return fresh


#: What happens to a router, one step of a random night at a time: an incident's first page
#: (kind, room, seconds later), an acknowledgement or resolution (of the n-th incident routed),
#: the clock (seconds later), a silence on a room or a device (lasting minutes), one lifted.
_STEPS = st.one_of(
    st.tuples(
        st.just("route"),
        st.sampled_from(["fall", "call", "bed_exit", "device_fault"]),
        st.sampled_from(["101", "102", "201", "301"]),
        st.floats(0, 400),
    ),
    st.tuples(
        st.sampled_from(["ack", "resolve", "evidence"]), st.integers(0, 30), st.floats(0, 400)
    ),
    st.tuples(st.just("tick"), st.floats(0, 100_000)),
    st.tuples(st.just("mute"), st.sampled_from(["101", "201", "cam-1"]), st.floats(1, 90)),
    st.tuples(st.just("unmute"), st.integers(0, 5), st.floats(0, 400)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(_STEPS, max_size=40))
@example(  # a held fault, muted again by a longer silence when its own ends
    steps=[
        ("mute", "cam-1", 10.0),
        ("route", "device_fault", "101", 1.0),
        ("mute", "cam-1", 60.0),
        ("tick", 700.0),
        ("tick", 4000.0),
    ]
)
def test_the_changes_taken_after_every_step_add_up_to_the_whole_state(
    policy: Policy, steps: list[tuple[Any, ...]]
) -> None:
    """serve writes only the incidents a round changed: whatever happens, the incidents so kept
    are exactly the router's, and a router restored from them goes on identically."""
    silences = Silences()
    router = Router(policy, silences=silences)
    kept: dict[str, str] = {}
    now = NIGHT
    routed: list[str] = []
    for step in steps:
        now += step[-1] if step[0] not in ("mute",) else 0
        match step:
            case ("route", kind, room, _):
                page = incident_page(policy, kind, now, room)
                routed.append(page.incident)
                router.route(page)
            case ("ack", n, _) if routed:
                router.acknowledge(routed[n % len(routed)], "e1", now)
            case ("resolve", n, _) if routed:
                router.resolve(routed[n % len(routed)], now, "staff arrived")
            case ("evidence", n, _) if routed:
                router.run([Evidence(routed[n % len(routed)], now)], now)
            case ("tick", _):
                router.advance(now)
            case ("mute", target, minutes):
                room, device = (None, target) if target.startswith("cam") else (target, None)
                silence = Silence(
                    site="zon", room=room, device=device, until=now + 60 * minutes,
                    reason="work", by="t", created=now,
                )  # fmt: skip
                if silences.get(silence.id) is None:
                    silences.add(silence)
            case ("unmute", n, _) if silences.every():
                every = silences.every()
                silences.remove(every[n % len(every)].id, by="t", at=now)
        for name, text in router.take_changes().items():
            if text is None:
                kept.pop(name, None)
            else:
                kept[name] = text
        fresh = Router(policy, silences=silences)
        fresh.restore_incidents(json.loads(text) for text in kept.values())
        assert fresh.snapshot() == router.snapshot()
    assert router.take_changes() == {}


def test_snapshot_and_restore_mid_escalation_resumes_at_the_right_time(policy: Policy) -> None:
    router = Router(policy)
    fall = incident_page(policy, "fall", NIGHT)
    call = incident_page(policy, "call", NIGHT + 10, "201")
    router.route(fall)
    router.route(call)
    assert len(router.advance(NIGHT + 70)) == 1  # the fall's escalation 1
    assert router.acknowledge(call.incident, "w1", NIGHT + 20) is None  # behind the clock: now
    pending = router.pending()
    assert [(s.incident, s.escalation, s.due) for s in pending] == [(fall.incident, 2, NIGHT + 120)]

    again = restarted(router, policy)
    assert again.pending() == pending
    assert again.next_due() == NIGHT + 120
    assert again.advance(NIGHT + 119) == []
    assert recipients(again.advance(NIGHT + 120)) == [(2, "night-team", NIGHT + 120)]
    assert again.route(fall) == []  # no second first page after the restart
    assert again.status(call.incident) == "acknowledged"
    assert again.advance(NIGHT + 3600) == []


def test_a_restart_after_an_outage_sends_the_overdue_steps_at_once(policy: Policy) -> None:
    router = Router(policy)
    router.route(incident_page(policy, "fall", NIGHT))
    again = restarted(router, policy)
    assert recipients(again.advance(NIGHT + 900)) == [
        (1, "east-night", NIGHT + 60),
        (2, "night-team", NIGHT + 120),
    ]


def test_incidents_are_forgotten_a_day_after_their_first_page(policy: Policy) -> None:
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    router.route(page)
    router.acknowledge(page.incident, "e1", NIGHT + 5)
    router.advance(NIGHT + 86399)
    assert router.status(page.incident) == "acknowledged"
    router.advance(NIGHT + 86400)
    assert router.status(page.incident) is None
    assert router.take_audit()[-1].decision == "forgotten"
    assert router.snapshot() == {"version": 1, "incidents": []}


def test_restore_refuses_what_is_not_a_snapshot(policy: Policy) -> None:
    with pytest.raises(ValueError, match="not a router snapshot"):
        Router(policy).restore({"version": 1, "incidents": [{"page": {}}]})


def test_routing_audit_renders_as_json(policy: Policy) -> None:
    router = Router(policy)
    router.route(incident_page(policy, "fall", NIGHT))
    (audit,) = router.take_audit()
    assert isinstance(audit, RoutingAudit)
    data = json.loads(json.dumps(audit.to_json()))
    assert (data["decision"], data["site"], data["room"]) == ("routed", "zon", "101")
    assert data["page_ids"] == [f"zon/101/fall/{round(NIGHT * 1000)}/0/east-night"]


# -- acknowledgements over MQTT -------------------------------------------------------------------


def test_parse_ack_reads_a_good_acknowledgement() -> None:
    payload = json.dumps({"incident": "zon/101/fall/1", "by": "e1", "ts": NIGHT, "note": "x"})
    assert parse_ack("sensorhub/ack/zon", payload.encode()) == Ack(
        "zon", "zon/101/fall/1", "e1", NIGHT
    )
    assert parse_ack("sensorhub/ack/zon", b'{"incident": "i", "by": "Anna de Vries"}') == Ack(
        "zon", "i", "Anna de Vries", None
    )


@pytest.mark.parametrize(
    ("topic", "payload", "message"),
    [
        ("sensorhub/pages/zon", b'{"incident": "i", "by": "e1"}', "not an acknowledgement topic"),
        ("sensorhub/ack/zon/x", b'{"incident": "i", "by": "e1"}', "is not a site name"),
        ("sensorhub/ack/zon", b"\xff\xfe", "not UTF-8"),
        ("sensorhub/ack/zon", b"{incident: i}", "not JSON"),
        ("sensorhub/ack/zon", b'["i", "e1"]', "not an object"),
        ("sensorhub/ack/zon", b'{"by": "e1"}', "field 'incident'"),
        ("sensorhub/ack/zon", b'{"incident": "i", "by": ""}', "field 'by'"),
        ("sensorhub/ack/zon", b'{"incident": "i", "by": 7}', "field 'by'"),
        ("sensorhub/ack/zon", b'{"incident": "i", "by": "e1", "ts": "now"}', "field 'ts'"),
        ("sensorhub/ack/zon", b'{"incident": "i", "by": "e1", "ts": 12}', "field 'ts'"),
        ("sensorhub/ack/zon", b'{"incident": "i", "by": "e1", "ts": true}', "field 'ts'"),
        ("sensorhub/ack/zon", b'{"incident": "i", "by": "e1", "site": "b"}', "make them equal"),
        ("sensorhub/ack/zon", b" " * (64 * 1024 + 1), "over"),
    ],
)
def test_parse_ack_says_what_is_wrong_with_a_bad_one(
    topic: str, payload: bytes, message: str
) -> None:
    result = parse_ack(topic, payload)
    assert isinstance(result, str)
    assert message in result


def test_a_held_care_incident_is_paged_on_new_evidence_after_its_silence_ended(
    policy: Policy,
) -> None:
    """What happened while the room was muted stays held; evidence seen after the silence
    ended (the resident still on the floor) pages the incident, once."""
    silences = Silences()
    silences.add(
        Silence(site="elsewhere", room="1", until=NIGHT + 60, reason="work", by="t", created=NIGHT)
    )
    router = Router(policy, silences=silences)
    page = make_page(
        policy.room("elsewhere", "1"), incident="elsewhere/1/fall/1", kind="fall", ts=NIGHT + 10,
        events=["e"],
    )  # fmt: skip
    assert router.route(page) == []

    def evidence(ts: float) -> list[Evidence]:
        return [Evidence(page.incident, ts)]

    assert router.run(evidence(NIGHT + 30), NIGHT + 30) == []  # still muted
    (paged,) = router.run(evidence(NIGHT + 90), NIGHT + 90)
    assert (paged.incident, paged.escalation, paged.ts) == (page.incident, 0, NIGHT + 90)
    assert router.run(evidence(NIGHT + 95), NIGHT + 95) == []  # open now: paged once
