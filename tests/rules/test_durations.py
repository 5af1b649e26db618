"""The one duration grammar (rules/README.md, Durations): what it takes, what it refuses, and how
durations are written back; and that every command-line option that takes a length of time reads
it, in the same words. Rule files and mute --for have their own tests that ``1d``-style and
``1h30m``-style spellings are taken alike."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from sensorhub import cli
from sensorhub.durations import (
    DurationError,
    duration_argument,
    format_duration,
    parse_duration,
)
from simulators import espa_pager

ACCEPTED: list[tuple[str | float, float]] = [
    # seconds as a number
    ("90", 90.0),
    ("0.5", 0.5),
    ("0", 0.0),
    (90, 90.0),
    (2.5, 2.5),
    (0, 0.0),
    # one unit
    ("90s", 90.0),
    ("15m", 900.0),
    ("2h", 7200.0),
    ("1d", 86400.0),
    ("0s", 0.0),
    ("1.5h", 5400.0),
    ("0.5s", 0.5),
    # several units, largest first; no carry needed
    ("1h30m", 5400.0),
    ("1m30s", 90.0),
    ("1d12h", 129600.0),
    ("1d2h3m4s", 93784.0),
    ("90m", 5400.0),
    ("1h90m", 9000.0),
    # spaces and upper case
    (" 15m ", 900.0),
    ("1h 30m", 5400.0),
    ("1 h 30 m", 5400.0),
    ("2H", 7200.0),
    ("1D12H", 129600.0),
    ("\t90\n", 90.0),
]

REFUSED: list[object] = [
    "",
    "   ",
    "m",
    "h30m",
    "2x",
    "15 minutes",
    "2 hours",
    "1w",
    "1ms",
    "30m1h",  # out of order
    "1h1h",  # twice
    "1h30",  # a bare number after a unit
    "1 5m",  # a space inside a number
    "1,5h",
    ".5",
    "5.",
    "1e3",
    "+5",
    "-5",
    "-1h",
    "1_000",
    "inf",
    "nan",
    "\u0663s",  # an Arabic-Indic digit
    "1\u017f",  # a long s, which is an s only to case-insensitive Unicode matching
    "9" * 400,  # a number too large to be a float
    -1,
    -0.5,
    float("inf"),
    float("nan"),
    True,
    False,
    None,
    [90],
]


@pytest.mark.parametrize(("written", "seconds"), ACCEPTED)
def test_the_grammar_takes(written: str | float, seconds: float) -> None:
    assert parse_duration(written) == seconds


@pytest.mark.parametrize("written", REFUSED, ids=repr)
def test_the_grammar_refuses_with_one_message_naming_the_value(written: object) -> None:
    with pytest.raises(DurationError) as refused:
        parse_duration(written)  # type: ignore[arg-type]
    message = str(refused.value)
    assert "is not a duration: write e.g. 90s, 15m, 2h, 1d or 1h30m" in message
    assert "or seconds as a number, e.g. 90" in message
    if isinstance(written, str) and len(written) <= 40:
        assert message.startswith(f"{written!r} is not a duration")


def test_a_long_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(DurationError, match=r"^'9{37}\.\.\.' is not a duration"):
        parse_duration("9" * 400)


def test_a_duration_error_is_a_value_error() -> None:
    # pydantic reports a ValueError in a validator at its field, and the commands catch it
    assert issubclass(DurationError, ValueError)


def test_a_long_string_of_spaces_is_refused_quickly() -> None:
    with pytest.raises(DurationError):
        parse_duration("1" + " " * 100_000 + "x")


def test_the_argparse_type_says_the_same() -> None:
    assert duration_argument("1h30m") == 5400.0
    with pytest.raises(argparse.ArgumentTypeError, match=r"'soon' is not a duration: write e\.g\."):
        duration_argument("soon")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.5, "0.5s"),
        (1.5, "1.5s"),
        (90, "1m30s"),
        (900, "15m"),
        (3600, "1h"),
        (5400, "1h30m"),
        (86400, "1d"),
        (129600, "1d12h"),
        (7 * 86400, "7d"),
        (93784, "1d2h3m4s"),
        (90.5, "90.5s"),
    ],
)
def test_the_formatter_writes_what_the_parser_reads_back(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_the_grammar_imports_without_numba_or_pyarrow() -> None:
    code = (
        "import sys, sensorhub.durations as d; "
        "assert d.parse_duration('1d') == 86400; "
        "print(sorted(m for m in ('numba', 'pyarrow') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# -- every entry point -------------------------------------------------------------------------

#: The options that read a duration, with a command line around each (what else it needs).
DURATION_OPTIONS = [
    ("fallback", "--grace", ["--broker", "mqtt://b"]),
    ("serve", "--lateness", ["--broker", "mqtt://b"]),
    ("serve", "--idle-flush", ["--broker", "mqtt://b"]),
    ("replay", "--lateness", ["night.jsonl", "--pages", "pages.jsonl"]),
    ("reload", "--wait", []),
    ("sweep", "--lateness", ["week.jsonl", "--rules", "r.yaml", "--set", "bathroom_grace=5m"]),
]


def _options(parser: argparse.ArgumentParser, path: str = "") -> Iterator[tuple[str, Any]]:
    for action in parser._actions:  # argparse keeps its options nowhere else
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, f"{path} {name}".strip())
        elif action.option_strings:
            yield f"{path} {action.option_strings[-1]}", action


def test_every_option_that_takes_a_length_of_time_reads_the_one_grammar() -> None:
    """An option with a DURATION or SECONDS value, or seconds in its help, is read by
    duration_argument (mute --for by parse_duration itself, to say its bounds with it)."""
    timed = {
        name: action.type
        for name, action in _options(cli.build_parser())
        if action.metavar in ("DURATION", "SECONDS") or "seconds" in (action.help or "")
    }
    assert "reload --wait" in timed
    wrong = {name for name, kind in timed.items() if kind is not duration_argument}
    assert wrong == {"mute --for"}
    assert {f"{command} {option}" for command, option, _ in DURATION_OPTIONS} == set(timed) - wrong


@pytest.mark.parametrize(("command", "option", "rest"), DURATION_OPTIONS)
def test_each_option_takes_and_refuses_what_the_grammar_does_in_the_same_words(
    capsys: pytest.CaptureFixture[str], command: str, option: str, rest: list[str]
) -> None:
    parser = cli.build_parser([command])
    args = parser.parse_args([command, *rest, option, "1h 30m"])
    assert getattr(args, option[2:].replace("-", "_")) == 5400.0
    with pytest.raises(SystemExit):
        parser.parse_args([command, *rest, option, "15 minutes"])
    assert (
        f"argument {option}: '15 minutes' is not a duration: write e.g. 90s, 15m, 2h, 1d or "
        "1h30m (units d, h, m, s, largest first), or seconds as a number, e.g. 90"
    ) in capsys.readouterr().err


def test_the_paging_simulators_ack_delay_reads_the_grammar_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        espa_pager.main(["--ack-delay", "15 minutes"])
    assert "argument --ack-delay: '15 minutes' is not a duration: write e.g." in (
        capsys.readouterr().err
    )
