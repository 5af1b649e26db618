"""``io.health``: what ``/healthz`` and ``/readyz`` decide from the loop's turns and a real
inbox (the integration tests, ``tests/integration/test_health.py``, take the broker and the
store away from a running serve)."""

from __future__ import annotations

import json
import time

from sensorhub.io.health import BEHIND, LOOP_STALE, Health, Probes, answer
from sensorhub.io.inbox import InboundMessage, Inbox


def health(
    inbox: Inbox,
    links: dict[str, bool] | None = None,
    *,
    stale: float = LOOP_STALE,
    behind: int = BEHIND,
) -> Health:
    probes = Probes(
        broker=lambda: ("mqtt://broker:1883", True),
        store=lambda: None,
        links=lambda: links or {},
        outbox=dict,
        waiting=lambda: inbox.waiting,
    )
    return Health(probes, stale=stale, behind=behind)


def test_alive_while_starting_but_not_ready_until_the_loop_turns() -> None:
    checks = health(Inbox())
    assert answer(checks.live())[0] is True
    ok, body = answer(checks.ready())
    assert ok is False
    assert json.loads(body)["reasons"] == ["starting: the main loop has not turned yet"]
    checks.turned()
    assert answer(checks.ready())[0] is True


def test_a_loop_that_stopped_turning_is_not_alive() -> None:
    checks = health(Inbox(), stale=0.05)
    checks.turned()
    assert answer(checks.live())[0] is True
    time.sleep(0.1)
    ok, body = answer(checks.live())
    assert ok is False
    (reason,) = json.loads(body)["reasons"]
    assert reason.startswith("the main loop last turned ")
    assert reason.endswith(" s ago (stuck)")


def test_the_classifier_is_behind_when_too_many_messages_wait_for_it() -> None:
    inbox = Inbox()
    checks = health(inbox, behind=3)
    checks.turned()
    for n in range(4):
        inbox.put(InboundMessage(f"care/s/{n}/call/b", b"{}", float(n)))
    ok, body = answer(checks.ready())
    assert ok is False
    assert json.loads(body)["reasons"] == [
        "4 message(s) waiting for the classifier, over 3: it is behind"
    ]
    inbox.take(10, 0.1)
    assert answer(checks.ready())[0] is True


def test_each_paging_link_is_a_check_of_its_own() -> None:
    checks = health(Inbox(), links={"dect": False, "nurse-call": True})
    checks.turned()
    ok, body = answer(checks.ready())
    assert ok is False
    got = json.loads(body)
    assert got["reasons"] == ["paging system dect: link down"]
    assert got["checks"]["paging:nurse-call"] == {
        "ok": True,
        "detail": "paging system nurse-call: link up",
    }
