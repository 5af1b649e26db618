"""Parameters of a rule file changed in memory: the grid of ``sensorhub sweep``.

A researcher sweeps a parameter without editing the file: ``--set bathroom_grace=5m,10m,15m``
gives three versions of it. Each ``--set`` names a parameter and where it applies, written as
the key path of the rule file (rules/README.md, Layout):

- ``bathroom_grace`` (or ``defaults.bathroom_grace``): every site, room and resident of the file;
- ``sites.zonnehof.bathroom_grace``: every room and resident of site ``zonnehof``;
- ``sites.zonnehof.rooms.101.bathroom_grace``: room 101 and its resident;
- ``sites.zonnehof.rooms.101.resident.bathroom_grace``: the resident of room 101.

The value holds for everything under the place named: it is set there, and every setting of the
same parameter the file makes further down is taken out (so ``--set bathroom_grace=5m`` gives
every resident 5 minutes, also those the file gives a grace of their own, which is what a sweep
"for every resident" means). ``replaced`` says which settings of the file that takes out. Where
several ``--set`` name the same parameter at different places, the wider one is applied first,
so the narrower one wins where it applies.

Each version is validated as ``rules check`` validates the file (the same models, bounds and
compiled policy), and a bad place or value is a :class:`SweepError` naming the ``--set`` and what
to write instead, before anything is replayed.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import yaml

from sensorhub.rules.loader import (
    KeyPath,
    ParsedRuleFile,
    RuleFileError,
    default_rules_path,
    load_rule_file,
    validate_rule_data,
)
from sensorhub.rules.model import RuleFile
from sensorhub.rules.parameters import Parameters
from sensorhub.rules.policy import Policy

#: Parameters whose value is not one word or number, and that a sweep does not set.
_NOT_SWEPT: Final = frozenset({"recipients", "escalation"})
#: ``night`` is swept as ``HH:MM-HH:MM``.
_NIGHT_RE: Final = re.compile(r"^\s*(\d\d:\d\d)\s*-\s*(\d\d:\d\d)\s*$")


def sweepable() -> tuple[str, ...]:
    """The parameters a sweep may set: every parameter of a level that is a single value (and
    ``night``, written ``22:00-07:00``)."""
    return tuple(name for name in Parameters.model_fields if name not in _NOT_SWEPT)


class SweepError(ValueError):
    """A ``--set`` that cannot be applied; the message names it and says what to write."""


@dataclass(frozen=True, slots=True)
class Address:
    """Where a swept parameter applies: ``level`` is ``("defaults",)``, ``("sites", S)``,
    ``("sites", S, "rooms", R)`` or that and ``"resident"``."""

    text: str
    level: KeyPath
    parameter: str

    @property
    def keys(self) -> KeyPath:
        return (*self.level, self.parameter)


@dataclass(frozen=True, slots=True)
class Value:
    """One value of a swept parameter: as written on the command line, and as the file would
    hold it."""

    text: str
    data: Any


@dataclass(frozen=True, slots=True)
class Swept:
    """A ``--set``: one parameter at one place, and its values in the order given."""

    option: str
    address: Address
    values: tuple[Value, ...]


#: One parameter set of the grid: a value for each swept parameter, in the order of the --set.
Assignment = tuple[tuple[Address, Value], ...]


class Variants:
    """Versions of one parsed rule file with parameters set in memory."""

    def __init__(self, parsed: ParsedRuleFile) -> None:
        self.parsed = parsed
        #: what the file sets, as plain data (nothing the models fill in)
        self.data: dict[str, Any] = parsed.rules.model_dump(exclude_unset=True)
        self.base = load_rule_file(default_rules_path())

    def parse_set(self, option: str) -> Swept:
        """``ADDRESS=VALUE,VALUE,...`` of ``--set``, its place and each value checked."""
        address_text, equals, values_text = option.partition("=")
        address_text = address_text.strip()
        if not equals or not address_text or not values_text.strip():
            raise SweepError(
                f"--set {option}: write PARAMETER=VALUE,VALUE,..., e.g. --set "
                "bathroom_grace=5m,10m or --set "
                "sites.SITE.rooms.ROOM.resident.fall_risk=normal,high"
            )
        address = parse_address(address_text, self.parsed.rules, option)
        texts = [text.strip() for text in values_text.split(",")]
        values: list[Value] = []
        for text in texts:
            if not text:
                raise SweepError(
                    f"--set {option}: an empty value: separate the values with one ','"
                )
            if texts.count(text) > 1:
                raise SweepError(f"--set {option}: {text} is given twice: give each value once")
            value = Value(text, _value(text, address.parameter, option))
            self.rules(((address, value),))
            values.append(value)
        return Swept(option, address, tuple(values))

    def replaced(self, address: Address) -> list[KeyPath]:
        """The places under ``address`` where the file sets its parameter itself: the settings
        the swept value takes out."""
        return [
            place
            for place, mapping in _mappings(self.data)
            if _under(place, address.level) and address.parameter in mapping
        ]

    def apply(self, assignment: Assignment) -> dict[str, Any]:
        """A copy of the file's data with ``assignment`` applied, wider places first."""
        result = copy.deepcopy(self.data)
        for address, value in sorted(assignment, key=lambda item: len(item[0].level)):
            for place, mapping in list(_mappings(result)):
                if _under(place, address.level):
                    mapping.pop(address.parameter, None)
            level: dict[str, Any] = result
            for key in address.level:
                level = level.setdefault(key, {})
            level[address.parameter] = copy.deepcopy(value.data)
        return result

    def rules(self, assignment: Assignment) -> RuleFile:
        """The file with ``assignment`` applied, validated and compiled as ``rules check`` does;
        a :class:`SweepError` naming the ``--set`` for a value that is refused."""
        parsed = self.parsed
        try:
            rules = validate_rule_data(parsed.file, self.apply(assignment), parsed.lines)
            policy = Policy(rules, base=self.base)
            for site_name, site in rules.sites.items():
                for room_name in site.rooms:
                    policy.room(site_name, room_name)
        except RuleFileError as error:
            raise SweepError(
                "\n".join(_named(str(e), e.key, assignment) for e in error.errors)
            ) from None
        except ValueError as error:
            raise SweepError(_named(str(error), "", assignment)) from None
        return rules


