"""Rule files: loading, layering, and mistakes reported as file, line, key and a sentence."""

from __future__ import annotations

import argparse
import importlib.util
import textwrap
from pathlib import Path

import pytest

from sensorhub.rules import (
    Policy,
    RoomPolicy,
    RuleError,
    RuleFileError,
    check,
    default_rules_path,
    load_policy,
    load_rule_file,
)
from sensorhub.rules.loader import format_duration, parse_rule_file

REPO = Path(__file__).parents[1]
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
    assert error.message == "'rooms' cannot be set here: it belongs in a site"


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


def test_check_help_names_the_exit_codes() -> None:
    assert check.__doc__ is not None
    assert "exit status" in check.__doc__
    assert "2  a file could not be read" in check.__doc__


_CLI_COMMANDS = ("sensorhub.service", "sensorhub.replay", "sensorhub.demo")


@pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in _CLI_COMMANDS),
    reason="the sensorhub command imports every subcommand; not all exist yet",
)
def test_sensorhub_rules_check_through_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sensorhub.cli import main  # noqa: PLC0415 - imports every subcommand module

    assert main(["rules", "check", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{EXAMPLE}: OK (1 site, 7 rooms)"]
    assert main(["rules", "check", str(write(tmp_path, "version: 2\n"))]) == 1
    assert main(["rules", "check", str(tmp_path / "missing.yaml")]) == 2
