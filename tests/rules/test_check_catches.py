"""`rules check` catches the slips that used to get through, each at its line with what to write.

Each case is a rule file with ``# <-`` on the line where the one mistake must be reported; the
test demands that line, the key and the words, from ``sensorhub rules check`` as printed and from
``load_policy`` (which serve and replay use), so the two never differ.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import pytest

from sensorhub.commands import rules as check
from sensorhub.rules import RuleFileError, load_policy

MARK = "# <-"

STAFF = """\
version: 1
sites:
  zon:
    recipients: {care: night, technical: tech}
    staff:
      pagers:
        e1: {address: "3101"}
        e2: {address: "3102"}
        t1: {}
      groups:
        night: [e1, e2]
        tech: [t1]
"""


def marked_line(text: str) -> int:
    (line,) = [number for number, row in enumerate(text.splitlines(), 1) if MARK in row]
    return line


def run_check(path: Path) -> int:
    parser = argparse.ArgumentParser()
    check.add_arguments(parser)
    return check.run(parser.parse_args([str(path)]))


def assert_one_mistake(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str, words: str
) -> None:
    """``text`` has exactly one mistake, at its marked line, at ``key``, saying ``words``."""
    text = textwrap.dedent(text)
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    line = marked_line(text)
    with pytest.raises(RuleFileError) as caught:
        load_policy(path)
    [error] = caught.value.errors
    assert (error.line, error.key) == (line, key), str(error)
    assert words in error.message
    assert run_check(path) == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed == [str(error), f"{path}: 1 mistake, not loaded"]


# -- what YAML reads as something else -----------------------------------------------------------

ADDRESSES = [
    (
        "a pager's address with a leading 0 is octal to YAML",
        STAFF.replace('e1: {address: "3101"}', "e1: {address: 0410}  " + MARK),
        "sites.zon.staff.pagers.e1.address",
        "YAML reads 0410 as the number 264, not as the call address '0410': write the call "
        'address in quotes, address: "0410"',
    ),
    (
        "a pager's address in hexadecimal",
        STAFF.replace('e1: {address: "3101"}', "e1: {address: 0x31}  " + MARK),
        "sites.zon.staff.pagers.e1.address",
        "YAML reads 0x31 as the number 49",
    ),
    (
        "a pager's address with an underscore",
        STAFF.replace('e1: {address: "3101"}', "e1: {address: 3_101}  " + MARK),
        "sites.zon.staff.pagers.e1.address",
        'write the call address in quotes, address: "3_101"',
    ),
    (
        "an empty address makes no pager reached over MQTT only",
        STAFF.replace('e1: {address: "3101"}', "e1: {address: }  " + MARK),
        "sites.zon.staff.pagers.e1.address",
        'the call address is empty: write it in quotes, address: "3101", or leave address out',
    ),
    (
        "an address of nothing but spaces",
        STAFF.replace('e1: {address: "3101"}', 'e1: {address: "  "}  ' + MARK),
        "sites.zon.staff.pagers.e1.address",
        "the call address is empty",
    ),
    (
        "a paging system's call address with a leading 0",
        STAFF + "    paging:\n      dect: {host: h, port: 1, pagers: {night: 0410}}  # <-\n",
        "sites.zon.paging.dect.pagers.night",
        "YAML reads 0410 as the number 264, not as the call address '0410': write the call "
        'address in quotes, night: "0410"',
    ),
    (
        "a paging system's call address left empty",
        STAFF + "    paging:\n      dect:\n        host: h\n        port: 1\n        pagers:\n"
        '          e1: "3101"\n          night:  # <-\n',
        "sites.zon.paging.dect.pagers.night",
        "the call address of 'night' is empty: write the address this paging system calls it on",
    ),
    (
        "a paging system's empty call address, at its own line",
        STAFF + "    paging:\n      dect:\n        host: h\n        port: 1\n        pagers:\n"
        '          e1: "3101"\n          night: ""  # <-\n',
        "sites.zon.paging.dect.pagers.night",
        'the call address is empty: write its 1 to 16 digits in quotes, e.g. "3101"',
    ),
    (
        "a paging system's call address that is not digits, at its own line",
        STAFF + "    paging:\n      dect:\n        host: h\n        port: 1\n        pagers:\n"
        '          e1: "3101"\n          night: "31-00"  # <-\n',
        "sites.zon.paging.dect.pagers.night",
        "'31-00' is not an ESPA call address: it must be 1 to 16 digits, in quotes",
    ),
    (
        "a room with a leading 0 in a wing is octal to YAML",
        STAFF + "      wings:\n        oost: [101, 012]  # <-\n",
        "sites.zon.staff.wings.oost.1",
        "YAML reads 012 as the octal number (a leading 0 makes it one), 10: write it in quotes "
        '("012") if it is a name',
    ),
    (
        "a number with a leading 0 is octal to YAML",
        "version: 1\ndefaults:\n  acoustic_threshold: 070  # <-\n",
        "defaults.acoustic_threshold",
        "YAML reads 070 as the octal number (a leading 0 makes it one), 56: write it in quotes "
        '("070") if it is a name or an address, or as 56 if the number is meant',
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "words"), [case[1:] for case in ADDRESSES], ids=[case[0] for case in ADDRESSES]
)
def test_what_yaml_reads_as_another_value_is_a_mistake_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str, words: str
) -> None:
    assert_one_mistake(tmp_path, capsys, text, key, words)
