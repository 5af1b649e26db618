"""A store that cannot be written never swallows an alarm (issue 13).

``sensorhub serve`` runs as a process of its own on a real Mosquitto and a real store, and the
store is taken away in the middle of a stream of resident calls: the SQLite file's file system
filled up (a 2 MiB tmpfs), or the private PostgreSQL stopped. While it is away, serve must say
offline on ``sensorhub/status`` at once (retained: the fallback relay pages unfiltered), say so
in one log line (not a traceback per round), and page every call all the same; when the store is
back it writes what it held, says online again and goes on. A ``kill -9`` after that, and a
restart with another hash seed, must neither lose an incident nor page one twice: every call's
first page arrives exactly once (one message, one page id) across the outage and the restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sensorhub.io.mqtt import STATUS_TOPIC
from sensorhub.store import MQTT_CHANNEL, open_store
from sensorhub.testing.broker import PrivateBroker
from tests.conftest import Names, Received, TestClient, wait_until

from .conftest import Outage, ServeProcess
from .test_restart import SEED_AFTER, SEED_BEFORE, rules_file
from .test_serve import event

pytestmark = pytest.mark.mqtt

MakeClient = Callable[..., TestClient]


def call(client: TestClient, names: Names, room: str, t: float) -> None:
    """A resident call in ``room`` at ``t`` s after NIGHT: paged on arrival."""
    client.publish(names.topic(room, "call"), event(t, "pressed", id=f"{room}@{t:g}"))


def first_page(room: str) -> Callable[[Received], bool]:
    def match(message: Received) -> bool:
        if not message.topic.startswith("sensorhub/pages/"):
            return False
        page = message.json()
        return page["room"] == room and page["escalation"] == 0

    return match


def status(state: str) -> Callable[[Received], bool]:
    return lambda m: m.topic == STATUS_TOPIC and m.json()["state"] == state


def pending(url: str) -> int:
    with open_store(url) as store:
        return len(store.pending(MQTT_CHANNEL))


def test_every_call_is_paged_once_across_a_store_outage_and_a_later_restart(
    *,
    outage: Outage,
    serve_process: Callable[..., ServeProcess],
    own_broker: PrivateBroker,
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
) -> None:
    service = serve_process(
        rules_file(tmp_path, names.site), broker=own_broker, store_url=outage.url
    )
    service.start(seed=SEED_BEFORE)
    client = mqtt_client([names.pages, STATUS_TOPIC], broker=own_broker)
    client.wait_for(status("online"))
    t = 0.0

    def paged(room: str) -> None:
        nonlocal t
        t += 5
        call(client, names, room, t)
        client.wait_for(first_page(room))

    paged("before")
    outage.take_away()
    during = [f"during-{i}" for i in range(4)]
    for room in during:  # each is paged while the store cannot take it
        paged(room)
    wait_until(lambda: "STORE DOWN" in service.text(), "the log line of the outage")
    client.wait_for(status("offline"))
    # retained: whoever looks now (the fallback relay after a restart of its own) sees offline
    late = mqtt_client([STATUS_TOPIC], broker=own_broker)
    assert late.wait_for(lambda m: m.topic == STATUS_TOPIC)[0].json()["state"] == "offline"
    paged("during-offline")

    outage.give_back()
    wait_until(lambda: "STORE BACK" in service.text(), "the store taken up again", timeout=30)
    late.wait_for(status("online"))
    paged("after")
    log = service.text()
    assert log.count("STORE DOWN") == 1, "one line for the outage, not one per round"
    assert "please report this" not in log
    assert "Traceback" not in log

    # everything held is written and every page confirmed: a kill now loses nothing
    wait_until(lambda: pending(outage.url) == 0, "every page confirmed in the outbox")
    service.kill()
    service.start(seed=SEED_AFTER)
    paged("restarted")
    time.sleep(1.0)  # a page sent twice would be here by now

    rooms = ["before", *during, "during-offline", "after", "restarted"]
    firsts = [m.json() for m in client.matching(lambda m: m.topic.startswith("sensorhub/pages/"))]
    firsts = [page for page in firsts if page["escalation"] == 0]
    assert sorted(page["room"] for page in firsts) == sorted(rooms), "each call paged once"
    assert len({page["page_id"] for page in firsts}) == len(rooms)
