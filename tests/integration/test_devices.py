"""``sensorhub devices``: the inventory of a real ``sensorhub serve``'s store, on SQLite and
PostgreSQL, across a ``kill -9`` (the journal) and a clean stop (the saved state) with another
hash seed each time."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sensorhub.store import open_store
from sensorhub.store.devices import DEVICES_STATE
from tests.conftest import Names, TestClient
from tests.integration.conftest import ServeProcess

from .test_durable import advance, rules_file
from .test_serve import NIGHT, event, is_page

MakeClient = Callable[..., TestClient]


def sensorhub(store_url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """A command on the store, as a process of its own, as a technician runs it."""
    return subprocess.run(
        [sys.executable, "-m", "sensorhub", *argv, "--store", store_url],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def devices(store_url: str, *options: str) -> list[dict[str, Any]]:
    """``sensorhub devices --json``, parsed."""
    done = sensorhub(store_url, "devices", "--json", *options)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def by_device(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["device"]: row for row in found}


@pytest.mark.mqtt
def test_devices_lists_when_each_was_heard_its_battery_and_its_faults_across_restarts(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
    store_url: str,
) -> None:
    service = serve_process(rules_file(tmp_path, names.site), store_url=store_url)
    service.start(seed=1)
    client = mqtt_client([names.pages])
    cam = names.topic("12", "optical", "cam-1")
    mat = names.topic("14", "bed", "mat-2")
    client.publish(cam, event(0, "heartbeat", value=80))
    client.publish(mat, event(0, "heartbeat"))
    client.publish(cam, event(30, "battery_low", value=9))
    advance(client, names, 620)  # mat-2 is silent from 600 s on: a fault page
    client.wait_for(is_page(kind="device_fault", room="14"))
    client.publish(mat, event(625, "heartbeat"))  # heard again: the fault resolved
    client.publish(names.topic("12", "call"), event(626, "pressed", id="c1"))
    client.wait_for(is_page(kind="call"))  # everything before it decided and written
    service.kill()

    def check() -> None:
        found = by_device(devices(store_url, "--site", names.site))
        assert set(found) == {"cam-1", "mat-2", "12-call", "99-motion"}
        camera, bed = found["cam-1"], found["mat-2"]
        assert (camera["room"], camera["kind"]) == ("12", "optical")
        assert (camera["first_seen"], camera["last_seen"]) == (NIGHT, NIGHT + 30)
        assert camera["battery"] == 9
        assert camera["open_faults"] == ["battery_low"]
        assert camera["faults_30d"] == 1
        assert (bed["room"], bed["kind"], bed["battery"]) == ("14", "bed", None)
        assert (bed["first_seen"], bed["last_seen"]) == (NIGHT, NIGHT + 625)
        assert (bed["open_faults"], bed["faults_30d"]) == ([], 1)
        assert bed["downtime_30d_s"] == 25  # paged silent at 600 s, heard again at 625 s
        only = devices(store_url, "--site", names.site, "--room", "14")
        assert [row["device"] for row in only] == ["mat-2"]

    check()  # killed: what came since the last snapshot is in the journal
    service.start(seed=2)
    service.stop_by("sigterm")  # a clean stop saves the snapshot and empties the journal
    with open_store(store_url) as store:
        assert store.journal() == []
        assert store.load_state(DEVICES_STATE) is not None
    check()


def retire(store_url: str, device: str) -> subprocess.CompletedProcess[str]:
    return sensorhub(
        store_url, "devices", "retire", device, "--reason", "camera removed", "--by", "jan"
    )


@pytest.mark.mqtt
def test_a_retired_device_is_paged_silent_no_more_after_a_kill_9_and_the_inventory_says_so(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
    store_url: str,
) -> None:
    service = serve_process(rules_file(tmp_path, names.site), store_url=store_url)
    service.start(seed=1)
    client = mqtt_client([names.pages])
    client.publish(names.topic("12", "optical", "cam-1"), event(0, "heartbeat"))
    client.publish(names.topic("14", "bed", "mat-2"), event(0, "heartbeat"))
    client.publish(names.topic("12", "call"), event(1, "pressed", id="c1"))
    client.wait_for(is_page(kind="call"))

    typo = retire(store_url, f"{names.site}/12/cam-l")
    assert typo.returncode == 1
    assert f"did you mean {names.site}/12/cam-1?" in typo.stderr
    done = retire(store_url, f"{names.site}/12/cam-1")
    assert done.returncode == 0, done.stderr
    assert f"retired device cam-1 in room 12 of site {names.site}, by jan" in done.stdout
    again = retire(store_url, f"{names.site}/12/cam-1")
    assert (again.returncode, "is retired already" in again.stderr) == (1, True), again.stderr
    service.kill()
    service.start(seed=3)

    advance(client, names, 620)  # both silent from 600 s on
    client.wait_for(is_page(kind="device_fault", room="14"))
    client.publish(names.topic("12", "call"), event(630, "pressed", id="c2"))
    client.wait_for(lambda m: is_page(kind="call")(m) and m.json()["ts"] >= NIGHT + 630)
    faults = client.matching(is_page(kind="device_fault"))
    assert {m.json()["incident"].split("/")[3] for m in faults} == {"mat-2", "12-call"}
    with open_store(store_url) as store:
        audit = store.audit_since(0)
    added = [e for e in audit if e["decision"] == "silence_added"]
    assert [(e["by"], e["silence"]["retired"]) for e in added] == [("jan", True)]
    held = [e for e in audit if e["decision"] == "silenced"]
    assert [e["incident"].split("/")[3:5] for e in held] == [["cam-1", "silent"]]
    camera = by_device(devices(store_url, "--room", "12"))["cam-1"]
    assert (camera["retired"]["by"], camera["retired"]["reason"]) == ("jan", "camera removed")
