"""Rule files: loading, layering, and mistakes reported as file, line, key and a sentence."""

from __future__ import annotations

import argparse
import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sensorhub.commands import rules as check
from sensorhub.rules import (
    Policy,
    RoomPolicy,
    RuleError,
    RuleFileError,
    default_rules_path,
    load_policy,
    load_rule_file,
)
from sensorhub.rules.loader import format_duration, parse_rule_file
from sensorhub.rules.policy import Escalate, EscalationPlan

REPO = Path(__file__).parents[2]
EXAMPLE = REPO / "rules" / "example-site.yaml"


def write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def errors_of(path: Path) -> list[RuleError]:
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(path)
    return caught.value.errors


def only_error(path: Path) -> RuleError:
    (error,) = errors_of(path)
    return error


def site_file(tmp_path: Path, room_body: str) -> Path:
    """A file with one site ``zon`` and one room ``12`` whose body is ``room_body``."""
    body = textwrap.indent(textwrap.dedent(room_body).strip("\n"), " " * 8)
    return write(tmp_path, f"version: 1\nsites:\n  zon:\n    rooms:\n      12:\n{body}\n")


# -- the shipped files --------------------------------------------------------------------------


def test_default_rules_path_is_the_repo_file_in_a_checkout() -> None:
    assert default_rules_path() == (REPO / "rules" / "default.yaml").resolve()


def test_shipped_default_loads_and_compiles_with_every_parameter_set() -> None:
    policy = load_policy()
    room = policy.room("any-site", "any-room")
    assert isinstance(room, RoomPolicy)
    assert (room.timezone, room.night_start, room.night_end) == ("Europe/Amsterdam", 1320, 420)
    assert (room.fall_risk, room.wanders, room.bathroom_grace) == ("normal", False, 900.0)
    assert room.acoustic_threshold == 65.0
    assert (room.care_recipient, room.technical_recipient) == ("night-team", "technicians")


def test_example_site_file_loads_with_its_wings_and_residents() -> None:
    rules = load_rule_file(EXAMPLE)
    assert list(rules.sites) == ["zonnebloem"]
    assert set(rules.sites["zonnebloem"].rooms) == {"101", "102", "103", "104", "201", "202", "203"}
    policy = load_policy(EXAMPLE)
    assert policy.room("zonnebloem", "101").fall_risk == "high"
    assert policy.room("zonnebloem", "102").bathroom_grace == 600.0
    assert policy.room("zonnebloem", "103").acoustic_threshold == 72.0
    west = policy.room("zonnebloem", "201")
    assert (west.wanders, west.care_recipient, west.language) == (True, "nachtdienst-west", "nl")
    assert policy.room("zonnebloem", "104").care_recipient == "nachtdienst-oost"
    assert policy.room("zonnebloem", "104").night_start == 22 * 60 + 30


# -- layering -----------------------------------------------------------------------------------


LAYERS = """
version: 1
defaults:
  bathroom_grace: 20m
  acoustic_threshold: 60
  language: nl
sites:
  zon:
    bathroom_grace: 25m
    acoustic_threshold: 62
    rooms:
      "12":
        bathroom_grace: 30m
        acoustic_threshold: 64
        resident:
          bathroom_grace: 10m
      "13":
        bathroom_grace: 30m
"""


def test_resident_beats_room_beats_site_beats_file_defaults_beats_shipped(
    tmp_path: Path,
) -> None:
    policy = load_policy(write(tmp_path, LAYERS))
    assert policy.room("zon", "12").bathroom_grace == 600.0  # resident
    assert policy.room("zon", "13").bathroom_grace == 1800.0  # room
    assert policy.room("zon", "12").acoustic_threshold == 64.0  # room
    assert policy.room("zon", "13").acoustic_threshold == 62.0  # site
    assert policy.room("zon", "13").language == "nl"  # file defaults
    assert policy.room("zon", "13").fall_confirm == 10.0  # shipped


def test_room_not_in_the_file_gets_its_site_settings_and_unknown_site_the_file_defaults(
    tmp_path: Path,
) -> None:
    policy = load_policy(write(tmp_path, LAYERS))
    assert policy.room("zon", "99").bathroom_grace == 1500.0
    assert policy.room("elsewhere", "1").bathroom_grace == 1200.0
    assert policy.room("elsewhere", "1").night_end == 7 * 60


