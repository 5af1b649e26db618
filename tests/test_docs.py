"""The documentation and deploy/ agree with the repository and with each other."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).parents[1]
#: What a newcomer reads: the docs, the rule files' comments, deploy/, the sources' docstrings.
READ = sorted(
    [
        REPO / "README.md",
        *(REPO / "docs").glob("*.md"),
        *(REPO / "rules").iterdir(),
        *(REPO / "deploy").rglob("*.*"),
        *(REPO / "src").rglob("*.py"),
    ]
)
#: A mode given for the MQTT password file: ``install -m 0640 ... mqtt-password`` or
#: ``mqtt-password`` followed by ``(mode 0640``.
PASSWORD_MODE = re.compile(
    r"-m (0[0-7]{3})[^\n]*/etc/sensorhub/mqtt-password|mqtt-password`?\s*\(mode (0[0-7]{3})"
)


def test_nothing_points_to_a_contract_md_the_repository_does_not_have() -> None:
    assert not (REPO / "CONTRACT.md").exists()
    assert (REPO / "docs" / "contract.md").is_file()
    pointing = [
        f"{path.relative_to(REPO)}:{number}"
        for path in READ
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "CONTRACT.md" in line
    ]
    assert pointing == []


def test_deploy_and_the_operations_guide_give_the_password_file_one_mode() -> None:
    modes: dict[str, set[str]] = {}
    for path in [REPO / "docs" / "operations.md", *(REPO / "deploy").rglob("*.*")]:
        for match in PASSWORD_MODE.finditer(path.read_text(encoding="utf-8")):
            modes.setdefault(match.group(1) or match.group(2), set()).add(path.name)
    assert "operations.md" in set().union(*modes.values())
    assert list(modes) == ["0640"], modes
