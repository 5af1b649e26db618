"""sensorhub mute / unmute / silences: silences set from the command line, in a real SQLite store.

The commands run through ``sensorhub.cli.main`` (and once as a process); the store is a real
SQLite file, read back as the service reads it (``Silences.restore``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sensorhub.cli import main
from sensorhub.commands.mute import KEEP_ENDED, RULES_ENV, SILENCES_STATE
from sensorhub.contract import Page
from sensorhub.routing.silences import Silence, Silences
from sensorhub.store import DEFAULT_STORE_URL, STORE_ENV, open_store, store_url_default

REPO = Path(__file__).parents[2]
EXAMPLE = REPO / "rules" / "example-site.yaml"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A store file, as `sensorhub serve` leaves it; the commands find it by $SENSORHUB_STORE."""
    path = tmp_path / "sensorhub.db"
    open_store(f"sqlite:///{path}").close()
    monkeypatch.setenv(STORE_ENV, f"sqlite:///{path}")
    monkeypatch.setenv(RULES_ENV, str(tmp_path / "no-rules.yaml"))
    monkeypatch.setenv("USER", "jan")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def stored(path: Path) -> Silences:
    """The silences as the service reads them from the store."""
    silences = Silences()
    with open_store(f"sqlite:///{path}") as store:
        state = store.load_state(SILENCES_STATE)
    if state is not None:
        silences.restore(state)
    return silences


def audit(path: Path) -> list[dict[str, Any]]:
    with open_store(f"sqlite:///{path}") as store:
        return store.audit_since(0)


def page(kind: str = "bed_exit", room: str = "101", audience: str = "care") -> Page:
    return Page(
        page_id=f"zon/{room}/{kind}/1/0/night-team",
        incident=f"zon/{room}/{kind}/1",
        site="zon",
        room=room,
        kind=kind,
        priority="high",
        audience=audience,
        ts=time.time(),
        escalation=0,
        recipient="night-team",
        text="x",
        events=[],
    )


# -- mute ------------------------------------------------------------------------------------


