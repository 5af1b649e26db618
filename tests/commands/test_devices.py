"""sensorhub devices as a technician reads it: the table, the filters, and a store without
devices; on a real SQLite store written as serve writes it (tests/integration/test_devices.py
runs serve itself, on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from sensorhub.cli import main
from sensorhub.core.types import JournalEntry
from sensorhub.store import open_store
from sensorhub.store.devices import DEVICES_STATE, Inventory


def heard(at: float, room: str, kind: str, device: str, name: str, **extra: float) -> JournalEntry:
    payload = json.dumps({"ts": at, "event": name, **extra})
    return JournalEntry(f"care/zon/{room}/{kind}/{device}", payload, at + 0.1)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A store as serve leaves it: a snapshot of when devices were heard, and a journal since."""
    url = f"sqlite:///{tmp_path / 'sensorhub.db'}"
    now = time.time()
    earlier = Inventory()
    earlier.take_journal([heard(now - 7200, "101", "optical", "cam-101", "heartbeat", value=64)])
    silent = f"zon/102/device_fault/mat-102/silent/{round((now - 5400) * 1000)}"
    with open_store(url) as store:
        store.commit_step([], {DEVICES_STATE: earlier.snapshot()}, [], clear_journal=True)
        store.commit_step(
            [],
            {},
            [{"ts": now - 5400, "decision": "routed", "reason": "x", "incident": silent}],
            journal=[
                heard(now - 3600, "101", "optical", "cam-101", "heartbeat"),
                heard(now - 6000, "102", "bed", "mat-102", "occupied"),
                JournalEntry("", "tick", now),
            ],
        )
    return url


def test_the_table_says_per_device_when_heard_battery_open_faults_and_downtime(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["devices", "--store", store_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "SITE", "ROOM", "DEVICE", "KIND", "FIRST", "SEEN", "LAST", "SEEN", "BATTERY", "OPEN",
        "FAULT", "FAULTS", "30D", "DOWN", "30D",
    ]  # fmt: skip
    camera, mat = lines[1].split(), lines[2].split()
    assert camera[:4] == ["zon", "101", "cam-101", "optical"]
    assert camera[8:] == ["64%", "-", "0", "-"]  # its last battery value: a heartbeat without
    last = datetime.fromtimestamp(time.time() - 3600).astimezone()
    assert f"{last:%Y-%m-%d %H:%M}" in lines[1]
    assert mat[:4] == ["zon", "102", "mat-102", "bed"]
    assert mat[8:10] == ["-", "-"]  # no battery value; the fault is not the router's open one
    assert mat[10] == "1"
    assert mat[11] in {"1h30m", "1h31m"}  # silent since, never heard again
    assert lines[3].startswith("2 device(s); times in ")


def test_site_and_room_choose_and_an_empty_choice_says_so(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["devices", "--store", store_url, "--room", "102", "--json"]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["device"], row["faults_30d"]) == ("mat-102", 1)
    assert main(["devices", "--store", store_url, "--site", "other"]) == 0
    assert capsys.readouterr().out.startswith("no devices known of site other (store: ")


def test_a_store_that_does_not_exist_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["devices", "--store", f"sqlite:///{tmp_path / 'nothing.db'}"]) == 1
    assert "there is no store at" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
