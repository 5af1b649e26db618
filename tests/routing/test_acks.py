"""Acknowledgements only from a site's staff, of its open incidents, at a believable time: any
other stops nothing, says why, and the escalation goes on."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sensorhub.routing.acks import ACK_SKEW
from sensorhub.routing.router import RETAIN, Router
from sensorhub.rules import Policy, load_policy

from .test_router import NIGHT, RULES, incident_page, recipients

#: A site without ``staff``: its recipients (its own, and the shipped defaults') acknowledge.
NO_STAFF = """
version: 1
sites:
  plain: {}
  own:
    recipients: {care: nachtploeg, technical: onderhoud}
"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    path = tmp_path_factory.mktemp("rules") / "zon.yaml"
    path.write_text(textwrap.dedent(RULES).lstrip(), encoding="utf-8")
    return load_policy(path)


def test_the_acknowledgers_are_the_pagers_and_groups_of_the_sites_staff(policy: Policy) -> None:
    assert policy.acknowledgers("zon") == {
        *("e1", "e2", "w1", "d1", "solo", "t1"),
        *("east-night", "west-night", "night-team", "day-team", "technicians"),
    }


def test_a_site_without_staff_is_acknowledged_by_its_recipients(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(textwrap.dedent(NO_STAFF).lstrip(), encoding="utf-8")
    policy = load_policy(path)
    assert policy.acknowledgers("plain") == {"night-team", "technicians"}  # rules/default.yaml
    assert policy.acknowledgers("own") == {"nachtploeg", "onderhoud"}
    assert policy.acknowledgers("unnamed") == {"night-team", "technicians"}


@pytest.mark.parametrize("by", ["mallory (not staff)", "E1", "team", "same", "night-team "])
def test_an_acknowledgement_by_someone_not_on_the_staff_stops_no_escalation(
    policy: Policy, by: str
) -> None:
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    router.route(page)
    refused = router.acknowledge(page.incident, by, NIGHT + 30, site="zon")
    assert refused is not None
    assert refused.code == "not_staff"
    assert f"{by!r}, who is none of the staff of site zon" in refused.reason
    (audit,) = router.take_audit()[-1:]
    assert (audit.decision, audit.by, audit.incident) == ("ignored", by, page.incident)
    assert router.status(page.incident) == "open"
    assert recipients(router.advance(NIGHT + 120)) == [
        (1, "east-night", NIGHT + 60),
        (2, "night-team", NIGHT + 120),  # day-team off duty
    ]


@pytest.mark.parametrize("by", ["e1", "east-night", "night-team"])
def test_a_pager_or_group_of_the_staff_acknowledges(policy: Policy, by: str) -> None:
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    router.route(page)
    assert router.acknowledge(page.incident, by, NIGHT + 30, site="zon") is None
    router.advance(NIGHT + 30)
    assert router.status(page.incident) == "acknowledged"
    assert router.advance(NIGHT + 3600) == []


def test_the_staff_checked_is_the_incidents_sites_without_a_topic(policy: Policy) -> None:
    """A paging system's acknowledgement names no topic: its ``by`` is checked against the
    staff of the incident's site."""
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    router.route(page)
    refused = router.acknowledge(page.incident, "nachtploeg", NIGHT + 30)
    assert refused is not None
    assert refused.code == "not_staff"


def test_staff_of_one_site_cannot_acknowledge_an_unknown_or_closed_incident(
    policy: Policy,
) -> None:
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    router.route(page)
    unknown = router.acknowledge("zon/101/fall/1", "e1", NIGHT, site="zon")
    assert unknown is not None
    assert unknown.code == "not_open"
    assert router.acknowledge(page.incident, "e1", NIGHT + 5) is None
    router.advance(NIGHT + 5)
    again = router.acknowledge(page.incident, "e2", NIGHT + 6)
    assert again is not None
    assert (again.code, "already acknowledged" in again.reason) == ("not_open", True)


@pytest.mark.parametrize(
    ("at", "why"),
    [
        (datetime(2000, 1, 1, 12, tzinfo=UTC).timestamp(), "before the incident's first page"),
        (NIGHT - ACK_SKEW - 1, "before the incident's first page"),
        (NIGHT + RETAIN + 1, "over 24 h after its first page"),
    ],
)
def test_an_acknowledgement_from_before_the_incident_or_long_after_stops_nothing(
    policy: Policy, at: float, why: str
) -> None:
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    router.route(page)
    refused = router.acknowledge(page.incident, "e1", at, site="zon")
    assert refused is not None
    assert refused.code == "bad_time"
    assert why in refused.reason
    assert "check the clock of the pager gateway" in refused.reason
    assert recipients(router.advance(NIGHT + 60)) == [(1, "east-night", NIGHT + 60)]
    assert router.status(page.incident) == "open"


def test_a_clock_a_little_behind_still_acknowledges_at_the_first_page(policy: Policy) -> None:
    """Within ``ACK_SKEW`` before the first page (the gateway's clock behind the sensors'),
    the acknowledgement takes effect at the first page, never before the incident."""
    router = Router(policy)
    page = incident_page(policy, "fall", NIGHT)
    router.route(page)
    assert router.acknowledge(page.incident, "e1", NIGHT - ACK_SKEW, site="zon") is None
    router.advance(NIGHT)
    assert [(a.by, a.at) for a in router.take_acks()] == [("e1", NIGHT)]
    assert router.advance(NIGHT + 3600) == []
