"""``/healthz`` and ``/readyz`` of ``sensorhub serve`` on its metrics port (issue 18).

``serve`` runs in-process on a private Mosquitto of the test's own and a real store; the broker
is stopped, the store taken away (the SQLite file's tmpfs filled up, or the private PostgreSQL
stopped, as in issue 13's tests) or the paging system (the ESPA simulator) stopped, and
``/readyz`` must turn 503 with the reason in its JSON while ``/healthz`` stays 200 (the process
is alive: a restart would not help), then back to 200 when it is back.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from simulators.espa_pager import PagerSimulator

from sensorhub.io.mqtt import STATUS_TOPIC
from sensorhub.testing.broker import PrivateBroker, free_port
from tests.conftest import Names, RunningService, TestClient, wait_until

from .conftest import Outage
from .test_restart import rules_file
from .test_serve_paging import rules
from .test_store_outage import call, first_page, status

pytestmark = pytest.mark.mqtt

Serve = Callable[..., RunningService]
MakeClient = Callable[..., TestClient]


def get(running: RunningService, path: str) -> tuple[int, str]:
    """The status and body of ``path`` on the service's metrics port."""
    url = f"http://127.0.0.1:{running.service.metrics_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def health(running: RunningService, path: str) -> tuple[int, dict[str, Any]]:
    code, body = get(running, path)
    return code, json.loads(body)


def metric(running: RunningService, name: str) -> float:
    _, text = get(running, "/metrics")
    values = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]
    assert len(values) == 1, f"{name} in {text}"
    return values[0]


def ready_becomes(running: RunningService, code: int) -> dict[str, Any]:
    answers: list[tuple[int, dict[str, Any]]] = []

    def turned() -> bool:
        answers.append(health(running, "/readyz"))
        return answers[-1][0] == code

    wait_until(turned, f"/readyz answering {code}", timeout=30)
    return answers[-1][1]


def test_readyz_says_the_broker_is_gone_and_healthz_that_the_process_lives(
    serve: Serve, own_broker: PrivateBroker
) -> None:
    running = serve(own_broker, metrics_port=free_port())
    body = ready_becomes(running, 200)
    assert body["ok"] is True
    assert body["reasons"] == []
    assert set(body["checks"]) == {"loop", "broker", "store", "classifier"}
    assert metric(running, "sensorhub_broker_connected") == 1

    own_broker.stop()
    body = ready_becomes(running, 503)
    assert body["reasons"] == [f"not connected to {own_broker.url}"]
    assert body["checks"]["store"]["ok"] is True
    code, alive = health(running, "/healthz")
    assert code == 200, alive
    assert alive["ok"] is True
    assert metric(running, "sensorhub_broker_connected") == 0

    own_broker.start()
    assert ready_becomes(running, 200)["checks"]["broker"]["ok"] is True
    assert metric(running, "sensorhub_broker_connected") == 1
    assert get(running, "/metrics")[0] == 200  # the metrics stay where they were
    assert get(running, "/")[0] == 200


def test_readyz_says_the_store_cannot_be_written_until_it_can_again(
    *,
    outage: Outage,
    serve: Serve,
    own_broker: PrivateBroker,
    mqtt_client: Callable[..., TestClient],
    names: Names,
    tmp_path: Path,
) -> None:
    running = serve(
        own_broker,
        rules=rules_file(tmp_path, names.site),
        store_url=outage.url,
        metrics_port=free_port(),
    )
    client = mqtt_client([names.pages, STATUS_TOPIC], broker=own_broker)
    ready_becomes(running, 200)

    outage.take_away()
    call(client, names, "during", 5)  # the round that cannot be written
    client.wait_for(first_page("during"))
    body = ready_becomes(running, 503)
    (reason,) = body["reasons"]
    assert reason.startswith(f"the store {running.service.store.url} cannot be written"), reason
    assert "round(s) held in memory" in reason
    assert health(running, "/healthz")[0] == 200
    client.wait_for(status("offline"))

    outage.give_back()
    assert ready_becomes(running, 200)["checks"]["store"]["detail"] == "the store takes writes"
    assert metric(running, "sensorhub_store_writable") == 1


def test_readyz_says_a_paging_link_is_down_until_the_paging_system_is_back(
    serve: Serve, names: Names, tmp_path: Path
) -> None:
    with PagerSimulator() as pager:
        port = pager.port
        running = serve(rules=rules(tmp_path, names.site, port), metrics_port=free_port())
        body = ready_becomes(running, 200)
        assert body["checks"]["paging:dect"]["detail"] == "paging system dect: link up"
        assert metric(running, "sensorhub_paging_link_up") == 1
    body = ready_becomes(running, 503)  # the paging system is gone
    assert body["reasons"] == ["paging system dect: link down"]
    assert metric(running, "sensorhub_paging_link_up") == 0
    with PagerSimulator(port=port):
        ready_becomes(running, 200)
