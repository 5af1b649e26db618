"""Rule files that would take the service down are refused at a line, quickly and in little memory.

The bombs of issue 13 (nested aliases, 50,000 opening brackets, a 100,000-digit number, a file of
tens of megabytes) run through the real ``sensorhub rules check`` and ``sensorhub serve`` as
processes of their own, whose peak memory is read from the kernel (``wait4``); the limits
themselves are pinned at their edges in process.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sensorhub.rules import load_rule_file
from sensorhub.rules.limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_NUMBER_CHARS, MAX_VALUES
from tests.rules.test_rules import errors_of, only_error

REPO = Path(__file__).parents[2]
EXAMPLE = REPO / "rules" / "example-site.yaml"

#: A process that reads a refused file stays well under this (Python and the imports are ~35 MB);
#: the billion laughs took today's code past 2 GB.
PEAK_MEMORY = 200 * 1024 * 1024
#: Address space given to the processes, so that code without the limits fails the test with a
#: MemoryError instead of taking the machine's memory.
ADDRESS_SPACE = 1024 * 1024 * 1024


def billion_laughs(path: Path) -> tuple[Path, int]:
    """Nine lines of aliases, each nine of the one before: 9**10 values once expanded."""
    lines = ["version: 1", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    lines.append("sites: *a9")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # a0 is 10 values, a1 1 + 9 * 10 = 91, a2 820, a3 7,381: line 6 takes the file over 25,000
    return path, 6


def deep_nesting(path: Path) -> tuple[Path, int]:
    path.write_text("version: 1\nsites: " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    return path, 2


def long_number(path: Path) -> tuple[Path, int]:
    text = "version: 1\ndefaults:\n  acoustic_threshold: " + "7" * 100_000 + "\n"
    path.write_text(text, encoding="utf-8")
    return path, 3


def huge_file(path: Path) -> tuple[Path, int]:
    """32 MB of comments: valid YAML, but no rule file is that long."""
    line = "# " + "a comment that goes on and on " * 3 + "\n"
    text = "version: 1\n" + line * (32 * 1024 * 1024 // len(line))
    path.write_text(text, encoding="utf-8")
    return path, text[:MAX_FILE_BYTES].count("\n") + 1  # the line that goes past the limit


BOMBS: dict[str, Callable[[Path], tuple[Path, int]]] = {
    "billion laughs": billion_laughs,
    "50,000 brackets": deep_nesting,
    "100,000 digits": long_number,
    "32 MB": huge_file,
}
MESSAGES = {
    "billion laughs": "the alias *a3 repeats 7,381 values, which takes the file over",
    "50,000 brackets": f"mappings and lists nest more than {MAX_DEPTH} deep here",
    "100,000 digits": "defaults.acoustic_threshold: this number is 100,000 characters long",
    "32 MB": "the file goes on past 512 KiB on this line",
}


#: Runs ``python -m sensorhub ARGV`` with its address space capped, in a child of a small
#: process of its own that writes the child's peak resident size to a file. A fork of pytest
#: would start with all of pytest's memory, and a process's peak is kept across exec.
_MEASURED = """
import os, resource, sys
limit, peak_file, *argv = sys.argv[1:]
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    os.execv(sys.executable, [sys.executable, "-m", "sensorhub", *argv])
_, status, usage = os.wait4(pid, 0)
with open(peak_file, "w") as out:
    out.write(str(usage.ru_maxrss * 1024))  # KiB on Linux
