"""Sensor sources in the rule file: foreign devices mapped to contract events (CONTRACT.md
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
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, field_validator, model_validator

from sensorhub.contract import ACK_TOPIC, NAME_RE
from sensorhub.rules.common import Problems, Strict, bad_name, time_zone
from sensorhub.sources.presets import PRESETS
from sensorhub.sources.spec import DeviceSpec, SourceSpec, TsFormat, TsSpec


class DeviceRules(Strict):
    """One foreign device: where its events go."""

    room: str = Field(min_length=1, max_length=64, description="Its room (one of the site's).")
    kind: str = Field(
        min_length=1, max_length=64, description="Its contract kind: door, motion, call, bed."
    )
    device: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Its contract device name; the device's own name if that can be one.",
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


def _received(value: Any) -> Any:
    """``ts: received`` (the time of receipt) is the default: no field."""
    return None if value == "received" else value


class SourceRules(Strict):
    """One source of foreign sensor payloads, by preset."""

    preset: str = Field(description="What the devices speak: " + ", ".join(PRESETS) + ".")
    base: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The topic its devices publish under (the preset's usual one if not set: "
        "zigbee2mqtt).",
    )
    devices: dict[str, DeviceRules] = Field(
        default_factory=dict, description="The devices by their own name (friendly_name)."
    )
    battery_low: float = Field(
        20, ge=0, le=100, description="A battery level (%) at or below this is battery_low."
    )
    ts: Annotated[TsRules | None, BeforeValidator(_received)] = Field(
        None,
        description="Where the events' time comes from: received (when sensorhub received "
        "the message), or {field, format, timezone}.",
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
        for name, device in self.devices.items():
            if device.kind not in preset.kinds:
                problems.add(
                    ("devices", name, "kind"),
                    f"kind {device.kind!r} is not one that {preset.title} devices are mapped to: "
                    "use " + ", ".join(preset.kinds),
                    device.kind,
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

    def spec(self, name: str, site: str) -> SourceSpec:
        """This source compiled, as source ``name`` of ``site``."""
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
        ts = (
            TsSpec() if self.ts is None else TsSpec(self.ts.field, self.ts.format, self.ts.timezone)
        )
        return SourceSpec(
            name=name,
            preset=self.preset,
            base=self.topic_base,
            devices={
                own: DeviceSpec(site, device.room, device.kind, device.device or own)
                for own, device in self.devices.items()
            },
            rules=rules,
            availability=preset.availability,
            ts=ts,
            unknown_devices=self.unknown_devices,
            ignored_suffixes=preset.ignored_suffixes,
            ignored_first=preset.ignored_first,
        )
