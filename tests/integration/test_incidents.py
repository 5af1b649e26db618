"""``sensorhub incidents``: the incidents of a store written by a real ``serve`` (a real
Mosquitto; SQLite and PostgreSQL), read by the command as a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sensorhub.contract import ACK_TOPIC
from tests.conftest import Names, RunningService, TestClient
from tests.integration.conftest import ServeProcess

from .test_durable import advance, page_of, rules_file
from .test_serve import NIGHT, event

MakeClient = Callable[..., TestClient]
Serve = Callable[..., RunningService]


def incidents(store_url: str, *options: str) -> subprocess.CompletedProcess[str]:
    """The command, on the site's wall clock (Amsterdam), as a coordinator there runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "sensorhub", "incidents", *options, "--store", store_url],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "TZ": "Europe/Amsterdam"},
    )
    assert done.returncode == 0, done.stderr
    return done


def as_json(store_url: str, *options: str) -> dict[str, dict[str, Any]]:
    lines = incidents(store_url, "--json", *options).stdout.splitlines()
    return {row["room"]: row for row in map(json.loads, lines)}


@pytest.mark.mqtt
def test_incidents_shows_who_was_paged_the_acknowledgement_and_the_next_step(
    serve: Serve, mqtt_client: MakeClient, names: Names, tmp_path: Path, store_url: str
) -> None:
    running = serve(rules=rules_file(tmp_path, names.site), store_url=store_url)
    client = mqtt_client([names.pages])
    client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    (first,) = client.wait_for(page_of(0, "12"))
    advance(client, names, 61)
    (again,) = client.wait_for(page_of(1, "12"))
    assert again.json()["text"].endswith(" (2nd call, 1 min)")  # a repeat says so
    client.publish(
        f"{ACK_TOPIC}/{names.site}",
        {"incident": first.json()["incident"], "by": "east-1", "ts": NIGHT + 90},
    )
    client.publish(names.topic("13", "call"), event(100, "pressed", id="c2"))
    client.wait_for(page_of(0, "13"))
    advance(client, names, 130)  # the acknowledgement of room 12 takes effect
    client.publish(names.topic("14", "call"), event(131, "pressed", id="c3"))
    client.wait_for(page_of(0, "14"))  # everything before it has been decided
    running.stop()

    found = as_json(store_url, "--night", "2026-11-20", "--site", names.site)
    assert sorted(found) == ["12", "13", "14"]
    acked, open_ = found["12"], found["13"]
    assert (acked["site"], acked["kind"], acked["status"]) == (names.site, "call", "acknowledged")
    assert acked["opened"] == NIGHT
    assert acked["paged"] == [
        {"ts": NIGHT, "escalation": 0, "recipient": "night-east"},
        {"ts": NIGHT + 60, "escalation": 1, "recipient": "night-east"},
    ]
    assert acked["closed"] == {"by": "east-1", "at": NIGHT + 90, "how": "acknowledgement"}
    assert acked["next_step"] is None
    assert open_["status"] == "open"
    assert open_["closed"] is None
    assert open_["next_step"] == {"escalation": 1, "due": NIGHT + 160, "to": ["same"]}

    # without --night: the open ones (the night of 2026-11-20 is not last night any more)
    assert sorted(as_json(store_url, "--site", names.site)) == ["13", "14"]
    assert sorted(as_json(store_url, "--all", "--site", names.site)) == ["12", "13", "14"]
    assert as_json(store_url, "--night", "2026-11-21", "--site", names.site) == {}

    text = incidents(store_url, "--night", "2026-11-20", "--site", names.site).stdout
    assert f"{names.site}/12  call  acknowledged  opened 2026-11-20 23:00:00 CET" in text
    assert "  paged: night-east 23:00:00, night-east 23:01:00 (call 2)" in text
    assert "  closed by east-1 at 23:01:30: acknowledgement" in text
    assert "  next: call 2 to same at 23:02:40" in text
    assert "3 incident(s): opened in the night of 2026-11-20; times in CET" in text


@pytest.mark.mqtt
def test_incidents_of_a_killed_serve_and_after_its_restart(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
    store_url: str,
) -> None:
    """What ``serve`` wrote before a ``kill -9`` is listed, and the same after a restart with
    another hash seed sends the re-sent page it owed."""
    service = serve_process(rules_file(tmp_path, names.site), store_url=store_url)
    service.start(seed=1)
    client = mqtt_client([names.pages])
    client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    client.wait_for(page_of(0, "12"))
    service.kill()

    (killed,) = as_json(store_url, "--all", "--site", names.site).values()
    assert killed["status"] == "open"
    assert killed["paged"] == [{"ts": NIGHT, "escalation": 0, "recipient": "night-east"}]
    assert killed["next_step"] == {"escalation": 1, "due": NIGHT + 60, "to": ["same"]}

    service.start(seed=2)
    advance(client, names, 61)
    client.wait_for(page_of(1, "12"))
    service.stop_by("sigterm")
    (restarted,) = as_json(store_url, "--all", "--site", names.site).values()
    assert [p["escalation"] for p in restarted["paged"]] == [0, 1]
    assert restarted["next_step"] == {"escalation": 2, "due": NIGHT + 120, "to": ["night"]}
