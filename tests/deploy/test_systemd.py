"""The systemd units in ``deploy/`` are hardened (issue 18): ``systemd-analyze security`` rates
each under 3.0 (8.5 EXPOSED before), offline, from the unit file alone. Fails, not skips,
without ``systemd-analyze`` (Debian's ``systemd`` package)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def exposure(unit: Path) -> float:
    binary = shutil.which("systemd-analyze")
    if binary is None:
        pytest.fail("systemd-analyze is not installed (apt-get install systemd)")
    done = subprocess.run(
        [binary, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert found, done.stdout + done.stderr
    return float(found.group(1))


@pytest.mark.parametrize("unit", ["sensorhub.service", "sensorhub-fallback.service"])
def test_the_unit_is_rated_under_3(unit: str) -> None:
    assert exposure(DEPLOY / unit) < 3.0


@pytest.mark.parametrize("unit", ["sensorhub.service", "sensorhub-fallback.service"])
def test_the_unit_keeps_what_it_needs(unit: str) -> None:
    """What the hardening must not take away: the network, and a writable store and logs."""
    text = (DEPLOY / unit).read_text(encoding="utf-8")
    assert "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" in text
    settings = [line for line in text.splitlines() if not line.startswith("#")]
    # numba's compiler needs memory it writes and then runs
    assert not any(line.startswith("MemoryDenyWriteExecute=") for line in settings)
    if unit == "sensorhub.service":
        assert "ReadWritePaths=/var/lib/sensorhub /var/log/sensorhub" in text