def test_load_policy_returns_a_policy_over_the_shipped_defaults(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "version: 1\n"))
    assert isinstance(policy, Policy)
    assert policy.room("a", "b") == load_policy().room("a", "b")


# -- values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "seconds"),
    [('"15m"', 900.0), ("1h30m", 5400.0), ("90", 90.0), ("90s", 90.0), ("2h", 7200.0)],
)
def test_durations_are_seconds_or_h_m_s_strings(
    tmp_path: Path, written: str, seconds: float
) -> None:
    rules = load_rule_file(write(tmp_path, f"defaults:\n  bathroom_grace: {written}\n"))
    assert rules.defaults.bathroom_grace == seconds


ESCALATION = "escalation: {{normal: [{{after: {}, to: same}}]}}"
PAGING = "paging: {{dect-1: {{host: h, port: 1, poll_interval: {}, pagers: {{night: '1'}}}}}}"


@pytest.mark.parametrize(
    ("setting", "one", "other"),
    [
        ("silent_after: {}", "1d", "24h"),
        ("silent_after: {}", "1h30m", "90m"),
        ("silent_after: {}", "1d", "86400"),
        ("silent_after: {}", "1h 30m", "5400"),
        ("silent_after: {}", "2H", "2h"),
        (ESCALATION, "0.5d", "12h"),
        (ESCALATION, "1h30m", "5400"),
        (PAGING, "1m30s", "90"),
    ],
)
def test_a_rule_file_takes_every_spelling_of_a_duration_alike(
    tmp_path: Path, setting: str, one: str, other: str
) -> None:
    """Rule files read the one duration grammar (rules/README.md, Durations): in parameters,
    escalation steps and paging systems."""

    def read(written: str) -> dict[str, object]:
        line = setting.format(written)
        path = write(tmp_path, f"sites:\n  zon:\n    {line}\n")
        return load_rule_file(path).model_dump()

    assert read(one) == read(other)


@pytest.mark.parametrize(
    ("written", "complaint"),
    [
        ("2d", "silent_after must be between 1m and 1d, not '2d'"),
        ("-5", "-5 is not a duration: write e.g. 90s, 15m, 2h, 1d or 1h30m"),
        ("30m1h", "'30m1h' is not a duration: write e.g. 90s, 15m, 2h, 1d or 1h30m"),
        ("yes", "true is not a duration: write e.g. 90s"),
        ("[10m]", "silent_after is a duration, e.g. 90s, 15m, 2h, 1d or 1h30m, not a list"),
    ],
)
def test_a_duration_a_rule_file_cannot_take_is_a_mistake_at_its_line(
    tmp_path: Path, written: str, complaint: str
) -> None:
    error = only_error(write(tmp_path, f"version: 1\ndefaults:\n  silent_after: {written}\n"))
    assert (error.line, error.key) == (3, "defaults.silent_after")
    assert complaint in error.message


def test_duration_in_words_is_a_mistake_that_shows_how_to_write_it(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "version: 1\ndefaults:\n  bathroom_grace: 15 minutes\n"))
    assert (error.line, error.key) == (3, "defaults.bathroom_grace")
    assert "'15 minutes' is not a duration" in error.message
    assert "15m" in error.message


def test_duration_out_of_bounds_names_both_bounds_as_durations(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "defaults:\n  bathroom_grace: 5h\n"))
    assert error.message == "bathroom_grace must be between 1m and 4h, not '5h'"


def test_number_out_of_bounds_names_its_unit(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "defaults:\n  acoustic_threshold: 20\n"))
    assert error.message == (
        "acoustic_threshold must be between 30 dB(A) and 130 dB(A), not 20 dB(A)"
    )


def test_unknown_timezone_is_a_mistake_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nsites:\n  zon:\n    timezone: Europe/Amsterdan\n")
    error = only_error(path)
    assert (error.line, error.key) == (4, "sites.zon.timezone")
    assert "not a known time zone" in error.message


