"""Replaying a recording and publishing it through MQTT to ``serve --clock event`` give the
same pages, escalations included, field for field but ``page_id`` (CONTRACT.md section 3)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sensorhub.commands.replay import replay
from sensorhub.contract import Page
from sensorhub.rules import load_policy
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
