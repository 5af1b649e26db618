"""The comparison core on hand-made pages and audit entries: which page is the same page, and
which of the other side's audit entries says why it did not send one."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sensorhub.contract import Page
from sensorhub.evaluation.compare import Side, compare, only_in
from sensorhub.evaluation.compare_report import render_comparison
from sensorhub.evaluation.truth import GroundTruth

SITE, ROOM, TZ = "zonnehof", "105", "Europe/Amsterdam"
#: 23:00 local time
T = datetime(2026, 11, 20, 23, 0, tzinfo=ZoneInfo(TZ)).timestamp()


def page(ts: float, *, escalation: int = 0, recipient: str = "night-team", **extra: Any) -> Page:
    incident = extra.pop("incident", f"{SITE}/{ROOM}/bed_exit/{int(ts * 1000)}")
    fields: dict[str, Any] = {
        "page_id": f"{incident}/{escalation}/{recipient}",
        "incident": incident,
        "site": SITE,
        "room": ROOM,
        "kind": "bed_exit",
        "priority": "high",
        "audience": "care",
        "ts": ts,
        "escalation": escalation,
        "recipient": recipient,
        "text": "Room 105: out of bed",
        "events": ["mat-1"],
    }
    return Page.model_validate(fields | extra)


def event_entry(ts: float, decision: str, reason: str, event_id: str) -> dict[str, Any]:
    event = {"ts": ts, "site": SITE, "room": ROOM, "kind": "bed", "device": "mat", "id": event_id}
    return {"ts": ts, "decision": decision, "reason": reason, "event": event}


def room_entry(ts: float, decision: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {"ts": ts, "decision": decision, "reason": reason, "site": SITE, "room": ROOM} | extra


def why(audit: list[dict[str, Any]], *pages: Page) -> list[str]:
    """Why a side with ``audit`` (and no pages) did not send ``pages``."""
    c = compare(Side("old", list(pages)), Side("new", [], audit), timezone_of=lambda _: TZ)
    return [d.why_not for d in c.only_old]


def test_the_same_page_is_the_same_place_kind_recipient_escalation_and_time() -> None:
    a = [page(T), page(T, escalation=1), page(T + 60)]
    b = [page(T), page(T, recipient="team"), page(T + 60.002)]
    assert only_in(a, b) == [a[1], a[2]]
    assert only_in(b, a) == [b[1], b[2]]
    assert only_in([page(T), page(T)], [page(T)]) == [page(T)]


def test_the_decision_at_the_moment_wins_over_background_and_earlier_ones() -> None:
    audit = [
        event_entry(T - 5, "pending", "bed vacated: leaving the bed if still vacated", "mat-1"),
        room_entry(T, "state", "motion"),
        room_entry(T, "pending", "paged if not back in bed within 15 min", timer="bed-mat"),
    ]
    assert why(audit, page(T)) == ["pending: paged if not back in bed within 15 min"]
    # nothing at the moment: the decision on the page's evidence, then any earlier one
    assert why(audit[:1], page(T)) == ["pending: bed vacated: leaving the bed if still vacated"]
    other = [room_entry(T - 9, "suppressed", "staff present")]
    assert why(other, page(T)) == ["suppressed: staff present"]
    assert why([room_entry(T + 9, "suppressed", "later")], page(T)) == [
        "no decision on this room up to then in the audit"
    ]
    assert why([], page(T)) == ["no decision on this room in the audit"]


def test_an_escalation_is_explained_by_the_others_last_word_on_its_incident() -> None:
    first, again = page(T), page(T + 120, escalation=1)
    audit = [
        room_entry(T, "routed", "to night-team", incident=first.incident),
        room_entry(T + 60, "acknowledged", "by anna: no more escalation", incident=first.incident),
        room_entry(T + 200, "forgotten", "later", incident=first.incident),
    ]
    assert why(audit, again) == ["acknowledged: by anna: no more escalation"]
    # an escalation of an incident the other never opened: why it did not open it then
    timer = [room_entry(T, "pending", "paged if not back in bed within 15 min", timer="bed")]
    assert why(timer, page(T), again) == ["pending: paged if not back in bed within 15 min"] * 2


def test_reactions_per_night_and_the_change() -> None:
    evening, morning, next_evening = T, T + 6 * 3600, T + 24 * 3600
    old = [page(evening), page(morning), page(morning, escalation=1), page(next_evening)]
    new = [page(evening), page(evening + 1), page(morning), page(next_evening)]
    c = compare(Side("old", old), Side("old", new), timezone_of=lambda _: TZ)  # names alike
    assert c.old_reactions == c.new_reactions - 1 == 3
    assert c.more_reactions == 100 / 3
    assert c.nights == ("2026-11-20", "2026-11-21")
    assert c.reactions == {
        ("2026-11-20", "bed_exit"): (2, 3),
        ("2026-11-21", "bed_exit"): (1, 1),
    }
    assert [d.page for d in c.only_new] == [new[1]]
    assert [d.page for d in c.only_old] == [old[2]]
    assert c.new_miss_count == 0  # the escalation only OLD sends is no lost reaction
    assert c.notes == (
        "no audit of old: no reason why it did not send the pages only NEW sends",
        "no audit of old: no reason why it did not send the pages only OLD sends",
    )


def test_a_night_of_the_truth_without_pages_is_a_row_too() -> None:
    truth = GroundTruth(
        site=SITE,
        timezone=TZ,
        seed=1,
        nights=["2026-11-19", "2026-11-20"],
        rooms=[],
        episodes=[],
        incidents=[],
    )
    c = compare(
        Side("old", [page(T)]), Side("new", [page(T)]), timezone_of=lambda _: TZ, truth=truth
    )
    assert c.nights == ("2026-11-19", "2026-11-20")
    assert c.reactions_of(night="2026-11-19") == (0, 0)
    assert c.reactions_of(night="2026-11-20") == (1, 1)
    assert c.new_misses == c.fixed == c.both_missed == ()


def test_a_page_sent_at_another_time_is_the_same_page_moved() -> None:
    """A longer grace: NEW sends the same page 5 minutes later (a lost reaction for CI); one
    it sends earlier is not lost; one over an hour away is another page."""
    later, earlier = page(T), page(T + 7200)
    far = page(T + 4 * 3600)
    old = [later, earlier, far]
    new = [page(T + 300), page(T + 7200 - 60), page(T + 4 * 3600 + 3601)]
    c = compare(Side("old", old), Side("new", new, []), timezone_of=lambda _: TZ)
    assert [(d.page, d.moved) for d in c.only_old] == [
        (later, new[0]),
        (earlier, new[1]),
        (far, None),
    ]
    assert [(d.page, d.moved) for d in c.only_new] == [
        (new[0], later),
        (new[1], earlier),
        (new[2], None),
    ]
    assert [d.page for d in c.lost_reactions] == [later, far]
    text = render_comparison(c)
    assert "sends it 5m later, at 2026-11-20 23:05:00 CET" in text
    assert "sends it 1m earlier, at 2026-11-21 00:59:00 CET" in text
    assert "no decision on this room in the audit" in text  # far: NEW's audit is empty
