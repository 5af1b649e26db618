"""A flood of bad input never holds good input back (issue 13, part 2), on a real Mosquitto.

A 16 KiB bad message costs serve 140-200 µs to dead-letter, so a flood at the broker's rate
used to queue the calls behind it for seconds. Bad messages that can only be dead letters now
wait in a bounded lane of their own (``io.triage``), acknowledged at once, and a round takes a
few of them beside the good ones; what overflows the lane is counted, not dead-lettered.

The test holds serve's loop while the flood and then a call arrive (so that how fast the
machine is does not matter), lets it go, and looks at what came out before the call's page.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sensorhub.contract import DEADLETTER_TOPIC
from sensorhub.io import inbox as lanes
from sensorhub.io.inbox import Inbox
from sensorhub.testing.broker import PrivateBroker
from tests.conftest import WAIT, Names, RunningService, TestClient, wait_until
from tests.integration.test_serve import event, is_dead_letter_of, is_page

FLOOD = 5000
BAD = b"\x01" * 16384  # not JSON: control bytes, as a hostile client sent them


def _publish_fast(broker: PrivateBroker, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 without waiting for each acknowledgement, as a flooding client does."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="flooder")
    client.max_inflight_messages_set(len(messages))
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(WAIT)
    finally:
        client.disconnect()
        client.loop_stop()


def _waiting(inbox: Inbox) -> int:
    """Messages the inbox holds or dropped: all that reached serve."""
    items: Any = getattr(inbox, "_items", ())
    low: Any = getattr(inbox, "_low", ())
    return len(items) + len(low) + getattr(inbox, "dropped", 0)


@pytest.mark.mqtt
def test_a_call_behind_a_flood_of_bad_input_is_paged_before_the_flood_is_dead_lettered(
    serve: Callable[..., RunningService],
    mqtt_client: Callable[..., TestClient],
    mosquitto: PrivateBroker,
    names: Names,
    caplog: pytest.LogCaptureFixture,
) -> None:
    running = serve()
    service = running.service
    client = mqtt_client([names.pages, DEADLETTER_TOPIC])
    gate = threading.Event()
    take = service.inbox.take

    def held(most: int, timeout: float) -> list[lanes.InboundMessage]:
        gate.wait(WAIT)
        return take(most, timeout)

    service.inbox.take = held  # type: ignore[method-assign]
    time.sleep(0.5)  # the loop now waits at the gate
    bad_topic = names.topic("7", "door")
    call = json.dumps(event(0, "pressed", id="c1")).encode()
    _publish_fast(mosquitto, [(bad_topic, BAD)] * FLOOD + [(names.topic("12", "call"), call)])
    wait_until(lambda: _waiting(service.inbox) >= FLOOD + 1, "serve received the flood")
    gate.set()

    (page,) = client.wait_for(is_page("call"))
    before = client.messages.index(page)
    letters_before = sum(1 for m in client.messages[:before] if m.topic == DEADLETTER_TOPIC)
    assert letters_before <= lanes.LOW_PER_TAKE  # at most one round's share of the flood

    dropped = service.inbox.dropped
    assert dropped > 0  # 80 MB of flood: more than the lane holds (16 MiB)
    letters = client.wait_for(is_dead_letter_of(names), count=FLOOD - dropped, timeout=60)
    assert {m.json()["topic"] for m in letters} == {bad_topic}
    assert all(m.json()["length"] == len(BAD) for m in letters)
    time.sleep(0.5)
    assert len(client.matching(is_dead_letter_of(names))) == FLOOD - dropped  # none twice
    registry = service.registry
    assert registry.get_sample_value("sensorhub_deadletters_total") == FLOOD - dropped
    assert registry.get_sample_value("sensorhub_deadletters_dropped_total") == dropped
    wait_until(
        lambda: any(f"{dropped} message(s) were dropped" in r.getMessage() for r in caplog.records),
        "serve said how many it dropped",
    )
