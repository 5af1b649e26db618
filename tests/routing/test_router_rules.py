"""Routing by rule files the other tests lack: a priority without escalation steps, routes that
page several names at once, routes by kind or by priority, a room overriding its site's
recipients, escalation and language, and a site without staff escalating a device fault.

The mutation run of routing/router.py (docs/testing.md) left these unpinned: with the rules of
test_router every route names one group on duty, every priority has steps, and no room has
rules of its own, so the router could read the site's rules for a room's, or join names wrong,
and no test would notice.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sensorhub.routing.router import PendingStep, Router
from sensorhub.rules import Policy, load_policy
from tests.routing.test_router import NIGHT, incident_page

RULES = """
version: 1
sites:
  zon:
    language: en
    recipients: {care: site-care, technical: site-tech}
    staff:
      pagers:
        e1: {address: "3101"}
        e2: {address: "3102"}
        d1: {address: "3301"}
        d2: {address: "3302"}
        u1: {address: "3401"}
        r1: {address: "3501", language: en}
        r2: {address: "3502", language: nl}
        t1: {address: "3901"}
        t2: {address: "3902"}
      groups:
        site-care: [e1]
        site-tech: [t1]
        day-team: [d1]
        room-care: [r1, r2]
        room-tech: [t2]
      schedules:
        day: {start: "07:00", end: "22:00", on_duty: [day-team, d2]}
      routes:
        faults: {audience: technical, rooms: 101, to: site-tech}
        falls: {kinds: fall, to: [e1, e2, day-team, d2]}
        urgent: {priorities: high, rooms: [101, 102], to: u1}
    escalation:
      critical: [{after: 60s, to: [e1, e2, day-team, d2]}]
      high: [{after: 2m, to: same}]
      normal: []
    rooms:
      301:
        language: nl
        recipients: {care: room-care, technical: room-tech}
        escalation:
          high: [{after: 30s, to: team}, {after: 1m, to: [r1, r2]}]
          low: [{after: 10m, to: team}]
"""

#: a site without staff: its recipients are all it may name
NO_STAFF_RULES = """
version: 1
sites:
  zon:
    recipients: {care: night-team, technical: technicians}
    escalation:
      low: [{after: 10m, to: [technicians, night-team]}]
"""


def compile_rules(tmp_path: Path, text: str) -> Policy:
    path = tmp_path / "zon.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return load_policy(path)


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    return compile_rules(tmp_path, RULES)


def reasons(router: Router) -> list[str]:
    return [entry.reason for entry in router.take_audit()]


def test_a_priority_without_steps_is_routed_with_no_escalation_said_and_none_pending(
    policy: Policy,
) -> None:
    router = Router(policy)
    (page,) = router.route(incident_page(policy, "absent_too_long", NIGHT, "102"))
    assert (page.priority, page.recipient) == ("normal", "site-care")
    assert reasons(router) == [
        "no route fits or has someone on duty: the site's recipients.care site-care, no escalation"
    ]
    assert router.pending() == []


def test_a_route_by_kind_pages_the_names_on_duty_and_says_who_is_off_duty(
    policy: Policy,
) -> None:
    router = Router(policy)
    fall = incident_page(policy, "fall", NIGHT, "102")
    assert [p.recipient for p in router.route(fall)] == ["e1", "e2"]
    assert reasons(router) == [
        "route 'falls' to e1, e2 (day-team, d2 off duty), escalation at +60 s to e1/e2/day-team/d2"
    ]


def test_an_escalation_to_several_names_lists_them_and_each_one_left_out(
    policy: Policy,
) -> None:
    router = Router(policy)
    router.route(incident_page(policy, "fall", NIGHT, "102"))
    router.take_audit()
    assert [p.recipient for p in router.advance(NIGHT + 60)] == ["e1", "e2"]
    assert reasons(router) == [
        "not acknowledged: re-sent to e1, e2 (escalation 1); day-team left out: off duty; "
        "d2 left out: off duty"
    ]


def test_a_route_by_priority_takes_the_pages_of_that_priority_only(policy: Policy) -> None:
    router = Router(policy)
    (exit_,) = router.route(incident_page(policy, "bed_exit", NIGHT, "101"))
    (absent,) = router.route(incident_page(policy, "absent_too_long", NIGHT + 1, "101"))
    assert (exit_.priority, exit_.recipient) == ("high", "u1")
    assert (absent.priority, absent.recipient) == ("normal", "site-care")


def test_a_room_with_its_own_rules_is_paged_and_escalated_by_them_not_its_sites(
    policy: Policy,
) -> None:
    """Room 301's recipients, escalation and language, not the site's: its bed exit goes to
    its own care team, comes back to that team (``team``) after 30 s, then reaches each of its
    pagers in the pager's own language."""
    router = Router(policy)
    first = incident_page(policy, "bed_exit", NIGHT, "301")
    (page,) = router.route(first)
    assert (page.recipient, page.text) == ("room-care", first.text)
    assert first.text.startswith("Kamer 301")
    assert router.pending() == [
        PendingStep(first.incident, 1, NIGHT + 30, ("team",)),
        PendingStep(first.incident, 2, NIGHT + 60, ("r1", "r2")),
    ]
    assert reasons(router) == [
        "no route fits or has someone on duty: the site's recipients.care room-care, "
        "escalation at +30 s to team, +60 s to r1/r2"
    ]
    assert [(p.recipient, p.ts) for p in router.advance(NIGHT + 30)] == [("room-care", NIGHT + 30)]
    assert [(p.recipient, p.text) for p in router.advance(NIGHT + 60)] == [
        ("r1", "Room 301: out of bed (fall risk) (3rd call, 1 min)"),  # each in its language
        ("r2", f"{first.text} (3e oproep, 1 min)"),
    ]


def test_a_device_fault_no_route_fits_goes_to_the_rooms_own_technical_recipient(
    policy: Policy,
) -> None:
    router = Router(policy)
    fault = incident_page(policy, "device_fault", NIGHT, "301", device="mat-3")
    assert [p.recipient for p in router.route(fault)] == ["room-tech"]
    assert [p.recipient for p in router.advance(NIGHT + 600)] == ["room-tech"]
    (routed, escalated) = reasons(router)
    assert routed.startswith("no route fits or has someone on duty: the site's recipients.")
    assert routed.endswith("technical room-tech, escalation at +600 s to team")
    assert escalated == "not acknowledged: re-sent to room-tech (escalation 1)"


def test_without_staff_a_device_fault_escalates_to_the_technical_recipient_named_in_a_step(
    tmp_path: Path,
) -> None:
    """A site without staff has no pagers or groups: its technical recipient is technical by
    its name alone, and is paged with no note that it was left out; the care team it also
    names is left out."""
    policy = compile_rules(tmp_path, NO_STAFF_RULES)
    router = Router(policy)
    fault = incident_page(policy, "device_fault", NIGHT, "101", device="mat-1")
    assert [p.recipient for p in router.route(fault)] == ["technicians"]
    router.take_audit()
    assert [p.recipient for p in router.advance(NIGHT + 600)] == ["technicians"]
    assert reasons(router) == [
        "not acknowledged: re-sent to technicians (escalation 1); night-team left out: "
        "technical pages never go to care staff"
    ]
