"""`rules check` catches the slips that used to get through, each at its line with what to write.

Each case is a rule file with ``# <-`` on the line where the one mistake must be reported; the
test demands that line, the key and the words, from ``sensorhub rules check`` as printed and from
``load_policy`` (which serve and replay use), so the two never differ.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sensorhub.rules import RuleFileError, load_policy

from .test_paging_rules import STAFF, run_check

MARK = "# <-"
EXAMPLE = Path(__file__).parents[2] / "rules" / "example-site.yaml"


def marked_line(text: str) -> int:
    (line,) = [number for number, row in enumerate(text.splitlines(), 1) if MARK in row]
    return line


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


# -- wings and paging systems ----------------------------------------------------------------------

WINGS = [
    (
        "a room in two wings",
        STAFF + "      wings:\n        oost: [101, 102]\n        west: [201, 102]  # <-\n",
        "sites.zon.staff.wings.west.1",
        "room '102' is in wing 'oost' too: the first route that names either wing gets all its "
        "pages, the other wing's staff none; keep each room in one wing",
    ),
    (
        "a room in no wing when the site has wings (one a route names itself needs none)",
        STAFF + "      wings:\n        oost: [101, 102]\n        west: [201]\n"
        "      routes: {kamer-301: {rooms: 301, to: e1}}\n"
        "    rooms:\n      101: {}\n      103: {}  # <-\n      201: {}\n      301: {}\n",
        "sites.zon.rooms.103",
        "room '103' is in no wing, though the site has wings (oost, west): no route by wing "
        "pages it, so its pages go to a route for all rooms or to recipients; add it to its "
        "wing under staff.wings",
    ),
]


#: Two wings with night nurses, a day team, an app reached over MQTT only, technicians apart.
NIGHTS = """\
version: 1
sites:
  zon:
    recipients: {care: night, technical: tech}
    staff:
      pagers:
        e1: {address: "3101"}
        e2: {address: "3102"}
        w1: {address: "3201"}
        d1: {address: "3301"}
        app: {}
        t1: {}
      groups:
        east-night: [e1, e2]
        west-night: [w1]
        night: [east-night, west-night]
        day: [d1]
        apps: [app]
        tech: [t1]
      wings: {east: [101], west: [201]}
      schedules:
        night: {start: "22:00", end: "07:00", on_duty: [east-night, west-night, night]}
        day: {start: "07:00", end: "22:00", on_duty: day}
      routes:
        faults: {audience: technical, to: tech}
        east: {wings: east, to: [east-night, day, apps]}
        west: {wings: west, to: [west-night, day]}
    paging:
      dect: {host: h, port: 1, pagers: {east-night: "3100", night: "3000"}}
