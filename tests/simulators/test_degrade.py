"""``simulators.ward.degrade``: sensors that lose messages, go offline, skew, stick and repeat,
while the ground truth stays what happened in the rooms (issue 17)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from simulators.ward import Degradation, Ward, degrade, simulate_night, valid_events
from simulators.ward.degrade import BURST, DUPLICATE_AFTER, STUCK

from simulators import site

DAY = date(2026, 11, 20)


def _events() -> list[dict]:
    return valid_events(simulate_night(Ward.typical(8, day=DAY), 3).recording)


def test_nothing_asked_changes_nothing() -> None:
    events = _events()
    assert degrade(events, Degradation(), "s") is events


def test_loss_drops_about_so_many_messages_but_no_call() -> None:
    events = _events()
    sent = degrade(events, Degradation(loss=0.1), "s")
    calls = [e for e in events if e["kind"] == "call"]
    assert calls
    assert [e for e in sent if e["kind"] == "call"] == calls
    others = len(events) - len(calls)
    lost = len(events) - len(sent)
    assert 0.07 * others < lost < 0.13 * others
    assert degrade(events, Degradation(loss=0.1), "s") == sent  # the same seed, the same loss
    assert degrade(events, Degradation(loss=0.1), "t") != sent
    with_calls = degrade(events, Degradation(loss=0.5, loss_calls=True), "s")
    assert len([e for e in with_calls if e["kind"] == "call"]) < len(calls)


def test_a_burst_takes_a_device_offline_for_minutes() -> None:
    events = _events()
    sent = degrade(events, Degradation(burst_loss=2), "s")
    ids = {e["id"] for e in sent}
    assert all(e["kind"] != "call" for e in events if e["id"] not in ids)
    runs: list[list[float]] = []  # the messages a device lost one after the other
    for device in {e["device"] for e in events}:
        run: list[float] = []
        for event in (e for e in events if e["device"] == device):
            if event["id"] in ids:
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(event["ts"])
        if run:
            runs.append(run)
    assert runs
    assert all(run[-1] - run[0] <= 2 * BURST[1] for run in runs)  # minutes, not hours
    assert max(len(run) for run in runs) > 1  # several in one go


def test_a_skewed_clock_shifts_the_times_it_reports_but_not_when_its_events_arrive(
    tmp_path: Path,
) -> None:
    ward = Ward.typical(8, day=DAY)
    clean = valid_events(simulate_night(ward, 3).recording)
    skewed = simulate_night(ward, 3, degradation=Degradation(skew=30)).recording
    got = valid_events(skewed)
    assert [e["id"] for e in got] == [e["id"] for e in clean]  # the same order of arrival
    offsets: dict[str, set[int]] = {}
    for before, after in zip(clean, got, strict=True):
        assert abs(after["ts"] - before["ts"]) <= 30 + 0.5 * 12  # skew and a night's drift
        offsets.setdefault(before["device"], set()).add(round(after["ts"] - before["ts"]))
    assert any(abs(next(iter(o))) > 5 for o in offsets.values())
    assert all(max(o) - min(o) <= 7 for o in offsets.values())  # drawn once, drifting slowly
    assert all("_sent_at" not in e for e in got)


def test_a_stuck_sensor_repeats_the_state_it_stuck_in() -> None:
    events = _events()
    sent = degrade(events, Degradation(stuck=1.0), "s")
    assert len(sent) == len(events)
    changed = [(a, b) for a, b in zip(events, sent, strict=True) if a["event"] != b["event"]]
    assert changed
    assert all(a["kind"] not in ("call", "presence") for a, _ in changed)
    assert all(a["event"] != "heartbeat" for a, _ in changed)
    assert STUCK[0] >= 1800


def test_duplicates_come_an_instant_later_with_an_id_of_their_own() -> None:
    events = _events()
    sent = degrade(events, Degradation(duplicates=0.2), "s")
    again = [e for e in sent if e["id"].endswith("-again")]
    assert 0.15 * len(events) < len(again) < 0.25 * len(events)
    originals = {e["id"]: e for e in events}
    for copy in again:
        first = originals[copy["id"].removesuffix("-again")]
        assert copy["ts"] == pytest.approx(first["ts"] + DUPLICATE_AFTER)
        assert copy["event"] == first["event"]
    assert len({e["id"] for e in sent}) == len(sent)


@pytest.mark.parametrize(
    ("option", "value"),
    [("loss", 1.5), ("stuck", -0.1), ("duplicates", 2.0), ("skew", -1.0), ("burst_loss", -2.0)],
)
def test_a_degradation_out_of_range_is_refused(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=option):
        Degradation(**{option: value})


def test_the_site_simulator_keeps_the_truth_of_what_happened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--rooms", "6", "--nights", "2", "--seed", "4"]
    assert site.main([*common, "--out", str(tmp_path / "clean")]) == 0
    lossy = [*common, "--loss", "0.05", "--burst-loss", "1", "--skew", "20", "--stuck", "0.1"]
    assert site.main([*lossy, "--duplicates", "0.01", "--out", str(tmp_path / "bad")]) == 0
    truth = (tmp_path / "clean.truth.json").read_text()
    assert (tmp_path / "bad.truth.json").read_text() == truth
    assert json.loads(truth)["incidents"]
    with pytest.raises(SystemExit):
        site.main([*common, "--loss", "2", "--out", str(tmp_path / "x")])
    assert "--loss is a share between 0 and 1" in capsys.readouterr().err
