"""``serve --shadow``: candidate rules decide the live stream beside the live rules and page
nobody (issue 15), on a real Mosquitto with the site's paging system (ESPA 4.4.4 simulator).

The live rules and the candidate differ in one resident's ``fall_risk``: the candidate pages
that resident's bed exit, the live rules do not. A resident call is paged by both.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from simulators.espa_pager import PagerSimulator

from sensorhub import cli
from sensorhub.commands.shadow import PARTNER_WAIT, SHADOW_STATE, SHADOW_TOPIC
from sensorhub.store import open_store
from tests.conftest import Names, Received, RunningService, TestClient, wait_until

from .conftest import ServeProcess
from .test_restart import NO_IDLE_FLUSH, SEED_AFTER, SEED_BEFORE, STOPS, At, wait_until_kept
from .test_serve import NIGHT

MakeClient = Callable[..., TestClient]

RULES = """\
version: 1
sites:
  {site}:
    rooms:
      r1-nocam: {{bathroom_grace: 30m{risk}}}
      c1: {{}}
      "99": {{}}
{paging}"""
#: A paging system for the site (``serve`` calls it; the candidate must never).
PAGING = """\
    paging:
      dect:
        host: 127.0.0.1
        port: {port}
        response_timeout: 0.5
        poll_interval: 0.05
        pagers: {{night-team: "3100"}}
"""
#: The candidate's difference: a high fall risk, so that a bed exit is paged at once (5 s).
HIGH_RISK = ", resident: {fall_risk: high}"


def write_rules(folder: Path, site: str, port: int | None = None) -> tuple[Path, Path]:
    live, candidate = folder / "live.yaml", folder / "candidate.yaml"
    paging = "" if port is None else PAGING.format(port=port)
    live.write_text(RULES.format(site=site, risk="", paging=paging), encoding="utf-8")
    candidate.write_text(RULES.format(site=site, risk=HIGH_RISK, paging=paging), encoding="utf-8")
    return live, candidate


@pytest.fixture
def pager() -> Iterator[PagerSimulator]:
    """The site's paging system, answering no call (so that nothing stops an escalation)."""
    with PagerSimulator(ack_delay=0.1, ignore={"3100"}) as simulator:
        yield simulator


def _is(topic: str, kind: str) -> Callable[[Received], bool]:
    return lambda m: m.topic.startswith(topic + "/") and m.json()["kind"] == kind


def _bed_exit(client: TestClient, names: Names) -> None:
    At(-60, "r1-nocam", "bed", "occupied").publish(client, names)
    At(0, "r1-nocam", "bed", "vacated").publish(client, names)


@pytest.mark.mqtt
def test_a_shadow_pages_nobody_publishes_on_its_topic_and_counts_agreement(  # noqa: PLR0917 - fixtures
    serve: Callable[..., RunningService],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    pager: PagerSimulator,
) -> None:
    live, candidate = write_rules(tmp_path, names.site, pager.port)
    live_pages, shadow_pages = tmp_path / "live.jsonl", tmp_path / "shadow.jsonl"
    running = serve(
        rules=live,
        rules_path=live,
        pages_path=live_pages,
        shadow_path=candidate,
        shadow_pages_path=shadow_pages,
    )
    client = mqtt_client(["sensorhub/pages/#", f"{SHADOW_TOPIC}/#"])
    _bed_exit(client, names)
    At(1, "c1", "call", "pressed").publish(client, names)
    At(10, "99", "motion", "heartbeat").publish(client, names)  # the bed exit is decided

    (shadow_exit,) = client.wait_for(_is(SHADOW_TOPIC, "bed_exit"))
    assert shadow_exit.topic == f"{SHADOW_TOPIC}/{names.site}/night-team"
    assert shadow_exit.json()["ts"] == NIGHT + 5
    client.wait_for(_is(SHADOW_TOPIC, "call"))
    client.wait_for(_is("sensorhub/pages", "call"))
    At(10 + PARTNER_WAIT + 5, "99", "motion", "heartbeat").publish(client, names)
    registry = running.service.registry

    def counted(kind: str, verdict: str) -> float | None:
        return registry.get_sample_value(
            "sensorhub_shadow_pages_total", {"kind": kind, "verdict": verdict}
        )

    wait_until(lambda: counted("bed_exit", "shadow_only") == 1, "the bed exit counted")
    assert counted("call", "agree") == 1
    assert counted("call", "live_only") is None
    assert client.matching(_is("sensorhub/pages", "bed_exit")) == []  # never a live page
    (called,) = pager.wait_for_calls(1)  # the live call; the candidate's bed exit never
    assert "c1" in called.call.message
    running.stop()
    assert len(pager.calls) == 1

    shadow_lines = [json.loads(line) for line in shadow_pages.read_text().splitlines()]
    assert [p["kind"] for p in shadow_lines] == ["call", "bed_exit"]  # a call on arrival
    assert [p["kind"] for p in map(json.loads, live_pages.read_text().splitlines())] == ["call"]
    capsys.readouterr()
    assert cli.main(["rules", "compare", "--pages", str(live_pages), str(shadow_pages)]) == 0
    report = capsys.readouterr().out
    assert "bed_exit" in report
    assert "r1-nocam" in report


def _shadow_pages(client: TestClient) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for message in client.matching(lambda m: m.topic.startswith(SHADOW_TOPIC + "/")):
        page = message.json()
        seen.setdefault(page["page_id"], page)
    return list(seen.values())


@pytest.mark.mqtt
@pytest.mark.parametrize("how", STOPS)
def test_a_shadow_timer_pending_at_a_restart_fires_once_in_a_new_process(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
    how: str,
) -> None:
    live, candidate = write_rules(tmp_path, names.site)
    service = serve_process(live)
    service.command += ["--shadow", str(candidate)]
    client = mqtt_client(["sensorhub/pages/#", f"{SHADOW_TOPIC}/#"])
    service.start(SEED_BEFORE, idle_flush=NO_IDLE_FLUSH)
    _bed_exit(client, names)
    wait_until_kept(service, 2)
    service.stop_by(how)
    with open_store(service.store_url) as store:
        saved = store.load_state(SHADOW_STATE)
    assert (saved is not None) == (how == "sigterm")  # a snapshot on stopping, none on a kill
    assert _shadow_pages(client) == []  # bed_exit_confirm (5 s) is pending

    service.start(SEED_AFTER)
    At(7, "99", "motion", "heartbeat").publish(client, names)
    client.wait_for(_is(SHADOW_TOPIC, "bed_exit"))
    At(8, "c1", "call", "pressed").publish(client, names)  # after everything before it
    client.wait_for(_is(SHADOW_TOPIC, "call"))
    client.wait_for(_is("sensorhub/pages", "call"))
    assert [(p["kind"], p["ts"]) for p in _shadow_pages(client)] == [
        ("bed_exit", NIGHT + 5),
        ("call", NIGHT + 8),
    ]
    assert client.matching(_is("sensorhub/pages", "bed_exit")) == []


def test_serve_refuses_a_candidate_with_mistakes_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text("version: 1\nsites:\n  s:\n    rooms:\n      r: {bathroom_grace: soon}\n")
    assert cli.main(["serve", "--shadow", str(candidate)]) == 2
    err = capsys.readouterr().err
    assert "the --shadow rules have mistakes" in err
    assert f"{candidate}:5" in err