def test_night_end_25_00_is_not_a_time_of_day(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, 'defaults:\n  night: {start: "22:00", end: "25:00"}\n'))
    assert (error.line, error.key) == (2, "defaults.night.end")
    assert error.message == "'25:00' is not a time of day: write HH:MM, e.g. 22:00"


def test_unquoted_time_of_day_is_read_as_written_not_as_base_60(tmp_path: Path) -> None:
    rules = load_rule_file(write(tmp_path, "defaults:\n  night: {start: 22:30, end: 06:45}\n"))
    assert rules.defaults.night is not None
    assert (rules.defaults.night.start, rules.defaults.night.end) == ("22:30", "06:45")


def test_literal_mistake_lists_the_allowed_values(tmp_path: Path) -> None:
    error = only_error(site_file(tmp_path, "resident:\n  fall_risk: very high\n"))
    assert error.message == "'very high' is not allowed: fall_risk must be low, normal or high"


# -- where the mistake is -------------------------------------------------------------------------


def test_unknown_key_suggests_the_close_name_at_its_exact_line(tmp_path: Path) -> None:
    path = site_file(tmp_path, "resident:\n  name: mevr. A.\n  fal_risk: high\n")
    error = only_error(path)
    assert error == RuleError(
        str(path),
        8,
        "sites.zon.rooms.12.resident.fal_risk",
        "unknown key 'fal_risk': did you mean 'fall_risk'?",
    )
    assert str(error) == (
        f"{path}:8: sites.zon.rooms.12.resident.fal_risk: "
        "unknown key 'fal_risk': did you mean 'fall_risk'?"
    )


def test_key_at_the_wrong_level_says_where_it_belongs(tmp_path: Path) -> None:
    error = only_error(site_file(tmp_path, "rooms: {}\n"))
    assert (error.line, error.key) == (6, "sites.zon.rooms.12.rooms")
    assert error.message == (
        "'rooms' cannot be set in room '12': it is a key of site 'zon', indented too far? "
        "Indent it as far as rooms: (line 4)"
    )


def test_unknown_key_without_a_close_name_lists_the_allowed_keys(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "version: 1\ncolour: blue\n"))
    assert (error.line, error.key) == (2, "colour")
    assert (
        error.message == "unknown key 'colour': the keys allowed here are version, defaults, sites"
    )


def test_wrong_type_at_a_nested_resident_key_is_reported_at_its_line(tmp_path: Path) -> None:
    path = site_file(tmp_path, "resident:\n  name: dhr. B.\n  fall_risk: high\n  wanders: maybe\n")
    error = only_error(path)
    assert (error.line, error.key) == (9, "sites.zon.rooms.12.resident.wanders")
    assert error.message == "wanders is true or false, not 'maybe'"


def test_text_where_a_mapping_belongs_is_explained(tmp_path: Path) -> None:
    error = only_error(site_file(tmp_path, "resident: high\n"))
    assert (error.line, error.key) == (6, "sites.zon.rooms.12.resident")
    assert "needs indented 'key: value' lines" in error.message


def test_night_written_as_one_string_shows_the_form_to_use(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "defaults:\n  night: 22:00-07:00\n"))
    assert error.message == "night is written {start: ..., end: ...}, not '22:00-07:00'"


def test_alias_inside_its_own_anchor_is_a_mistake_not_a_hang(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "defaults: &x\n  night: *x\n"))
    assert (error.line, error.key) == (2, "defaults.night")