sys.exit(os.waitstatus_to_exitcode(status))
"""


def sensorhub(folder: Path, *argv: str) -> tuple[int, str, str, int]:
    """``sensorhub ARGV`` as a process of its own: exit status, stdout, stderr, peak memory."""
    out, err, peak = folder / "stdout", folder / "stderr", folder / "peak"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.run(
            [sys.executable, "-c", _MEASURED, str(ADDRESS_SPACE), str(peak), *argv],
            stdout=stdout,
            stderr=stderr,
            check=False,
        )
    return process.returncode, out.read_text("utf-8"), err.read_text("utf-8"), int(peak.read_text())


@pytest.mark.parametrize("bomb", BOMBS)
def test_rules_check_refuses_each_bomb_at_its_line_in_little_memory(
    tmp_path: Path, bomb: str
) -> None:
    path, line = BOMBS[bomb](tmp_path / "bomb.yaml")
    code, out, err, peak = sensorhub(tmp_path, "rules", "check", str(path))
    assert (code, err) == (1, ""), out + err
    assert out.splitlines()[0].startswith(f"{path}:{line}: {MESSAGES[bomb]}"), out
    assert out.splitlines()[1:] == [f"{path}: 1 mistake, not loaded"]
    assert peak < PEAK_MEMORY, f"{peak / 2**20:.0f} MB"


@pytest.mark.parametrize("bomb", ["billion laughs", "50,000 brackets"])
def test_serve_refuses_the_bomb_at_start_with_the_words_of_rules_check(
    tmp_path: Path, bomb: str
) -> None:
    """serve reads its rules before it connects anywhere: no broker or store is needed to see it
    refuse (the port is never dialled)."""
    path, line = BOMBS[bomb](tmp_path / "bomb.yaml")
    _, checked, _, _ = sensorhub(tmp_path, "rules", "check", str(path))
    argv = ["serve", "--rules", str(path), "--broker", "mqtt://127.0.0.1:9"]
    code, out, err, peak = sensorhub(tmp_path, *argv, "--store", f"sqlite:///{tmp_path}/s.db")
    assert code == 2, out + err
    assert err.splitlines() == [
        "sensorhub serve: the rule file has mistakes:",
        checked.splitlines()[0],
    ]
    assert f"{path}:{line}: " in err
    assert peak < PEAK_MEMORY, f"{peak / 2**20:.0f} MB"
    assert not (tmp_path / "s.db").exists()


# -- each limit at its edge, in process ---------------------------------------------------------


def nested(depth: int) -> str:
    """A rule file whose ``sites`` value is lists ``depth`` deep (the top mapping is one more)."""
    return "version: 1\nsites: " + "[" * (depth - 1) + "]" * (depth - 1) + "\n"


def test_nesting_up_to_the_limit_is_read_and_one_more_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(nested(MAX_DEPTH), encoding="utf-8")
    assert "nest" not in only_error(path).message  # read, then found not to be a mapping
    path.write_text(nested(MAX_DEPTH + 1), encoding="utf-8")
    error = only_error(path)
    assert (error.line, error.key) == (2, "")
    assert error.message.startswith(f"mappings and lists nest more than {MAX_DEPTH} deep here:")


def test_an_alias_that_takes_the_nesting_over_the_limit_is_refused_at_the_alias(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.yaml"
    inner = "[" * 20 + "]" * 20
    path.write_text(f"version: 1\nx: &deep {inner}\nsites:\n  a: [[[[[[[[[[[[*deep]]]]]]]]]]]]\n")
    error = only_error(path)
    assert error.line == 4
    assert "(with the alias expanded)" in error.message


def test_aliases_are_counted_where_they_are_used_up_to_the_limit(tmp_path: Path) -> None:
    """A list of 99 items repeated: fine as long as the file stays within MAX_VALUES."""
    path = tmp_path / "r.yaml"
    # lines 1-2 are 104 values (the top mapping, 2 keys, 1, the list and its items); each
    # line after it a key and the alias's 100 values
    uses = (MAX_VALUES - 104) // 101
    lines = ["version: 1", "x: &a [" + ", ".join(["1"] * 99) + "]"]
    lines += [f"y{i}: *a" for i in range(uses)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not [e for e in errors_of(path) if "values" in e.message]  # x, y*: unknown keys
    path.write_text("\n".join([*lines, "z: *a"]) + "\n", encoding="utf-8")
    error = only_error(path)
    assert error.line == 2 + uses + 1
    assert re.match(
        rf"the alias \*a repeats 100 values, .* over {MAX_VALUES:,} values", error.message
    )


def test_a_file_with_too_many_values_of_its_own_is_refused_where_it_goes_over(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("version: 1\nsites:\n" + "".join(f"- {i}\n" for i in range(MAX_VALUES)))
    error = only_error(path)
    # values 1-5 are the top mapping, its two keys, version's value and the list; item i (on
    # line 3 + i) is value 6 + i, and item MAX_VALUES - 5 goes over
    assert error.line == 3 + MAX_VALUES - 5
    assert error.message.startswith(f"the file holds more than {MAX_VALUES:,} values")


def test_a_number_up_to_the_limit_is_read_and_a_longer_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    number = "7" + "0" * (MAX_NUMBER_CHARS - 1)
    path.write_text(f"version: 1\ndefaults:\n  acoustic_threshold: {number}\n")
    assert "between" in only_error(path).message  # converted, then out of bounds
    path.write_text(f"version: 1\ndefaults:\n  acoustic_threshold: {number}0\n")
    error = only_error(path)
    assert (error.line, error.key) == (3, "defaults.acoustic_threshold")
    assert error.message.startswith(f"this number is {MAX_NUMBER_CHARS + 1} characters long")
    # in quotes it is text, which no parameter converts as a whole number: a plain mistake
    path.write_text(f'version: 1\ndefaults:\n  acoustic_threshold: "{"7" * 100_000}"\n')
    error = only_error(path)
    assert (error.line, error.key) == (3, "defaults.acoustic_threshold")
    assert "between 30 dB(A) and 130 dB(A)" in error.message


def test_a_file_up_to_the_size_limit_is_read_and_a_longer_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    head = EXAMPLE.read_bytes()
    assert len(head) < MAX_FILE_BYTES // 20  # a real site's file is far within the limit
    padding = MAX_FILE_BYTES - len(head)
    path.write_bytes(head + b"#" * (padding - 1) + b"\n")
    assert load_rule_file(path).sites  # exactly MAX_FILE_BYTES: read
    path.write_bytes(head + b"#" * padding + b"\n")
    error = only_error(path)
    assert error.line == head.count(b"\n") + 1
    assert error.message.startswith("the file goes on past 512 KiB on this line")
