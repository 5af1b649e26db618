"""``serve`` end to end with a paging system: pages become ESPA 4.4.4 calls, acknowledgements
from the pagers stop the escalation, and unanswered calls escalate to the next group's pager.

A real Mosquitto, the paging-system simulator (simulators/espa_pager.py) on a loopback TCP
port, and the service on the event clock, so that the test moves time on with events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from simulators.espa_pager import PagerSimulator

from tests.conftest import Names, RunningService, TestClient, wait_until

from .test_durable import advance, page_of, rules_file
from .test_serve import event

Serve = Callable[..., RunningService]
MakeClient = Callable[..., TestClient]

#: The site of test_durable's rule file, with a paging system: its group pagers by address.
PAGING = """\
    paging:
      dect:
        host: 127.0.0.1
        port: {port}
        response_timeout: 0.5
        poll_interval: 0.05
        pagers: {{night-east: "3101", night: "3100"}}
"""


@pytest.fixture
def pager() -> Iterator[PagerSimulator]:
    # acknowledges calls to the east wing's group (3101), after a moment; never the whole team
    with PagerSimulator(ack_delay=0.1, acknowledge={"3101"}) as simulator:
        yield simulator


def rules(folder: Path, site: str, port: int) -> Path:
    path = rules_file(folder, site)
    path.write_text(path.read_text() + PAGING.format(port=port), encoding="utf-8")
    return path


@pytest.mark.mqtt
def test_a_page_is_a_call_and_the_pagers_acknowledgement_stops_the_escalation(
    serve: Serve, mqtt_client: MakeClient, names: Names, tmp_path: Path, pager: PagerSimulator
) -> None:
    running = serve(rules=rules(tmp_path, names.site, pager.port))
    client = mqtt_client([names.pages])
    client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    (page,) = client.wait_for(page_of(0, "12"))
    incident = page.json()["incident"]
    (call,) = pager.wait_for_calls(1)
    assert call.call.address == "3101"
    assert "12" in call.call.message
    store = running.service.store
    wait_until(lambda: bool(store.acks(incident)), "the pager's acknowledgement")
    assert [ack.by for ack in store.acks(incident)] == ["night-east"]
    wait_until(lambda: store.pending("espa:dect") == [], "the call confirmed in the outbox")

    advance(client, names, 61)
    advance(client, names, 125)
    client.publish(names.topic("13", "call"), event(126, "pressed", id="c2"))
    client.wait_for(page_of(0, "13"))  # all before it was decided
    assert not client.matching(page_of(1, "12"))
    assert not client.matching(page_of(2, "12"))


@pytest.mark.mqtt
def test_an_unanswered_call_is_called_again_then_the_whole_night_team_is_called(
    serve: Serve, mqtt_client: MakeClient, names: Names, tmp_path: Path
) -> None:
    with PagerSimulator(ack_delay=0.1, ignore={"3101", "3100"}) as silent:
        serve(rules=rules(tmp_path, names.site, silent.port))
        client = mqtt_client([names.pages])
        client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
        client.wait_for(page_of(0, "12"))
        silent.wait_for_calls(1)

        advance(client, names, 61)
        client.wait_for(page_of(1, "12"))
        again = silent.wait_for_calls(2)[1]
        assert again.call.address == "3101"

        advance(client, names, 125)
        client.wait_for(page_of(2, "12"))
        team = silent.wait_for_calls(3)[2]
        assert team.call.address == "3100"
        assert [received.will_acknowledge for received in silent.calls] == [False] * 3