def test_missing_key_points_at_the_mapping_that_lacks_it(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\ndefaults:\n  recipients:\n    care: nachtdienst\n")
    error = only_error(path)
    assert (error.line, error.key) == (3, "defaults.recipients.technical")
    assert error.message.startswith("technical is missing here: add it")


def test_duplicate_key_is_a_mistake_at_the_second_one(tmp_path: Path) -> None:
    path = site_file(tmp_path, "resident:\n  fall_risk: high\n  wanders: true\n  fall_risk: low\n")
    error = only_error(path)
    assert (error.line, error.key) == (9, "sites.zon.rooms.12.resident.fall_risk")
    assert "set twice" in error.message
    assert "line 7" in error.message


def test_duplicate_room_is_a_mistake(tmp_path: Path) -> None:
    path = write(tmp_path, "sites:\n  zon:\n    rooms:\n      12: {}\n      '12': {}\n")
    error = only_error(path)
    assert (error.line, error.key) == (5, "sites.zon.rooms.12")


def test_every_mistake_is_reported_at_once_in_line_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        version: 1
        defaults:
          fall_risk: hgh
          wanders: 3
        sites:
          zon:
            timezone: Nowhere/City
        """,
    )
    assert [(e.line, e.key) for e in errors_of(path)] == [
        (3, "defaults.fall_risk"),
        (4, "defaults.wanders"),
        (7, "sites.zon.timezone"),
    ]


# -- names --------------------------------------------------------------------------------------


def test_room_numbers_written_bare_are_names_as_written(tmp_path: Path) -> None:
    path = write(
        tmp_path, "sites:\n  zon:\n    rooms:\n      12: {}\n      012: {}\n      1_2: {}\n"
    )
    assert list(load_rule_file(path).sites["zon"].rooms) == ["12", "012", "1_2"]


@pytest.mark.parametrize(("key", "kind"), [("1.5", "a decimal number"), ("yes", "yes/no")])
def test_room_key_that_yaml_reads_as_decimal_or_yes_no_must_be_quoted(
    tmp_path: Path, key: str, kind: str
) -> None:
    error = only_error(write(tmp_path, f"sites:\n  zon:\n    rooms:\n      {key}: {{}}\n"))
    assert (error.line, error.key) == (4, f"sites.zon.rooms.{key}")
    assert f"as {kind}: put it in quotes" in error.message


def test_room_name_that_cannot_be_a_topic_level_is_reported_at_the_name(tmp_path: Path) -> None:
    path = write(tmp_path, "sites:\n  zon:\n    rooms:\n      ok: {}\n      kamer 12: {}\n")
    error = only_error(path)
    assert (error.line, error.key) == (5, "sites.zon.rooms.kamer 12")
    assert "cannot be part of an MQTT topic" in error.message


def test_yaml_merge_keys_fill_in_what_the_mapping_does_not_set(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        sites:
          zon:
            rooms:
              "1": &base {bathroom_grace: 10m, wanders: true}
              "2":
                <<: *base
                bathroom_grace: 5m
        """,
    )
    room = load_rule_file(path).sites["zon"].rooms["2"]
    assert (room.bathroom_grace, room.wanders) == (300.0, True)


# -- files that cannot be used at all -----------------------------------------------------------


def test_yaml_syntax_error_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\ndefaults:\n  language: nl\n  night: start: 22:00\n")
    error = only_error(path)
    assert (error.line, error.key) == (4, "")
    assert error.message.startswith("this is not valid YAML here")
    assert str(error).startswith(f"{path}:4: this is not valid YAML here")


def test_tab_indentation_says_to_use_spaces(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "version: 1\ndefaults:\n\tlanguage: nl\n"))
    assert error.line == 3
    assert "never tabs" in error.message


def test_unclosed_quote_says_where_it_was_opened(tmp_path: Path) -> None:
    path = write(tmp_path, 'version: 1\ndefaults:\n  language: "nl\n  wanders: true\n')
    assert "the quote opened on line 3 is never closed" in only_error(path).message


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "~\n"])
def test_empty_file_is_a_mistake(tmp_path: Path, text: str) -> None:
    error = only_error(write(tmp_path, text))
    assert error.line == 1
    assert error.message.startswith("the file is empty")


def test_top_level_list_is_a_mistake(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "- version: 1\n"))
    assert "a rule file is a mapping of keys" in error.message


