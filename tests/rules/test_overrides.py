"""Parameters set in memory for ``sensorhub sweep``: where each --set applies, what it takes out
of the file, and the clear mistakes for a bad place or value (sensorhub.rules.overrides)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensorhub.rules.loader import parse_rule_file
from sensorhub.rules.overrides import SweepError, Variants, grid
from sensorhub.rules.policy import Policy

RULES = """\
version: 1
defaults:
  bathroom_grace: 15m
sites:
  oost:
    acoustic_threshold: 70
    rooms:
      "101": {resident: {bathroom_grace: 10m}}
      "102": {bathroom_grace: 20m}
      "1.5": {}
  west:
    rooms:
      "201": {resident: {bathroom_grace: 8m, fall_risk: high}}
"""


@pytest.fixture
def variants(tmp_path: Path) -> Variants:
    path = tmp_path / "site.yaml"
    path.write_text(RULES, encoding="utf-8")
    return Variants(parse_rule_file(path))


def grace(variants: Variants, *options: str) -> dict[str, float]:
    """The bathroom grace every room of the file gets under the first value of ``options``."""
    assignment = grid([variants.parse_set(option) for option in options])[0]
    policy = Policy(variants.rules(assignment), base=variants.base)
    return {
        room: policy.room(site, room).bathroom_grace
        for site, room in (("oost", "101"), ("oost", "102"), ("oost", "1.5"), ("west", "201"))
    }


def test_a_bare_parameter_holds_for_every_site_room_and_resident(variants: Variants) -> None:
    """bathroom_grace=5m gives every resident 5 minutes, those the file gives their own too."""
    assert grace(variants, "bathroom_grace=5m") == {"101": 300, "102": 300, "1.5": 300, "201": 300}
    address = variants.parse_set("bathroom_grace=5m").address
    assert variants.replaced(address) == [
        ("sites", "oost", "rooms", "101", "resident"),
        ("sites", "oost", "rooms", "102"),
        ("sites", "west", "rooms", "201", "resident"),
    ]


def test_a_site_a_room_and_a_resident_are_addressed_as_in_the_file(variants: Variants) -> None:
    assert grace(variants, "sites.oost.bathroom_grace=5m") == {
        "101": 300,
        "102": 300,
        "1.5": 300,
        "201": 480,
    }
    assert grace(variants, "sites.oost.rooms.102.bathroom_grace=5m") == {
        "101": 600,
        "102": 300,
        "1.5": 900,
        "201": 480,
    }
    assert grace(variants, "sites.oost.rooms.1.5.resident.bathroom_grace=5m")["1.5"] == 300
    assert grace(variants, "defaults.bathroom_grace=5m")["201"] == 300


def test_the_narrower_place_wins_whatever_the_order_of_the_options(variants: Variants) -> None:
    narrow = "sites.west.rooms.201.resident.bathroom_grace=30m"
    for options in (("bathroom_grace=5m", narrow), (narrow, "bathroom_grace=5m")):
        assert grace(variants, *options) == {"101": 300, "102": 300, "1.5": 300, "201": 1800}


def test_other_settings_of_the_file_stay(variants: Variants) -> None:
    rules = variants.rules(grid([variants.parse_set("bathroom_grace=5m")])[0])
    policy = Policy(rules, base=variants.base)
    assert policy.room("west", "201").fall_risk == "high"
    assert policy.room("oost", "101").acoustic_threshold == 70
    # and the file's own rules are not changed by a version made of them
    assert variants.parsed.rules.sites["west"].rooms["201"].resident is not None
    assert variants.parsed.rules.sites["west"].rooms["201"].resident.bathroom_grace == 480


def test_the_grid_is_the_cartesian_product_the_last_option_fastest(variants: Variants) -> None:
    sets = grid(
        [
            variants.parse_set("bathroom_grace=5m,10m"),
            variants.parse_set("acoustic_threshold=60,65,70"),
        ]
    )
    assert [tuple(value.text for _, value in s) for s in sets] == [
        ("5m", "60"),
        ("5m", "65"),
        ("5m", "70"),
        ("10m", "60"),
        ("10m", "65"),
        ("10m", "70"),
    ]


def test_values_are_read_as_the_rule_file_reads_them(variants: Variants) -> None:
    assignment = grid(
        [
            variants.parse_set("sites.west.rooms.201.resident.wanders=true"),
            variants.parse_set("night=23:00-06:30"),
            variants.parse_set("acoustic_duration=1m30s"),
        ]
    )[0]
    policy = Policy(variants.rules(assignment), base=variants.base)
    room = policy.room("west", "201")
    assert room.wanders is True
    assert (room.night_start, room.night_end) == (23 * 60, 6 * 60 + 30)
    assert room.acoustic_duration == 90


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "bathroom_grace=5m,5h",
            "--set bathroom_grace=5h: bathroom_grace must be between 1m and 4h, not '5h'",
        ),
        (
            "bathroom_grce=5m",
            "--set bathroom_grce=5m: unknown parameter 'bathroom_grce': did you mean "
            "'bathroom_grace'?",
        ),
        (
            "sites.ost.wanders=true",
            "--set sites.ost.wanders=true: the rule file has no site named 'ost': did you mean "
            "'oost'?",
        ),
        (
            "sites.oost.rooms.103.wanders=true",
            "--set sites.oost.rooms.103.wanders=true: the rule file has no room in site 'oost' "
            "named '103': did you mean '102'?",
        ),
        ("sites.oost=5m", "--set sites.oost=5m: name a parameter after sites.oost, e.g."),
        ("wanders=maybe", "--set wanders=maybe: wanders is true or false, not 'maybe'"),
        (
            "fall_risk=medium",
            "--set fall_risk=medium: 'medium' is not allowed: fall_risk must be low, normal or "
            "high",
        ),
        ("recipients=a", "--set recipients=a: recipients is not a single value"),
        ("acoustic_threshold=[60]", "'[60]' is not a single value"),
        ("night=22:00", "--set night=22:00: night is written START-END, e.g. 22:00-07:00"),
        ("bathroom_grace=5m,5m", "5m is given twice: give each value once"),
        ("bathroom_grace=5m,,10m", "an empty value"),
        ("bathroom_grace", "write PARAMETER=VALUE,VALUE,..."),
        ("sites.oost.rooms.101.resident.name=x", "unknown parameter 'name'"),
    ],
)
def test_a_bad_place_or_value_names_the_option_and_what_to_write(
    variants: Variants, option: str, message: str
) -> None:
    with pytest.raises(SweepError) as error:
        variants.parse_set(option)
    assert message in str(error.value)
