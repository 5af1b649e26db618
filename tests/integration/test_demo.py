"""``sensorhub demo``: one command streams a simulated night through the real service."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

import sensorhub
from sensorhub.cli import main
from sensorhub.commands.replay import replay
from sensorhub.rules import load_policy

PAGE_LINE = re.compile(
    r"^  \d\d:\d\d:\d\d  \S+\s+[a-z_]+(?: \(\+\d+\))?\s+(critical|high|normal|low)"
)


@pytest.mark.mqtt
def test_the_demo_prints_pages_and_a_summary_and_pages_what_replay_pages(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "demo"
    status = main(["demo", "--rooms", "3", "--speed", "5000", "--keep", str(folder)])
    out = capsys.readouterr().out
    assert status == 0, out
    pages = [line for line in out.splitlines() if PAGE_LINE.match(line)]
    assert pages, out
    for label in ("published", "dead letters", "raw alarms", "reactions", "reduction"):
        assert f"  {label}" in out
    # through MQTT on event time, the service pages what replay pages (contract section 3)
    served = [json.loads(line) for line in (folder / "pages.jsonl").read_text().splitlines()]
    assert len(served) == len(pages)
    replayed_path = tmp_path / "replayed.jsonl"
    summary = replay(folder / "night.jsonl", load_policy(folder / "rules.yaml"), replayed_path)
    replayed = [json.loads(line) for line in replayed_path.read_text().splitlines()]

    def without_id(pages: list[dict[str, Any]]) -> list[list[tuple[str, Any]]]:
        return sorted(sorted((k, v) for k, v in p.items() if k != "page_id") for p in pages)

    # the same pages, field for field but the page id: escalations too (the demo acknowledges
    # nothing, so what is paged is re-sent and escalated)
    assert without_id(served) == without_id(replayed)
    assert any(p["escalation"] > 0 for p in served)
    match = re.search(r"reactions\s+(\d+)", out)
    assert match is not None
    assert int(match.group(1)) == summary.reactions


@pytest.mark.mqtt
def test_the_demo_with_a_shadow_candidate_ends_with_what_it_would_have_paged_otherwise(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "demo"
    argv = ["demo", "--rooms", "8", "--speed", "5000", "--keep", str(folder)]
    assert main(argv) == 0
    live_first = (folder / "pages.jsonl").read_text()
    rules = (folder / "rules.yaml").read_text()
    high = '"105": {resident: {fall_risk: high}}'
    assert high in rules
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(rules.replace(high, '"105": {}'))
    capsys.readouterr()

    assert main([*argv, "--shadow", str(candidate)]) == 0  # the same folder again
    out = capsys.readouterr().out
    assert (folder / "pages.jsonl").read_text() == live_first  # a night of its own each time
    shadow = [json.loads(line) for line in (folder / "shadow.jsonl").read_text().splitlines()]
    live = [json.loads(line) for line in live_first.splitlines()]
    only_live = [p for p in live if p not in shadow]
    assert only_live
    assert {(p["room"], p["kind"]) for p in only_live} == {("105", "bed_exit")}
    assert [p for p in shadow if p not in live] == []
    verdicts = re.search(r"shadow: (\d+) pages agreed, (\d+) only live, (\d+) only", out)
    assert verdicts is not None, out
    assert [int(n) for n in verdicts.groups()] == [len(shadow), len(only_live), 0]
    assert f"pages only OLD sends: {len(only_live)}" in out
    assert "pages only NEW sends: none" in out


#: A raw Zigbee2MQTT or VS373 payload the demo shows going in: local time, topic, the JSON.
RAW_LINE = re.compile(r"^  (\d\d:\d\d:\d\d)  in: ((?:zigbee2mqtt|vs373)/\S+) (\{.*\})$")


@pytest.mark.mqtt
@pytest.mark.parametrize("radars", [[], ["--radars"]], ids=["cameras", "radars"])
def test_the_demo_with_zigbee_sensors_shows_a_few_raw_payloads_and_pages_what_native_pages(
    radars: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "demo"
    argv = ["demo", "--sensors", "zigbee", *radars, "--rooms", "5", "--speed", "5000", "--keep"]
    status = main([*argv, str(folder)])
    out = capsys.readouterr().out
    assert status == 0, out
    # a few raw payloads, each a state change or a press as Zigbee2MQTT publishes it, or a
    # radar's trigger report
    raw = [match for line in out.splitlines() if (match := RAW_LINE.match(line))]
    assert 1 <= len(raw) <= 9, out
    for match in raw:
        payload = json.loads(match.group(3))
        if match.group(2).startswith("vs373/"):
            assert payload["device_info"]["time"].startswith("2026-11-2"), match.group(0)
            continue
        assert {"contact", "occupancy", "action"} & payload.keys(), match.group(0)
        assert payload["last_seen"].endswith("Z")
    assert re.search(r"as Zigbee2MQTT\s+[\d,]+ of them", out), out
    if radars:  # rooms 101 and 103 have a radar: at least one of its reports is shown
        assert re.search(r"as VS373 reports\s+[\d,]+ of them", out), out
        assert any(match.group(2).startswith("vs373/radar-10") for match in raw), out
        assert "preset: vs373" in (folder / "rules.yaml").read_text()
    assert "sources:" in (folder / "rules.yaml").read_text()
    pages = [line for line in out.splitlines() if PAGE_LINE.match(line)]
    served = [json.loads(line) for line in (folder / "pages.jsonl").read_text().splitlines()]
    assert len(served) == len(pages) > 0
    # the night as it is natively (night.jsonl), replayed: the same pages, times included;
    # only the evidence's ids differ (a mapped event's id is its message's digest)
    replayed_path = tmp_path / "replayed.jsonl"
    replay(folder / "night.jsonl", load_policy(folder / "rules.yaml"), replayed_path)
    replayed = [json.loads(line) for line in replayed_path.read_text().splitlines()]

    def said(pages: list[dict[str, Any]]) -> list[list[tuple[str, Any]]]:
        return sorted(sorted((k, v) for k, v in p.items() if k not in ("page_id", "events"))
                      for p in pages)  # fmt: skip

    assert said(served) == said(replayed)
    assert {(p["kind"], p["room"]) for p in served} >= {("bed_exit", "105"), ("call", "101")}


@pytest.mark.mqtt
def test_the_demo_cleans_up_its_temporary_folder(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["demo", "--rooms", "1", "--speed", "20000"])
    out = capsys.readouterr().out
    assert status == 0, out
    folder = re.search(r"recording\s+(\S+)night\.jsonl", out)
    assert folder is not None
    assert not Path(folder.group(1)).exists()


def test_only_the_mqtt_adapter_imports_paho() -> None:
    """One adapter per outside system: the demo's page listener goes through io/mqtt.py too."""
    package = Path(sensorhub.__file__).parent
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            if any(module.split(".")[0] == "paho" for module in modules):
                importers.add(path.relative_to(package).as_posix())
    assert importers == {"io/mqtt.py"}
