"""``sensorhub purge --site S --room R [--before DATE]``: one room's history removed from the
store of serve, while another connection (serve's) holds it open; what it removed said; bad
arguments refused with a sentence (docs/privacy.md)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sensorhub import cli
from sensorhub.commands.purge import REFUSED, parse_before
from sensorhub.store import STORE_ENV, open_store
from tests.store.test_history import DAY, fill


def test_purge_removes_the_rooms_history_while_serve_holds_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'sensorhub.db'}"
    with open_store(url) as serving:  # as serve holds it
        fill(serving, time.time() - DAY)
        code = cli.main(["purge", "--site", "zon", "--room", "12", "--store", url])
        assert code == 0
        out = capsys.readouterr().out
        assert "site zon room 12: 3 audit entries, 1 acknowledgements, 1 delivered pages" in out
        assert "left, as serve still works with them: 1 open incidents" in out
        assert all(e.get("room") != "12" for e in serving.audit_since(0.0))
        assert len(serving.audit_since(0.0)) == 3


def test_purge_before_a_date_keeps_what_is_newer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(STORE_ENV, raising=False)
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    with open_store(url) as store:
        fill(store, time.time() - DAY)
    code = cli.main(["purge", "--site", "zon", "--room", "12", "--before", "2020-01-01"])
    assert code == REFUSED  # no --store, and no store in the working directory ...
    assert "there is no store at" in capsys.readouterr().err
    args = ["purge", "--site", "zon", "--room", "12", "--before", "2020-01-01", "--store", url]
    assert cli.main(args) == 0
    assert ": 0 audit entries, 0 acknowledgements" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "zon", "--room", "12/x"], "--room '12/x' is not a room name"),
        (["--site", "zon", "--room", "12", "--before", "yesterday"], "is not a date or time"),
    ],
)
def test_bad_arguments_are_refused_with_a_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert cli.main(["purge", *args, "--store", f"sqlite:///{tmp_path / 'x.db'}"]) == REFUSED
    assert message in capsys.readouterr().err


def test_before_reads_dates_and_times_with_or_without_an_offset() -> None:
    assert parse_before("2026-12-01T08:00:00+01:00") == 1796108400.0
    assert parse_before("2026-12-01T07:00Z") == 1796108400.0
    assert parse_before("2026-12-01") < parse_before("2026-12-02")
