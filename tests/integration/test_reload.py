"""Rules reloaded without a restart: ``serve`` re-reads its rule file on SIGHUP and on
``sensorhub reload``, keeps everything open, and refuses a file with mistakes."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sensorhub.store import open_store
from tests.conftest import Names, TestClient, wait_until
from tests.rules.test_limits import billion_laughs

from .conftest import ServeProcess
from .test_durable import advance, page_of
from .test_serve import NIGHT, event

MakeClient = Callable[..., TestClient]

RULES = """\
version: 1
sites:
  {site}:
    recipients: {{care: night-team, technical: technicians}}
    rooms:
      "12": {{resident: {{bathroom_grace: 2m}}}}
      "13": {{resident: {{bathroom_grace: {grace}}}}}
"""


def write_rules(path: Path, site: str, grace: str = "2m") -> Path:
    path.write_text(RULES.format(site=site, grace=grace), encoding="utf-8")
    return path


def reload_command(store_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sensorhub", "reload", "--store", store_url, "--wait", "20"],
        capture_output=True,
        text=True,
        check=False,
    )


def reloaded(service: ServeProcess, count: int = 1) -> bool:
    return service.log.read_text(encoding="utf-8").count("reloaded the rules from") >= count


@pytest.mark.mqtt
def test_sighup_rereads_the_rules_and_keeps_incidents_escalations_and_pending_timers(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
) -> None:
    rules = write_rules(tmp_path / "rules.yaml", names.site)
    service = serve_process(rules)
    service.start()
    client = mqtt_client([names.pages])
    client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    client.publish(names.topic("12", "optical"), event(1, "out_of_bed", id="o12"))
    client.publish(names.topic("13", "optical"), event(2, "out_of_bed", id="o13"))
    advance(client, names, 20)
    client.wait_for(page_of(0, "12"))

    write_rules(rules, names.site, grace="5m")  # room 13 changes, room 12 does not
    assert service.process is not None
    service.process.send_signal(signal.SIGHUP)
    wait_until(lambda: reloaded(service), "serve's reload")

    advance(client, names, 200)
    (escalated,) = client.wait_for(page_of(1, "12"))  # the call's escalation, as planned
    assert escalated.json()["ts"] == NIGHT + 120
    absent = client.wait_for(lambda m: m.json()["kind"] == "absent_too_long", count=2)
    assert sorted((m.json()["room"], m.json()["ts"]) for m in absent) == [
        ("12", NIGHT + 1 + 120),  # unchanged room: its timer ran on
        ("13", NIGHT + 2 + 120),  # changed room: its pending decision kept its due time
    ]
    with open_store(service.store_url) as store:
        entries = [e for e in store.audit_since(0) if e.get("decision") == "reloaded"]
    assert [(e["room"], "bathroom_grace 120.0 -> 300.0" in e["reason"]) for e in entries] == [
        ("13", True)
    ]
    # from now on room 13 decides by the new rules
    client.publish(names.topic("13", "optical"), event(300, "in_bed", id="b13"))
    client.publish(names.topic("13", "optical"), event(310, "out_of_bed", id="o13b"))
    advance(client, names, 310 + 200)
    advance(client, names, 310 + 320)
    (late,) = client.wait_for(
        lambda m: (
            m.json()["kind"] == "absent_too_long"
            and m.json()["ts"] > NIGHT + 300
            and m.json()["escalation"] == 0
        )
    )
    assert (late.json()["room"], late.json()["ts"]) == ("13", NIGHT + 310 + 300)


@pytest.mark.mqtt
@pytest.mark.parametrize("mistake", ["a duration in words", "billion laughs"])
def test_sensorhub_reload_answers_and_a_file_with_mistakes_is_refused_and_the_old_rules_stay(
    serve_process: Callable[..., ServeProcess],
    mqtt_client: MakeClient,
    names: Names,
    tmp_path: Path,
    mistake: str,
) -> None:
    rules = write_rules(tmp_path / "rules.yaml", names.site)
    service = serve_process(rules)
    service.start()
    client = mqtt_client([names.pages])

    done = reload_command(service.store_url)
    assert done.returncode == 0, done.stderr
    assert "took up the rules" in done.stdout

    if mistake == "billion laughs":  # refused at its line, as rules check does, not expanded
        billion_laughs(rules)
        where = f"{rules}:6: the alias *a3 repeats"
    else:
        rules.write_text(rules.read_text().replace("bathroom_grace: 2m", "bathroom_grace: 2 weeks"))
        where = f"{rules}:"
    refused = reload_command(service.store_url)
    assert refused.returncode == 1
    assert where in refused.stdout  # FILE:LINE: the mistake
    assert "refused" in refused.stderr
    assert "reload refused" in service.log.read_text(encoding="utf-8")

    # the rules in force stay: a 2-minute grace in room 12
    client.publish(names.topic("12", "optical"), event(0, "out_of_bed", id="o12"))
    advance(client, names, 200)
    (absent,) = client.wait_for(lambda m: m.json()["kind"] == "absent_too_long")
    assert absent.json()["ts"] == NIGHT + 120


def test_sensorhub_reload_without_a_store_says_so(tmp_path: Path) -> None:
    done = reload_command(f"sqlite:///{tmp_path / 'missing.db'}")
    assert done.returncode == 2
    assert "there is no store" in done.stderr


def test_sensorhub_reload_with_no_serve_on_the_store_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    open_store(url).close()
    done = subprocess.run(
        [sys.executable, "-m", "sensorhub", "reload", "--store", url, "--wait", "0.5"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "no answer within 0.5 s" in done.stderr
