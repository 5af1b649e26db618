"""Replaying a recording and publishing it through MQTT to ``serve --clock event`` give the
same pages, escalations included, field for field but ``page_id`` (docs/contract.md section 3)."""

from __future__ import annotations

import gzip
import json
import random
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from simulators.publish import publish_recording
from simulators.site import simulate_site, write_site

from sensorhub.commands.replay import replay
from sensorhub.contract import Page
from sensorhub.rules import load_policy
from sensorhub.testing.broker import PrivateBroker
from tests.conftest import Names, Received, RunningService, TestClient
from tests.core.test_event_time import _stream

RULES = """
version: 1
sites:
  {site}:
    rooms:
      high: {{resident: {{fall_risk: high}}}}
      wander: {{resident: {{wanders: true}}}}
      wander-nocam: {{resident: {{wanders: true}}}}
      high-nocam: {{resident: {{fall_risk: high}}}}
"""


def _recording(site: str) -> list[tuple[dict[str, Any] | None, bytes]]:
    """A random night in arrival order: events up to 10 s late, a few malformed lines."""
    events = _stream(11, 1500, site=site)
    rng = random.Random(5)
    arrival = sorted(((e.ts + rng.uniform(0, 9.99), i) for i, e in enumerate(events)))
    lines: list[tuple[dict[str, Any] | None, bytes]] = []
    for n, (_, i) in enumerate(arrival):
        e = events[i]
        payload = {
            "ts": e.ts,
            "site": e.site,
            "room": e.room,
            "kind": e.kind,
            "device": e.device,
            "event": e.event,
            "id": e.id,
        }
        if e.value is not None:
            payload["value"] = e.value
        lines.append((payload, json.dumps(payload).encode()))
        if n % 300 == 150:
            lines.append((payload, b'{"ts": "yesterday", "event": "fall"}'))
    return lines


def _key(page: Page) -> tuple[Any, ...]:
    """Every field of a page but its ``page_id``."""
    fields = page.model_dump(exclude={"page_id"})
    return tuple((name, tuple(value) if isinstance(value, list) else value)
                 for name, value in sorted(fields.items()))  # fmt: skip


@pytest.mark.mqtt
def test_replay_and_serve_on_event_time_give_the_same_pages(
    tmp_path: Path,
    names: Names,
    serve: Callable[..., RunningService],
    mqtt_client: Callable[..., TestClient],
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.format(site=names.site))
    lines = _recording(names.site)

    recording = tmp_path / "night.jsonl"
    recording.write_bytes(b"".join(line + b"\n" for _, line in lines))
    pages_path = tmp_path / "pages.jsonl"
    summary = replay(recording, load_policy(rules), pages_path)
    replayed = sorted(
        _key(Page.model_validate_json(x)) for x in pages_path.read_text().splitlines()
    )
    assert summary.dead_letters == 5
    assert summary.reactions > 10
    assert summary.escalations > 10  # nobody acknowledges a recording: escalations come

    serve(rules=rules, idle_flush=1.0)
    client = mqtt_client([names.pages, "sensorhub/deadletter"])
    for payload, line in lines:
        assert payload is not None
        topic = names.topic(payload["room"], payload["kind"], payload["device"])
        client.publish(topic, line)

    def is_page(message: Received) -> bool:
        return message.topic.startswith("sensorhub/pages/")

    client.wait_for(is_page, count=len(replayed), timeout=60)
    time.sleep(2.0)  # anything more would be a page replay did not send
    pages = [Page.model_validate_json(m.payload) for m in client.matching(is_page)]
    assert sorted(_key(page) for page in pages) == replayed
    dead = client.matching(lambda m: m.topic == "sensorhub/deadletter")
    assert len(dead) == 5