def test_missing_file_is_unreadable_with_no_line(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(path)
    assert caught.value.unreadable
    assert [str(e) for e in caught.value.errors] == [f"{path}: no such file"]


def test_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(tmp_path)
    assert caught.value.unreadable


def test_file_that_is_not_utf8_is_reported_at_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("version: 1\ndefaults:\n  language: nl # één\n".encode("latin-1"))
    assert only_error(path).line == 3


def test_load_policy_raises_the_rule_file_error_of_a_bad_file(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match=r"site\.yaml:1: version: 2 is not allowed"):
        load_policy(write(tmp_path, "version: 2\n"))


def test_parsed_rule_file_knows_the_line_of_each_key() -> None:
    parsed = parse_rule_file(EXAMPLE)
    text = EXAMPLE.read_text().splitlines()
    line = parsed.line_of(("sites", "zonnebloem", "rooms", "103", "acoustic_threshold"))
    assert text[line - 1].strip().startswith("acoustic_threshold: 72")
    assert parsed.line_of(("sites", "zonnebloem", "rooms", "nope")) == parsed.line_of(
        ("sites", "zonnebloem", "rooms")
    )


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (90, "1m30s"), (900, "15m"), (5400, "1h30m"), (1.5, "1.5s")]
)
def test_format_duration_writes_durations_as_a_technician_does(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# -- sensorhub rules check ----------------------------------------------------------------------


def run_check(*files: Path) -> int:
    parser = argparse.ArgumentParser()
    check.add_arguments(parser)
    return check.run(parser.parse_args([str(f) for f in files]))


def test_check_prints_ok_with_counts_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_check(EXAMPLE) == 0
    assert capsys.readouterr().out.splitlines() == [f"{EXAMPLE}: OK (1 site, 7 rooms)"]


def test_check_prints_each_mistake_then_a_summary_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = site_file(tmp_path, "resident:\n  fal_risk: high\n  wanders: maybe\n")
    assert run_check(path) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:7: sites.zon.rooms.12.resident.fal_risk: "
        "unknown key 'fal_risk': did you mean 'fall_risk'?",
        f"{path}:8: sites.zon.rooms.12.resident.wanders: wanders is true or false, not 'maybe'",
        f"{path}: 2 mistakes, not loaded",
    ]


def test_check_exits_2_when_a_file_cannot_be_read_even_if_others_are_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, "version: 2\n")
    missing = tmp_path / "missing.yaml"
    assert run_check(EXAMPLE, bad, missing) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{EXAMPLE}: OK (1 site, 7 rooms)"
    assert f"{bad}: 1 mistake, not loaded" in out
    assert out[-1] == f"{missing}: no such file"


def test_check_warns_about_a_short_night_and_a_long_grace_but_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        """
        version: 1
        defaults:
          night: {start: "23:00", end: "01:30"}
        sites:
          zon:
            rooms:
              "1": {bathroom_grace: 2h}
        """,
    )
    assert run_check(path) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{path}:3: defaults.night: warning: the night 23:00-01:30 lasts only")
    assert out[1].startswith(f"{path}:7: sites.zon.rooms.1.bathroom_grace: warning:")
    assert out[2] == f"{path}: OK (1 site, 1 room), 2 warnings"


def test_check_shows_a_key_with_an_escape_code_escaped_not_obeyed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """YAML writes ESC as "\\e" in double quotes: the terminal is shown it, never sent it."""
    path = write(tmp_path, 'version: 1\nsites:\n  zon:\n    rooms:\n      "\\e[2J\\e[Hok": {}\n')
    assert check.check_file(path) == check.MISTAKES
    out = capsys.readouterr().out
    assert out.startswith(f"{path}:5: sites.zon.rooms.\\x1b[2J\\x1b[Hok: room name '\\x1b[2J")
    assert "\x1b" not in out


def test_check_help_names_the_exit_codes() -> None:
    assert check.__doc__ is not None
    assert "exit status" in check.__doc__
    assert "2  a file could not be read" in check.__doc__


