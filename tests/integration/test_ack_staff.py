"""Acknowledgements over a real Mosquitto to ``sensorhub serve``: only the site's staff stop an
escalation; any other is dead-lettered with the reason, counted, and the pages go on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sensorhub.contract import ACK_TOPIC
from tests.conftest import Names, RunningService, TestClient

from .test_durable import advance, page_of, rules_file
from .test_serve import event

Serve = Callable[..., RunningService]
MakeClient = Callable[..., TestClient]
YEAR_2000 = datetime(2000, 1, 1, tzinfo=UTC).timestamp()


@pytest.mark.mqtt
@pytest.mark.parametrize(
    ("ack", "code", "reason"),
    [
        ({"by": "mallory (not staff)"}, "not_staff", "is none of the staff of site"),
        ({"by": "east-1", "ts": YEAR_2000}, "bad_time", "before the incident's first page"),
    ],
)
def test_an_acknowledgement_not_by_staff_or_from_2000_stops_no_escalation(  # noqa: PLR0917 - fixtures
    serve: Serve,
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
    ack: dict[str, object],
    code: str,
    reason: str,
) -> None:
    running = serve(rules=rules_file(tmp_path, names.site))
    client = mqtt_client([names.pages, "sensorhub/deadletter"])
    client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    (first,) = client.wait_for(page_of(0, "12"))
    incident = first.json()["incident"]

    topic = f"{ACK_TOPIC}/{names.site}"
    client.publish(topic, {"incident": incident, **ack})
    (letter,) = client.wait_for(lambda m: m.topic == "sensorhub/deadletter")
    assert letter.json()["topic"] == topic
    assert reason in letter.json()["error"]
    advance(client, names, 59)
    advance(client, names, 130)
    client.wait_for(page_of(1, "12"))  # re-sent at 60 s ...
    client.wait_for(page_of(2, "12"))  # ... and to the night at 2 min
    assert running.service.store.acks(incident) == []
    metrics = running.service.registry
    assert metrics.get_sample_value("sensorhub_acks_refused_total", {"reason": code}) == 1