#: Two wings with their own night nurses, the day team by day, technicians apart: every page is
#: routed by wing and shift, re-sent and escalated as the shipped rules say.
WINGS = """
    staff:
      pagers:
        east-1: {{}}
        east-2: {{}}
        west-1: {{}}
        day-1: {{}}
        tech-1: {{}}
      groups:
        east-night: [east-1, east-2]
        west-night: [west-1]
        night-team: [east-night, west-night]
        day-team: [day-1]
        technicians: [tech-1]
      wings:
        east: ["101", "102", "103"]
        west: ["104", "105", "106"]
      schedules:
        night: {{start: "22:00", end: "07:00", on_duty: [east-night, west-night, night-team]}}
        day: {{start: "07:00", end: "22:00", on_duty: day-team}}
      routes:
        faults: {{audience: technical, to: technicians}}
        east: {{wings: east, to: [east-night, day-team]}}
        west: {{wings: west, to: [west-night, day-team]}}
"""


def _site_week(folder: Path, site: str) -> tuple[list[dict[str, Any] | str], Path]:
    """A simulated week of a six-room site (the clocks go back in it), its rule file with wings."""
    run = simulate_site(6, 7, date(2026, 10, 22), 2, 0.02, 0.001, site=site)
    files = write_site(run, folder / "week")
    rules = folder / "rules.yaml"
    text = files.rules.read_text(encoding="utf-8")
    rules.write_text(text.rstrip("\n") + "\n" + WINGS.format(), encoding="utf-8")
    entries: list[dict[str, Any] | str] = []
    with gzip.open(files.recording, "rt", encoding="utf-8") as lines:
        for line in lines:
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                entries.append(line.rstrip("\n"))
    return entries, rules


def _with_acks(entries: list[dict[str, Any] | str], pages: list[Page]) -> list[Any]:
    """The recording with an acknowledgement, 45 s after its first page, of every third
    incident that was paged (where it stands in event time)."""
    firsts = sorted({(p.ts, p.incident, p.site) for p in pages if p.escalation == 0})[::3]
    out = list(entries)
    for ts, incident, site in sorted(firsts, reverse=True):
        at = ts + 45
        ack = {"ts": at, "site": site, "ack": {"incident": incident, "by": "east-1"}}
        where = next(
            (i for i, e in enumerate(out) if isinstance(e, dict) and "ack" not in e
             and isinstance(e.get("ts"), float | int) and e["ts"] > at),
            len(out),
        )  # fmt: skip
        out.insert(where, ack)
    return out


def _write(path: Path, entries: list[Any]) -> Path:
    path.write_text(
        "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in entries),
        encoding="utf-8",
    )
    return path


@pytest.mark.mqtt
def test_a_site_week_with_wing_routes_and_acknowledgements_pages_alike_in_replay_and_serve(
    tmp_path: Path,
    names: Names,
    serve: Callable[..., RunningService],
    mosquitto: PrivateBroker,
    mqtt_client: Callable[..., TestClient],
) -> None:
    """A simulated week (61,000 lines of six rooms, late and malformed lines, the night the
    clocks go back) with routes by wing and shift and staff acknowledging a third of the
    incidents: replay and ``serve --clock event`` send the same pages, escalations included."""
    entries, rules = _site_week(tmp_path, names.site)
    plain = replay(_write(tmp_path / "plain.jsonl", entries), load_policy(rules), tmp_path / "p")
    first = [Page.model_validate_json(x) for x in (tmp_path / "p").read_text().splitlines()]
    acked = _with_acks(entries, first)
    recording = _write(tmp_path / "week.jsonl", acked)
    pages_path = tmp_path / "pages.jsonl"
    summary = replay(recording, load_policy(rules), pages_path)
    replayed = sorted(
        _key(Page.model_validate_json(x)) for x in pages_path.read_text().splitlines()
    )
    assert summary.escalations < plain.escalations  # the acknowledgements stopped some
    assert {dict(k)["recipient"] for k in replayed} >= {"east-night", "west-night", "technicians"}

    serve(rules=rules, idle_flush=1.0)
    client = mqtt_client([names.pages])
    publish_recording(acked, mosquitto.url, prefix=names.prefix)

    def is_page(message: Received) -> bool:
        return message.topic.startswith("sensorhub/pages/")

    client.wait_for(is_page, count=len(replayed), timeout=120)
    time.sleep(2.0)  # anything more would be a page replay did not send
    pages = [Page.model_validate_json(m.payload) for m in client.matching(is_page)]
    assert sorted(_key(page) for page in pages) == replayed