def test_sensorhub_rules_check_through_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sensorhub.cli import main  # noqa: PLC0415 - the command line, as a user types it

    assert main(["rules", "check", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{EXAMPLE}: OK (1 site, 7 rooms)"]
    assert main(["rules", "check", str(write(tmp_path, "version: 2\n"))]) == 1
    assert main(["rules", "check", str(tmp_path / "missing.yaml")]) == 2


# -- staff, routes and escalation ---------------------------------------------------------------

STAFF = """
version: 1
sites:
  zon:
    recipients: {care: night-team, technical: technicians}
    staff:
      pagers:
        e1: {address: "3101"}
        e2: {address: 3102}
        t1: {}
      groups:
        east-night: [e1, e2]
        night-team: [east-night]
        technicians: [t1]
      wings:
        east: [101, "012"]
      schedules:
        night: {start: "22:00", end: "07:00", on_duty: [east-night, night-team]}
      routes:
        faults: {audience: technical, to: technicians}
        east: {wings: east, priorities: [critical, high], to: east-night}
"""


def staff_file(tmp_path: Path, old: str = "", new: str = "") -> Path:
    """The STAFF file, with ``old`` replaced by ``new`` (``old`` must be in it)."""
    assert old in STAFF
    return write(tmp_path, STAFF.replace(old, new, 1))


def test_shipped_defaults_keep_recipients_and_escalate_by_the_recommended_steps() -> None:
    """Care pages to night-team, faults to technicians; unanswered care pages re-sent, then to
    the whole team (docs/routing.md); device faults never re-sent."""
    room = load_policy().room("any-site", "any-room")
    assert (room.care_recipient, room.technical_recipient) == ("night-team", "technicians")
    assert room.escalation == EscalationPlan(
        critical=(Escalate(60, ("same",)), Escalate(120, ("team",))),
        high=(Escalate(120, ("same",)), Escalate(300, ("team",))),
        normal=(Escalate(300, ("same",)),),
        low=(),
    )
    staff = load_policy().staff("any-site")
    assert not staff.described
    assert staff.routes == ()


def test_staff_section_loads_and_compiles(tmp_path: Path) -> None:
    policy = load_policy(staff_file(tmp_path))
    staff = policy.staff("zon")
    assert staff.described
    assert staff.pagers["e2"].address == "3102"  # written bare, read as the digits
    assert staff.members("night-team") == ("e1", "e2")
    assert staff.members("e1") == ("e1",)
    assert staff.members("nobody") == ()
    assert staff.pager_by_address("3101") is not None
    assert staff.technical_names == frozenset({"technicians"})
    east = staff.routes[1]
    assert east.rooms == frozenset({"101", "012"})
    assert east.priorities == frozenset({"critical", "high"})
    assert staff.timezone == "Europe/Amsterdam"


def test_escalation_is_layered_per_priority(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        version: 1
        defaults:
          escalation:
            critical: [{after: 30s, to: same}]
        sites:
          zon:
            escalation:
              high: [{after: 90s, to: team}]
            rooms:
              "1":
                escalation:
                  normal: []
        """,
    )
    room = load_policy(path).room("zon", "1")
    assert [s.after for s in room.escalation.critical] == [30.0]  # file defaults
    assert [s.after for s in room.escalation.high] == [90.0]  # site
    assert room.escalation.normal == ()  # room: none
    assert room.escalation.low == ()  # set nowhere


def test_unknown_group_in_a_route_says_did_you_mean_at_its_line(tmp_path: Path) -> None:
    path = staff_file(tmp_path, "to: east-night}", "to: east-nigth}")
    error = only_error(path)
    assert error == RuleError(
        str(path),
        20,
        "sites.zon.staff.routes.east.to.0",
        "group 'east-nigth' is not defined under staff.groups: did you mean 'east-night'?",
    )


def test_unknown_pager_in_a_group_is_reported_at_its_list_item(tmp_path: Path) -> None:
    path = staff_file(
        tmp_path, "east-night: [e1, e2]", "east-night:\n          - e1\n          - ee1"
    )
    error = only_error(path)
    assert (error.line, error.key) == (13, "sites.zon.staff.groups.east-night.1")
    assert error.message == "pager 'ee1' is not defined under staff.pagers: did you mean 'e1'?"


def test_unknown_name_without_a_close_one_says_where_to_define_it(tmp_path: Path) -> None:
    path = staff_file(tmp_path, "on_duty: [east-night, night-team]", "on_duty: [zzz]")
    error = only_error(path)
    assert (error.line, error.key) == (17, "sites.zon.staff.schedules.night.on_duty.0")
    assert "'zzz' is neither a pager (staff.pagers) nor a group (staff.groups)" in error.message


def test_unknown_wing_says_did_you_mean(tmp_path: Path) -> None:
    error = only_error(staff_file(tmp_path, "wings: east,", "wings: eats,"))
    assert error.key == "sites.zon.staff.routes.east.wings.0"
    assert error.message == "wing 'eats' is not defined under staff.wings: did you mean 'east'?"


def test_recipients_of_a_room_must_be_defined_staff(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        STAFF + "    rooms:\n      101:\n        recipients: {care: nigth-team, technical: t1}\n",
    )
    error = only_error(path)
    assert (error.line, error.key) == (23, "sites.zon.rooms.101.recipients.care")
    assert "did you mean 'night-team'?" in error.message


def test_escalation_names_may_be_same_or_team_or_staff_and_typos_are_caught(
    tmp_path: Path,
) -> None:
    text = (
        STAFF + "    escalation:\n      critical: [{after: 60s, to: sam}, {after: 2m, to: team}]\n"
    )
    error = only_error(write(tmp_path, text))
    assert (error.line, error.key) == (22, "sites.zon.escalation.critical.0.to.0")
    assert error.message == "'sam' is not a pager or group: did you mean 'same'?"


def test_file_defaults_escalation_names_must_exist_in_each_site_with_staff(
    tmp_path: Path,
) -> None:
    text = STAFF.replace(
        "version: 1\n", "version: 1\ndefaults:\n  escalation:\n    high: [{after: 2m, to: head}]\n"
    )
    error = only_error(write(tmp_path, text))
    assert (error.line, error.key) == (4, "defaults.escalation.high.0.to.0")
    assert error.message.startswith("site 'zon' inherits this, but 'head' is neither a pager")


def test_staff_site_that_takes_the_shipped_recipients_must_define_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without recipients of its own the site takes night-team and technicians from the
    shipped rules: fine where its staff defines them, a mistake at the site where not."""
    own = "    recipients: {care: night-team, technical: technicians}\n"
    assert run_check(staff_file(tmp_path, own)) == 0
    capsys.readouterr()
    lacking = write(tmp_path, STAFF.replace(own, "").replace("technicians", "techs"), "x.yaml")
    load_rule_file(lacking)  # the file alone is fine: the name comes from the shipped rules
    assert run_check(lacking) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"{lacking}:3: sites.zon.recipients: the site describes its staff but sets no "
        "recipients, so it takes recipients.technical 'technicians' (did you mean 'techs'?) from "
        "the shipped rules, which its staff does not define: give the site recipients: "
        "{care: <care group>, technical: <technicians>}"
    )
    with pytest.raises(RuleFileError, match=r"sites\.zon\.recipients: the site describes"):
        load_policy(lacking)


def test_technicians_and_care_staff_must_not_share_a_pager(tmp_path: Path) -> None:
    errors = errors_of(staff_file(tmp_path, "technicians: [t1]", "technicians: [t1, e2]"))
    assert [(e.line, e.key) for e in errors] == [
        (4, "sites.zon.recipients.technical"),
        (19, "sites.zon.staff.routes.faults.to.0"),
    ]
    assert "pager 'e2' in it also gets care pages" in errors[0].message
    assert "technical pages never go to care staff" in errors[0].message


def test_route_for_care_cannot_take_device_faults(tmp_path: Path) -> None:
    path = staff_file(tmp_path, "priorities: [critical, high]", "kinds: [fall, device_fault]")
    error = only_error(path)
    assert error.key == "sites.zon.staff.routes.east.kinds.1"
    assert error.message.startswith("device_fault pages are technical pages")


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ('address: "3101"', 'address: "31-01"', "pagers.e1.address", "not an ESPA call address"),
        ("t1: {}", "t1: {adress: '1'}", "pagers.t1.adress", "did you mean 'address'?"),
        ("t1: {}", "t1: {}\n        same: {}", "pagers.same", "reserved word"),
        (
            "t1: {}",
            "t1: {}\n        east-night: {}",
            "groups.east-night",
            "both a pager and a group",
        ),
        ("night-team: [east-night]", "night-team: [night-team]", "groups.night-team", "circle"),
        (
            'start: "22:00", end: "07:00"',
            'start: "22:00", end: "22:00"',
            "schedules.night",
            "empty",
        ),
        ('end: "07:00"', 'end: "7h"', "schedules.night.end", "not a time of day"),
        ("wings: east,", "wing: east,", "routes.east.wing", "did you mean 'wings'?"),
        ("audience: technical", "audience: tech", "routes.faults.audience", "care or technical"),
        (
            "priorities: [critical, high]",
            "priorities: [critical, urgent]",
            "routes.east.priorities",
            "'urgent' is not allowed: priorities are critical, high, normal or low",
        ),
        (
            "priorities: [critical, high]",
            "kinds: falls",
            "routes.east.kinds",
            "'falls' is not allowed (did you mean 'fall'?): kinds are fall, call,",
        ),
        ("to: east-night", "to: {a: 1}", "routes.east.to", "a name or a list of names"),
        ("to: east-night", "to: []", "routes.east.to", "List should have at least 1 item"),
    ],
)
def test_mistakes_in_staff_are_reported_at_their_key(
    tmp_path: Path, old: str, new: str, key: str, message: str
) -> None:
    errors = errors_of(staff_file(tmp_path, old, new))
    assert [e.key for e in errors] == [f"sites.zon.staff.{key}"]
    assert message in errors[0].message