"""

UNREACHED = [
    (
        "a group on duty at night for a wing that no paging system calls",
        NIGHTS.replace(
            "west: {wings: west, to: [west-night, day]}",
            "west: {wings: west, to: [west-night, day]}  # <-",
        ),
        "sites.zon.staff.routes.west.to.0",
        "'west-night' gets the falls of wing west at night (22:00-07:00) by route 'west', but "
        "no paging system of the site calls it, so those falls reach no handset: add it to "
        'paging.dect.pagers with its call address in quotes, e.g. west-night: "3100"',
    ),
    (
        "its pagers called one by one are not the group",
        NIGHTS.replace('night: "3000"}', 'w1: "3201"}').replace(
            "west: {wings: west, to: [west-night, day]}",
            "west: {wings: west, to: [west-night, day]}  # <-",
        ),
        "sites.zon.staff.routes.west.to.0",
        "(w1 in it is there, but that is not enough: a page to a group goes out under the "
        "group's name)",
    ),
    (
        "only the names that get the falls: a route for falls before the wing's",
        NIGHTS.replace('east-night: "3100", ', "")
        .replace(
            "faults: {audience: technical, to: tech}",
            "faults: {audience: technical, "
            "to: tech}\n        falls: {kinds: fall, wings: west, to: night}",
        )
        .replace(
            "east: {wings: east, to: [east-night, day, apps]}",
            "east: {wings: east, to: [east-night, day, apps]}  # <-",
        ),
        "sites.zon.staff.routes.east.to.0",
        "'east-night' gets the falls of wing east at night (22:00-07:00) by route 'east'",
    ),
    (
        "the recipients of a room's falls when no route has anyone on duty",
        NIGHTS.replace(
            "    recipients: {care: night, technical: tech}",
            "    recipients: {care: night, technical: tech}  # <-",
        )
        .replace('night: "3000"}}', 'west-night: "3200"}}\n    rooms: {101: {}, 201: {}}')
        .replace(
            "on_duty: [east-night, west-night, night]}",
            "on_duty: [east-night, night]}\n"
            '        early: {start: "22:00", end: "02:00", on_duty: west-night}',
        ),
        "sites.zon.recipients.care",
        "'night' gets the falls of room 201 at night (02:00-07:00) as recipients.care, when no "
        "route has anyone on duty, but no paging system of the site calls it",
    ),
    (
        "a room's own night counts",
        NIGHTS.replace(
            "    paging:",
            "    rooms:\n      101: {}\n      201: {night: {start: "
            '"21:00", end: "07:00"}}\n    paging:',
        )
        .replace('night: "3000"}', 'west-night: "3200"}')
        .replace(
            'schedules:\n        night: {start: "22:00"',
            "schedules:\n        late: {start: "
            '"21:00", end: "22:00", on_duty: day}\n        night: {start: "22:00"',
        )
        .replace(
            "west: {wings: west, to: [west-night, day]}",
            "west: {wings: west, to: [west-night, day]}  # <-",
        ),
        "sites.zon.staff.routes.west.to.1",
        "'day' gets the falls of wing west at night (21:00-22:00) by route 'west'",
    ),
]


def test_the_example_site_with_its_paging_system_in_use_is_correct(tmp_path: Path) -> None:
    """rules/example-site.yaml with the paging system it shows (commented out) in use."""
    text = EXAMPLE.read_text(encoding="utf-8")
    start = text.index("    # paging:")
    block = text[start : text.index("\n\n", start)]
    path = tmp_path / "site.yaml"
    path.write_text(
        text.replace(block, block.replace("    # ", "    ", 1).replace("    #   ", "      "))
    )
    assert run_check(path) == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text(path.read_text().replace('nachtdienst-west: "3200"', 'west-1: "3201"'))
    assert run_check(broken) == 1


# -- keys under the wrong parent, and YAML that is not YAML -------------------------------------

TWENTY_ROOMS = "".join(f"    {number}: {{}}\n" for number in range(101, 121))

INDENTATION = [
    (
        "rooms indented as far as the site's name: one mistake, not one per room",
        "version: 1\nsites:\n  zon:\n    night: {start: '22:00', end: '07:00'}\n"
        "  rooms:  # <-\n" + TWENTY_ROOMS,
        "sites.rooms",
        "'rooms' is read as a site name here; it looks like a key of site 'zon' (line 3) "
        "indented too little: indent it as far as that site's other keys",
    ),
    (
        "a room's key indented as far as the room's name",
        "version: 1\nsites:\n  zon:\n    rooms:\n      101:\n        wanders: true\n"
        "      fall_risk: high  # <-\n",
        "sites.zon.rooms.fall_risk",
        "'fall_risk' is read as a room name here; it looks like a key of room '101' (line 5) "
        "indented too little",
    ),
    (
        "a resident indented as far as the rooms, though it would be a room",
        "version: 1\nsites:\n  zon:\n    rooms:\n      101:\n        acoustic_threshold: 70\n"
        "      resident:  # <-\n        fall_risk: high\n",
        "sites.zon.rooms.resident",
        "'resident' is read as a room name here; it looks like a key of room '101' (line 5) "
        "indented too little: indent it as far as that room's other keys",
    ),
    (
        "a site's key indented as far as the rooms",
        "version: 1\nsites:\n  zon:\n    rooms:\n      101: {}\n      staff:  # <-\n"
        "        pagers: {e1: {}}\n",
        "sites.zon.rooms.staff",
        "'staff' is read as a room name here; it looks like a key of site 'zon' indented too "
        "far: indent it as far as rooms: (line 4)",
    ),
    (
        "defaults indented under sites",
        "version: 1\nsites:\n  zon: {}\n  defaults:  # <-\n    language: nl\n",
        "sites.defaults",
        "it looks like a key of the file indented too far: start it at the left margin",
    ),
    (
        "rooms written straight under the site",
        "version: 1\nsites:\n  zon:\n    language: nl\n    101: {}  # <-\n    102:\n"
        "      resident: {fall_risk: high}\n    103: {}\n    104: {}\n",
        "sites.zon.101",
        "'101', '102', '103' and 1 more look like rooms written straight under site 'zon', "
        "where they are no key of a site: put them under the site's rooms:",
    ),
    (
        "a site's key indented under a setting of the site",
        "version: 1\nsites:\n  zon:\n    night:\n      start: '22:00'\n      end: '07:00'\n"
        "      rooms: {101: {}}  # <-\n",
        "sites.zon.night.rooms",
        "'rooms' cannot be set in 'night': it is a key of site 'zon', indented too far? Indent "
        "it as far as night: (line 4)",
    ),
]

_SYNTAX = [
    (
        "a key indented between two levels",
        "version: 1\nsites:\n  zon:\n    language: nl\n   rooms:  # <-\n    101: {}\n",
        "this line is indented by 3 spaces, which lines it up with no key above it: line it "
        "up with the key on line 3 (2 spaces) or with the keys under it",
    ),
    (
        "a list item among the keys of a mapping",
        "version: 1\ndefaults:\n  language: nl\n  - wanders: true  # <-\n",
        "a '- ' list item among the keys of the mapping that starts on line 3: put a list on "
        "the lines under its key",
    ),
    (
        "a key among the items of a list",
        "version: 1\ndefaults:\n  escalation:\n    critical:\n      - {after: 60s, to: same}\n"
        "      high: []  # <-\n",
        "a 'key:' among the '- ' items of the list that starts on line 5",
    ),
    (
        "an unclosed [",
        "version: 1\nsites:\n  zon:\n    staff:\n      wings: {oost: [101, 102}  # <-\n",
        "the [ opened on line 5 is not closed here: write [a, b, c] on one line, or close it",
    ),
    (
        "an unclosed {",
        "version: 1\ndefaults:\n  night: {start: '22:00', end: '07:00'\n  language: nl  # <-\n",
        "the { opened on line 3 is not closed here, or two of its items lack the ','",
    ),
    (
        "a bracket closed twice",
        "version: 1\nsites:\n  zon:\n    staff:\n      wings: {oost: [101]}}  # <-\n",
        "'}' closes no bracket opened before it: remove it, or put the value in quotes",
    ),
    (
        "a value that starts with !",
        "version: 1\nsites:\n  zon:\n    rooms:\n      101:\n        resident:\n"
        "          name: !a!mevr. A.  # <-\n",
        "a value that starts with ! is a YAML tag: put the value in quotes",
    ),
    (
        "an alias of no anchor",
        "version: 1\ndefaults:\n  recipients: *west  # <-\n",
        "*west repeats an anchor that is not defined above it: write &west on the value",
    ),
    (
        "a value that starts with @",
        "version: 1\ndefaults:\n  language: @nl  # <-\n",
        "a value cannot start with '@' in YAML: put the value in quotes",
    ),
    (
        "a list item after the key on its line",
        "version: 1\ndefaults:\n  escalation:\n    low: - {after: 1m, to: same}  # <-\n",
        "a '- ' list item cannot follow 'key:' on the same line",
    ),
    (
        "a backslash in double quotes",
        'version: 1\nsites:\n  zon:\n    paging:\n      p: {device: "C:\\dev\\com1"}  # <-\n',
        "'d' after a backslash is no escape in \"double quotes\": write the value in 'single "
        "quotes', where a backslash is a backslash",
    ),
]

SYNTAX = [
    (name, text, "", "this is not valid YAML here: " + words) for name, text, words in _SYNTAX
]

DEVICES = [
    (
        "a declared device name that cannot be a topic level",
        "version: 1\nsites:\n  zon:\n    rooms:\n      101: {devices: [cam/101]}  " + MARK + "\n",
        "sites.zon.rooms.101.devices",
        "device name 'cam/101' cannot be part of an MQTT topic",
    ),
    (
        "a device declared twice",
        "version: 1\nsites:\n  zon:\n    rooms:\n      101: {devices: [cam-1, cam-1]}  "
        + MARK
        + "\n",
        "sites.zon.rooms.101.devices",
        "device 'cam-1' is named twice",
    ),
]

CATCHES = {
    "what YAML reads as another value": ADDRESSES,
    "declared devices": DEVICES,
    "one wing per room": WINGS,
    "falls at night reach a handset": UNREACHED,
    "a key under the wrong parent": INDENTATION,
    "not YAML, said in words": SYNTAX,
}


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        pytest.param(*case[1:], id=f"{kind}: {case[0]}")
        for kind, cases in CATCHES.items()
        for case in cases
    ],
)
def test_each_slip_is_one_mistake_at_its_line_saying_what_to_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str, words: str
) -> None:
    """The marked line, the key and the words, from serve's loader and `rules check` alike."""
    text = textwrap.dedent(text)
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_policy(path)
    [error] = caught.value.errors
    assert (error.line, error.key) == (marked_line(text), key), str(error)
    assert words in error.message
    assert run_check(path) == 1
    assert capsys.readouterr().out.splitlines() == [str(error), f"{path}: 1 mistake, not loaded"]