def test_muting_a_room_stores_the_silence_with_its_audit_entry(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = time.time()
    code, out, err = run(
        capsys, "mute", "--site", "zon", "--room", "101", "--for", "2h", "--reason", "sensor swap"
    )
    assert (code, err) == (0, "")
    [silence] = stored(db).active(time.time())
    assert (silence.site, silence.room, silence.device) == ("zon", "101", None)
    assert (silence.by, silence.reason) == ("jan", "sensor swap")
    assert before + 7200 <= silence.until <= time.time() + 7200
    assert f"silence id: {silence.id}" in out
    assert "muted room 101 of site zon until " in out
    assert "(for 2h), by jan: sensor swap" in out
    assert "calls are never silenced" in out
    [entry] = audit(db)
    assert entry["decision"] == "silence_added"
    assert entry["by"] == "jan"
    assert entry["silence"]["id"] == silence.id
    assert entry["silence"]["reason"] == "sensor swap"


def test_a_muted_room_holds_back_care_pages_but_never_a_resident_call(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "mute", "--site", "zon", "--room", "101", "--for", "15m", "--reason", "work")
    silences = stored(db)
    now = time.time()
    assert silences.applies(page("bed_exit"), now) is not None
    assert silences.applies(page("call"), now) is None
    assert silences.applies(page("bed_exit", room="102"), now) is None


def test_muting_a_device_holds_back_only_its_faults(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys,
        *("mute", "--site", "zon", "--device", "cam-101", "--for", "3d"),
        *("--reason", "waiting for a spare", "--by", "piet"),
    )
    assert code == 0
    assert "muted device cam-101 of site zon" in out
    assert "(for 3d), by piet" in out
    assert "Only the fault pages of device cam-101 are held back" in out
    assert "calls are never silenced" in out
    [silence] = stored(db).active(time.time())
    assert (silence.room, silence.device, silence.by) == (None, "cam-101", "piet")


def test_two_mutes_one_after_the_other_are_both_kept(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "mute", "--site", "zon", "--room", "101", "--for", "1h", "--reason", "a")
    code, out, _ = run(
        capsys, "mute", "--site", "zon", "--room", "101", "--for", "2h", "--reason", "b"
    )
    assert code == 0
    assert "note: room 101 of site zon was already muted until" in out
    assert [s.reason for s in stored(db).active(time.time())] == ["a", "b"]


@pytest.mark.parametrize(
    ("one", "other"), [("1d", "24h"), ("1h30m", "90m"), ("1d12h", "36h"), ("90", "1m30s")]
)
def test_for_takes_every_spelling_of_a_duration_alike(
    db: Path, capsys: pytest.CaptureFixture[str], one: str, other: str
) -> None:
    """--for reads the one duration grammar (rules/README.md, Durations): days and hours, a
    combination or plain seconds mean the same silence."""
    lengths = []
    for room, text in (("101", one), ("102", other)):
        code, _, err = run(
            capsys, "mute", "--site", "zon", "--device", "cam-1", "--room", room,
            "--for", text, "--reason", "x",
        )  # fmt: skip
        assert (code, err) == (0, "")
        [silence] = [s for s in stored(db).active(time.time()) if s.room == room]
        lengths.append(round(silence.until - silence.created, 3))
    assert lengths[0] == lengths[1]


@pytest.mark.parametrize(
    ("target", "duration", "complaint"),
    [
        (("--room", "101"), "25h", "a room can be muted for at most 1d at a time, not 25h"),
        (("--device", "cam-1"), "8d", "a device can be muted for at most 7d at a time, not 8d"),
        (("--room", "101"), "2 hours", "--for '2 hours' is not a duration: write e.g. 90s"),
        (("--room", "101"), "30m1h", "--for '30m1h' is not a duration: write e.g. 90s"),
        (("--room", "101"), "0m", "--for '0m' is no time at all: give how long, e.g. 2h"),
        (("--room", "101"), "0", "--for '0' is no time at all: give how long, e.g. 2h"),
        ((), "1h", "say what to mute: --room ROOM"),
        (("--room", "1 01"), "1h", "'1 01' is not a site, room or device name"),
    ],
)
def test_a_mute_that_cannot_be_is_refused_with_the_reason_and_nothing_written(
    db: Path,
    capsys: pytest.CaptureFixture[str],
    target: tuple[str, ...],
    duration: str,
    complaint: str,
) -> None:
    code, out, err = run(
        capsys, "mute", "--site", "zon", *target, "--for", duration, "--reason", "x"
    )
    assert code == 1
    assert out == ""
    assert complaint in err
    assert stored(db).every() == []
    assert audit(db) == []


def test_the_rule_file_names_the_sites_and_rooms_that_may_be_muted(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = ("--rules", str(EXAMPLE), "--for", "1h", "--reason", "x")
    code, _, err = run(capsys, "mute", "--site", "zonnebloem", "--room", "109", *rules)
    assert code == 1
    assert "room '109' is not in site 'zonnebloem' in the rule file" in err
    assert "did you mean" in err
    code, _, err = run(capsys, "mute", "--site", "zonneblom", "--room", "101", *rules)
    assert code == 1
    assert "site 'zonneblom' is not in the rule file" in err
    assert "did you mean 'zonnebloem'?" in err
    code, _, _ = run(capsys, "mute", "--site", "zonnebloem", "--room", "101", *rules)
    assert code == 0


@pytest.fixture
def utc_server() -> Iterator[None]:
    """This process on a server's UTC, as if TZ=UTC, and back afterwards."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.usefixtures("utc_server")
def test_without_rules_mute_checks_the_deployed_rule_file_and_says_the_sites_time(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server on UTC; the site (the example's, Europe/Amsterdam) reads its own time."""
    monkeypatch.setenv(RULES_ENV, str(EXAMPLE))
    args = ("--for", "1h", "--reason", "x")
    code, out, err = run(capsys, "mute", "--site", "zonnebloem", "--room", "109", *args)
    assert code == 1
    assert f"room '109' is not in site 'zonnebloem' in the rule file {EXAMPLE}" in err
    assert stored(db).every() == []
    code, out, err = run(capsys, "mute", "--site", "zonnebloem", "--room", "101", *args)
    assert (code, err) == (0, "")
    [silence] = stored(db).active(time.time())
    ends = datetime.fromtimestamp(silence.until, ZoneInfo("Europe/Amsterdam"))
    assert f"until {ends:%Y-%m-%d %H:%M:%S %Z} (for 1h)" in out
    assert ends.tzname() in {"CET", "CEST"}
    assert "not checked" not in out


def test_a_rule_file_that_names_no_rooms_of_the_site_leaves_the_room_unchecked_and_says_so(
    db: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nsites:\n  zon: {timezone: Europe/London}\n", encoding="utf-8")
    monkeypatch.setenv(RULES_ENV, str(rules))
    code, out, _ = run(
        capsys, "mute", "--site", "zon", "--room", "7", "--for", "1h", "--reason", "x"
    )
    assert code == 0
    assert f"note: room '7' was not checked: site 'zon' in the rule file {rules} names no" in out
    assert " GMT (for 1h)" in out or " BST (for 1h)" in out


def test_without_rules_and_none_deployed_mute_says_it_could_not_check(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "mute", "--site", "zon", "--room", "999", "--for", "1h", "--reason", "x"
    )
    assert code == 0
    assert "note: room '999' was not checked against a rule file: cannot read " in out
    assert "no-rules.yaml (No such file or directory); give the site's with --rules FILE" in out


def test_a_store_that_does_not_exist_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped --store must not quietly make a store that the service never reads."""
    monkeypatch.delenv(STORE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(
        capsys, "mute", "--site", "zon", "--room", "1", "--for", "1h", "--reason", "x", "--by", "a"
    )
    assert code == 1
    assert "there is no store at sensorhub.db" in err
    assert list(tmp_path.iterdir()) == []


def test_the_default_store_is_sensorhub_db_here_or_the_environments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STORE_ENV, raising=False)
    assert store_url_default() == DEFAULT_STORE_URL == "sqlite:///sensorhub.db"
    monkeypatch.chdir(tmp_path)
    open_store(DEFAULT_STORE_URL).close()
    code, out, _ = run(capsys, "silences")
    assert code == 0
    assert "no silences in force (store: sqlite:///sensorhub.db)" in out
    monkeypatch.setenv(STORE_ENV, "sqlite:///elsewhere.db")
    assert store_url_default() == "sqlite:///elsewhere.db"


# -- unmute and silences --------------------------------------------------------------------


def mute_room(capsys: pytest.CaptureFixture[str], room: str, duration: str = "1h") -> str:
    code, out, _ = run(
        capsys, "mute", "--site", "zon", "--room", room, "--for", duration, "--reason", "work"
    )
    assert code == 0
    [line] = [line for line in out.splitlines() if line.startswith("silence id: ")]
    return line.removeprefix("silence id: ")


def test_unmute_lifts_the_silence_with_an_audit_entry(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = mute_room(capsys, "101")
    second = mute_room(capsys, "102")
    code, out, err = run(capsys, "unmute", first, "--by", "piet")
    assert (code, err) == (0, "")
    assert out.startswith(f"unmuted room 101 of site zon (silence {first}, set by jan: work)")
    assert [s.id for s in stored(db).active(time.time())] == [second]
    assert [e["decision"] for e in audit(db)] == ["silence_added"] * 2 + ["silence_removed"]
    assert audit(db)[-1]["by"] == "piet"


def test_unmute_of_an_unknown_id_is_refused_and_changes_nothing(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    silence_id = mute_room(capsys, "101")
    code, _, err = run(capsys, "unmute", silence_id + "9")
    assert code == 1
    assert f"no silence '{silence_id}9' is set: did you mean '{silence_id}'?" in err
    assert [s.id for s in stored(db).every()] == [silence_id]
    assert len(audit(db)) == 1


def ended_silence(db: Path, ended_ago: float) -> Silence:
    """A room silence of an hour that ended ``ended_ago`` seconds ago, put in the store."""
    until = time.time() - ended_ago
    silence = Silence(
        site="zon", room="201", until=until, reason="old", by="kees", created=until - 3600
    )
    silences = Silences()
    silences.add(silence)
    with open_store(f"sqlite:///{db}") as store:
        store.save_state(SILENCES_STATE, silences.snapshot())
    return silence


def test_silences_lists_those_in_force_and_all_lists_those_ended_too(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = ended_silence(db, 600)
    current = mute_room(capsys, "101", "2h")
    code, out, _ = run(capsys, "silences")
    assert code == 0
    header, row, footer = out.splitlines()
    assert header.split() == ["ID", "MUTED", "ENDS", "BY", "REASON"]
    assert row.startswith(current)
    assert "room 101 of site zon" in row
    assert row.endswith("(in 2h)  jan  work")
    assert footer == "Resident calls are never silenced, whatever is muted."
    code, out, _ = run(capsys, "silences", "--all")
    lines = out.splitlines()
    assert lines[1].startswith(old.id)
    assert "(ended)" in lines[1]
    assert lines[1].endswith("kees  old")
    assert lines[2].startswith(current)


def test_an_ended_silence_cannot_be_lifted(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = ended_silence(db, 60)
    code, _, err = run(capsys, "unmute", old.id)
    assert code == 1
    assert "already ended at" in err


def test_silences_that_ended_long_ago_are_dropped_at_the_next_change(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = ended_silence(db, KEEP_ENDED + 60)
    current = mute_room(capsys, "101")
    assert [s.id for s in stored(db).every()] == [current]
    assert old.id not in str(audit(db))  # its end was the service's to record


def test_no_silences_says_so(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "silences", "--all")
    assert code == 0
    assert out.startswith("no silences set (store: sqlite:///")


def test_the_commands_run_as_a_process(db: Path) -> None:
    env = {**os.environ, STORE_ENV: f"sqlite:///{db}"}

    def sensorhub(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sensorhub", *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    muted = sensorhub(
        "mute", "--site", "zon", "--room", "101", "--for", "90s", "--reason", "x", "--by", "an"
    )
    assert muted.returncode == 0, muted.stderr
    assert "(for 1m30s), by an: x" in muted.stdout
    listed = sensorhub("silences")
    assert listed.returncode == 0, listed.stderr
    assert "room 101 of site zon" in listed.stdout
    helped = sensorhub("mute", "--help")
    assert "calls" in helped.stdout
    assert "--for DURATION" in helped.stdout


# -- control characters: refused when typed, shown escaped when stored ---------------------------

#: The "fake all clear" of issue 13: clear the screen, home the cursor, print a reassurance.
FAKE_ALL_CLEAR = "\x1b[2J\x1b[Hall clear, nothing muted"


@pytest.mark.parametrize(
    ("option", "text", "shown"),
    [
        ("--reason", FAKE_ALL_CLEAR, "\\x1b"),
        ("--reason", "bed mat\nroom 102 unmuted", "\\n"),
        ("--reason", "camera \u202ereplaced", "\\u202e"),  # a right-to-left override
        ("--by", "jan\rroot", "\\r"),
        ("--by", "jan\tde vries", "\\t"),
    ],
)
def test_a_reason_or_name_with_a_control_character_is_refused_and_nothing_written(
    db: Path, capsys: pytest.CaptureFixture[str], option: str, text: str, shown: str
) -> None:
    given = {"--reason": "work", "--by": "jan", option: text}
    argv = ["mute", "--site", "zon", "--room", "101", "--for", "1h"]
    code, out, err = run(capsys, *argv, "--reason", given["--reason"], "--by", given["--by"])
    assert (code, out) == (1, "")
    assert err.startswith(f"sensorhub: {option} holds the character '{shown}' (")
    assert "\x1b" not in err
    assert stored(db).every() == []
    assert audit(db) == []


def test_unmute_by_a_name_with_a_control_character_is_refused_and_the_silence_stays(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    silence_id = mute_room(capsys, "101")
    code, _, err = run(capsys, "unmute", silence_id, "--by", "jan\x1b[2K")
    assert code == 1
    assert "--by holds the character '\\x1b'" in err
    assert [s.id for s in stored(db).active(time.time())] == [silence_id]


def test_a_user_name_with_a_control_character_is_refused_when_by_is_not_given(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "jan\x07")
    code, _, err = run(
        capsys, "mute", "--site", "zon", "--room", "1", "--for", "1h", "--reason", "x"
    )
    assert code == 1
    assert "your user name ($USER) holds the character '\\x07'" in err
    assert stored(db).every() == []


def test_silences_and_unmute_show_stored_control_characters_escaped_not_obeyed(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store written before they were refused: the terminal is shown the escape, never sent it."""
    now = time.time()
    silence = Silence(
        site="zon", room="201", until=now + 3600, reason=FAKE_ALL_CLEAR, by="k\x1b]0;x\x07",
        created=now,
    )  # fmt: skip
    silences = Silences()
    silences.add(silence)
    with open_store(f"sqlite:///{db}") as store:
        store.save_state(SILENCES_STATE, silences.snapshot())

    code, out, _ = run(capsys, "silences")
    assert code == 0
    _, row, _ = out.splitlines()
    assert row.endswith("k\\x1b]0;x\\x07  \\x1b[2J\\x1b[Hall clear, nothing muted")
    code, out, _ = run(capsys, "unmute", silence.id, "--by", "piet")
    assert code == 0
    assert "set by k\\x1b]0;x\\x07: \\x1b[2J\\x1b[Hall clear, nothing muted), by piet" in out
    for text in (out.removesuffix("\n"), row):
        assert not any(char in text for char in "\x1b\x07\n\r")