@pytest.mark.parametrize(
    ("steps", "key", "message"),
    [
        ("[{after: 2m, to: same}, {after: 60s, to: team}]", "1.after", "they must grow"),
        ("[{after: 5s, to: same}]", "0.after", "after must be between 10s and 12h, not '5s'"),
        ("[{after: 13h, to: same}]", "0.after", "after must be between 10s and 12h, not '13h'"),
        ("[{aftr: 60s, to: same}]", "0.aftr", "unknown key 'aftr': did you mean 'after'?"),
        ("[{after: 60s}]", "0.to", "to is missing here: add it"),
        ("[60s]", "0", "written {after: 60s, to: same}"),
        ("[{after: 60s, to: same, when: night}]", "0.when", "a step is {after: ..., to: ...}"),
    ],
)
def test_mistakes_in_escalation_steps_are_reported_at_their_key(
    tmp_path: Path, steps: str, key: str, message: str
) -> None:
    path = write(tmp_path, f"defaults:\n  escalation:\n    critical: {steps}\n")
    error = only_error(path)
    assert (error.line, error.key) == (3, f"defaults.escalation.critical.{key}")
    assert message in error.message


def test_unknown_priority_in_escalation_says_did_you_mean(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "defaults:\n  escalation:\n    critcal: []\n"))
    assert error.message == "unknown key 'critcal': did you mean 'critical'?"


