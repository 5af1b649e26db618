"""Sensor sources in the rule file: foreign devices mapped to contract events (docs/contract.md
section 2, "Sensor sources"; docs/sources.md).

A site lists its sources under ``sources:``, each a :class:`SourceRules` that names a preset
(:data:`sensorhub.sources.PRESETS`) and what only the site knows::

    sites:
      zonnehof:
        rooms: {kamer1: {}, kamer2: {}}
        sources:
          z2m:
            preset: zigbee2mqtt
            devices:
              kamer1-deur: {room: kamer1, kind: door}
              kamer1-pir: {room: kamer1, kind: motion}
              kamer1-knop: {room: kamer1, kind: call}

Every mistake is reported at its own key (so at its own line): an unknown preset, a device in a
room the site does not define, a kind its preset cannot map, a device name that cannot be a
topic level; across the file (:class:`sensorhub.rules.sites.RuleFile`) a source name or a
device of one base topic used twice. :meth:`SourceRules.spec` compiles a source for
:class:`sensorhub.sources.SourceMap`.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable
from typing import Annotated, Any, Final, Literal, Self, cast

from pydantic import BeforeValidator, Field, field_validator, model_validator

from sensorhub.contract import ACK_TOPIC, HEALTH_EVENTS, NAME_RE, VOCABULARY, allowed_events
from sensorhub.rules.common import Problems, Strict, bad_name, time_zone
from sensorhub.sources.presets import ANY_KIND, PRESETS
from sensorhub.sources.spec import (
    NO_EVENT,
    DeviceSpec,
    FieldRule,
    NamePattern,
    SourceSpec,
    TsFormat,
    TsSpec,
    split_pattern,
    value_key,
)


class DeviceRules(Strict):
    """One foreign device: where its events go."""

    room: str = Field(min_length=1, max_length=64, description="Its room (one of the site's).")
    kind: str = Field(
        min_length=1,
        max_length=64,
        description="Its contract kind: door, motion, call, bed, optical.",
    )
    device: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Its contract device name; the device's own name if that can be one.",
    )
    zones: dict[str, Literal["bed", "door"]] = Field(
        default_factory=dict,
        max_length=32,
        description="A camera's zones (Frigate) by name: bed (in_bed, out_of_bed) or door "
        "(entered_room, left_room).",
    )


class TsRules(Strict):
    """The events' time from a payload field."""

    field: str = Field(min_length=1, max_length=64, description="The payload field.")
    format: TsFormat = Field(
        description="unix (seconds), unix_ms (milliseconds, Zigbee2MQTT's last_seen: epoch) or "
        "rfc3339 (ISO 8601 text)."
    )
    timezone: str | None = Field(
        None, description="The time zone of an rfc3339 time written without an offset."
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else time_zone(value)


#: In a field's value map: the value is a state, and no event.
NONE: Final = "none"
#: A field rule's ``kind`` for every kind of device (device health).
ANY: Final = "any"


class FieldRules(Strict):
    """How one payload field becomes events: beside the preset's rules, or instead of the
    preset's rule for the same field and kind."""

    kind: str = Field(
        ANY, description="The kind of device it applies to, or any (device health events)."
    )
    when_true: str | None = Field(None, description="The event of true (none: no event).")
    when_false: str | None = Field(None, description="The event of false (none: no event).")
    values: dict[str, str] = Field(
        default_factory=dict, max_length=64, description="Text value -> event (none: no event)."
    )
    any_text: str | None = Field(
        None, description="The event of any other text (a button's action: pressed)."
    )
    at_most: float | None = Field(
        None, ge=-1e12, le=1e12, description="A number at or below this is `event`."
    )
    event: str | None = Field(None, description="The event of a number at or below at_most.")
    repeats: bool = Field(
        False, description="Whether the same value again is a new event (a button press)."
    )

    @model_validator(mode="after")
    def _events(self) -> Self:
        problems = Problems()
        if self.kind != ANY and self.kind not in VOCABULARY:
            problems.add(
                ("kind",),
                f"{self.kind!r} is not a kind of the contract: use any, " + ", ".join(VOCABULARY),
                self.kind,
            )
            problems.raise_if_any("FieldRules")
        allowed = HEALTH_EVENTS if self.kind == ANY else allowed_events(self.kind)
        named: list[tuple[tuple[str, ...], str | None]] = [
            (("when_true",), self.when_true),
            (("when_false",), self.when_false),
            *((("values", text), event) for text, event in self.values.items()),
            (("any_text",), self.any_text),
        ]
        for loc, event in named:
            if event is not None and event != NONE and event not in allowed:
                problems.add(loc, _not_an_event(event, self.kind, allowed), event)
        if self.event is not None and self.event not in allowed:
            problems.add(("event",), _not_an_event(self.event, self.kind, allowed), self.event)
        if (self.at_most is None) != (self.event is None):
            problems.add(
                ("at_most",) if self.at_most is not None else ("event",),  # the one given
                "give at_most and event together: a number at or below at_most is event",
                self.at_most if self.at_most is not None else self.event,
            )
        if not any(event is not None for _, event in named) and self.at_most is None:
            problems.add(
                (),
                "map at least one value: when_true, when_false, values, any_text, or at_most "
                "with event",
                None,
            )
        problems.raise_if_any("FieldRules")
        return self

    def rule(self, field: str) -> FieldRule:
        """The compiled rule of payload field ``field``."""
        values = {
            value_key(value): NO_EVENT if event == NONE else event
            for value, event in (
                (True, self.when_true),
                (False, self.when_false),
                *self.values.items(),
            )
            if event is not None
        }
        expects = [
            *(["true or false"] if self.when_true or self.when_false else []),
            *([", ".join(repr(text) for text in self.values)] if self.values else []),
            *(["a text"] if self.any_text else []),
            *(["a number"] if self.at_most is not None else []),
        ]
        return FieldRule(
            field,
            field,
            " or ".join(expects),
            values,
            any_string=None if self.any_text in (None, NONE) else self.any_text,
            at_most=self.at_most,
            at_most_event=self.event,
            repeats=self.repeats,
        )


def _not_an_event(event: str, kind: str, allowed: tuple[str, ...]) -> str:
    what = "a device health event" if kind == ANY else f"an event of kind {kind!r}"
    return f"{event!r} is not {what}: use none or " + ", ".join(allowed)


class NamesRules(Strict):
    """Device names that say where a device is (``kamer1/deur``), for devices not listed."""

    pattern: str = Field(
        min_length=1,
        max_length=200,
        description="The layout of a device's name: {room} and {device} (and {kind}) between "
        "separators, e.g. {room}/{device} or {room}-{kind}-{device}.",
    )
    kinds: dict[str, str] = Field(
        default_factory=dict,
        max_length=256,
        description="The contract kind of each {kind} word (or, without {kind}, of each "
        "{device} name), e.g. {deur: door, pir: motion, knop: call}.",
    )

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        parts = split_pattern(value)
        if isinstance(parts, str):
            raise ValueError(parts)  # noqa: TRY004 - pydantic wants a ValueError
        return value

    @model_validator(mode="after")
    def _kinds(self) -> Self:
        if "{kind}" not in self.pattern and not self.kinds:
            raise ValueError(
                "without {kind} in the pattern, give kinds: the kind of each device name, "
                "e.g. {deur: door}"
            )
        return self


#: ``ts: received`` (the time of receipt), as written: no field (a real one is never empty).
RECEIVED: Final = TsRules.model_construct(field="", format="unix", timezone=None)


def _received(value: Any) -> Any:
    return RECEIVED if value == "received" else value


class SourceRules(Strict):
    """One source of foreign sensor payloads, by preset."""

    preset: str = Field(description="What the devices speak: " + ", ".join(PRESETS) + ".")
    base: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The topic its devices publish under (the preset's usual one if not set: "
        + ", ".join(preset.base for preset in PRESETS.values())
        + ").",
    )
    devices: dict[str, DeviceRules] = Field(
        default_factory=dict,
        description="The devices by their own name (Zigbee2MQTT's friendly_name, the "
        "radar's topic level, Frigate's camera, Home Assistant's entity id).",
    )
    battery_low: float = Field(
        20, ge=0, le=100, description="A battery level (%) at or below this is battery_low."
    )
    ts: Annotated[TsRules | None, BeforeValidator(_received)] = Field(
        None,
        description="Where the events' time comes from: received (when sensorhub received "
        "the message; the default, but for a preset whose payloads carry their time), or "
        "{field, format, timezone}.",
    )
    names: NamesRules | None = Field(
        None,
        description="Device names that say where the device is (room, kind), for devices "
        "not in devices: {pattern, kinds}.",
    )
    fields: dict[str, FieldRules] = Field(
        default_factory=dict,
        max_length=64,
        description="Payload fields -> events, beside the preset's (or instead of its rule "
        "for the same field and kind).",
    )
    unknown_devices: Literal["deadletter", "ignore"] = Field(
        "deadletter",
        description="What becomes of a message of a device not in devices: deadletter (so a "
        "misspelt name shows) or ignore (lights and plugs on the same bridge).",
    )

    @field_validator("preset")
    @classmethod
    def _preset(cls, value: str) -> str:
        if value in PRESETS:
            return value
        close = difflib.get_close_matches(value, list(PRESETS), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "the presets are " + ", ".join(PRESETS)
        raise ValueError(f"{value!r} is not a preset of sensorhub: {hint}")

    @field_validator("base")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if any(char in value for char in "+#\0") or value.startswith("/") or value.endswith("/"):
            raise ValueError(
                f"{value!r} is not a base topic: write the topic levels before the device "
                "names, without wildcards (+, #) or a leading or trailing /, e.g. zigbee2mqtt"
            )
        if value.split("/", 1)[0] == ACK_TOPIC.split("/", 1)[0]:
            raise ValueError(f"{value!r} is under sensorhub/, which is sensorhub's own")
        return value

    @model_validator(mode="after")
    def _devices(self) -> Self:
        preset = PRESETS[self.preset]
        problems = Problems()
        kinds = self.kinds()
        if self.names is not None:
            for word, kind in self.names.kinds.items():
                if kind not in kinds:
                    problems.add(
                        ("names", "kinds", word),
                        f"kind {kind!r} is not one that {preset.title} devices are mapped to: "
                        "use " + ", ".join(kinds),
                        kind,
                    )
        for name, device in self.devices.items():
            if device.kind not in kinds:
                problems.add(
                    ("devices", name, "kind"),
                    f"kind {device.kind!r} is not one that {preset.title} devices are mapped to: "
                    "use " + ", ".join(kinds) + " (or map a field for it under fields)",
                    device.kind,
                )
            if device.zones and not preset.zones:
                problems.add(
                    ("devices", name, "zones"),
                    f"{preset.title} devices have no zones: zones are a Frigate camera's",
                    device.zones,
                )
            contract_name = device.device or name
            if not NAME_RE.fullmatch(contract_name):
                problems.add(
                    ("devices", name, "device") if device.device else ("devices", name),
                    bad_name(contract_name, "device")
                    + ("" if device.device else ": give it one with device: NAME"),
                    contract_name,
                )
        problems.raise_if_any("SourceRules")
        return self

    @property
    def topic_base(self) -> str:
        return self.base if self.base is not None else PRESETS[self.preset].base

    def kinds(self) -> tuple[str, ...]:
        """The kinds its devices can be: its preset's, and those of its own fields."""
        preset = PRESETS[self.preset].kinds
        own = (rule.kind for rule in self.fields.values() if rule.kind not in (ANY, *preset))
        return (*preset, *dict.fromkeys(own))

    def spec(
        self, name: str, site: str, rooms: Iterable[str] = (), timezone: str = "UTC"
    ) -> SourceSpec:
        """This source compiled, as source ``name`` of ``site`` (whose local time is that of
        ``timezone``)."""
        preset = PRESETS[self.preset]
        rules = {
            kind: tuple(
                dataclasses.replace(rule, at_most=self.battery_low)
                if rule.at_most is not None
                else rule
                for rule in field_rules
            )
            for kind, field_rules in preset.rules.items()
        }
        for field, own in self.fields.items():
            kind = ANY_KIND if own.kind == ANY else own.kind
            kept = tuple(rule for rule in rules.get(kind, ()) if rule.field != field)
            rules[kind] = (*kept, own.rule(field))
        if self.ts is None and preset.ts is not None:  # a local time is the site's
            local = preset.ts.format == "rfc3339" and preset.ts.timezone is None
            ts = dataclasses.replace(preset.ts, timezone=timezone) if local else preset.ts
        elif self.ts is None or not self.ts.field:  # ts: received
            ts = TsSpec()
        else:
            ts = TsSpec(self.ts.field, self.ts.format, self.ts.timezone)
        return SourceSpec(
            name=name,
            preset=self.preset,
            base=self.topic_base,
            devices={
                own: DeviceSpec(
                    site,
                    device.room,
                    device.kind,
                    device.device or own,
                    tuple(sorted(device.zones.items())),
                )
                for own, device in self.devices.items()
            },
            rules=rules,
            availability=preset.availability,
            ts=ts,
            unknown_devices=self.unknown_devices,
            ignored_suffixes=preset.ignored_suffixes,
            ignored_first=preset.ignored_first,
            names=None
            if self.names is None
            else NamePattern(
                site,
                cast("tuple[str, ...]", split_pattern(self.names.pattern)),
                self.names.kinds,
                frozenset(rooms),
                frozenset(self.kinds()),
            ),
        )
