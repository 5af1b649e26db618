"""``deploy/logrotate/sensorhub`` (issue 18): logrotate takes it, and a rotation with it leaves
serve's open handle writing on, at the start of the emptied file, with nothing before it lost.
Fails, not skips, without logrotate: ``scripts/setup`` installs it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "logrotate" / "sensorhub"


def logrotate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("logrotate") or shutil.which("/usr/sbin/logrotate")
    if binary is None:
        pytest.fail("logrotate is not installed: run scripts/setup (apt-get install logrotate)")
    return subprocess.run(
        [binary, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def test_logrotate_reads_the_file_without_an_error(tmp_path: Path) -> None:
    done = logrotate("-d", "-s", tmp_path / "state", CONFIG)
    assert done.returncode == 0, done.stderr
    assert "error" not in done.stderr.lower(), done.stderr
    assert "copytruncate" in CONFIG.read_text(encoding="utf-8")


def test_a_rotation_keeps_what_was_written_and_serve_writes_on(tmp_path: Path) -> None:
    logs = tmp_path / "log"
    logs.mkdir()
    config = tmp_path / "sensorhub"
    text = CONFIG.read_text(encoding="utf-8").replace("/var/log/sensorhub/", f"{logs}/")
    config.write_text(text, encoding="utf-8")
    with (logs / "audit.jsonl").open("a", encoding="utf-8") as audit:  # as serve opens it
        audit.write('{"n": 1}\n{"n": 2}\n')
        audit.flush()
        done = logrotate("-f", "-s", tmp_path / "state", config)
        assert done.returncode == 0, done.stderr
        audit.write('{"n": 3}\n')
        audit.flush()
    (rotated,) = [path for path in logs.iterdir() if path.name != "audit.jsonl"]
    assert rotated.name.startswith("audit.jsonl-")
    assert rotated.read_text(encoding="utf-8") == '{"n": 1}\n{"n": 2}\n'
    assert (logs / "audit.jsonl").read_bytes() == b'{"n": 3}\n'  # no hole of NULs before it
