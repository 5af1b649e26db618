"""The board's ward: what it takes from the broker and what it ignores (it shows, never
judges, but a page of one site never shows on another, and bad input never breaks it)."""

from __future__ import annotations

from sensorhub.board.ward import Ward

PAGE = {
    "incident": "i1",
    "site": "a",
    "room": "12",
    "kind": "call",
    "priority": "high",
    "ts": 100.0,
}


def test_a_page_and_its_repeat_make_one_incident_with_two_pages() -> None:
    ward = Ward()
    ward.on_message("sensorhub/pages/a/east", {**PAGE, "recipient": "east", "escalation": 0}, 1.0)
    ward.on_message("sensorhub/pages/a/night", {**PAGE, "recipient": "night", "escalation": 1}, 2.0)
    (item,) = ward.incidents("a")
    assert [(p.recipient, p.escalation) for p in item.pages] == [("east", 0), ("night", 1)]
    assert ward.incidents("b") == []


def test_an_acknowledgement_on_another_sites_topic_or_malformed_input_changes_nothing() -> None:
    ward = Ward()
    ward.on_message("sensorhub/pages/a/east", {**PAGE, "recipient": "east"}, 1.0)
    version = ward.version
    ward.on_message("sensorhub/ack/b", {"incident": "i1", "by": "mallory"}, 2.0)
    ward.on_message("sensorhub/ack/a", {"incident": "i1", "by": 7}, 2.0)
    ward.on_message("sensorhub/ack/a", ["not", "an", "object"], 2.0)
    ward.on_message("sensorhub/pages/a/east", {"incident": "i2"}, 2.0)  # no site, no room
    assert ward.incidents("a")[0].acks == []
    assert ward.sites() == ["a"]
    ward.on_message("sensorhub/ack/a", {"incident": "i1", "by": "east-1"}, 3.0)
    assert [(a.by, a.at) for a in ward.incidents("a")[0].acks] == [("east-1", 3.0)]
    assert ward.version > version


def test_from_the_store_it_takes_open_and_acknowledged_incidents_not_resolved_or_held() -> None:
    rows = [
        {
            "page": {**PAGE, "incident": name},
            "status": status,
            "recipients": ["east"],
            "paged_at": 100.0,
            "closed_by": "east-1" if status == "acknowledged" else None,
            "closed_at": 130.0,
        }
        for name, status in [
            ("i1", "open"),
            ("i2", "acknowledged"),
            ("i3", "resolved"),
            ("i4", "held"),
        ]
    ]
    ward = Ward()
    assert ward.load(rows) == 1
    shown = {i.incident: [(a.by, a.at) for a in i.acks] for i in ward.incidents("a")}
    assert shown == {"i1": [], "i2": [("east-1", 130.0)]}