def test_staff_belongs_in_a_site(tmp_path: Path) -> None:
    error = only_error(site_file(tmp_path, "staff: {}\n"))
    assert error.message.startswith("'staff' cannot be set in room '12': it is a key of site 'zon'")


def test_check_warns_about_hours_nobody_a_route_names_is_on_duty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = staff_file(tmp_path)
    assert run_check(path) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{path}:20: sites.zon.staff.routes.east.to: warning: at 07:00-22:00 nobody route "
        "'east' names is on duty: its pages then go to the next route that fits, or to "
        "recipients",
        f"{path}: OK (1 site, 0 rooms), 1 warning",
    ]


def test_check_warns_about_a_group_outside_every_shift_whose_members_are_in_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = staff_file(tmp_path, "on_duty: [east-night, night-team]", "on_duty: [east-night]")
    assert run_check(path) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{path}:12: sites.zon.staff.groups.night-team: warning: no schedule")


def test_example_site_describes_its_staff() -> None:
    policy = load_policy(EXAMPLE)
    staff = policy.staff("zonnebloem")
    assert staff.members("nachtdienst") == ("oost-1", "oost-2", "west-1", "west-2")
    assert staff.pagers["techniek-app"].address is None
    night = datetime(2026, 1, 15, 23, 30, tzinfo=ZoneInfo("Europe/Amsterdam")).timestamp()
    routed = staff.route("201", "care", "high", "wandering", night)
    assert routed is not None
    assert routed.recipients == ("nachtdienst-west",)
    assert [s.to for s in policy.room("zonnebloem", "101").escalation.critical] == [
        ("same",),
        ("nachtdienst", "dagdienst"),
    ]