def parse_address(text: str, rules: RuleFile, option: str) -> Address:
    """The place ``text`` names in ``rules`` (see the module docstring). Site and room names
    may hold dots (``sites.a.b.rooms.1.5.wanders``): the file's own names are tried."""
    rest = text
    level: KeyPath = ("defaults",)
    if rest.startswith("defaults."):
        rest = rest.removeprefix("defaults.")
    elif rest.startswith("sites."):
        site, rest = _name(rest.removeprefix("sites."), list(rules.sites), "sites.", "site", option)
        level = ("sites", site)
        if rest.startswith("rooms."):
            rooms = list(rules.sites[site].rooms)
            room, rest = _name(
                rest.removeprefix("rooms."),
                rooms,
                f"sites.{site}.rooms.",
                f"room in site {site!r}",
                option,
            )
            level = (*level, "rooms", room)
            if rest.startswith("resident."):
                level = (*level, "resident")
                rest = rest.removeprefix("resident.")
    if rest not in Parameters.model_fields or rest in _NOT_SWEPT:
        raise SweepError(f"--set {option}: {_unknown_parameter(rest, level)}")
    return Address(text, level, rest)


def _name(rest: str, names: list[str], prefix: str, what: str, option: str) -> tuple[str, str]:
    """The longest of ``names`` (the sites, or the rooms of a site: ``what``, written after
    ``prefix``) that ``rest`` starts with, then a dot, and what follows."""
    fits = [name for name in names if rest.startswith(name + ".")]
    if fits:
        name = max(fits, key=len)
        return name, rest[len(name) + 1 :]
    if rest in names:
        raise SweepError(
            f"--set {option}: name a parameter after {prefix}{rest}, e.g. {prefix}{rest}.wanders"
        )
    guess = rest.split(".", 1)[0]
    close = difflib.get_close_matches(guess, names, n=1)
    hint = f": did you mean {close[0]!r}?" if close else f" (it has {_listed(names)})"
    raise SweepError(f"--set {option}: the rule file has no {what} named {guess!r}{hint}")


def _listed(names: list[str], most: int = 8) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _unknown_parameter(name: str, level: KeyPath) -> str:
    allowed = sweepable()
    if name in _NOT_SWEPT:
        return f"{name} is not a single value and cannot be swept: sweep {', '.join(allowed)}"
    if "." in name:
        return (
            f"{name!r} after {'.'.join(level)} is not a parameter: write the place as "
            "defaults, sites.SITE, sites.SITE.rooms.ROOM or sites.SITE.rooms.ROOM.resident, "
            "then the parameter"
        )
    close = difflib.get_close_matches(name, allowed, n=1)
    if close:
        return f"unknown parameter {name!r}: did you mean {close[0]!r}?"
    return f"unknown parameter {name!r}: the parameters a sweep sets are {', '.join(allowed)}"


def _value(text: str, parameter: str, option: str) -> Any:
    """A value as the rule file would hold it: ``5m``, ``60``, ``true``, ``high``; ``night`` as
    ``22:00-07:00``."""
    if parameter == "night":
        match = _NIGHT_RE.match(text)
        if match is None:
            raise SweepError(f"--set {option}: night is written START-END, e.g. 22:00-07:00")
        return {"start": match.group(1), "end": match.group(2)}
    try:
        value = yaml.safe_load(text) if ":" not in text else text
    except yaml.YAMLError:
        value = None
    if not isinstance(value, str | int | float | bool):
        raise SweepError(f"--set {option}: {text!r} is not a single value such as 5m, 60 or high")
    return value


def grid(swept: Sequence[Swept]) -> list[Assignment]:
    """Every combination of the values of ``swept`` (the cartesian product), the last ``--set``
    varying fastest."""
    return [
        tuple(zip((s.address for s in swept), values, strict=True))
        for values in itertools.product(*(s.values for s in swept))
    ]


def _named(message: str, key: str, assignment: Assignment) -> str:
    """A mistake of a version as the ``--set`` that made it (or, for one elsewhere, with the
    values that made it)."""
    for address, value in assignment:
        keys = ".".join(address.keys)
        if key == keys or key.startswith(keys + "."):
            return f"--set {address.text}={value.text}: {message.split(f'{key}: ', 1)[-1]}"
    shown = ", ".join(f"{address.text}={value.text}" for address, value in assignment)
    return f"{message} (with {shown})"


def _mappings(data: dict[str, Any]) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    """The sites, rooms and residents that ``data`` (a rule file as plain data) spells out."""
    for site_name, site in (data.get("sites") or {}).items():
        yield ("sites", site_name), site
        for room_name, room in (site.get("rooms") or {}).items():
            yield ("sites", site_name, "rooms", room_name), room
            if isinstance(room.get("resident"), dict):
                yield ("sites", site_name, "rooms", room_name, "resident"), room["resident"]


def _under(place: KeyPath, level: KeyPath) -> bool:
    """Whether ``place`` lies under ``level`` (every site, room and resident lies under the
    file's defaults)."""
    if level == ("defaults",):
        return True
    return len(place) > len(level) and place[: len(level)] == level
