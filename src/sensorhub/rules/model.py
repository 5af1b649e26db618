"""Rule-file models: what a technician may write, with bounds and a description on every field.

A rule file layers parameters: the shipped defaults, then the file's ``defaults``, then a site,
a room and the room's resident. Every parameter may be set at every level; the most specific
one wins. See ``rules/default.yaml`` for the reference care policy's values.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from sensorhub.contract import NAME_RE

_T = TypeVar("_T")

_DURATION_RE = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$"
)
_CLOCK_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_duration(value: Any) -> Any:
    """Seconds as a number, or a string such as ``90s``, ``15m``, ``1h30m``."""
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if value.strip() == "" or match is None or not any(match.groups()):
            raise ValueError(
                f"{value!r} is not a duration: write seconds as a number, or e.g. 90s, 15m, 1h30m"
            )
        hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
        return hours * 3600 + minutes * 60 + seconds
    if isinstance(value, bool):
        # pydantic reports ValueError (not TypeError) raised in a validator as a field error
        raise ValueError(  # noqa: TRY004
            "a duration is a number of seconds or a string such as 15m, not a yes/no"
        )
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NightWindow(_Strict):
    """The night, in the site's local time; it may run past midnight."""

    start: str = Field(description="Local time the night starts, HH:MM (24 h).")
    end: str = Field(description="Local time the night ends, HH:MM (24 h).")

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK_RE.match(value):
            raise ValueError(f"{value!r} is not a time of day: write HH:MM, e.g. 22:00")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> NightWindow:
        if self.start == self.end:
            raise ValueError("the night window starts and ends at the same time: it would be empty")
        return self

    @staticmethod
    def minutes(clock: str) -> int:
        hours, minutes = clock.split(":")
        return int(hours) * 60 + int(minutes)


class Recipients(_Strict):
    """Who gets the pages of a site (pager or group names)."""

    care: str = Field(min_length=1, max_length=64, description="Pager or group for care pages.")
    technical: str = Field(
        min_length=1, max_length=64, description="Pager or group for technical pages."
    )

    @field_validator("care", "technical")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} cannot be part of an MQTT topic: use letters, digits, '_', '.', '-'"
            )
        return value


class Parameters(_Strict):
    """Parameters of the care policy. Unset fields inherit from the level above."""

    timezone: str | None = Field(
        None, description="IANA time zone of the site, e.g. Europe/Amsterdam."
    )
    night: NightWindow | None = Field(None, description="Night window in local time.")
    language: Literal["en", "nl"] | None = Field(None, description="Language of pager texts.")
    recipients: Recipients | None = Field(None, description="Who gets care and technical pages.")
    fall_risk: Literal["low", "normal", "high"] | None = Field(
        None, description="high: every bed exit at night is paged."
    )
    wanders: bool | None = Field(None, description="true: leaving the room at night is paged.")
    bathroom_grace: Duration | None = Field(
        None, ge=60, le=4 * 3600, description="How long a resident may be out of bed at night."
    )
    acoustic_threshold: float | None = Field(
        None, ge=30, le=130, description="Sound level in dB(A) that counts as loud."
    )
    acoustic_duration: Duration | None = Field(
        None, ge=5, le=600, description="How long loud sound must last to be paged."
    )
    acoustic_gap: Duration | None = Field(
        None, ge=1, le=60, description="Largest gap between loud reports of one sustained sound."
    )
    fall_confirm: Duration | None = Field(
        None, ge=0, le=14, description="How long a fall may be contradicted before it is paged."
    )
    bed_exit_confirm: Duration | None = Field(
        None,
        ge=0,
        le=9,
        description="Where only a bed mat sees the bed: how long it must stay vacated to count as "
        "leaving the bed (a resident turning over lifts the mat for a moment).",
    )
    wandering_confirm: Duration | None = Field(
        None,
        ge=0,
        le=29,
        description="After a door opens, how long to look for the room being left empty.",
    )
    staff_recent: Duration | None = Field(
        None, ge=0, le=600, description="How long an optical sighting of staff counts as present."
    )
    staff_timeout: Duration | None = Field(
        None,
        ge=60,
        le=4 * 3600,
        description="A staff_in with no staff_out stops counting after this long.",
    )
    obstructed_after: Duration | None = Field(
        None, ge=0, le=3600, description="How long a camera may be obstructed before it is a fault."
    )
    silent_after: Duration | None = Field(
        None, ge=60, le=24 * 3600, description="A device silent this long is a fault."
    )
    incident_idle_close: Duration | None = Field(
        None,
        ge=60,
        le=24 * 3600,
        description="An open incident with no new evidence for this long is closed.",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a known time zone: use an IANA name such as Europe/Amsterdam"
            ) from None
        return value


class ResidentRules(Parameters):
    """The resident of a room: fall risk, wandering and grace are usually set here."""

    name: str | None = Field(None, max_length=128, description="A label for technicians only.")


class RoomRules(Parameters):
    """One room of a site."""

    resident: ResidentRules | None = Field(None, description="The room's resident.")


class SiteRules(Parameters):
    """One site (care home)."""

    rooms: dict[str, RoomRules] = Field(default_factory=dict, description="Rooms by name.")

    @field_validator("rooms")
    @classmethod
    def _room_names(cls, rooms: dict[str, RoomRules]) -> dict[str, RoomRules]:
        return _topic_names(rooms, "room")


class RuleFile(_Strict):
    """A whole rule file."""

    version: Literal[1] = Field(1, description="Rule-file format version.")
    defaults: Parameters = Field(default_factory=Parameters, description="Defaults for all sites.")
    sites: dict[str, SiteRules] = Field(default_factory=dict, description="Sites by name.")

    @field_validator("sites")
    @classmethod
    def _site_names(cls, sites: dict[str, SiteRules]) -> dict[str, SiteRules]:
        return _topic_names(sites, "site")


def _topic_names(named: dict[str, _T], what: str) -> dict[str, _T]:
    """Site and room names become MQTT topic levels: check them."""
    for name in named:
        if not NAME_RE.fullmatch(name):
            raise ValueError(
                f"{what} name {name!r} cannot be part of an MQTT topic: "
                "use 1-64 letters, digits, '_', '.', '-'"
            )
    return named
