"""A site's privacy keys: ``keep_fields`` (payload fields it may keep) and ``retention`` (how long
its history is kept), with their mistakes at their lines (rules/README.md, docs/privacy.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensorhub.rules import load_policy
from tests.rules.test_rules import only_error, write


def test_keep_fields_and_retention_are_read_per_site(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sites:\n  zon:\n    keep_fields: [note, zone.level]\n    retention: 7d\n  maan: {}\n",
    )
    policy = load_policy(path)
    assert policy.keep_fields("zon") == {"note", "zone.level"}
    assert policy.retention("zon") == 7 * 86400
    # a site that says nothing, and a site the file does not name: nothing kept, 30 days
    for site in ("maan", "elsewhere"):
        assert policy.keep_fields(site) == frozenset()
        assert policy.retention(site) == 30 * 86400


@pytest.mark.parametrize(
    ("value", "line", "message"),
    [
        ("[note, ts]", 3, "'ts' is a field of the contract, always kept"),
        ("[note, note]", 3, "'note' is listed twice"),
        ("[snap shot]", 3, "'snap shot' is not a field name"),
    ],
)
def test_a_wrong_keep_fields_is_a_mistake_at_its_line(
    tmp_path: Path, value: str, line: int, message: str
) -> None:
    error = only_error(write(tmp_path, f"sites:\n  zon:\n    keep_fields: {value}\n"))
    assert (error.line, error.key) == (line, "sites.zon.keep_fields")
    assert message in error.message


def test_retention_is_a_duration_of_an_hour_to_ten_years(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "sites:\n  zon:\n    rooms: {}\n    retention: 30m\n"))
    assert (error.line, error.key) == (4, "sites.zon.retention")
    assert error.message == "retention must be between 1h and 3650d, not '30m'"


def test_keep_fields_belongs_to_a_site_not_a_room(tmp_path: Path) -> None:
    error = only_error(
        write(tmp_path, "sites:\n  zon:\n    rooms:\n      '12': {keep_fields: [note]}\n")
    )
    assert error.line == 4
    assert "it is a key of site 'zon'" in error.message
