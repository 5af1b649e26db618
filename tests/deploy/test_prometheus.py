"""The Prometheus alert rules in ``deploy/prometheus`` (issue 18): valid for ``promtool``, their
own unit tests pass (``promtool test rules``), and every ``sensorhub_*`` metric they use is one
that ``sensorhub serve`` really exports. Without ``promtool`` these fail, not skip:
``scripts/setup`` installs it (Debian's ``prometheus`` package).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sensorhub.commands.serve import Service, ServiceOptions
from sensorhub.io.mqtt import MqttSettings
from sensorhub.rules import load_policy

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = DEPLOY / "sensorhub-alerts.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed: run scripts/setup (apt-get install prometheus)")
    return subprocess.run(
        [binary, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_finds_the_rules_valid() -> None:
    done = promtool("check", "rules", RULES.name)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_pass_their_unit_tests() -> None:
    done = promtool("test", "rules", "sensorhub-alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_example_configuration_loads_the_rules() -> None:
    done = promtool("check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_alert_named_in_the_issue_is_there() -> None:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    alerts = {rule["alert"] for group in groups for rule in group["rules"]}
    assert {
        "SensorhubDown",
        "SensorhubBrokerGone",
        "SensorhubOutboxNotDraining",
        "SensorhubPagingLinkDown",
        "SensorhubDevicesSilent",
        "SensorhubStoreFailing",
    } <= alerts


def exported(tmp_path: Path) -> set[str]:
    """The metric names a real ``Service`` exports (its registry, as /metrics serves it): its
    samples' and, for a family with none yet (no paging system here), the family's."""
    settings = MqttSettings.from_url("mqtt://127.0.0.1:1", client_id="sensorhub-names")
    options = ServiceOptions(store_url=f"sqlite:///{tmp_path / 'sensorhub.db'}")
    service = Service(load_policy(None), settings, options)
    try:
        text = generate_latest(service.registry).decode("utf-8")
    finally:
        service.store.close()
    families = list(text_string_to_metric_families(text))
    return {family.name for family in families} | {
        sample.name for family in families for sample in family.samples
    }


def test_every_metric_the_rules_use_is_exported_by_serve(tmp_path: Path) -> None:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    used = {
        name
        for group in groups
        for rule in group["rules"]
        for name in re.findall(r"\bsensorhub_[a-z_]+", rule["expr"])
    }
    assert used, "the rules use sensorhub's metrics"
    assert used - exported(tmp_path) == set()
