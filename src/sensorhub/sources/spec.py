"""A source once its rules are compiled: plain, frozen data, no configuration left to read per
message (the mapper looks everything up in dicts built from it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from sensorhub.contract import NAME_RE

#: A value of a payload field as a key of a value map: its JSON type and the value (so that
#: ``true`` and ``1`` are not taken for each other, as Python's ``True == 1`` would).
ValueKey = tuple[type, object]
#: The outcome of a value that is a state and no event (``false`` of a vibration sensor, a
#: battery above its threshold): recorded, so that its repeats are dropped, but not sent.
NO_EVENT: Final = ""
#: Formats of a ``ts`` taken from a payload field.
TsFormat = Literal["unix", "unix_ms", "rfc3339"]


def value_key(value: object) -> ValueKey:
    return (type(value), value)


@dataclass(frozen=True, slots=True)
class FieldRule:
    """How one payload field of a device of some kinds becomes an event.

    ``values`` maps a value (:func:`value_key`) to an event, or to :data:`NO_EVENT`; a string not
    in it becomes ``any_string`` if that is set (a button's ``action``: any press). A number
    becomes ``at_most_event`` if it is at most ``at_most`` (``battery <= 20``), else
    :data:`NO_EVENT`. ``slot`` names the state it sets in the device's table of last states; a
    value that maps to what the slot already holds is a repeat and makes no event, unless
    ``repeats`` (each button press is an event of its own). ``expects`` says in words what the
    field may hold, for the dead letter of a value that maps to nothing.
    """

    field: str
    slot: str
    expects: str
    values: Mapping[ValueKey, str] = dataclasses.field(default_factory=dict)
    any_string: str | None = None
    at_most: float | None = None
    at_most_event: str | None = None
    repeats: bool = False


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """Where a foreign device's events go: the contract's site, room, kind and device; and for
    a camera, the role of each of its zones (zone name, ``bed`` or ``door``)."""

    site: str
    room: str
    kind: str
    device: str
    zones: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TsSpec:
    """Where an event's ``ts`` comes from: the time of receipt (``field`` None), or a payload
    field in ``format`` (an ``rfc3339`` time without an offset is read in ``timezone``); with
    ``fallback``, a message without the field takes the time of receipt (a source whose other
    messages carry no time, such as Frigate's counts)."""

    field: str | None = None
    format: TsFormat = "unix"
    timezone: str | None = None
    fallback: bool = False


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One source of a site's rules, compiled: ``name`` (unique in the rule file, it is in
    every id and dead letter of the source), its ``preset``, the ``base`` topic under which its
    devices publish, its devices by their own name, its field rules per kind (and for any
    kind), its availability values, and whether a device not in the table is dead-lettered."""

    name: str
    preset: str
    base: str
    devices: Mapping[str, DeviceSpec]
    rules: Mapping[str, tuple[FieldRule, ...]]
    availability: Mapping[str, str]
    ts: TsSpec = TsSpec()
    unknown_devices: Literal["deadletter", "ignore"] = "deadletter"
    #: topic levels under a device's topic (at any depth) that are not its state and are not
    #: taken
    ignored_suffixes: tuple[str, ...] = ()
    #: topics under ``base`` (first level) that are the bridge's own, not a device's
    ignored_first: tuple[str, ...] = ()
    #: device names that say where the device is, for devices not in ``devices``
    names: NamePattern | None = None


#: The placeholders of a ``names`` pattern.
PLACEHOLDERS: Final = ("{room}", "{kind}", "{device}")


def split_pattern(pattern: str) -> tuple[str, ...] | str:
    """``pattern`` (such as ``{room}/{device}``) as literal, placeholder, literal, ...,
    literal (placeholders at the odd places), or what is wrong with it."""
    parts: list[str] = []
    rest = pattern
    while True:
        literal, brace, rest = rest.partition("{")
        if "}" in literal:
            return f"{pattern!r} has a }} without its {{"
        parts.append(literal)
        if not brace:
            break
        name, closing, rest = rest.partition("}")
        placeholder = "{" + name + "}"
        if not closing or placeholder not in PLACEHOLDERS:
            return (
                f"{pattern!r}: {placeholder if closing else '{' + name!r} is not a placeholder: "
                "use {room}, {kind} and {device}"
            )
        if placeholder in parts:
            return f"{pattern!r} has {placeholder} twice"
        if len(parts) > 1 and not literal:
            return f"{pattern!r}: write a separator (such as - or /) between two placeholders"
        parts.append(placeholder)
    if "{room}" not in parts or "{device}" not in parts:
        return f"{pattern!r} needs {{room}} and {{device}}"
    return tuple(parts)


@dataclass(frozen=True, slots=True)
class NamePattern:
    """Device names that say where the device is, such as ``kamer1/deur``: ``parts`` from
    :func:`split_pattern`; the kind is the ``{kind}`` part or the ``{device}`` part looked up in
    ``kinds`` (or a kind of ``allowed`` as written); the room must be one of ``rooms``."""

    site: str
    parts: tuple[str, ...]
    kinds: Mapping[str, str]
    rooms: frozenset[str]
    allowed: frozenset[str]

    def match(self, name: str) -> DeviceSpec | None:
        """The device ``name`` is, or None if it does not fit."""
        parts = self.parts
        if not name.startswith(parts[0]):
            return None
        rest = name[len(parts[0]) :]
        values: dict[str, str] = {}
        for index in range(1, len(parts), 2):
            separator = parts[index + 1]
            if separator:
                value, found, rest = rest.partition(separator)
                if not found:
                    return None
            else:
                value, rest = rest, ""
            if not NAME_RE.fullmatch(value):
                return None
            values[parts[index]] = value
        room, device = values["{room}"], values["{device}"]
        word = values.get("{kind}", device)
        kind = self.kinds.get(word, word if "{kind}" in values else "")
        if rest or room not in self.rooms or kind not in self.allowed:
            return None
        return DeviceSpec(self.site, room, kind, device)
